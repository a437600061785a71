// HTTPServer and HTTP1Connection over real loopback connections: keep-alive
// and pipelining, malformed input, request body framing, limits and the idle
// timeout. The application is a bare HTTPServerConnectionDelegate (no web
// layer), so these tests see only what the HTTP/1.x layer writes.
#include "tornado/httpserver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"

#include "common/test_cert.h"
#include "httpserver/raw_client.h"

namespace tornado::httpserver_test {
namespace {

using httputil::HTTPHeaders;

// One request of TinyApp: collects the body, then answers with a
// Content-Length response.
//   /         -> "Hello world"
//   /echo     -> the request body
//   /headers  -> one "Name: value\n" line per request header
//   /protocol -> the request context's protocol ("http", "https")
//   otherwise -> "<method> <path> <version>"
class TinyRequest : public httputil::HTTPMessageDelegate {
  public:
    explicit TinyRequest(std::shared_ptr<httputil::HTTPConnection> connection)
        : connection_(std::move(connection)) {}

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> headers) override {
        line_ = std::get<httputil::RequestStartLine>(start_line);
        headers_ = std::move(headers);
        return {};
    }

    Future<void> data_received(std::string chunk) override {
        body_ += chunk;
        return {};
    }

    void finish() override {
        std::string out;
        if (line_.path == "/") {
            out = "Hello world";
        } else if (line_.path == "/echo") {
            out = body_;
        } else if (line_.path == "/headers") {
            for (const auto& [name, value] : headers_->get_all()) {
                out.append(name).append(": ").append(value).append("\n");
            }
        } else if (line_.path == "/protocol") {
            out = connection_->context()->protocol;
        } else {
            out = line_.method + " " + line_.path + " " + line_.version;
        }
        HTTPHeaders headers;
        headers.set("Content-Type", "text/plain");
        respond_ok(*connection_, std::move(out), std::move(headers));
    }

  private:
    std::shared_ptr<httputil::HTTPConnection> connection_;
    httputil::RequestStartLine line_;
    std::shared_ptr<HTTPHeaders> headers_;
    std::string body_;
};

class TinyApp : public httputil::HTTPServerConnectionDelegate {
  public:
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* /*server_conn*/,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override {
        ++requests;
        return std::make_shared<TinyRequest>(std::move(request_conn));
    }

    int requests = 0;  // start_request calls (one per request the loop begins)
};

constexpr const char* kHelloHead =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 11\r\n"
    "\r\n";
constexpr const char* kBadRequest = "HTTP/1.1 400 Bad Request\r\n\r\n";

/// Writes `requests` in one write, then reads `count` responses.
Future<std::vector<RawResponse>> pipeline(std::shared_ptr<IOStream> stream, std::string requests,
                                          int count) {
    co_await stream->write(std::move(requests));
    std::vector<RawResponse> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        out.push_back(co_await read_response(stream));
    }
    co_return out;
}

class HTTPServerTest : public ServerTest {
  protected:
    void start(httpserver::HTTPServerSettings settings = {}) {
        app_ = std::make_shared<TinyApp>();
        start_server(app_, std::move(settings));
    }

    std::shared_ptr<TinyApp> app_;
};

