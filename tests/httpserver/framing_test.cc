// HTTP/1.1 framing as strict as RFC 9112 (issue 6), over real loopback
// connections with raw bytes: Content-Length and chunk sizes are digits only,
// Transfer-Encoding is exactly "chunked", only SP and HTAB are whitespace,
// field names are tokens, a bare CR is refused. Every refused message gets
// "400 Bad Request" and the connection closes; each such test sends a second
// request right behind the refused one and checks that it is never served
// (what a request-smuggling attempt would rely on). Also: chunk extensions and
// trailers are accepted, and what the application writes with CR or LF in
// its status line or headers is refused (HTTPOutputError, a 500 on the wire).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::httpserver_test {
namespace {

using httputil::HTTPHeaders;

// Records every request the application sees through to its end.
//   /echo     -> the request body
//   /headers  -> one "Name: value\n" line per request header
//   otherwise -> "served <path>"
class RecordingRequest : public httputil::HTTPMessageDelegate {
  public:
    RecordingRequest(std::shared_ptr<httputil::HTTPConnection> connection,
                     std::vector<std::string>* seen)
        : connection_(std::move(connection)), seen_(seen) {}

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> headers) override {
        line_ = std::get<httputil::RequestStartLine>(start_line);
        headers_ = std::move(headers);
        seen_->push_back("headers " + line_.path);
        return {};
    }

    Future<void> data_received(std::string chunk) override {
        body_ += chunk;
        return {};
    }

    void finish() override {
        seen_->push_back("finish " + line_.path);
        std::string out;
        if (line_.path == "/echo") {
            out = body_;
        } else if (line_.path == "/headers") {
            for (const auto& [name, value] : headers_->get_all()) {
                out.append(name).append(": ").append(value).append("\n");
            }
        } else {
            out = "served " + line_.path;
        }
        respond_ok(*connection_, std::move(out));
    }

  private:
    std::shared_ptr<httputil::HTTPConnection> connection_;
    std::vector<std::string>* seen_;
    httputil::RequestStartLine line_;
    std::shared_ptr<HTTPHeaders> headers_;
    std::string body_;
};

class RecordingApp : public httputil::HTTPServerConnectionDelegate {
  public:
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* /*server_conn*/,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override {
        return std::make_shared<RecordingRequest>(std::move(request_conn), &seen);
    }

    std::vector<std::string> seen;  // "headers <path>" / "finish <path>", in order
};

constexpr const char* kBadRequest = "HTTP/1.1 400 Bad Request\r\n\r\n";
// Sent right behind every refused message: a lax parser would serve it.
constexpr const char* kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// Writes `data`, then reads until the server closes. A reset (the server
/// closed with our smuggled bytes unread) ends the read like a close.
Future<std::string> send_and_drain(std::shared_ptr<IOStream> stream, std::string data) {
    co_await stream->write(std::move(data));
    std::string got;
    while (true) {
        try {
            got += co_await stream->read_bytes(65536, true);
        } catch (const iostream::StreamClosedError&) {
            break;
        }
    }
    co_return got;
}

/// Shows bytes that are not printable ASCII as \xNN, for failure messages.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) {
            out.push_back(c);
        } else {
            out += fmt::format("\\x{:02x}", u);
        }
    }
    return out;
}

class FramingTest : public ServerTest {
  protected:
    void start(httpserver::HTTPServerSettings settings = {}) {
        app_ = std::make_shared<RecordingApp>();
        start_server(app_, std::move(settings));
    }

    /// `message` followed by kSmuggled on one connection gets exactly one
    /// bare 400, then the close; the application never finishes a request,
    /// and never even sees /smuggled.
    void expect_refused(const std::string& message) {
        app_->seen.clear();
        auto stream = connect();
        std::string got = run([&] { return send_and_drain(stream, message + kSmuggled); });
        EXPECT_EQ(got, kBadRequest) << printable(message);
        for (const std::string& event : app_->seen) {
            EXPECT_EQ(event.rfind("finish ", 0), std::string::npos)
                << event << " for " << printable(message);
            EXPECT_NE(event, "headers /smuggled") << printable(message);
        }
    }

    /// `message` then kSmuggled, pipelined: both are answered, in order.
    std::vector<RawResponse> expect_served_then_next(const std::string& message) {
        auto stream = connect();
        return run([&]() -> Future<std::vector<RawResponse>> {
            co_await stream->write(message + kSmuggled);
            std::vector<RawResponse> out;
            out.push_back(co_await read_response(stream));
            out.push_back(co_await read_response(stream));
            co_return out;
        });
    }

    std::shared_ptr<RecordingApp> app_;
};

