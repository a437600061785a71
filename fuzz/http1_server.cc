// Fuzz target: the whole HTTP/1.x server path, HTTPServer.handle_stream ->
// HTTP1ServerConnection._server_request_loop -> HTTP1Connection._read_message
// (Content-Length and chunked bodies, Expect: 100-continue, gzip request
// bodies through decompress_request, keep-alive, pipelining).
//
// Feeds: byte 0 chooses the server's settings (bit 0 decompress_request,
// bit 1 no_keep_alive, bit 2 max_body_size 1024, bit 3 chunk_size 64,
// bit 4 xheaders, bit 5 max_header_size 512); the other bytes are what a
// client sends over one end of a socketpair to a real HTTPServer in a
// single-threaded IOLoop. The client end writes everything, shuts its write
// side, and reads until the server closes; the request handler echoes the
// body (Content-Length, or chunked for paths starting with /c).
// Asserts, beyond "no crash" and no leak:
//  - the server closes the connection after the client's EOF, within 5 s
//    and a bounded number of loop wake-ups (no hang, no spin);
//  - every byte the server writes is a response ("HTTP/1.1 " first);
//  - a request's delegate gets headers first, body chunks only between
//    headers and finish, finish at most once, and never both finish and
//    on_connection_close; a body never exceeds max_body_size (before
//    decompression), and a Content-Length body has exactly that length.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tornado/concurrent.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"

#include "fuzz_check.h"

namespace {

using tornado::Future;
using tornado::httputil::HTTPConnection;
using tornado::httputil::HTTPHeaders;
using tornado::ioloop::IOLoop;

struct Limits {
    std::size_t max_body_size = 0;  // 0: the default
    bool decompress = false;
};

// Tornado: tornado/httputil.py:517 HTTPMessageDelegate (a test double)
class EchoDelegate : public tornado::httputil::HTTPMessageDelegate {
  public:
    EchoDelegate(std::shared_ptr<HTTPConnection> conn, Limits limits)
        : conn_(std::move(conn)), limits_(limits) {}

    Future<void> headers_received(const tornado::httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> headers) override {
        FUZZ_CHECK(!got_headers_ && !finished_ && !closed_);
        got_headers_ = true;
        const auto* request = std::get_if<tornado::httputil::RequestStartLine>(&start_line);
        FUZZ_CHECK(request != nullptr);
        // Not checked: an empty method. " / HTTP/1.1" is accepted, as by
        // Tornado 6.2's split(" "); RFC 9112 3 wants a token
        // (fuzz/regressions/README.md).
        FUZZ_CHECK(request->version.starts_with("HTTP/1."));
        path_ = request->path;
        bool consumed = headers->contains("X-Consumed-Content-Encoding");
        if (!headers->contains("Transfer-Encoding") && !consumed) {
            if (auto cl = headers->get("Content-Length")) {
                expected_length_ = std::stoull(std::string(*cl));
            }
        }
        return {};
    }

    Future<void> data_received(std::string chunk) override {
        FUZZ_CHECK(got_headers_ && !finished_ && !closed_);
        body_ += chunk;
        if (!limits_.decompress && limits_.max_body_size != 0) {
            FUZZ_CHECK(body_.size() <= limits_.max_body_size);
        }
        return {};
    }

    void finish() override {
        FUZZ_CHECK(got_headers_ && !finished_ && !closed_);
        finished_ = true;
        if (expected_length_) {
            FUZZ_CHECK(body_.size() == *expected_length_);
        }
        HTTPHeaders headers;
        tornado::httputil::ResponseStartLine status{"HTTP/1.1", 200, "OK"};
        if (path_.starts_with("/c")) {
            (void)conn_->write_headers(status, headers);
            (void)conn_->write(body_.substr(0, body_.size() / 2));
            (void)conn_->write(body_.substr(body_.size() / 2));
        } else {
            headers.add("Content-Length", std::to_string(body_.size()));
            (void)conn_->write_headers(status, headers, body_);
        }
        conn_->finish();
    }

    void on_connection_close() override {
        FUZZ_CHECK(!finished_ && !closed_);
        closed_ = true;
    }

