// Shared pieces of the httpserver and web tests: a fixture that owns an
// IOLoop, an HTTPServer on 127.0.0.1 (port 0) and the client IOStreams a test
// opens, and coroutines that speak raw HTTP/1.x over those streams so that
// tests can assert on the exact bytes the server writes.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"

#include "common/loop_steps.h"

namespace tornado::httpserver_test {

using ioloop::IOLoop;
using iostream::IOStream;

/// A response as read off the wire.
struct RawResponse {
    /// "HTTP/1.1 200 OK", without the CRLF.
    std::string start_line;
    /// The header lines in the order received, names as written.
    std::vector<std::pair<std::string, std::string>> headers;
    /// The start line and header block exactly as received (ends "\r\n\r\n").
    std::string head;
    /// The body bytes as framed on the wire (chunk sizes included).
    std::string raw_body;
    /// The body with any chunked framing removed.
    std::string body;

    /// The status code from the start line (0 if it does not parse).
    int code() const {
        if (start_line.size() < 12) {
            return 0;
        }
        try {
            return std::stoi(start_line.substr(9, 3));
        } catch (const std::exception&) {
            return 0;
        }
    }

    /// The value of header `name` (exact name, as the server writes it); with
    /// repeated headers, the first.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) {
                return v;
            }
        }
        return std::nullopt;
    }

    bool has_header(std::string_view name) const { return header(name).has_value(); }

    /// The header names in order.
    std::vector<std::string> header_names() const {
        std::vector<std::string> out;
        out.reserve(headers.size());
        for (const auto& [n, v] : headers) {
            out.push_back(n);
        }
        return out;
    }
};