std::string post(const std::string& headers, const std::string& body = "") {
    return "POST /echo HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body;
}

// --- The probes of issue 6 ---------------------------------------------

// Probe: a chunk size of 7fffffffffffffff after a first chunk overflowed the
// signed running total, and the server read on past max_body_size.
TEST_F(FramingTest, HugeChunkSizeAfterAFirstChunkIsRefusedBeforeItsData) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 4096;
    start(settings);
    for (const char* size : {"7fffffffffffffff", "ffffffffffffffff", "10000000000000001",
                             "fffffffffffffffffffffffffffffff0", "1001"}) {
        expect_refused(post("Transfer-Encoding: chunked\r\n",
                            "1\r\na\r\n" + std::string(size) + "\r\n" + "bbbb"));
    }
}

// The same probe with the default limit (the stream's max_buffer_size).
TEST_F(FramingTest, HugeChunkSizeIsRefusedUnderTheDefaultLimit) {
    start();
    expect_refused(post("Transfer-Encoding: chunked\r\n", "1\r\na\r\n7fffffffffffffff\r\nbbbb"));
}

TEST_F(FramingTest, ChunksUpToExactlyMaxBodySizeAreAccepted) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 10;
    start(settings);
    auto r = expect_served_then_next(
        post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n7\r\ndefghij\r\n0\r\n\r\n"));
    EXPECT_EQ(r[0].body, "abcdefghij");
    EXPECT_EQ(r[1].body, "served /smuggled");
    expect_refused(
        post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n8\r\ndefghijk\r\n0\r\n\r\n"));
}

// Probe: Python's int() took "-1", "+3" and "0_3" as Content-Length.
TEST_F(FramingTest, ContentLengthThatIsNotOnlyDigitsIsRefused) {
    start();
    for (const char* value : {"-1", "+3", "0_3", "0x3", "3\x85",
                              "\x85"
                              "3",
                              "3\xa0", "3\x0b", "3\x0c", "1e1", "3 3", "3;", "", "\xd9\xa3"}) {
        expect_refused(post("Content-Length: " + std::string(value) + "\r\n", "abc"));
    }
}

// Probe: chunk sizes "+3" and "0x3" (int(s, 16)); also other non-HEXDIG forms.
TEST_F(FramingTest, ChunkSizeThatIsNotOnlyHexDigitsIsRefused) {
    start();
    for (const char* size : {"+3", "0x3", "-1", " 3", "3 ", "3\x85",
                             "\x85"
                             "3",
                             "0_3", "g", "", "3\r", "3\x0b"}) {
        expect_refused(
            post("Transfer-Encoding: chunked\r\n", std::string(size) + "\r\nabc\r\n0\r\n\r\n"));
    }
}

// Probe: "chunked" followed by byte 0x85 was read as "chunked"
// (str.strip() takes \x85, NEL, as whitespace).
TEST_F(FramingTest, TransferEncodingWithNonHttpWhitespaceIsRefused) {
    start();
    for (const char* value : {"chunked\x85",
                              "\x85"
                              "chunked",
                              "chunked\xa0", "chunked\x0b", "chunked\x0c",
                              "\x1c"
                              "chunked"}) {
        expect_refused(
            post("Transfer-Encoding: " + std::string(value) + "\r\n", "3\r\nabc\r\n0\r\n\r\n"));
    }
}

// --- Content-Length ----------------------------------------------------

TEST_F(FramingTest, DifferingContentLengthsAreRefused) {
    start();
    expect_refused(post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"));
    expect_refused(post("Content-Length: 3, 4\r\n", "abcd"));
    expect_refused(post("Content-Length: 3, 03\r\n", "abc"));
    expect_refused(post("Content-Length: 3,,3\r\n", "abc"));
    expect_refused(post("Content-Length: 3,\r\n", "abc"));
}

TEST_F(FramingTest, RepeatedEqualContentLengthsAreAccepted) {
    start();
    for (const char* headers :
         {"Content-Length: 3\r\nContent-Length: 3\r\n", "Content-Length: 3, 3\r\n",
          "Content-Length: 3,3\r\n", "Content-Length: \t3 \t\r\n"}) {
        auto r = expect_served_then_next(post(headers, "abc"));
        EXPECT_EQ(r[0].body, "abc") << headers;
        EXPECT_EQ(r[1].body, "served /smuggled") << headers;
    }
}

TEST_F(FramingTest, ContentLengthWithTransferEncodingIsRefused) {
    start();
    expect_refused(post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "abc"));
    expect_refused(
        post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "3\r\nabc\r\n0\r\n\r\n"));
}

