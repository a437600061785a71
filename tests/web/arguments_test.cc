// RequestHandler's argument API over real loopback connections:
// get_query_argument(s), get_body_argument(s), get_argument(s),
// MissingArgumentError, decode_argument (for path groups too), and the 400
// a body that cannot be parsed gets (Tornado 6.2 with CVE-2025-47287).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::RawResponse;
using httpserver_test::ServerTest;

std::string join(const std::vector<std::string>& values) {
    std::string out;
    for (const std::string& v : values) {
        if (!out.empty()) {
            out += ',';
        }
        out += '[';
        out += v;
        out += ']';
    }
    return out;
}

// Writes every lookup of argument "a" on one line.
class ArgumentsHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("query=" + get_query_argument("a", "none") + " queries=" + join(get_query_arguments("a")) +
              " body=" + get_body_argument("a", "none") + " bodies=" + join(get_body_arguments("a")) +
              " all=" + get_argument("a", "none") + " alls=" + join(get_arguments("a")) +
              " raw=[" + get_argument("a", "none", false) + "]");
        return {};
    }
    Future<void> post() override { return get(); }
};

class RequiredHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(get_query_argument("x"));
        return {};
    }
    Future<void> post() override {
        write(get_body_argument("x"));
        return {};
    }
};

class PathHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("arg=" + path_args.at(0));
        return {};
    }
};

// A subclass may read arguments in another charset: here latin-1.
class Latin1Handler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    std::string decode_argument(std::string value, std::string_view /*name*/) const override {
        std::string out;
        for (char c : value) {
            auto u = static_cast<unsigned char>(c);
            if (u < 0x80) {
                out.push_back(c);
            } else {
                out.push_back(static_cast<char>(0xc0U | (u >> 6U)));
                out.push_back(static_cast<char>(0x80U | (u & 0x3fU)));
            }
        }
        return out;
    }
    Future<void> get() override {
        write("path=" + path_args.at(0) + " a=" + get_argument("a", "none"));
        return {};
    }
};

class ArgumentsTest : public ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        web::ApplicationSettings settings;
        settings.log_requests = false;
        using web::url;
        start_server(web::Application::create(
            {
                url<ArgumentsHandler>("/args"),
                url<RequiredHandler>("/required"),
                url<PathHandler>("/path/([^/]+)"),
                url<Latin1Handler>("/latin1/([^/]+)"),
            },
            settings));
    }

    RawResponse get(const std::string& target) {
        return fetch("GET " + target + " HTTP/1.1\r\nHost: example.com\r\n\r\n");
    }
    RawResponse post(const std::string& target, const std::string& content_type,
                     const std::string& body, const std::string& extra = "") {
        return fetch("POST " + target + " HTTP/1.1\r\nHost: example.com\r\nContent-Type: " +
                     content_type + "\r\n" + extra + "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
    }
};

constexpr const char* k400 = "<html><title>400: Bad Request</title><body>400: Bad Request</body></html>";

// Tornado: tornado/test/web_test.py:825 WSGISafeWebTest.test_get_query_arguments
TEST_F(ArgumentsTest, QueryArgumentsAreSeparateFromBodyArgumentsAndTheLastValueWins) {
    RawResponse r = post("/args?a=q1&a=q2", "application/x-www-form-urlencoded", "a=b1");
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body,
              "query=q2 queries=[q1],[q2] body=b1 bodies=[b1] all=b1 alls=[q1],[q2],[b1] raw=[b1]");
}

// Tornado: tornado/test/web_test.py:839 WSGISafeWebTest.test_get_body_arguments
TEST_F(ArgumentsTest, MultipartFieldsAreBodyArguments) {
    std::string body =
        "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nm1\r\n"
        "--xyz\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f.txt\"\r\n\r\nfile\r\n"
        "--xyz--\r\n";
    RawResponse r = post("/args", "multipart/form-data; boundary=xyz", body);
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body, "query=none queries= body=m1 bodies=[m1] all=m1 alls=[m1] raw=[m1]");
}

// Tornado: tornado/test/web_test.py:804 WSGISafeWebTest.test_get_argument
TEST_F(ArgumentsTest, ValuesAreStrippedOfUnicodeWhitespaceAndControlCharactersBecomeSpaces) {
    // "%E3%80%80" is U+3000 (ideographic space), "%01" a control character.
    RawResponse r = get("/args?a=%E3%80%80%01x%01y+%09");
    EXPECT_EQ(r.body, "query=x y queries=[x y] body=none bodies= all=x y alls=[x y] raw=[\xe3\x80\x80 x y \t]");
}

// Tornado: tornado/test/web_test.py:1774 GetArgumentErrorTest.test_catch_error (over the wire)
TEST_F(ArgumentsTest, MissingArgumentAnswers400Page) {
    RawResponse r = get("/required");
    EXPECT_EQ(r.start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(r.body, k400);
    // A query argument does not satisfy get_body_argument.
    RawResponse b = post("/required?x=1", "application/x-www-form-urlencoded", "y=2");
    EXPECT_EQ(b.start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(get("/required?x=found").body, "found");
}

TEST(MissingArgumentErrorTest, MessageNamesTheArgumentAsTornadoDoes) {
    web::MissingArgumentError e("x");
    EXPECT_EQ(e.status_code(), 400);
    EXPECT_EQ(e.log_message(), "Missing argument x");
    EXPECT_EQ(e.arg_name(), "x");
}

// Tornado: tornado/test/web_test.py:706 WSGISafeWebTest.test_decode_argument_invalid_unicode
TEST_F(ArgumentsTest, InvalidUtf8InAnArgumentOrPathGroupAnswers400) {
    EXPECT_EQ(get("/args?a=%FF").start_line, "HTTP/1.1 400 Bad Request");
    RawResponse p = get("/path/%FF");
    EXPECT_EQ(p.start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(p.body, k400);
    EXPECT_EQ(get("/path/%C3%A9").body, "arg=\xc3\xa9");
}

// Tornado: tornado/test/web_test.py:685 WSGISafeWebTest.test_decode_argument (an override)
TEST_F(ArgumentsTest, OverriddenDecodeArgumentIsUsedForPathGroupsAndArguments) {
    RawResponse r = get("/latin1/%E9?a=%FF");
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body, "path=\xc3\xa9 a=\xc3\xbf");
}

TEST_F(ArgumentsTest, UnparsableFormBodiesAnswer400PageAndTheConnectionServesTheNextRequest) {
    const std::string field = "Content-Disposition: form-data; name=a\r\n\r\nx\r\n";
    EXPECT_EQ(post("/args", "multipart/form-data", "--b\r\n" + field + "--b--").body, k400);
    EXPECT_EQ(post("/args", "multipart/form-data; boundary=b", "--b\r\n" + field).body, k400);
    EXPECT_EQ(post("/args", "multipart/form-data; boundary=b", "--b\r\n\r\nx\r\n--b--").body, k400);
    EXPECT_EQ(post("/args", "application/x-www-form-urlencoded", "a=1",
                   "Content-Encoding: deflate\r\n")
                  .body,
              k400);
    // A route without post() would answer 405; the body is checked first, as in 6.2.
    EXPECT_EQ(post("/path/1", "multipart/form-data", "x").start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(post("/args", "multipart/form-data; boundary=b", "--b\r\n" + field + "--b--").code(),
              200);
}

}  // namespace
}  // namespace tornado::web_test
