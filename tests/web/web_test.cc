// RequestHandler and Application over real loopback connections: the
// default headers, Etag and 304, error pages, async and flushed (chunked)
// output, HEAD, redirects and gzip; plus the escape helpers.
#include "tornado/web.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/escape.h"
#include "tornado/gen.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::BodyMode;
using httpserver_test::RawResponse;
using httpserver_test::ServerTest;
using Strings = std::vector<std::string>;

// python3 -c "import hashlib;print(hashlib.sha1(b'Hello, world').hexdigest())"
constexpr const char* kHelloEtag = "\"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8\"";

class HelloHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("Hello, world");
        return {};
    }
};

class GetOnlyHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("only GET");
        return {};
    }
};

class HeadHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("some body");
        return {};
    }
    Future<void> head() override { return get(); }
};

class ForbiddenHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw web::HTTPError(403); }
};

class ReasonHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw web::HTTPError(682, "", "Foo"); }
};

class NotModifiedErrorHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw web::HTTPError(304); }
};

class BoomHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw std::runtime_error("boom"); }
};

class AsyncHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        auto self = shared_from_this();
        co_await gen::sleep(0.01);
        finish("done").quiet();
    }
};

class FlushingHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        auto self = shared_from_this();
        write("part1");
        co_await flush();
        write("part2");
        co_await flush();
        finish("part3").quiet();
    }
};

class RedirectingHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        redirect("/target", !get_argument("permanent", "").empty());
        return {};
    }
};

// `size` bytes of text (compressible).
std::string text_of_size(std::size_t size) {
    std::string out;
    while (out.size() < size) {
        out += "All work and no play makes Jack a dull boy. ";
    }
    out.resize(size);
    return out;
}

class TextHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(std::size_t size) { size_ = size; }
    Future<void> get() override {
        set_header("Content-Type", "text/plain");
        write(text_of_size(size_));
        return {};
    }

  private:
    std::size_t size_ = 0;
};

/// Inflates a gzip stream (windowBits 16 + MAX_WBITS); throws on bad data.
std::string gunzip(const std::string& compressed) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        throw std::runtime_error("inflateInit2");
    }
    std::string in = compressed;
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    std::string out;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        char buf[4096];
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&z);
            throw std::runtime_error("inflate failed");
        }
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            inflateEnd(&z);
            throw std::runtime_error("truncated gzip stream");
        }
    }
    inflateEnd(&z);
    return out;
}

bool looks_like_http_date(const std::string& value) {
    static const std::regex date(
        R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)");
    return std::regex_match(value, date);
}

constexpr const char* kHtml = "text/html; charset=UTF-8";

class WebServerTest : public ServerTest {
  protected:
    void start_app(bool compress_response = false) {
        web::ApplicationSettings settings;
        settings.compress_response = compress_response;
        settings.log_requests = false;
        using web::url;
        auto app = web::Application::create(
            {
                url<HelloHandler>("/"),
                url<GetOnlyHandler>("/get_only"),
                url<HeadHandler>("/head"),
                url<ForbiddenHandler>("/forbidden"),
                url<ReasonHandler>("/reason"),
                url<NotModifiedErrorHandler>("/not_modified"),
                url<BoomHandler>("/boom"),
                url<AsyncHandler>("/async"),
                url<FlushingHandler>("/chunked"),
                url<RedirectingHandler>("/redirect"),
                url<web::RedirectHandler>("/old", std::string("/new")),
                url<web::RedirectHandler>("/temporary", std::string("/new"), false),
                url<web::RedirectHandler>("/a/([^/]+)/([^/]+)", std::string("/{1}/{0}")),
                url<TextHandler>("/big", std::size_t{2000}),
                url<TextHandler>("/small", std::size_t{500}),
            },
            settings);
        start_server(app);
    }

    RawResponse get(const std::string& path, const std::string& extra_headers = "") {
        return fetch("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n" + extra_headers + "\r\n");
    }
};

class RequestHandlerTest : public WebServerTest {};
class RedirectHandlerTest : public WebServerTest {};
class GZipContentEncodingTest : public WebServerTest {};