TEST_F(FramingTest, ContentLengthOverMaxBodySizeIsRefused) {
    httpserver::HTTPServerSettings settings;
    settings.max_body_size = 10;
    start(settings);
    expect_refused(post("Content-Length: 11\r\n", "abcdefghijk"));
    expect_refused(post("Content-Length: 99999999999999999999999999\r\n", "abc"));
}

// The framing is checked before the application sees the message: no
// "100 Continue" goes out ahead of the 400.
TEST_F(FramingTest, RefusedMessageExpectingContinueGetsNoInterimAnswer) {
    start();
    expect_refused(post("Expect: 100-continue\r\nContent-Length: +3\r\n", "abc"));
    expect_refused(post("Expect: 100-continue\r\nTransfer-Encoding: gzip\r\n", "abc"));
    EXPECT_TRUE(app_->seen.empty());
}

// --- Transfer-Encoding -------------------------------------------------

TEST_F(FramingTest, OnlyExactlyChunkedIsAcceptedAsTransferEncoding) {
    start();
    const std::string body = "3\r\nabc\r\n0\r\n\r\n";
    for (const char* headers :
         {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: identity\r\n",
          "Transfer-Encoding: chunked, chunked\r\n", "Transfer-Encoding: gzip, chunked\r\n",
          "Transfer-Encoding: chunked;q=1\r\n", "Transfer-Encoding: ,chunked\r\n",
          "Transfer-Encoding: \r\n", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
          "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"}) {
        expect_refused(post(headers, body));
    }
    for (const char* value : {"chunked", "CHUNKED", "cHuNkEd", " \tchunked\t "}) {
        auto r = expect_served_then_next(
            post("Transfer-Encoding: " + std::string(value) + "\r\n", body));
        EXPECT_EQ(r[0].body, "abc") << value;
        EXPECT_EQ(r[1].body, "served /smuggled") << value;
    }
}

