// Routing: PathMatches and HostMatches on their own, and Application's
// find_handler over real loopback connections (path groups, host rules, the
// default 404).
#include "tornado/routing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::RawResponse;
using httpserver_test::ServerTest;
using Strings = std::vector<std::string>;

constexpr const char* k404Page =
    "<html><title>404: Not Found</title><body>404: Not Found</body></html>";

// ---------------------------------------------------------------------------
// PathMatches / HostMatches without a server

/// Owns the current IOLoop (HTTPServerRequest reads its clock).
class MatcherTest : public ::testing::Test {
  protected:
    void SetUp() override { loop_ = std::make_unique<ioloop::IOLoop>(true); }
    void TearDown() override { loop_.reset(); }

    static httputil::HTTPServerRequest request(const std::string& uri,
                                               const std::string& host = "") {
        auto headers = std::make_shared<httputil::HTTPHeaders>();
        if (!host.empty()) {
            headers->add("Host", host);
        }
        return httputil::HTTPServerRequest(nullptr, {"GET", uri, "HTTP/1.1"}, headers);
    }

    std::unique_ptr<ioloop::IOLoop> loop_;
};

class PathMatchesTest : public MatcherTest {};
class HostMatchesTest : public MatcherTest {};

// Tornado: tornado/routing.py:508 PathMatches.match (positional groups)
TEST_F(PathMatchesTest, PositionalGroupsBecomeArgs) {
    routing::PathMatches matcher("/path/([0-9]+)/([a-z]+)");
    auto m = matcher.match(request("/path/42/abc?x=1"));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->args, (Strings{"42", "abc"}));
    EXPECT_TRUE(m->kwargs.empty());
}

// Tornado: tornado/test/web_test.py:1413 NamedURLSpecGroupsTest.test_named_urlspec_groups
TEST_F(PathMatchesTest, NamedGroupsBecomeKwargsAndUnnamedOnesAreDropped) {
    routing::PathMatches matcher("/named/(?P<year>[0-9]{4})/([a-z]+)/(?P<slug>[a-z-]+)");
    auto m = matcher.match(request("/named/2024/skip/hello-world"));
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->args.empty());
    EXPECT_EQ(m->kwargs.size(), 2U);
    EXPECT_EQ(m->kwargs["year"], "2024");
    EXPECT_EQ(m->kwargs["slug"], "hello-world");
}

// Tornado: tornado/routing.py:491 PathMatches (the pattern gets "$" and is re.match-ed)
TEST_F(PathMatchesTest, PatternMustMatchTheWholePath) {
    routing::PathMatches matcher("/path/([0-9]+)");
    EXPECT_TRUE(matcher.match(request("/path/1")).has_value());
    EXPECT_FALSE(matcher.match(request("/path/1/more")).has_value());
    EXPECT_FALSE(matcher.match(request("/x/path/1")).has_value());
    EXPECT_FALSE(matcher.match(request("/path/")).has_value());
    EXPECT_EQ(matcher.pattern(), "/path/([0-9]+)$");
}

// Tornado: tornado/test/web_test.py:443 RequestEncodingTest.test_slashes and
// WSGISafeWebTest.test_decode_argument_plus
TEST_F(PathMatchesTest, GroupsArePercentDecodedButPlusStaysPlus) {
    routing::PathMatches matcher("/echo/(.*)");
    auto m = matcher.match(request("/echo/%41b%2Fc+d%20e"));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->args, Strings{"Ab/c+d e"});
}

// Tornado: tornado/test/web_test.py:420 RequestEncodingTest (the path stays encoded)
TEST_F(PathMatchesTest, RouteMatchesTheRawPathNotTheDecodedOne) {
    routing::PathMatches matcher("/index");
    EXPECT_TRUE(matcher.match(request("/index")).has_value());
    EXPECT_FALSE(matcher.match(request("/%69ndex")).has_value());
}