// Tornado: tornado/test/web_test.py:625 WSGISafeWebTest (the hello route) and
// DateHeaderTest.test_date_header; header order as in TORNADO-REFERENCE 2.1
TEST_F(RequestHandlerTest, GetAnswers200WithDefaultHeadersEtagAndContentLength) {
    start_app();
    RawResponse r = get("/");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header_names(),
              (Strings{"Server", "Content-Type", "Date", "Etag", "Content-Length"}));
    EXPECT_EQ(r.header("Server").value_or("").rfind("TornadoServer/", 0), 0U)
        << *r.header("Server");
    EXPECT_EQ(r.header("Content-Type"), kHtml);
    EXPECT_TRUE(looks_like_http_date(r.header("Date").value_or(""))) << *r.header("Date");
    EXPECT_EQ(r.header("Etag"), kHelloEtag);
    EXPECT_EQ(r.header("Content-Length"), "12");
    EXPECT_EQ(r.body, "Hello, world");
}

// Tornado: tornado/test/web_test.py:1589 GzipTestCase.test_gzip_not_requested (Vary always there)
TEST_F(RequestHandlerTest, CompressResponseAddsVaryAcceptEncodingToEveryResponse) {
    start_app(true);
    RawResponse r = get("/");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header_names(),
              (Strings{"Server", "Content-Type", "Date", "Etag", "Content-Length", "Vary"}));
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.header("Etag"), kHelloEtag);
    EXPECT_EQ(r.header("Content-Length"), "12");
    EXPECT_EQ(r.body, "Hello, world");

    RawResponse missing = get("/missing");
    EXPECT_EQ(missing.header("Vary"), "Accept-Encoding");
}

