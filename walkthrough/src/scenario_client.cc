#include "scenario_client.h"

#include <sys/socket.h>

#include <stdexcept>
#include <utility>

#include "tornado/gen.h"

namespace tornado::walkthrough::detail {

namespace {

// The scripted client is ours, not Tornado's: no Tornado module to cite.
constexpr trace::Module kTraceModule{"client", ""};

// Enough for any scenario step on a loaded machine (each iteration is one
// epoll_wait without waiting), small enough to fail long before ctest does.
constexpr int kMaxWaitIterations = 2'000'000;

// What follows the blank line of a head: Content-Length, or 0.
std::size_t content_length(const std::string& head) {
    auto pos = head.find("Content-Length: ");
    if (pos == std::string::npos) {
        return 0;
    }
    return std::stoul(head.substr(pos + 16));
}

bool is_chunked(const std::string& head) {
    return head.find("Transfer-Encoding: chunked") != std::string::npos;
}

}  // namespace

Future<void> wait_for(const Recorder* recorder, std::function<bool(const trace::Event&)> match) {
    std::size_t next = 0;
    for (int i = 0;; ++i) {
        const auto& events = recorder->events();
        for (; next < events.size(); ++next) {
            if (match(events[next])) {
                co_return;
            }
        }
        if (i >= kMaxWaitIterations) {
            throw std::runtime_error("scenario: the server never reached the awaited step");
        }
        co_await gen::moment;
    }
}

std::function<bool(const trace::Event&)> server_step(std::string step, trace::Phase ph,
                                                     std::uint64_t req) {
    return [step = std::move(step), ph, req](const trace::Event& e) {
        return e.role != "client" && e.step == step && e.ph == ph && (req == 0 || e.req == req);
    };
}

Future<void> drain(std::function<std::size_t()> server_connections) {
    for (int i = 0; server_connections() > 0; ++i) {
        if (i >= kMaxWaitIterations) {
            throw std::runtime_error("scenario: the server did not close its connections");
        }
        co_await gen::moment;
    }
    // A closed stream runs its close callback on the next iteration.
    for (int i = 0; i < 3; ++i) {
        co_await gen::moment;
    }
}

Client::Client(int rcvbuf) : Traced("Client"), rcvbuf_(rcvbuf) {
    set_trace_role("client");
}

std::shared_ptr<iostream::IOStream> Client::open_stream() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error("socket() failed");
    }
    if (rcvbuf_ > 0) {
        // Before connect, so that the window the client offers stays small.
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, sizeof rcvbuf_);
    }
    std::shared_ptr<iostream::IOStream> stream;
    if (tls_) {
        stream = std::make_shared<iostream::SSLIOStream>(fd, tls_);
    } else {
        stream = std::make_shared<iostream::IOStream>(fd);
    }
    stream->set_trace_role("client");
    return stream;
}

void Client::use_tls(std::shared_ptr<const netutil::SSLContext> context,
                     std::string server_hostname) {
    tls_ = std::move(context);
    server_hostname_ = std::move(server_hostname);
}

// Over TLS, SSLIOStream::connect also waits for the handshake.
Future<void> Client::connect_stream(int port) {
    if (tls_) {
        auto tls = std::static_pointer_cast<iostream::SSLIOStream>(stream_);
        return tls->connect("127.0.0.1", port, server_hostname_);
    }
    return stream_->connect("127.0.0.1", port);
}

Future<std::string> Client::fetch(int port, std::string request) {
    TRACE_SPAN("Client.fetch", {"bytes", request.size()});
    auto self = shared_from_this();
    auto stream = open_stream();
    stream_ = stream;
    co_await connect_stream(port);
    co_await stream->write(std::move(request));
    std::string head = co_await stream->read_until("\r\n\r\n");
    std::string body;
    if (is_chunked(head)) {
        body = co_await read_chunked_body();
    } else {
        body = co_await stream->read_bytes(content_length(head));
    }
    stream->close();
    co_return head + body;
}

Future<void> Client::connect(int port) {
    TRACE_SPAN("Client.connect");
    auto self = shared_from_this();
    stream_ = open_stream();
    co_await connect_stream(port);
}

Future<void> Client::send(std::string data) {
    TRACE_SPAN("Client.send", {"bytes", data.size()});
    auto self = shared_from_this();
    co_await stream_->write(std::move(data));
}

Future<std::string> Client::read_response() {
    TRACE_SPAN("Client.read_response");
    auto self = shared_from_this();
    std::string head = co_await stream_->read_until("\r\n\r\n");
    if (head.starts_with("HTTP/1.1 1")) {
        co_return head;  // an interim answer has no body
    }
    std::string body;
    if (is_chunked(head)) {
        body = co_await read_chunked_body();
    } else if (std::size_t length = content_length(head); length > 0) {
        body = co_await stream_->read_bytes(length);
    }
    co_return head + body;
}

// Keeps the framing: the scenario's answer is the bytes as they came.
Future<std::string> Client::read_chunked_body() {
    TRACE_SPAN("Client.read_chunked_body");
    auto self = shared_from_this();
    std::string body;
    while (true) {
        std::string line = co_await stream_->read_until("\r\n");
        std::size_t size = std::stoul(line, nullptr, 16);
        body += line;
        body += co_await stream_->read_bytes(size + 2);
        if (size == 0) {
            co_return body;
        }
    }
}

Future<std::string> Client::read_until_close() {
    TRACE_SPAN("Client.read_until_close");
    auto self = shared_from_this();
    co_return co_await stream_->read_until_close();
}

void Client::close() {
    TRACE_SPAN("Client.close");
    stream_->close();
}

}  // namespace tornado::walkthrough::detail