TEST_F(FramingTest, TransferEncodingInAnHttp10RequestIsRefused) {
    start();
    expect_refused(
        "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
}

// --- Chunked bodies ----------------------------------------------------

TEST_F(FramingTest, ChunkExtensionsAreAcceptedAndIgnored) {
    start();
    auto r = expect_served_then_next(post("Transfer-Encoding: chunked\r\n",
                                          "5;name=value\r\nhello\r\n"
                                          "1 ; a = \"q\\\"; x\" ;b\r\n \r\n"
                                          "5;flag\r\nworld\r\n"
                                          "0;last=1\r\n\r\n"));
    EXPECT_EQ(r[0].body, "hello world");
    EXPECT_EQ(r[1].body, "served /smuggled");
}

TEST_F(FramingTest, MalformedChunkExtensionsAreRefused) {
    start();
    for (const char* line :
         {"3;", "3; =v", "3;a=", "3;a=\"open", "3;a b", "3;a=b c", "3;a=\"\x01\"", "3;a\x85"}) {
        expect_refused(
            post("Transfer-Encoding: chunked\r\n", std::string(line) + "\r\nabc\r\n0\r\n\r\n"));
    }
}

// The answer closes the connection (the smuggled request is not served).
TEST_F(FramingTest, TrailerFieldsAfterTheLastChunkAreAcceptedAndIgnored) {
    start();
    auto stream = connect();
    std::string got = run([&] {
        return send_and_drain(stream, post("Transfer-Encoding: chunked\r\n",
                                           "5\r\nhello\r\n0\r\nX-Trailer: t\r\nX-Two:2\r\n\r\n") +
                                          kSmuggled);
    });
    EXPECT_EQ(got, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    EXPECT_EQ(app_->seen, (std::vector<std::string>{"headers /echo", "finish /echo"}));
    // The trailers do not reach the request's headers.
    RawResponse h = fetch(
        "POST /headers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: t\r\n\r\n");
    EXPECT_EQ(h.body, "Transfer-Encoding: chunked\n");
}

TEST_F(FramingTest, MalformedTrailersAreRefused) {
    start();
    for (const char* trailer :
         {"no colon\r\n", "X Bad: v\r\n", "X-Bad : v\r\n", ": v\r\n", " folded: v\r\n",
          "X-A: a\rb\r\n", "X-A: a\nX-B: b\r\n", "\n\r\n"}) {
        expect_refused(post("Transfer-Encoding: chunked\r\n",
                            "3\r\nabc\r\n0\r\n" + std::string(trailer) + "\r\n"));
    }
}

TEST_F(FramingTest, ChunkDataNotEndedByCrlfIsRefused) {
    start();
    expect_refused(post("Transfer-Encoding: chunked\r\n", "3\r\nabcd\r\n0\r\n\r\n"));
    expect_refused(post("Transfer-Encoding: chunked\r\n", "3\r\nab\r\n0\r\n\r\n"));
}

// --- Field syntax ------------------------------------------------------

// \x0b and \x0c, which str.strip() also took, are control characters and
// refused (ControlCharactersOtherThanHtabInAFieldAreRefused).
TEST_F(FramingTest, OnlySpaceAndTabAreStrippedFromFieldValues) {
    start();
    auto r = expect_served_then_next(
        "GET /headers HTTP/1.1\r\n"
        "X-Nel: \x85v\x85\r\n"
        "X-Nbsp: \xa0v\xa0\r\n"
        "X-Ows: \t v \t\r\n"
        "\r\n");
    EXPECT_EQ(r[0].body,
              "X-Nel: \x85v\x85\n"
              "X-Nbsp: \xa0v\xa0\n"
              "X-Ows: v\n");
    EXPECT_EQ(r[1].body, "served /smuggled");
}

TEST_F(FramingTest, FieldNameThatIsNotATokenIsRefused) {
    start();
    for (const char* line : {"Host : x", "Content-Length : 3", "X Foo: bar", "X\tFoo: bar",
                             ": empty", "X-\x85: v", "X-(a): v", "X-\"a\": v", "X-a@b: v"}) {
        expect_refused("GET / HTTP/1.1\r\n" + std::string(line) + "\r\n\r\n");
    }
    // A POST whose Content-Length only a lax parser would see: refused too.
    expect_refused("POST /echo HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc");
}

TEST_F(FramingTest, LineStartingWithOtherWhitespaceIsNoContinuation) {
    start();
    for (const char* ws : {"\x0b", "\x0c", "\x85", "\xa0", "\x1c"}) {
        expect_refused("GET / HTTP/1.1\r\nX-A: 1\r\n" + std::string(ws) + "X-B: 2\r\n\r\n");
    }
}

TEST_F(FramingTest, ContinuationLinesStillJoinWithOneSpace) {
    start();
    auto r = expect_served_then_next(
        "GET /headers HTTP/1.1\r\nX-Folded: first\r\n  second \r\n\tthird\r\nX-After: z\r\n\r\n");
    EXPECT_EQ(r[0].body, "X-Folded: first second third\nX-After: z\n");
    EXPECT_EQ(r[1].body, "served /smuggled");
}

TEST_F(FramingTest, BareCrOrNulInAFieldIsRefused) {
    start();
    for (const char* line : {"X-A: a\rb", "X-A: a\r", "X-A\r: b", "X-A: \rContent-Length: 3",
                             "X-A: ok\r\n  fold\rmore"}) {
        expect_refused("GET / HTTP/1.1\r\n" + std::string(line) + "\r\n\r\n");
    }
    expect_refused(std::string("GET / HTTP/1.1\r\nX-A: a") + '\0' + "b\r\n\r\n");
}

// RFC 9110 5.5: a field value is VCHAR / obs-text / SP / HTAB. Tornado 6.2
// kept other control characters in the value; Tornado 6.5 refuses them.
TEST_F(FramingTest, ControlCharactersOtherThanHtabInAFieldAreRefused) {
    start();
    for (int c = 0x01; c < 0x20; ++c) {
        if (c == '\t' || c == '\n' || c == '\r') {
            continue;  // HTAB is allowed; LF ends the line; CR is tested above
        }
        std::string ch(1, static_cast<char>(c));
        expect_refused("GET / HTTP/1.1\r\nX-A: a" + ch + "b\r\n\r\n");
    }
    expect_refused(
        "GET / HTTP/1.1\r\nX-A: a\x7f"
        "b\r\n\r\n");
    expect_refused("GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n");
    expect_refused("GET / HTTP/1.1\r\nX-A: ok\r\n  fold\x01more\r\n\r\n");
    expect_refused(post("Transfer-Encoding: chunked\r\n",
                        "0\r\nX-T: a\x7f"
                        "b\r\n\r\n"));
}

// What the rule still accepts: HTAB and SP inside a value, and obs-text
// (bytes 0x80-0xFF), passed on as they came.
TEST_F(FramingTest, HtabSpaceAndObsTextInAFieldAreAccepted) {
    start();
    auto r = expect_served_then_next(
        "GET /headers HTTP/1.1\r\nX-A: a\tb c\r\nX-B: \x80\xff\xe9t\xe9\r\n\r\n");
    EXPECT_EQ(r[0].body, "X-A: a\tb c\nX-B: \x80\xff\xe9t\xe9\n");
    EXPECT_EQ(r[1].body, "served /smuggled");
}

// Tornado 6.2 and 6.5 read a chunk-size line with read_until(b"\r\n",
// max_bytes=64), which closes the connection without an answer past 64
// bytes; here it is refused with 400 like other bad framing.
TEST_F(FramingTest, ChunkSizeLineLongerThan64BytesIsRefused) {
    start();
    // 65 bytes with the CRLF (an extension makes it long); a line of 200.
    std::string ext65 = "3;n=" + std::string(59, 'v');
    ASSERT_EQ(ext65.size() + 2, 65U);
    expect_refused(post("Transfer-Encoding: chunked\r\n", ext65 + "\r\nabc\r\n0\r\n\r\n"));
    expect_refused(
        post("Transfer-Encoding: chunked\r\n", std::string(200, '0') + "3\r\nabc\r\n0\r\n\r\n"));
    // The same after a first chunk, and for the last chunk.
    expect_refused(
        post("Transfer-Encoding: chunked\r\n", "1\r\na\r\n" + ext65 + "\r\nabc\r\n0\r\n\r\n"));
    expect_refused(post("Transfer-Encoding: chunked\r\n",
                        "1\r\na\r\n0;n=" + std::string(59, 'v') + "\r\n\r\n"));
    // Without any CRLF at all.
    expect_refused(post("Transfer-Encoding: chunked\r\n", std::string(100, '1')));
}

// Exactly 64 bytes with the CRLF is still a chunk-size line.
TEST_F(FramingTest, ChunkSizeLineOfExactly64BytesIsAccepted) {
    start();
    std::string ext64 = "3;n=" + std::string(58, 'v');
    ASSERT_EQ(ext64.size() + 2, 64U);
    auto r =
        expect_served_then_next(post("Transfer-Encoding: chunked\r\n",
                                     ext64 + "\r\nabc\r\n" + std::string(62, '0') + "\r\n\r\n"));
    EXPECT_EQ(r[0].body, "abc");
    EXPECT_EQ(r[1].body, "served /smuggled");
}

TEST_F(FramingTest, BareCrInTheRequestLineIsRefused) {
    start();
    expect_refused("GET /a\rb HTTP/1.1\r\n\r\n");
    expect_refused("GET\r/ HTTP/1.1\r\n\r\n");
}

// --- What the application writes ---------------------------------------

class InjectingHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        std::string what = get_argument("what");
        std::string evil = "x\r\nX-Injected: 1";
        if (what == "reason") {
            set_status(200, evil);
        } else if (what == "reason-lf") {
            set_status(299, "Fine\nX-Injected: 1");
        } else if (what == "set") {
            set_header("X-Value", evil);
        } else if (what == "add") {
            add_header("X-Value", "a\nX-Injected: 1");
        } else if (what == "name") {
            set_header("X-Injected: 1\r\nX-Name", "v");
        } else if (what == "error") {
            throw web::HTTPError(400, "", "Bad\r\nX-Injected: 1");
        }
        write("fine");
        return {};
    }
};