// Tornado: tornado/test/web_test.py:2768 CacheTest.test_strong_etag_match and Header304Test
TEST_F(RequestHandlerTest, IfNoneMatchWithTheEtagAnswers304WithoutBodyOrRepresentationHeaders) {
    start_app(true);
    auto stream = connect();
    RawResponse r = roundtrip(
        stream, std::string("GET / HTTP/1.1\r\nIf-None-Match: ") + kHelloEtag + "\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 304 Not Modified");
    EXPECT_EQ(r.header_names(), (Strings{"Server", "Date", "Etag", "Vary"}));
    EXPECT_EQ(r.header("Etag"), kHelloEtag);
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_FALSE(r.has_header("Content-Type"));
    EXPECT_FALSE(r.has_header("Transfer-Encoding"));
    // No body bytes: the next response on the connection starts cleanly.
    RawResponse next = roundtrip(stream, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(next.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(next.body, "Hello, world");
}

// Tornado: tornado/test/web_test.py:2788 CacheTest.test_weak_etag_match (and
// test_multiple_weak_etag_match, test_wildcard_etag, test_strong_etag_not_match)
TEST_F(RequestHandlerTest, IfNoneMatchUsesWeakComparisonAndWildcard) {
    start_app();
    EXPECT_EQ(get("/", std::string("If-None-Match: W/") + kHelloEtag + "\r\n").code(), 304);
    EXPECT_EQ(get("/", std::string("If-None-Match: \"xyzzy\", W/") + kHelloEtag + "\r\n").code(),
              304);
    EXPECT_EQ(get("/", "If-None-Match: *\r\n").code(), 304);
    RawResponse miss = get("/", "If-None-Match: \"xyzzy\"\r\n");
    EXPECT_EQ(miss.code(), 200);
    EXPECT_EQ(miss.body, "Hello, world");
}

// Tornado: tornado/test/web_test.py:1918 UnimplementedHTTPMethodsTest (POST to a GET-only handler)
TEST_F(RequestHandlerTest, UnimplementedMethodAnswers405Page) {
    start_app();
    RawResponse r = fetch("POST /get_only HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 405 Method Not Allowed");
    EXPECT_EQ(r.header_names(), (Strings{"Server", "Content-Type", "Date", "Content-Length"}));
    EXPECT_EQ(r.header("Content-Length"), "87");
    EXPECT_EQ(r.body,
              "<html><title>405: Method Not Allowed</title>"
              "<body>405: Method Not Allowed</body></html>");
}

// Tornado: tornado/test/web_test.py:1946 UnimplementedNonStandardMethodsTest.test_unimplemented_other
TEST_F(RequestHandlerTest, MethodOutsideSupportedMethodsAnswers405) {
    start_app();
    EXPECT_EQ(fetch("FOO / HTTP/1.1\r\n\r\n").start_line, "HTTP/1.1 405 Method Not Allowed");
    EXPECT_EQ(fetch("get / HTTP/1.1\r\n\r\n").start_line, "HTTP/1.1 405 Method Not Allowed");
}

// Tornado: tornado/test/web_test.py:1684 ExceptionHandlerTest.test_http_error (HTTPError(403))
TEST_F(RequestHandlerTest, HTTPErrorRaisedByHandlerAnswersItsStatusPage) {
    start_app();
    RawResponse r = get("/forbidden");
    EXPECT_EQ(r.start_line, "HTTP/1.1 403 Forbidden");
    EXPECT_EQ(r.header("Content-Type"), kHtml);
    EXPECT_EQ(r.header("Content-Length"), "69");
    EXPECT_FALSE(r.has_header("Etag"));
    EXPECT_EQ(r.body, "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>");
}

// Tornado: tornado/test/web_test.py:1521 RaiseWithReasonTest.test_raise_with_reason
TEST_F(RequestHandlerTest, HTTPErrorWithReasonUsesTheReasonInStatusLineAndPage) {
    start_app();
    RawResponse r = get("/reason");
    EXPECT_EQ(r.start_line, "HTTP/1.1 682 Foo");
    EXPECT_EQ(r.body, "<html><title>682: Foo</title><body>682: Foo</body></html>");
}

// Tornado: tornado/web.py:1003 RequestHandler.send_error (6.2: no write_error for 304)
TEST_F(RequestHandlerTest, HTTPError304AnswersWithoutAnErrorPageAndKeepsTheConnection) {
    start_app(true);
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET /not_modified HTTP/1.1\r\nHost: example.com\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 304 Not Modified");
    EXPECT_EQ(r.body, "");
    EXPECT_FALSE(r.has_header("Content-Type"));
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").body, "Hello, world");
}

// Tornado: tornado/test/web_test.py:1691 ExceptionHandlerTest.test_unknown_error and
// ErrorResponseTest.test_default; KeepAlive after a 500 (TORNADO-REFERENCE 2.5)
TEST_F(RequestHandlerTest, ExceptionInHandlerAnswers500AndTheConnectionServesTheNextRequest) {
    start_app();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET /boom HTTP/1.1\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 500 Internal Server Error");
    EXPECT_EQ(r.header("Content-Length"), "93");
    EXPECT_EQ(r.body,
              "<html><title>500: Internal Server Error</title>"
              "<body>500: Internal Server Error</body></html>");
    RawResponse next = roundtrip(stream, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(next.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(next.body, "Hello, world");
    EXPECT_FALSE(stream->closed());
}

// Tornado: tornado/test/web_test.py:375 ConnectionCloseTest (the asynchronous handler pattern of
// its handler; here it finishes normally)
TEST_F(RequestHandlerTest, AsyncHandlerAnswersAfterItsAwait) {
    start_app();
    RawResponse r = get("/async");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header("Content-Length"), "4");
    EXPECT_EQ(r.body, "done");
}

// Tornado: tornado/test/web_test.py:867 NonWSGIWebTests.test_flow_control (flush per part);
// TORNADO-REFERENCE 2.4 (the /chunked framing)
TEST_F(RequestHandlerTest, FlushedWritesAreSentAsChunks) {
    start_app();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET /chunked HTTP/1.1\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header_names(), (Strings{"Server", "Content-Type", "Date", "Transfer-Encoding"}));
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.raw_body, "5\r\npart1\r\n5\r\npart2\r\n5\r\npart3\r\n0\r\n\r\n");
    EXPECT_EQ(r.body, "part1part2part3");
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").body, "Hello, world");
}

// TORNADO-REFERENCE 2.4: an HTTP/1.0 client gets no chunking; the body runs to the close.
TEST_F(RequestHandlerTest, FlushedWritesToHttp10ClientAreUnframedUntilClose) {
    start_app();
    RawResponse r = fetch("GET /chunked HTTP/1.0\r\n\r\n", BodyMode::UntilClose);
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_FALSE(r.has_header("Transfer-Encoding"));
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_EQ(r.raw_body, "part1part2part3");
}

// Tornado: tornado/test/web_test.py:1960 AllHTTPMethodsTest.test_standard_methods (HEAD);
// TORNADO-REFERENCE 2.6
TEST_F(RequestHandlerTest, HeadAnswersTheGetHeadersWithoutTheBody) {
    start_app();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "HEAD /head HTTP/1.1\r\n\r\n", BodyMode::None);
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header_names(),
              (Strings{"Server", "Content-Type", "Date", "Etag", "Content-Length"}));
    EXPECT_EQ(r.header("Content-Length"), "9");
    // Had a body been sent, it would precede this response's status line.
    RawResponse next = roundtrip(stream, "GET /head HTTP/1.1\r\n\r\n");
    EXPECT_EQ(next.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(next.body, "some body");
    EXPECT_EQ(next.header("Etag"), r.header("Etag"));
}

