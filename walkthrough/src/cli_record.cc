// The flight recorder on the command line (issue 9): serve --record N keeps
// the last N requests' events in a trace::Recorder, serve --admin PORT
// answers GET /record.jsonl with them (and with --ui, GET / with the
// browser viewer's page of them, issue 10), and `tornado-walk dump` fetches that
// into a file that render and step read like a `run` trace. serve --trace
// FILE streams the same ring into FILE at the end of each loop iteration.
#include "cli_record.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include "tornado/netutil.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/viewer.h"

#include "cli.h"

namespace tornado::walkthrough::cli {

namespace {

// Blocking I/O with a deadline on both directions: an admin client that
// stalls holds the loop for at most this long.
constexpr int kAdminTimeoutSeconds = 2;
constexpr std::size_t kMaxAdminRequest = 8192;
// Connections still sending their head; more are closed at once.
constexpr std::size_t kMaxAdminConnections = 32;
// Where a request counts for --record N: the server has its head to parse
// (a well-formed request or not). Its read began earlier, and the dump
// starts there.
constexpr std::string_view kRequestArrived = "HTTP1Connection._parse_headers";
// serve --ui: what the viewer's page polls, and how many requests it shows
// unless ?requests=N asks for others (each is drawn in every view).
constexpr std::string_view kUiMark = "/ui/newest";
constexpr std::size_t kUiRequests = 5;

void set_timeouts(int fd, int seconds) {
    timeval tv{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string http_answer(int code, std::string_view reason, std::string_view type,
                        std::string_view body) {
    std::string out = "HTTP/1.0 " + std::to_string(code) + " " + std::string(reason) +
                      "\r\nContent-Type: " + std::string(type) +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n";
    out += body;
    return out;
}

}  // namespace

AdminEndpoint::AdminEndpoint(ioloop::IOLoop& loop, const trace::Recorder& recorder,
                             std::size_t default_requests, int port, std::string ui_source_root,
                             bool ui)
    : loop_(loop),
      recorder_(recorder),
      default_requests_(default_requests),
      ui_(ui),
      source_root_(std::move(ui_source_root)) {
    fd_ = netutil::bind_sockets(port, "127.0.0.1").front();
    port_ = netutil::bound_port(fd_);
    loop_.add_handler(
        fd_, [this](int, std::uint32_t) { on_accept(); }, ioloop::IOLoop::READ);
}

AdminEndpoint::~AdminEndpoint() {
    for (const auto& [fd, head] : pending_) {
        loop_.remove_handler(fd);
        ::close(fd);
    }
    loop_.remove_handler(fd_);
    ::close(fd_);
}

// C++ only. The admin's connections are read without blocking the loop (a
// browser opens connections before it has a request to send on them); a
// connection whose head is complete is answered in full before the loop goes
// on: a dump is a snapshot of the ring, so nothing may be recorded while it
// is written out. The answer is sent blocking, with a short deadline.
void AdminEndpoint::on_accept() {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return;  // EAGAIN, or the client went away
    }
    if (pending_.size() >= kMaxAdminConnections) {
        ::close(fd);
        return;
    }
    pending_[fd];
    loop_.add_handler(
        fd, [this](int ready, std::uint32_t) { on_readable(ready); }, ioloop::IOLoop::READ);
}

void AdminEndpoint::on_readable(int fd) {
    std::string& head = pending_[fd];
    char buf[1024];
    bool closed = false;
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxAdminRequest) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
            break;
        }
        head.append(buf, static_cast<std::size_t>(n));
    }
    bool complete = head.find("\r\n\r\n") != std::string::npos || head.size() >= kMaxAdminRequest;
    if (!complete && !closed) {
        return;  // the rest of the head comes later
    }
    std::string request = std::move(head);
    pending_.erase(fd);
    loop_.remove_handler(fd);
    if (!request.empty()) {
        int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        set_timeouts(fd, kAdminTimeoutSeconds);
        send_all(fd, answer(request));
        ::shutdown(fd, SHUT_WR);
    }
    ::close(fd);
}