// Tornado: tornado/test/web_test.py:768 WSGISafeWebTest.test_optional_path
// (C++: an unmatched optional group is "" instead of None)
TEST_F(PathMatchesTest, UnmatchedOptionalGroupIsEmpty) {
    routing::PathMatches matcher("/optional/(.+)?");
    auto m = matcher.match(request("/optional/"));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->args, Strings{""});
}

// Tornado: tornado/test/web_test.py:1344 HostMatchingTest.test_host_matching
TEST_F(HostMatchesTest, MatchesTheHostNameWithoutPortAndCase) {
    routing::HostMatches matcher(R"(admin\.example\.com)");
    EXPECT_TRUE(matcher.match(request("/", "admin.example.com")));
    EXPECT_TRUE(matcher.match(request("/", "admin.example.com:8888")));
    EXPECT_TRUE(matcher.match(request("/", "ADMIN.Example.COM")));
    EXPECT_FALSE(matcher.match(request("/", "xadmin.example.com")));
    EXPECT_FALSE(matcher.match(request("/", "admin.example.com.evil")));
    EXPECT_FALSE(matcher.match(request("/", "admin-example.com")));
    EXPECT_FALSE(matcher.match(request("/")));  // no Host: 127.0.0.1
}

// ---------------------------------------------------------------------------
// Application routing over HTTP

class TextHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(std::string text) { text_ = std::move(text); }
    Future<void> get() override {
        write(text_);
        return {};
    }

  private:
    std::string text_;
};

class PathArgsHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        std::string out = "args=";
        for (const std::string& a : path_args) {
            out.append("[").append(a).append("]");
        }
        out += " kwargs=";
        for (const auto& [k, v] : path_kwargs) {
            out.append("[").append(k).append("=").append(v).append("]");
        }
        write(out);
        return {};
    }
};

class RouterTest : public ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        web::ApplicationSettings settings;
        settings.log_requests = false;
        using web::url;
        auto app = web::Application::create(
            {
                url<TextHandler>("/", std::string("Hello, world")),
                url<TextHandler>("/index", std::string("index")),
                url<PathArgsHandler>("/path/([0-9]+)/([a-z]+)"),
                url<PathArgsHandler>("/named/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)"),
                url<PathArgsHandler>("/echo/(.*)"),
                url<TextHandler>("/dup", std::string("first")),
                url<TextHandler>("/dup", std::string("second")),
                url<TextHandler>("//doubleslash", std::string("double")),
            },
            settings);
        app->add_handlers(R"(admin\.example\.com)", {url<TextHandler>("/", std::string("admin"))});
        app->add_handlers(R"(www\.e.*e\.com)", {url<TextHandler>("/", std::string("[1]"))});
        app->add_handlers(R"(www\.example\.com)", {url<TextHandler>("/", std::string("[2]"))});
        start_server(app);
    }

    RawResponse get(const std::string& path, const std::string& host = "example.com") {
        std::string host_line = host.empty() ? "" : "Host: " + host + "\r\n";
        return fetch("GET " + path + " HTTP/1.1\r\n" + host_line + "\r\n");
    }
};

TEST_F(RouterTest, PositionalGroupsArePassedAsPathArgs) {
    RawResponse r = get("/path/42/abc");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.body, "args=[42][abc] kwargs=");
}

// Tornado: tornado/test/web_test.py:1413 NamedURLSpecGroupsTest.test_named_urlspec_groups
TEST_F(RouterTest, NamedGroupsArePassedAsPathKwargs) {
    RawResponse r = get("/named/2024/hello-world");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.body, "args= kwargs=[slug=hello-world][year=2024]");
}

// Tornado: tornado/test/web_test.py:436 RequestEncodingTest.test_group_encoding (and test_slashes)
TEST_F(RouterTest, PercentEncodedGroupsArriveDecoded) {
    EXPECT_EQ(get("/echo/%41b%2Fc+d").body, "args=[Ab/c+d] kwargs=");
    EXPECT_EQ(get("/echo/caf%C3%A9").body, "args=[caf\xc3\xa9] kwargs=");
}

