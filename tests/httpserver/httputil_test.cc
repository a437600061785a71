// httputil: HTTPHeaders parsing and editing, request start lines, HTTP dates,
// query strings and percent-decoding. Pure functions: no loop, no sockets.
#include "tornado/httputil.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tornado::httpserver_test {
namespace {

using httputil::HTTPHeaders;
using httputil::HTTPInputError;
using Pairs = std::vector<std::pair<std::string, std::string>>;
using Strings = std::vector<std::string>;

// Tornado: tornado/test/httputil_test.py:244 HTTPHeadersTest.test_multi_line
TEST(HTTPHeadersTest, ContinuationLinesJoinTheirHeaderWithOneSpace) {
    const std::string data =
        "Foo: bar\r\n"
        " baz\r\n"
        "Asdf: qwer\r\n"
        "\tzxcv\r\n"
        "Foo: even\r\n"
        "     more\r\n"
        "     lines\r\n";
    HTTPHeaders headers = HTTPHeaders::parse(data);
    EXPECT_EQ(headers.get("asdf"), "qwer zxcv");
    EXPECT_EQ(headers.get_list("asdf"), Strings{"qwer zxcv"});
    EXPECT_EQ(headers.get("Foo"), "bar baz,even more lines");
    EXPECT_EQ(headers.get_list("foo"), (Strings{"bar baz", "even more lines"}));
    EXPECT_EQ(headers.get_all(),
              (Pairs{{"Foo", "bar baz"}, {"Foo", "even more lines"}, {"Asdf", "qwer zxcv"}}));
}

// Tornado: tornado/test/httputil_test.py:307 HTTPHeadersTest.test_optional_cr
TEST(HTTPHeadersTest, ParseAcceptsBareLfLineEndings) {
    HTTPHeaders crlf = HTTPHeaders::parse("CRLF: crlf\r\nLF: lf\nMore: more\r\n");
    HTTPHeaders lf = HTTPHeaders::parse("Content-Type: text/plain\nX-Foo: bar\n\n");
    EXPECT_EQ(lf.get_all(), (Pairs{{"Content-Type", "text/plain"}, {"X-Foo", "bar"}}));
    EXPECT_EQ(crlf.get_all(), (Pairs{{"Crlf", "crlf"}, {"Lf", "lf"}, {"More", "more"}}));
    // A lone CR is no line break, and is refused rather than kept in the
    // value (6.2 kept it; RFC 9112 2.2, Tornado 6.5).
    EXPECT_THROW(HTTPHeaders::parse("CR: cr\rMore: more\r\n"), HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:319 HTTPHeadersTest.test_copy (the add/get_list part)
TEST(HTTPHeadersTest, RepeatedHeadersJoinWithCommaAndKeepTheirList) {
    HTTPHeaders headers =
        HTTPHeaders::parse("Set-Cookie: a=1\r\nX-Other: o\r\nSet-Cookie: b=2\r\n");
    EXPECT_EQ(headers.get("Set-Cookie"), "a=1,b=2");
    EXPECT_EQ(headers.get_list("set-cookie"), (Strings{"a=1", "b=2"}));
    EXPECT_EQ(headers.get_list("X-Other"), Strings{"o"});
    EXPECT_EQ(headers.get_list("Missing"), Strings{});
    EXPECT_EQ(headers.size(), 2U);
    EXPECT_EQ(headers.keys(), (Strings{"Set-Cookie", "X-Other"}));

    headers.add("x-other", "p");
    EXPECT_EQ(headers.get("X-Other"), "o,p");
    EXPECT_EQ(headers.get_list("X-Other"), (Strings{"o", "p"}));
}

// Tornado: tornado/test/httputil_test.py:243 HTTPHeadersTest (normalised names)
TEST(HTTPHeadersTest, NamesAreNormalisedToCapitalisedWords) {
    HTTPHeaders headers;
    headers.add("content-type", "text/plain");
    headers.add("X-REQUESTED-WITH", "xhr");
    headers.add("etag", "\"x\"");
    EXPECT_EQ(headers.keys(), (Strings{"Content-Type", "X-Requested-With", "Etag"}));
    EXPECT_EQ(httputil::_normalize_header("content-md5"), "Content-Md5");
    EXPECT_EQ(httputil::_normalize_header("WWW-AUTHENTICATE"), "Www-Authenticate");
}

TEST(HTTPHeadersTest, GetIgnoresCaseAndFallsBackToTheDefault) {
    HTTPHeaders headers = HTTPHeaders::parse("Content-Length: 12\r\n");
    EXPECT_EQ(headers.get("content-length"), "12");
    EXPECT_EQ(headers.get("CONTENT-LENGTH"), "12");
    EXPECT_TRUE(headers.contains("cOnTeNt-LeNgTh"));
    EXPECT_EQ(headers.get("Host"), std::nullopt);
    EXPECT_EQ(headers.get("Host", "127.0.0.1"), "127.0.0.1");
}

// Tornado: tornado/test/httputil_test.py:346 HTTPHeadersTest.test_setdefault (ordering)
TEST(HTTPHeadersTest, SetReplacesAllValuesAndKeepsThePosition) {
    HTTPHeaders headers;
    headers.add("Server", "s");
    headers.add("Content-Type", "a");
    headers.add("Content-Type", "b");
    headers.add("Date", "d");
    headers.set("content-type", "text/html");
    EXPECT_EQ(headers.keys(), (Strings{"Server", "Content-Type", "Date"}));
    EXPECT_EQ(headers.get("Content-Type"), "text/html");
    EXPECT_EQ(headers.get_list("Content-Type"), Strings{"text/html"});
    headers.set("Vary", "Accept-Encoding");
    EXPECT_EQ(headers.keys(), (Strings{"Server", "Content-Type", "Date", "Vary"}));
}

TEST(HTTPHeadersTest, EraseRemovesEveryValueOfTheName) {
    HTTPHeaders headers = HTTPHeaders::parse("A: 1\r\nB: 2\r\nA: 3\r\n");
    EXPECT_TRUE(headers.erase("a"));
    EXPECT_FALSE(headers.contains("A"));
    EXPECT_EQ(headers.get_all(), (Pairs{{"B", "2"}}));
    EXPECT_FALSE(headers.erase("A"));
}

TEST(HTTPHeadersTest, ValuesAreStrippedOfSurroundingWhitespace) {
    HTTPHeaders headers = HTTPHeaders::parse("X-Pad:   padded value \t\r\nX-Empty:\r\n");
    EXPECT_EQ(headers.get("X-Pad"), "padded value");
    EXPECT_EQ(headers.get("X-Empty"), "");
}

// Tornado: tornado/test/httpserver_test.py:418 HTTPServerRawTest.test_malformed_headers
TEST(HTTPHeadersTest, ParseLineWithoutColonThrowsHTTPInputError) {
    HTTPHeaders headers;
    EXPECT_THROW(headers.parse_line("asdf"), HTTPInputError);
    EXPECT_THROW(HTTPHeaders::parse("Good: yes\r\nasdf\r\n"), HTTPInputError);
}

// Tornado 6.2: tornado/test/httputil_test.py HTTPHeadersTest.test_malformed_continuation
TEST(HTTPHeadersTest, FirstLineStartingWithWhitespaceThrowsHTTPInputError) {
    EXPECT_THROW(HTTPHeaders::parse(" Foo: bar\r\n"), HTTPInputError);
    EXPECT_THROW(HTTPHeaders::parse("\tcontinued\r\nFoo: bar\r\n"), HTTPInputError);
    HTTPHeaders fresh;
    EXPECT_THROW(fresh.parse_line(" orphan"), HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:411 ParseRequestStartLineTest.test_parse_request_start_line
TEST(ParseRequestStartLineTest, SplitsAValidLineIntoItsThreeParts) {
    httputil::RequestStartLine line = httputil::parse_request_start_line("GET /foo?bar HTTP/1.1");
    EXPECT_EQ(line.method, "GET");
    EXPECT_EQ(line.path, "/foo?bar");
    EXPECT_EQ(line.version, "HTTP/1.1");
    EXPECT_EQ(httputil::parse_request_start_line("GET / HTTP/1.1").path, "/");
    // The method is not validated.
    EXPECT_EQ(httputil::parse_request_start_line("G@T / HTTP/1.0").method, "G@T");
}

// Tornado: tornado/test/httpserver_test.py:409 HTTPServerRawTest.test_malformed_first_line
TEST(ParseRequestStartLineTest, MalformedLinesThrowHTTPInputError) {
    EXPECT_THROW(httputil::parse_request_start_line("GET  / HTTP/1.1"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("GET / HTTP/2.0"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("GET /"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("asdf"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("GET / HTTP/1.1 "), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("GET / HTTP/1.10"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line("GET / http/1.1"), HTTPInputError);
    EXPECT_THROW(httputil::parse_request_start_line(""), HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:377 FormatTimestampTest.test_unix_time_int
TEST(FormatTimestampTest, FormatsUnixTimeAsAnRfc1123Date) {
    // python3 -c "import email.utils;print(email.utils.formatdate(1359312200,usegmt=True))"
    EXPECT_EQ(httputil::format_timestamp(1359312200), "Sun, 27 Jan 2013 18:43:20 GMT");
    EXPECT_EQ(httputil::format_timestamp(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

// Tornado: tornado/test/httpserver_test.py:344 HTTPServerTest.test_empty_query_string
TEST(ParseQsBytesTest, KeepsBlankValuesAndTheirOrder) {
    httputil::Arguments args = httputil::parse_qs_bytes("foo=&foo=");
    EXPECT_EQ(args["foo"], (Strings{"", ""}));

    args = httputil::parse_qs_bytes("b=2&a=1&b=&a=3&flag");
    EXPECT_EQ(args.size(), 3U);
    EXPECT_EQ(args["a"], (Strings{"1", "3"}));
    EXPECT_EQ(args["b"], (Strings{"2", ""}));
    EXPECT_EQ(args["flag"], Strings{""});
}

// Tornado: tornado/test/httpserver_test.py:339 HTTPServerTest.test_query_string_encoding
TEST(ParseQsBytesTest, DecodesPercentEscapesAndPlusInNamesAndValues) {
    httputil::Arguments args = httputil::parse_qs_bytes("foo=%C3%A9&a+b=c+d%2Be&%41=");
    EXPECT_EQ(args["foo"], Strings{"\xc3\xa9"});
    EXPECT_EQ(args["a b"], Strings{"c d+e"});
    EXPECT_EQ(args["A"], Strings{""});
    EXPECT_TRUE(httputil::parse_qs_bytes("").empty());
    EXPECT_TRUE(httputil::parse_qs_bytes("&&").empty());
}

// Tornado: tornado/test/escape_test.py:195 EscapeTestCase.test_url_escape_quote_plus
TEST(UrlUnescapeTest, PlusIsASpaceOnlyWhenAsked) {
    EXPECT_EQ(httputil::url_unescape("%2B+%23%25"), "+ #%");
    EXPECT_EQ(httputil::url_unescape("%2B%20%23%25", false), "+ #%");
    EXPECT_EQ(httputil::url_unescape("a+b%20c%2Bd"), "a b c+d");
    EXPECT_EQ(httputil::url_unescape("a+b%20c%2Bd", false), "a+b c+d");
    EXPECT_EQ(httputil::url_unescape("%e9%E9"), "\xe9\xe9");
}

TEST(UrlUnescapeTest, LeavesInvalidEscapesAsTheyAre) {
    EXPECT_EQ(httputil::url_unescape("100%"), "100%");
    EXPECT_EQ(httputil::url_unescape("%zz%4"), "%zz%4");
    EXPECT_EQ(httputil::url_unescape("%41%4"), "A%4");
}

}  // namespace
}  // namespace tornado::httpserver_test

namespace tornado::httpserver_test {
namespace {

// Past a few names the headers keep an index (so that a head of many names
// parses in linear time); lookups, add, set and erase must still behave
// exactly as they do on a short head.
TEST(HTTPHeadersTest, ManyDistinctNamesKeepEveryOperationCorrect) {
    std::string head;
    for (int i = 0; i < 300; ++i) {
        head += "x-name-" + std::to_string(i) + ": v" + std::to_string(i) + "\r\n";
    }
    HTTPHeaders h = HTTPHeaders::parse(head);
    ASSERT_EQ(h.size(), 300U);
    for (int i = 0; i < 300; i += 7) {
        // std::string(...) + ...: "literal" + std::string&& draws a false
        // -Wrestrict from g++ 12 at -O3.
        EXPECT_EQ(h.get(std::string("X-NAME-") + std::to_string(i), ""),
                  std::string("v") + std::to_string(i))
            << i;
    }
    EXPECT_FALSE(h.contains("X-Name-300"));
    h.add("X-Name-3", "again");
    EXPECT_EQ(h.get("x-name-3", ""), "v3,again");
    EXPECT_EQ(h.get_list("X-Name-3"), (Strings{"v3", "again"}));
    h.set("x-name-299", "replaced");
    EXPECT_EQ(h.get("X-Name-299", ""), "replaced");
    EXPECT_EQ(h.size(), 300U);
    ASSERT_TRUE(h.erase("X-Name-10"));
    EXPECT_FALSE(h.contains("x-name-10"));
    // Entries after the erased one moved: each still finds its own value.
    for (int i = 11; i < 300; i += 13) {
        EXPECT_EQ(h.get("X-Name-" + std::to_string(i), ""), "v" + std::to_string(i)) << i;
    }
    h.add("X-New", "n");
    EXPECT_EQ(h.get("x-new", ""), "n");
    EXPECT_EQ(h.keys().back(), "X-New");
    // A continuation line extends the header parsed last, indexed or not.
    HTTPHeaders folded = HTTPHeaders::parse(head + "X-Last: a\r\n b\r\n");
    EXPECT_EQ(folded.get("X-Last", ""), "a b");
    // A copy has its own, equally correct, index.
    HTTPHeaders copy = h;
    h.erase("X-Name-20");
    EXPECT_EQ(copy.get("X-Name-20", ""), "v20");
    EXPECT_EQ(copy.get("X-Name-21", ""), "v21");
    EXPECT_FALSE(h.contains("X-Name-20"));
    EXPECT_EQ(h.get("X-Name-21", ""), "v21");
    // Shrinking back below the threshold drops the index; lookups go on.
    for (int i = 0; i < 290; ++i) {
        h.erase("X-Name-" + std::to_string(i));
    }
    EXPECT_EQ(h.get("X-Name-295", ""), "v295");
    EXPECT_EQ(h.get("X-New", ""), "n");
}

}  // namespace
}  // namespace tornado::httpserver_test