std::string AdminEndpoint::answer(const std::string& head) const {
    std::string answer;
    std::string_view line = std::string_view(head).substr(0, head.find("\r\n"));
    // "GET /path?query HTTP/1.1" -> the path and the query.
    std::string_view target;
    if (line.starts_with("GET ")) {
        target =
            line.substr(4, line.find(' ', 4) == std::string_view::npos ? std::string_view::npos
                                                                       : line.find(' ', 4) - 4);
    }
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query = target.find('?') == std::string_view::npos
                                 ? std::string_view()
                                 : target.substr(target.find('?') + 1);
    const bool page = ui_ && (path == "/" || path == "/ui");
    if (head.find("\r\n\r\n") == std::string::npos) {
        answer = http_answer(400, "Bad Request", "text/plain", "incomplete request\n");
    } else if (ui_ && path == kUiMark) {
        answer = http_answer(200, "OK", "text/plain", std::to_string(newest_request_mark()) + "\n");
    } else if (path != "/record.jsonl" && !page) {
        answer = http_answer(404, "Not Found", "text/plain",
                             ui_ ? "GET /record.jsonl[?requests=N] and GET /[?requests=N] (the "
                                   "viewer) are the pages here\n"
                                 : "GET /record.jsonl[?requests=N] is the only page here\n");
    } else {
        std::size_t requests =
            page ? std::min<std::size_t>(default_requests_, kUiRequests) : default_requests_;
        bool ok = true;
        if (!query.empty()) {
            std::string_view key = "requests=";
            ok = query.substr(0, key.size()) == key;
            if (ok) {
                std::string_view value = query.substr(key.size());
                auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), requests);
                ok = ec == std::errc() && end == value.data() + value.size() && requests > 0;
            }
        }
        if (!ok) {
            answer = http_answer(400, "Bad Request", "text/plain",
                                 "requests must be a positive whole number\n");
        } else if (page) {
            std::vector<trace::Event> events = recorder_.last_requests(requests, kRequestArrived);
            std::set<std::uint64_t> seen;
            for (const trace::Event& e : events) {
                if (e.req != 0) {
                    seen.insert(e.req);
                }
            }
            ViewerOptions options;
            options.title = seen.size() == 1
                                ? std::string("serve: the last request")
                                : "serve: the last " + std::to_string(seen.size()) + " requests";
            options.source_root = source_root_;
            options.live_url = std::string(kUiMark);
            options.live_count = newest_request_mark();
            answer =
                http_answer(200, "OK", "text/html; charset=utf-8", render_viewer(events, options));
        } else {
            answer = http_answer(
                200, "OK", "application/x-ndjson",
                render(recorder_.last_requests(requests, kRequestArrived), Format::Jsonl));
        }
    }
    return answer;
}

// The sequence number of the newest request's first event (0: none yet):
// it changes when a request arrives, and only then.
std::uint64_t AdminEndpoint::newest_request_mark() const {
    std::vector<trace::Event> newest = recorder_.last_requests(1, kRequestArrived);
    return newest.empty() ? 0 : newest.front().seq;
}

TraceStreamer::TraceStreamer(const trace::Recorder& recorder, std::FILE* out)
    : recorder_(recorder), out_(out), read_(recorder.last_seq()) {}

void TraceStreamer::write_out() {
    std::uint64_t last = recorder_.last_seq();
    if (last <= read_) {
        return;
    }
    std::uint64_t oldest = recorder_.oldest_seq();
    if (oldest > read_ + 1) {
        // More events in one loop iteration than the ring holds.
        std::fprintf(stderr, "tornado-walk: trace: %llu events lost (the ring holds %zu)\n",
                     static_cast<unsigned long long>(oldest - read_ - 1), recorder_.capacity());
    }
    std::string text = render(recorder_.events(read_), Format::Jsonl);
    read_ = last;
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
}

namespace {

struct DumpOptions {
    std::string address;
    std::string output;
    std::size_t requests = 0;
};

// "PORT" or "HOST:PORT" (an IPv4 address).
sockaddr_in parse_admin_address(const std::string& text) {
    std::string host = "127.0.0.1";
    std::string port_text = text;
    if (auto colon = text.rfind(':'); colon != std::string::npos) {
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        throw UsageError("dump: '" + text + "' is not PORT or IPV4-ADDRESS:PORT");
    }
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    return addr;
}

int dump(const DumpOptions& o) {
    sockaddr_in addr = parse_admin_address(o.address);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    set_timeouts(fd, 10);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot reach the admin address " + o.address + ": " +
                                 std::strerror(err) + " (serve --record N --admin PORT?)");
    }
    std::string target = "/record.jsonl";
    if (o.requests != 0) {
        target += "?requests=" + std::to_string(o.requests);
    }
    std::string answer;
    bool sent = send_all(fd, "GET " + target + " HTTP/1.0\r\nHost: admin\r\n\r\n");
    char buf[65536];
    while (sent) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    auto body_at = answer.find("\r\n\r\n");
    if (body_at == std::string::npos || answer.compare(0, 13, "HTTP/1.0 200 ") != 0) {
        std::string first = answer.substr(0, answer.find("\r\n"));
        throw std::runtime_error("the admin address answered '" + first + "'");
    }
    write_output(answer.substr(body_at + 4), o.output);
    return 0;
}

}  // namespace

void add_dump_command(CLI::App& app, int& status) {
    static DumpOptions o;
    auto* cmd = app.add_subcommand(
        "dump", "fetch the flight recorder of a running serve --record N --admin PORT as JSON "
                "Lines (for render and step)");
    cmd->add_option("address", o.address, "the admin address: PORT or IPV4-ADDRESS:PORT")
        ->required();
    cmd->add_option("-o,--output", o.output, "write to FILE instead of standard output");
    cmd->add_option("--requests", o.requests,
                    "only the last N requests (default: all the recorder keeps)")
        ->check(CLI::PositiveNumber);
    cmd->callback([&status] { status = dump(o); });
}

}  // namespace tornado::walkthrough::cli