// Tornado: tornado/test/web_test.py:1918 UnimplementedHTTPMethodsTest (HEAD on a GET-only handler)
TEST_F(RequestHandlerTest, HeadOnHandlerWithoutHeadAnswers405HeadersOnly) {
    start_app();
    auto stream = connect();
    RawResponse r = roundtrip(stream, "HEAD /get_only HTTP/1.1\r\n\r\n", BodyMode::None);
    EXPECT_EQ(r.start_line, "HTTP/1.1 405 Method Not Allowed");
    EXPECT_EQ(r.header("Content-Length"), "87");
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\n\r\n").start_line, "HTTP/1.1 200 OK");
}

// Tornado: tornado/test/web_test.py:779 WSGISafeWebTest.test_redirect
TEST_F(RequestHandlerTest, RedirectAnswers302WithLocationAndEmptyBody) {
    start_app();
    RawResponse r = get("/redirect");
    EXPECT_EQ(r.start_line, "HTTP/1.1 302 Found");
    EXPECT_EQ(r.header_names(),
              (Strings{"Server", "Content-Type", "Date", "Location", "Content-Length"}));
    EXPECT_EQ(r.header("Location"), "/target");
    EXPECT_EQ(r.header("Content-Length"), "0");
    EXPECT_EQ(r.body, "");

    RawResponse permanent = get("/redirect?permanent=1");
    EXPECT_EQ(permanent.start_line, "HTTP/1.1 301 Moved Permanently");
    EXPECT_EQ(permanent.header("Location"), "/target");
}

// Tornado: tornado/test/web_test.py:2881 RedirectHandlerTest.test_basic_redirect and
// WSGISafeWebTest.test_web_redirect
TEST_F(RedirectHandlerTest, RedirectsPermanentlyByDefault) {
    start_app();
    RawResponse r = get("/old");
    EXPECT_EQ(r.start_line, "HTTP/1.1 301 Moved Permanently");
    EXPECT_EQ(r.header("Location"), "/new");
    EXPECT_EQ(r.header("Content-Length"), "0");
    EXPECT_EQ(get("/temporary").start_line, "HTTP/1.1 302 Found");
}

// Tornado: tornado/test/web_test.py:2886 RedirectHandlerTest.test_redirect_pattern
TEST_F(RedirectHandlerTest, PathGroupsAreSubstitutedIntoTheUrl) {
    start_app();
    RawResponse r = get("/a/b/c");
    EXPECT_EQ(r.start_line, "HTTP/1.1 301 Moved Permanently");
    EXPECT_EQ(r.header("Location"), "/c/b");
}

// Tornado 6.2: tornado/test/web_test.py RedirectHandlerTest.test_redirect_with_argument
TEST_F(RedirectHandlerTest, QueryStringIsCarriedOver) {
    start_app();
    EXPECT_EQ(get("/old?foo=bar").header("Location"), "/new?foo=bar");
}