class OutputTest : public ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        log::set_level(log::Level::Off);  // the 500s log their exceptions
        web::ApplicationSettings settings;
        settings.log_requests = false;
        start_server(web::Application::create({web::url<InjectingHandler>("/")}, settings));
    }

    RawResponse get(const std::string& what) {
        return fetch("GET /?what=" + what + " HTTP/1.1\r\nHost: x\r\n\r\n");
    }
};

TEST_F(OutputTest, ReasonPhraseWithCrOrLfIsRefusedWith500) {
    for (const char* what : {"reason", "reason-lf"}) {
        RawResponse r = get(what);
        EXPECT_EQ(r.start_line, "HTTP/1.1 500 Internal Server Error") << what;
        EXPECT_FALSE(r.has_header("X-Injected")) << what;
        EXPECT_EQ(r.head.find("X-Injected"), std::string::npos) << what;
    }
}

TEST_F(OutputTest, HeaderWithCrOrLfIsRefusedWith500) {
    for (const char* what : {"set", "add", "name"}) {
        RawResponse r = get(what);
        EXPECT_EQ(r.start_line, "HTTP/1.1 500 Internal Server Error") << what;
        EXPECT_EQ(r.head.find("X-Injected"), std::string::npos) << what;
        EXPECT_FALSE(r.has_header("X-Value")) << what;
    }
    EXPECT_EQ(get("none").body, "fine");
}

TEST_F(OutputTest, HTTPErrorWithCrOrLfInItsReasonGetsTheStandardPhrase) {
    RawResponse r = get("error");
    EXPECT_EQ(r.start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(r.head.find("X-Injected"), std::string::npos);
}

}  // namespace
}  // namespace tornado::httpserver_test