/// Splits a received header block into the start line and header pairs.
inline RawResponse parse_head(std::string head) {
    RawResponse r;
    r.head = std::move(head);
    std::string_view text = r.head;
    std::size_t eol = text.find("\r\n");
    r.start_line = std::string(text.substr(0, eol));
    std::size_t pos = eol == std::string_view::npos ? text.size() : eol + 2;
    while (pos < text.size()) {
        std::size_t end = text.find("\r\n", pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 2;
        if (line.empty()) {
            continue;
        }
        std::size_t colon = line.find(": ");
        if (colon == std::string_view::npos) {
            r.headers.emplace_back(std::string(line), "");
        } else {
            r.headers.emplace_back(std::string(line.substr(0, colon)),
                                   std::string(line.substr(colon + 2)));
        }
    }
    return r;
}

/// How read_response finds the end of the body.
enum class BodyMode {
    /// Content-Length, else chunked framing, else no body.
    Framed,
    /// No body (a response to HEAD, or an interim 100).
    None,
    /// Everything until the server closes.
    UntilClose,
};

/// Reads one response: the header block, then the body as `mode` says.
inline Future<RawResponse> read_response(std::shared_ptr<IOStream> stream,
                                         BodyMode mode = BodyMode::Framed) {
    std::string head = co_await stream->read_until("\r\n\r\n", 65536);
    RawResponse r = parse_head(std::move(head));
    if (mode == BodyMode::None) {
        co_return r;
    }
    if (mode == BodyMode::UntilClose) {
        r.raw_body = co_await stream->read_until_close();
        r.body = r.raw_body;
        co_return r;
    }
    if (auto cl = r.header("Content-Length")) {
        std::size_t n = std::stoul(*cl);
        if (n > 0) {
            r.raw_body = co_await stream->read_bytes(n);
        }
        r.body = r.raw_body;
        co_return r;
    }
    if (r.header("Transfer-Encoding") == "chunked") {
        while (true) {
            std::string size_line = co_await stream->read_until("\r\n", 64);
            r.raw_body += size_line;
            std::size_t size = std::stoul(size_line.substr(0, size_line.size() - 2), nullptr, 16);
            std::string data = co_await stream->read_bytes(size + 2);
            r.raw_body += data;
            if (size == 0) {
                break;
            }
            r.body += data.substr(0, size);
        }
    }
    co_return r;
}

/// Writes `request` (all at once), then reads one response.
inline Future<RawResponse> exchange(std::shared_ptr<IOStream> stream, std::string request,
                                    BodyMode mode = BodyMode::Framed) {
    co_await stream->write(std::move(request));
    co_return co_await read_response(std::move(stream), mode);
}

/// Writes `request`, then reads everything until the server closes.
inline Future<std::string> send_and_read_until_close(std::shared_ptr<IOStream> stream,
                                                     std::string request) {
    co_await stream->write(std::move(request));
    co_return co_await stream->read_until_close();
}

/// Writes each piece separately, with a few loop iterations between them
/// (so that the server sees them in separate reads), then reads a response.
inline Future<RawResponse> exchange_in_pieces(std::shared_ptr<IOStream> stream,
                                              std::vector<std::string> pieces) {
    for (std::string& piece : pieces) {
        co_await stream->write(std::move(piece));
        for (int i = 0; i < 3; ++i) {
            co_await gen::moment;
        }
    }
    co_return co_await read_response(std::move(stream));
}

/// Answers the message on `connection` with 200 OK, `headers` plus its
/// Content-Length, and `body`, then finishes it: the reply of the test
/// delegates here (they talk to HTTP1Connection directly, below web).
inline void respond_ok(httputil::HTTPConnection& connection, std::string body,
                       httputil::HTTPHeaders headers = {}) {
    headers.set("Content-Length", std::to_string(body.size()));
    connection
        .write_headers(httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers,
                       std::move(body))
        .quiet();
    connection.finish();
}

/// Owns the IOLoop (current), the HTTPServer under test and every client
/// stream. TearDown closes the clients, destroys the server, and runs the
/// loop a few iterations so that server and client coroutines end before the
/// loop goes (LeakSanitizer would report their frames otherwise).
class ServerTest : public ::testing::Test {
  protected:
    static constexpr double kTimeout = 10;

    void SetUp() override {
        saved_level_ = log::level();
        log::set_level(log::Level::Warning);
        loop_ = std::make_unique<IOLoop>(true);
    }

    void TearDown() override {
        for (auto& client : clients_) {
            if (!client->closed()) {
                client->close();
            }
        }
        server_.reset();
        settle();
        clients_.clear();
        delegate_.reset();
        settle();
        loop_.reset();
        log::set_level(saved_level_);
    }

    /// loop_->run_sync with a bound: throws TimeoutError instead of hanging.
    template <class F>
    auto run(F&& fn, double timeout_seconds = kTimeout) {
        return loop_->run_sync(std::forward<F>(fn), timeout_seconds);
    }

    /// Starts an HTTPServer for `delegate` on 127.0.0.1 with a free port.
    void start_server(std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate,
                      httpserver::HTTPServerSettings settings = {}) {
        delegate_ = delegate;
        server_ = std::make_unique<httpserver::HTTPServer>(std::move(delegate), std::move(settings),
                                                           loop_.get());
        std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
        ASSERT_FALSE(sockets.empty());
        port_ = netutil::bound_port(sockets.front());
        server_->add_sockets(sockets);
    }

    /// A new client stream connected to the server.
    std::shared_ptr<IOStream> connect() {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw std::system_error(errno, std::generic_category(), "socket");
        }
        auto stream = std::make_shared<IOStream>(fd, loop_.get());
        clients_.push_back(stream);
        run([&] { return stream->connect("127.0.0.1", port_); });
        return stream;
    }

    /// One request/response on `stream`.
    RawResponse roundtrip(const std::shared_ptr<IOStream>& stream, const std::string& request,
                          BodyMode mode = BodyMode::Framed) {
        return run([&] { return exchange(stream, request, mode); });
    }

    /// One request on a new connection.
    RawResponse fetch(const std::string& request, BodyMode mode = BodyMode::Framed) {
        return roundtrip(connect(), request, mode);
    }

    /// Everything the server sends on `stream` until it closes.
    std::string read_until_close(const std::shared_ptr<IOStream>& stream) {
        return run([&] { return stream->read_until_close(); });
    }

    /// Runs `n` loop iterations so that pending coroutines finish.
    void settle(int n = 5) { tornado::testing::run_iterations(*loop_, n); }

    std::unique_ptr<IOLoop> loop_;
    std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate_;
    std::unique_ptr<httpserver::HTTPServer> server_;
    std::vector<std::shared_ptr<IOStream>> clients_;
    int port_ = 0;
    log::Level saved_level_ = log::Level::Info;
};

}  // namespace tornado::httpserver_test