// Tornado: tornado/test/httpserver_test.py:707 KeepAliveTest.test_two_requests
TEST_F(HTTPServerTest, TwoKeepAliveRequestsShareOneConnection) {
    start();
    auto stream = connect();
    RawResponse first = roundtrip(stream, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(first.head, kHelloHead);
    EXPECT_EQ(first.body, "Hello world");
    RawResponse second = roundtrip(stream, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(second.head, kHelloHead);
    EXPECT_EQ(second.body, "Hello world");
    EXPECT_FALSE(stream->closed());
    EXPECT_EQ(server_->connection_count(), 1U);
}

// Tornado: tornado/test/httpserver_test.py:758 KeepAliveTest.test_pipelined_requests
TEST_F(HTTPServerTest, PipelinedRequestsGetTheirResponsesInOrder) {
    start();
    auto stream = connect();
    std::vector<RawResponse> responses = run(
        [&] { return pipeline(stream, "GET /one HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\n", 2); });
    ASSERT_EQ(responses.size(), 2U);
    EXPECT_EQ(responses[0].start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(responses[0].body, "GET /one HTTP/1.1");
    EXPECT_EQ(responses[1].start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(responses[1].body, "GET /two HTTP/1.1");
    EXPECT_FALSE(stream->closed());
    EXPECT_EQ(server_->connection_count(), 1U);
}

// Tornado: tornado/test/httpserver_test.py:715 KeepAliveTest.test_request_close
// (6.2 wire: the response carries "Connection: close")
TEST_F(HTTPServerTest, ConnectionCloseRequestIsAnsweredWithConnectionCloseThenClosed) {
    start();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.head,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 11\r\n"
              "Connection: close\r\n"
              "\r\n");
    EXPECT_EQ(r.body, "Hello world");
    EXPECT_EQ(read_until_close(stream), "");
}

// Tornado: tornado/test/httpserver_test.py:725 KeepAliveTest.test_http10
TEST_F(HTTPServerTest, Http10RequestWithoutKeepAliveIsClosedAfterTheResponse) {
    start();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.head, kHelloHead);  // HTTP/1.1 status line, no Connection header
    EXPECT_EQ(r.body, "Hello world");
    EXPECT_EQ(read_until_close(stream), "");
}

// Tornado: tornado/test/httpserver_test.py:736 KeepAliveTest.test_http10_keepalive
TEST_F(HTTPServerTest, Http10KeepAliveRequestGetsKeepAliveAndTheConnectionIsReused) {
    start();
    auto stream = connect();
    const std::string request = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    const std::string expected_head =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 11\r\n"
        "Connection: Keep-Alive\r\n"
        "\r\n";
    RawResponse first = roundtrip(stream, request);
    EXPECT_EQ(first.head, expected_head);
    EXPECT_EQ(first.body, "Hello world");
    RawResponse second = roundtrip(stream, request);
    EXPECT_EQ(second.head, expected_head);
    EXPECT_EQ(second.body, "Hello world");
    EXPECT_FALSE(stream->closed());
    EXPECT_EQ(server_->connection_count(), 1U);
}

// Tornado: tornado/test/httpserver_test.py:747 KeepAliveTest.test_http10_keepalive_extra_crlf
TEST_F(HTTPServerTest, ExtraCrlfAfterARequestIsIgnored) {
    start();
    auto stream = connect();
    const std::string request = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    RawResponse first = roundtrip(stream, request + "\r\n");
    EXPECT_EQ(first.body, "Hello world");
    RawResponse second = roundtrip(stream, request);
    EXPECT_EQ(second.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(second.body, "Hello world");
}

// Tornado: tornado/test/httpserver_test.py:409 HTTPServerRawTest.test_malformed_first_line
// (6.2: test_malformed_first_line_response expects the 400)
TEST_F(HTTPServerTest, MalformedRequestLineGetsBare400ThenClose) {
    start();
    auto stream = connect();
    std::string got = run([&] { return send_and_read_until_close(stream, "asdf\r\n\r\n"); });
    EXPECT_EQ(got, kBadRequest);
    EXPECT_EQ(app_->requests, 1);
}

// Tornado: tornado/test/httpserver_test.py:418 HTTPServerRawTest.test_malformed_headers
TEST_F(HTTPServerTest, HeaderLineWithoutColonGetsBare400ThenClose) {
    start();
    auto stream = connect();
    std::string got =
        run([&] { return send_and_read_until_close(stream, "GET / HTTP/1.0\r\nasdf\r\n\r\n"); });
    EXPECT_EQ(got, kBadRequest);
}

// Tornado: tornado/test/httpserver_test.py:938 MaxHeaderSizeTest.test_large_headers
TEST_F(HTTPServerTest, HeaderBlockOverMaxHeaderSizeIsClosedWithoutAnyBytes) {
    httpserver::HTTPServerSettings settings;
    settings.max_header_size = 1024;
    start(settings);
    auto stream = connect();
    std::string request = "GET / HTTP/1.1\r\nX-Filler: " + std::string(2000, 'a') + "\r\n\r\n";
    std::string got = run([&] { return send_and_read_until_close(stream, request); });
    EXPECT_EQ(got, "");
}

// Tornado: tornado/test/httpserver_test.py:933 MaxHeaderSizeTest.test_small_headers
TEST_F(HTTPServerTest, HeaderBlockUnderMaxHeaderSizeIsServed) {
    httpserver::HTTPServerSettings settings;
    settings.max_header_size = 1024;
    start(settings);
    RawResponse r = fetch("GET / HTTP/1.1\r\nX-Filler: " + std::string(100, 'a') + "\r\n\r\n");
    EXPECT_EQ(r.head, kHelloHead);
}

// No Tornado test of its own: Content-Length framing (http1connection._read_fixed_body)
// when the request arrives in several segments, header block included.
TEST_F(HTTPServerTest, ContentLengthBodySplitAcrossWritesArrivesIntact) {
    start();
    auto stream = connect();
    RawResponse r = run([&] {
        return exchange_in_pieces(stream, {"POST /echo HTTP/1.1\r\nContent-Len",
                                           "gth: 26\r\n\r\nabc", "defghij", "klmnopqrstuvwxyz"});
    });
    EXPECT_EQ(r.head,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 26\r\n"
              "\r\n");
    EXPECT_EQ(r.body, "abcdefghijklmnopqrstuvwxyz");
    // The connection is still usable.
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").body, "Hello world");
}

// Tornado: tornado/test/httpserver_test.py:896 StreamingChunkSizeTest.test_regular_body (intact part)
TEST_F(HTTPServerTest, BodyLargerThanChunkSizeArrivesIntact) {
    start();
    std::string body;
    for (int i = 0; body.size() < 200000; ++i) {
        body += std::to_string(i) + ",";
    }
    RawResponse r = fetch("POST /echo HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(body.size()));
    EXPECT_TRUE(r.body == body) << "echoed body differs (" << r.body.size() << " bytes)";
}

// Tornado: tornado/test/httpserver_test.py:463 HTTPServerRawTest.test_invalid_content_length
TEST_F(HTTPServerTest, NonIntegerContentLengthGetsBare400ThenClose) {
    start();
    auto stream = connect();
    std::string got = run([&] {
        return send_and_read_until_close(stream,
                                         "POST /echo HTTP/1.1\r\nContent-Length: foo\r\n\r\n");
    });
    EXPECT_EQ(got, kBadRequest);
}

// Tornado 6.2: http1connection._read_body rejects both framing headers
// (request smuggling); 4.5.2 has no such test.
TEST_F(HTTPServerTest, ContentLengthWithTransferEncodingGetsBare400ThenClose) {
    start();
    auto stream = connect();
    std::string got = run([&] {
        return send_and_read_until_close(
            stream,
            "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    });
    EXPECT_EQ(got, kBadRequest);
}

// Tornado: tornado/test/httpserver_test.py:1036 BodyLimitsTest.test_large_body_buffered
// (6.2: a 400 before the close)
TEST_F(HTTPServerTest, ContentLengthOverMaxBodySizeGetsBare400ThenClose) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 4096;
    start(settings);
    auto stream = connect();
    std::string got = run([&] {
        return send_and_read_until_close(stream,
                                         "POST /echo HTTP/1.1\r\nContent-Length: 10240\r\n\r\n");
    });
    EXPECT_EQ(got, kBadRequest);
}

// Tornado: tornado/test/httpserver_test.py:1041 BodyLimitsTest.test_large_body_buffered_chunked
TEST_F(HTTPServerTest, ChunkedBodyOverMaxBodySizeGetsBare400ThenClose) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 4096;
    start(settings);
    auto stream = connect();
    // Only the chunk-size line: the server refuses before reading the data.
    std::string got = run([&] {
        return send_and_read_until_close(
            stream, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2800\r\n");
    });
    EXPECT_EQ(got, kBadRequest);
}

// Tornado: tornado/test/httpserver_test.py:1030 BodyLimitsTest.test_small_body
TEST_F(HTTPServerTest, BodyOfExactlyMaxBodySizeIsAccepted) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 4096;
    start(settings);
    RawResponse r =
        fetch("POST /echo HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'a'));
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.body, std::string(4096, 'a'));
}

// Tornado: tornado/test/httpserver_test.py:425 HTTPServerRawTest.test_chunked_request_body
TEST_F(HTTPServerTest, ChunkedRequestBodyIsAssembled) {
    start();
    auto stream = connect();
    RawResponse r = roundtrip(stream,
                              "POST /echo HTTP/1.1\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Content-Type: application/x-www-form-urlencoded\r\n"
                              "\r\n"
                              "4\r\nfoo=\r\n3\r\nbar\r\n0\r\n\r\n");
    EXPECT_EQ(r.head,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 7\r\n"
              "\r\n");
    EXPECT_EQ(r.body, "foo=bar");
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").body, "Hello world");
}

// Tornado: tornado/test/httpserver_test.py:444 HTTPServerRawTest.test_chunked_request_uppercase
TEST_F(HTTPServerTest, ChunkedTransferEncodingIsCaseInsensitive) {
    start();
    auto stream = connect();
    RawResponse r = run([&] {
        return exchange_in_pieces(stream, {"POST /echo HTTP/1.1\r\n"
                                           "Transfer-Encoding: Chunked\r\n\r\n"
                                           "4\r\nfoo=\r\n",
                                           "3\r\nbar\r\n", "0\r\n\r\n"});
    });
    EXPECT_EQ(r.body, "foo=bar");
}

// Tornado: tornado/test/httpserver_test.py:248 HTTPConnectionTest.test_newlines
TEST_F(HTTPServerTest, BareLfRequestIsAcceptedLikeCrlf) {
    start();
    for (const std::string newline : {"\r\n", "\n"}) {
        std::string request = "GET /headers HTTP/1.1";
        request.append(newline).append("Host: example.com").append(newline);
        request.append("X-Foo: bar").append(newline).append(newline);
        RawResponse r = fetch(request);
        EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
        EXPECT_EQ(r.body, "Host: example.com\nX-Foo: bar\n") << "newline " << newline.size();
    }
}

// Tornado: tornado/test/httputil_test.py:244 HTTPHeadersTest.test_multi_line (over the wire)
TEST_F(HTTPServerTest, ContinuationHeaderLineIsJoinedWithOneSpace) {
    start();
    RawResponse r = fetch("GET /headers HTTP/1.1\r\nX-Long: first\r\n \t second\r\n\r\n");
    EXPECT_EQ(r.body, "X-Long: first second\n");
}

// Tornado: tornado/test/httpserver_test.py:255 HTTPConnectionTest.test_100_continue
TEST_F(HTTPServerTest, Expect100ContinueGetsAnInterimResponseBeforeTheBody) {
    start();
    auto stream = connect();
    RawResponse interim = roundtrip(stream,
                                    "POST /echo HTTP/1.1\r\n"
                                    "Content-Length: 4\r\n"
                                    "Expect: 100-continue\r\n"
                                    "\r\n",
                                    BodyMode::None);
    EXPECT_EQ(interim.head, "HTTP/1.1 100 (Continue)\r\n\r\n");
    RawResponse r = roundtrip(stream, "body");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.body, "body");
}

// Tornado: tornado/test/httpserver_test.py:971 IdleTimeoutTest.test_unused_connection
TEST_F(HTTPServerTest, IdleConnectionTimeoutClosesAnUnusedConnectionWithoutAResponse) {
    httpserver::HTTPServerSettings settings;
    settings.idle_connection_timeout = 0.2;
    start(settings);
    auto stream = connect();
    EXPECT_EQ(read_until_close(stream), "");
    EXPECT_EQ(app_->requests, 1);  // the loop began a request that never came
}

// Tornado: tornado/test/httpserver_test.py:976 IdleTimeoutTest.test_idle_after_use
TEST_F(HTTPServerTest, IdleConnectionTimeoutClosesAConnectionIdleAfterUse) {
    httpserver::HTTPServerSettings settings;
    settings.idle_connection_timeout = 0.2;
    start(settings);
    auto stream = connect();
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").body, "Hello world");
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").body, "Hello world");
    EXPECT_EQ(read_until_close(stream), "");
}

// Tornado: tornado/test/httpserver_test.py:404 HTTPServerRawTest.test_empty_request
TEST_F(HTTPServerTest, ClientClosingAtOnceLeavesTheServerServing) {
    start();
    auto quitter = connect();
    quitter->close();
    settle();
    EXPECT_EQ(fetch("GET / HTTP/1.1\r\n\r\n").head, kHelloHead);
}

// No Tornado test of its own: 80 connections open at once. Each accept
// registers a new, ever higher fd with the IOLoop while the accept handler
// runs. The connections come in two rounds with an unused fd in between, so
// that whichever parity the process's free fds start at, some round has a
// server-side fd (not a client one) cross the IOLoop's handler-table capacity.
TEST_F(HTTPServerTest, ManySimultaneousConnectionsAreEachServed) {
    start();
    std::vector<std::shared_ptr<IOStream>> streams;
    streams.reserve(80);
    int spacer = -1;
    for (int i = 0; i < 80; ++i) {
        if (i == 40) {
            spacer = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            ASSERT_GE(spacer, 0);
        }
        streams.push_back(connect());
        RawResponse r =
            roundtrip(streams.back(), "GET /n" + std::to_string(i) + " HTTP/1.1\r\n\r\n");
        EXPECT_EQ(r.body, "GET /n" + std::to_string(i) + " HTTP/1.1");
    }
    ::close(spacer);
    EXPECT_EQ(server_->connection_count(), 80U);
}

// Tornado: HTTPServer(no_keep_alive=True)
TEST_F(HTTPServerTest, NoKeepAliveClosesEvenAnHttp11Connection) {
    httpserver::HTTPServerSettings settings;
    settings.no_keep_alive = true;
    start(settings);
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(r.body, "Hello world");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_EQ(read_until_close(stream), "");
}

// Tornado: tornado/test/httpserver_test.py:95 SSLTestMixin.test_ssl and
// HTTPConnectionTest's request.protocol over TLS.
TEST_F(HTTPServerTest, SslOptionsServeGetOverTlsWithProtocolHttps) {
    testing::TestCert cert;
    httpserver::HTTPServerSettings settings;
    settings.ssl_options = netutil::SSLOptions{};
    settings.ssl_options->certfile = cert.certfile();
    settings.ssl_options->keyfile = cert.keyfile();
    start(settings);
    auto tls_client = [&] {
        auto stream = std::make_shared<iostream::SSLIOStream>(
            ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
            netutil::ssl_options_to_context({}), false, loop_.get());
        clients_.push_back(stream);
        run([&] { return stream->connect("127.0.0.1", port_, "localhost"); });
        return std::static_pointer_cast<IOStream>(stream);
    };
    auto stream = tls_client();
    RawResponse hello = roundtrip(stream, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(hello.head, kHelloHead);
    EXPECT_EQ(hello.body, "Hello world");
    // The same connection again (keep-alive over TLS), then the protocol.
    RawResponse protocol =
        roundtrip(stream, "GET /protocol HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(protocol.body, "https");
    EXPECT_FALSE(stream->closed());
    // A plain client gets no HTTP answer from the TLS port.
    auto plain = connect();
    std::string reply = run([&]() -> Future<std::string> {
        co_await plain->write("GET / HTTP/1.0\r\n\r\n");
        co_return co_await plain->read_until_close();
    });
    EXPECT_EQ(reply.find("HTTP/1"), std::string::npos);
}

TEST_F(HTTPServerTest, PlainServerSaysProtocolHttp) {
    start();
    EXPECT_EQ(fetch("GET /protocol HTTP/1.0\r\n\r\n").body, "http");
}

}  // namespace
}  // namespace tornado::httpserver_test