  private:
    std::shared_ptr<HTTPConnection> conn_;
    Limits limits_;
    bool got_headers_ = false;
    bool finished_ = false;
    bool closed_ = false;
    std::string path_;
    std::string body_;
    std::optional<std::uint64_t> expected_length_;
};

// Tornado: tornado/httputil.py:491 HTTPServerConnectionDelegate (a test double)
class EchoApplication : public tornado::httputil::HTTPServerConnectionDelegate {
  public:
    explicit EchoApplication(Limits limits) : limits_(limits) {}
    std::shared_ptr<tornado::httputil::HTTPMessageDelegate> start_request(
        tornado::http1connection::HTTP1ServerConnection* server_conn,
        std::shared_ptr<HTTPConnection> request_conn) override {
        (void)server_conn;
        return std::make_shared<EchoDelegate>(std::move(request_conn), limits_);
    }

  private:
    Limits limits_;
};

// The client end: writes `input`, shuts its write side, reads to EOF.
struct Client {
    int fd = -1;
    std::string_view input;
    std::size_t sent = 0;
    std::string received;
    bool eof = false;
    long wakeups = 0;
};

void client_events(Client& c, IOLoop& loop, std::uint32_t events) {
    FUZZ_CHECK(++c.wakeups < 100000);
    if ((events & IOLoop::WRITE) && c.sent < c.input.size()) {
        ssize_t n = ::send(c.fd, c.input.data() + c.sent, c.input.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            c.sent = c.input.size();  // the server has gone (EPIPE): nothing more to send
        }
        if (c.sent == c.input.size()) {
            ::shutdown(c.fd, SHUT_WR);
            loop.update_handler(c.fd, IOLoop::READ);
        }
    }
    if (events & (IOLoop::READ | IOLoop::ERROR)) {
        char buf[65536];
        for (;;) {
            ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (c.received.size() < (1U << 20)) {
                    c.received.append(buf, static_cast<std::size_t>(n));
                }
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                c.eof = true;
                loop.remove_handler(c.fd);
                loop.stop();
            }
            break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    (void)argc;
    (void)argv;
    // Refused requests are logged at warning level; the fuzzer's output is enough.
    tornado::log::set_level(tornado::log::Level::Off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    std::uint8_t flags = data[0];
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    tornado::httpserver::HTTPServerSettings settings;
    Limits limits;
    settings.decompress_request = limits.decompress = (flags & 1U) != 0;
    settings.no_keep_alive = (flags & 2U) != 0;
    if (flags & 4U) {
        settings.max_body_size = limits.max_body_size = 1024;
    }
    if (flags & 8U) {
        settings.chunk_size = 64;
    }
    settings.xheaders = (flags & 16U) != 0;
    if (flags & 32U) {
        settings.max_header_size = 512;
    }

    int fds[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    Client client;
    client.fd = fds[1];
    client.input = input;
    {
        IOLoop loop;
        {
            auto server = std::make_unique<tornado::httpserver::HTTPServer>(
                std::make_shared<EchoApplication>(limits), settings, &loop);
            tornado::netutil::Address address;
            address.storage.ss_family = AF_UNIX;
            address.length = sizeof(sa_family_t);
            (void)server->handle_stream(
                std::make_shared<tornado::iostream::IOStream>(fds[0], &loop), address);
            std::uint32_t interest = IOLoop::READ | IOLoop::WRITE;
            if (input.empty()) {
                ::shutdown(client.fd, SHUT_WR);
                interest = IOLoop::READ;
            }
            loop.add_handler(
                client.fd,
                [&client, &loop](int, std::uint32_t events) {
                    client_events(client, loop, events);
                },
                interest);
            bool timed_out = false;
            auto deadline = loop.call_later(5.0, [&] {
                timed_out = true;
                loop.stop();
            });
            loop.start();
            if (timed_out) {
                std::fprintf(stderr,
                             "the server did not close the connection within 5 s of EOF "
                             "(sent %zu of %zu bytes)\n",
                             client.sent, input.size());
                std::abort();
            }
            loop.remove_timeout(deadline);
            FUZZ_CHECK(client.eof);
            if (!client.received.empty()) {
                FUZZ_CHECK(std::string_view(client.received).starts_with("HTTP/1.1 "));
            }
            // Let the connection's close callbacks run before the server goes.
            loop.add_callback([&loop] { loop.stop(); });
            loop.start();
        }
        loop.add_callback([&loop] { loop.stop(); });
        loop.start();
    }
    ::close(client.fd);
    return 0;
}