// Tornado: tornado/test/web_test.py:706 WSGISafeWebTest.test_decode_argument_invalid_unicode
TEST_F(RouterTest, GroupThatIsNotUtf8Answers400) {
    RawResponse r = get("/echo/%FF");
    EXPECT_EQ(r.start_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(r.body, "<html><title>400: Bad Request</title><body>400: Bad Request</body></html>");
}

// Tornado: tornado/routing.py:491 PathMatches (matched against the still-encoded path)
TEST_F(RouterTest, RoutesMatchTheRawPath) {
    EXPECT_EQ(get("/index").body, "index");
    // [0-9]+ is tried against "%34%32", not "42".
    EXPECT_EQ(get("/path/%34%32/abc").code(), 404);
    RawResponse r = get("/%69ndex");
    EXPECT_EQ(r.start_line, "HTTP/1.1 404 Not Found");
    EXPECT_EQ(r.body, k404Page);
}

// Tornado: tornado/test/web_test.py:2014 Default404Test.test_404
TEST_F(RouterTest, UnmatchedPathAnswersTheDefault404Page) {
    RawResponse r = get("/no/such/path");
    EXPECT_EQ(r.start_line, "HTTP/1.1 404 Not Found");
    EXPECT_EQ(r.header_names(), (Strings{"Server", "Content-Type", "Date", "Content-Length"}));
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=UTF-8");
    EXPECT_EQ(r.header("Content-Length"), "69");
    EXPECT_EQ(r.body, k404Page);
    EXPECT_EQ(r.body.size(), 69U);
}

// TORNADO-REFERENCE 2.6: an unrouted path is 404 for every method
TEST_F(RouterTest, UnmatchedPathAnswers404ForEveryMethod) {
    RawResponse post = fetch("POST /nowhere HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_EQ(post.start_line, "HTTP/1.1 404 Not Found");
    EXPECT_EQ(post.body, k404Page);
    RawResponse del = fetch("DELETE /nowhere HTTP/1.1\r\n\r\n");
    EXPECT_EQ(del.start_line, "HTTP/1.1 404 Not Found");
}

// TORNADO-REFERENCE 2.5: the connection stays open after a 404
TEST_F(RouterTest, ConnectionIsReusedAfterA404) {
    auto stream = connect();
    EXPECT_EQ(roundtrip(stream, "GET /missing HTTP/1.1\r\n\r\n").code(), 404);
    EXPECT_EQ(roundtrip(stream, "GET /index HTTP/1.1\r\n\r\n").body, "index");
}

TEST_F(RouterTest, FirstMatchingRouteWins) {
    EXPECT_EQ(get("/dup").body, "first");
}

// Tornado: tornado/test/httpserver_test.py:364 HTTPServerTest.test_double_slash
TEST_F(RouterTest, DoubleSlashPathIsRoutedAsAPath) {
    EXPECT_EQ(get("//doubleslash").body, "double");
}

// Tornado: tornado/test/web_test.py:1344 HostMatchingTest.test_host_matching
TEST_F(RouterTest, HostRulesRouteByHostName) {
    EXPECT_EQ(get("/", "admin.example.com").body, "admin");
    EXPECT_EQ(get("/", "admin.example.com:8888").body, "admin");
    EXPECT_EQ(get("/", "ADMIN.EXAMPLE.COM").body, "admin");
    EXPECT_EQ(get("/", "www.example.com").body, "[1]");  // tried in the order added
    EXPECT_EQ(get("/", "www.exe.com").body, "[1]");
    EXPECT_EQ(get("/", "other.example.com").body, "Hello, world");
    EXPECT_EQ(get("/", "").body, "Hello, world");  // no Host header
}

// Tornado: tornado/routing.py:314 RuleRouter.find_handler (a host rule with no
// matching path falls through to the next rule)
TEST_F(RouterTest, HostRuleWithoutMatchingPathFallsThroughToTheWildcardRules) {
    EXPECT_EQ(get("/index", "admin.example.com").body, "index");
    EXPECT_EQ(get("/missing", "admin.example.com").code(), 404);
}

}  // namespace
}  // namespace tornado::web_test