// Tornado: tornado/test/web_test.py:1577 GzipTestCase.test_gzip
TEST_F(GZipContentEncodingTest, LargeTextBodyIsGzippedWhenAccepted) {
    start_app(true);
    RawResponse r = get("/big", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header_names(), (Strings{"Server", "Content-Type", "Date", "Etag", "Content-Length",
                                         "Vary", "Content-Encoding"}));
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
    EXPECT_LT(r.body.size(), 2000U);
    EXPECT_EQ(gunzip(r.body), text_of_size(2000));
}

// Tornado: tornado/web.py:2821 GZipContentEncoding.MIN_LENGTH
TEST_F(GZipContentEncodingTest, BodyUnder1024BytesIsNotCompressed) {
    start_app(true);
    RawResponse r = get("/small", "Accept-Encoding: gzip\r\n");
    EXPECT_FALSE(r.has_header("Content-Encoding"));
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.header("Content-Length"), "500");
    EXPECT_EQ(r.body, text_of_size(500));
}

// Tornado: tornado/test/web_test.py:1589 GzipTestCase.test_gzip_not_requested
TEST_F(GZipContentEncodingTest, BodyIsNotCompressedWhenTheClientDoesNotAskForGzip) {
    start_app(true);
    RawResponse r = get("/big");
    EXPECT_FALSE(r.has_header("Content-Encoding"));
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.body, text_of_size(2000));
}

// Tornado: tornado/test/web_test.py:855 WSGISafeWebTest.test_no_gzip
TEST_F(GZipContentEncodingTest, WithoutCompressResponseThereIsNoVaryAndNoGzip) {
    start_app(false);
    RawResponse r = get("/big", "Accept-Encoding: gzip\r\n");
    EXPECT_FALSE(r.has_header("Content-Encoding"));
    EXPECT_FALSE(r.has_header("Vary"));
    EXPECT_EQ(r.body, text_of_size(2000));
}

// Tornado: tornado/test/escape_test.py:141 EscapeTestCase.test_xhtml_escape
TEST(XhtmlEscapeTest, EscapesTheFiveHtmlSpecialCharacters) {
    EXPECT_EQ(escape::xhtml_escape("<foo>"), "&lt;foo&gt;");
    EXPECT_EQ(escape::xhtml_escape("<>&\"'"), "&lt;&gt;&amp;&quot;&#39;");
    EXPECT_EQ(escape::xhtml_escape("&amp;"), "&amp;amp;");
    EXPECT_EQ(escape::xhtml_escape("<\xc3\xa9>"), "&lt;\xc3\xa9&gt;");
    EXPECT_EQ(escape::xhtml_escape("plain"), "plain");
    EXPECT_EQ(escape::xhtml_escape(""), "");
}

// Python's bytes.decode("utf-8") acceptance (what Tornado's decode_argument relies on)
TEST(IsValidUtf8Test, AcceptsWellFormedUtf8Only) {
    EXPECT_TRUE(escape::is_valid_utf8(""));
    EXPECT_TRUE(escape::is_valid_utf8("plain ascii"));
    EXPECT_TRUE(escape::is_valid_utf8("\xc3\xa9"));          // U+00E9
    EXPECT_TRUE(escape::is_valid_utf8("\xe2\x82\xac"));      // U+20AC
    EXPECT_TRUE(escape::is_valid_utf8("\xf0\x9f\x98\x80"));  // U+1F600
    EXPECT_TRUE(escape::is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
    EXPECT_FALSE(escape::is_valid_utf8("\xff"));
    EXPECT_FALSE(escape::is_valid_utf8("\xe9"));              // latin-1, not UTF-8
    EXPECT_FALSE(escape::is_valid_utf8("\xc3"));              // truncated
    EXPECT_FALSE(escape::is_valid_utf8("\xe2\x82"));          // truncated
    EXPECT_FALSE(escape::is_valid_utf8("\x80"));              // lone continuation
    EXPECT_FALSE(escape::is_valid_utf8("\xc0\xaf"));          // overlong
    EXPECT_FALSE(escape::is_valid_utf8("\xe0\x80\xaf"));      // overlong
    EXPECT_FALSE(escape::is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
    EXPECT_FALSE(escape::is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(escape::is_valid_utf8("\xf5\x80\x80\x80"));
}

}  // namespace
}  // namespace tornado::web_test
