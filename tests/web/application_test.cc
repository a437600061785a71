// Application and routing beyond find_handler: URLSpec.reverse and
// reverse_url, default_host with the X-Real-Ip rule, default_handler_class,
// log_function, serve_traceback, and write() of a JSON object, most of them
// over real loopback connections.
#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/escape.h"
#include "tornado/gen.h"
#include "tornado/routing.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::RawResponse;
using httpserver_test::ServerTest;
using web::RequestHandler;
using web::url;
using Strings = std::vector<std::string>;

class NullHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
};

// ---------------------------------------------------------------------------
// URLSpec.reverse on its own

// Tornado: tornado/test/web_test.py:2848 URLSpecReverseTest.test_reverse
TEST(URLSpecReverseTest, LiteralPatternsReverseToTheirUnescapedText) {
    EXPECT_EQ(url<NullHandler>(R"(/favicon\.ico)").reverse({}), "/favicon.ico");
    EXPECT_EQ(url<NullHandler>(R"(^/favicon\.ico$)").reverse({}), "/favicon.ico");
}

// Tornado: tornado/test/web_test.py:2870 URLSpecReverseTest.test_reverse_arguments
TEST(URLSpecReverseTest, GroupsAreReplacedByTheArguments) {
    EXPECT_EQ(url<NullHandler>(R"(^/api/v1/foo/(\w+)$)").reverse({"bar"}), "/api/v1/foo/bar");
    EXPECT_EQ(url<NullHandler>("/named/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)").reverse(
                  {"2024", "hello-world"}),
              "/named/2024/hello-world");
}

// Tornado: tornado/test/web_test.py:2852 URLSpecReverseTest.test_non_reversible
TEST(URLSpecReverseTest, TooComplicatedPatternsCannotBeReversed) {
    // An escaped letter is a class (\d): no single string.
    EXPECT_THROW((void)url<NullHandler>(R"(^/api/v\d+/foo/(\w+)$)").reverse({"x"}),
                 std::invalid_argument);
    // A non-capturing group: more "(" than groups.
    EXPECT_THROW((void)url<NullHandler>("/(?:a|b)/([0-9]+)").reverse({"1"}),
                 std::invalid_argument);
    try {
        (void)url<NullHandler>(R"(/x\d)").reverse({});
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), R"(Cannot reverse url regex /x\d$)");
    }
}

TEST(URLSpecReverseTest, WrongNumberOfArgumentsIsRefused) {
    auto spec = url<NullHandler>("/path/([0-9]+)/([a-z]+)");
    EXPECT_THROW((void)spec.reverse({"1"}), std::invalid_argument);
    EXPECT_THROW((void)spec.reverse({"1", "a", "b"}), std::invalid_argument);
}

// Tornado: tornado/test/web_test.py:726 WSGISafeWebTest.test_reverse_url
TEST(URLSpecReverseTest, ArgumentsArePercentEncodedKeepingSlashes) {
    auto spec = url<NullHandler>("/decode_arg/(.*)");
    EXPECT_EQ(spec.reverse({"foo"}), "/decode_arg/foo");
    EXPECT_EQ(spec.reverse({"\xe9"}), "/decode_arg/%E9");
    EXPECT_EQ(spec.reverse({"\xc3\xa9"}), "/decode_arg/%C3%A9");
    EXPECT_EQ(spec.reverse({"1 + 1"}), "/decode_arg/1%20%2B%201");
    EXPECT_EQ(spec.reverse({"a/b"}), "/decode_arg/a/b");
}

TEST(URLSpecReverseTest, PercentInTheLiteralTextSurvives) {
    EXPECT_EQ(url<NullHandler>("/100%/([a-z]+)").reverse({"x"}), "/100%/x");
}

// ---------------------------------------------------------------------------
// write(json)

// Tornado: tornado/escape.py:74 json_encode (json.dumps, then "</" -> "<\/")
TEST(JsonEncodeTest, WritesWhatPythonsJsonDumpsWrites) {
    nlohmann::ordered_json value = {{"message", "hello"},
                                    {"items", {1, 2, 3}},
                                    {"nested", {{"b", true}, {"a", nullptr}}},
                                    {"float", 0.5},
                                    {"empty", nlohmann::ordered_json::object()},
                                    {"text", "caf\xc3\xa9 </script>"}};
    EXPECT_EQ(escape::json_encode(value),
              R"({"message": "hello", "items": [1, 2, 3], "nested": {"b": true, "a": null}, )"
              R"("float": 0.5, "empty": {}, "text": "caf\u00e9 <\/script>"})");
}

// ---------------------------------------------------------------------------
// Over HTTP

class TextHandler : public RequestHandler {
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

class ReverseHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        std::string name = get_argument("name");
        std::vector<std::string> args = get_arguments("arg");
        write(reverse_url(name, args));
        return {};
    }
};

class JsonHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        if (get_argument("list", "").empty()) {
            write(nlohmann::json{{"a", 1}});
        } else {
            write(nlohmann::json::array({1, 2}));  // refused: a 500
        }
        return {};
    }
};

class BoomHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw std::runtime_error("boom"); }
};

class ErrorCodeHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw web::HTTPError(std::stoi(path_args.at(0))); }
};

class FallbackHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(int status) { status_ = status; }
    Future<void> prepare() override {
        set_status(status_);
        finish("fallback for " + request->path).quiet();
        return {};
    }

  private:
    int status_ = 200;
};

// prepare() as a coroutine: it waits a loop iteration and a 10 ms timer,
// then either lets get() run or finishes the request itself.
class AsyncPrepareHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(std::shared_ptr<std::vector<std::string>> events) { events_ = std::move(events); }
    Future<void> prepare() override {
        auto self = shared_from_this();
        events_->push_back("prepare " + request->path);
        co_await gen::moment;
        co_await gen::sleep(0.01);
        set_header("X-Prepared", "yes");
        if (request->path == "/prepare/finish") {
            finish("finished in prepare").quiet();
        }
    }
    Future<void> get() override {
        events_->push_back("get " + request->path);
        write("get ran");
        return {};
    }
    void on_finish() override { events_->push_back("on_finish " + request->path); }

  private:
    std::shared_ptr<std::vector<std::string>> events_;
};

class ApplicationTest : public ServerTest {
  protected:
    void start(web::ApplicationSettings settings) {
        settings.log_requests = false;
        auto app = web::Application::create(
            {
                url<TextHandler>("/", std::string("wildcard")),
                url<TextHandler>("/named/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)",
                                 std::string("named"))
                    .named("named"),
                url<TextHandler>("/first", std::string("first")).named("dup"),
                url<TextHandler>("/second", std::string("second")).named("dup"),
                url<TextHandler>(R"(/v\d+)", std::string("v")).named("complicated"),
                url<ReverseHandler>("/reverse"),
                url<JsonHandler>("/json"),
                url<BoomHandler>("/boom"),
                url<ErrorCodeHandler>("/error/([0-9]+)"),
                url<AsyncPrepareHandler>("/prepare/.*", events_),
            },
            std::move(settings));
        app->add_handlers(R"(admin\.example\.com)",
                          {url<TextHandler>("/", std::string("admin")),
                           url<TextHandler>("/admin-only", std::string("admin-only")).named("admin")});
        app_ = app;
        start_server(app);
    }

    RawResponse get(const std::string& path, const std::string& host = "www.example.com",
                    const std::string& extra = "") {
        return fetch("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n");
    }

    std::shared_ptr<web::Application> app_;
    std::shared_ptr<std::vector<std::string>> events_ = std::make_shared<std::vector<std::string>>();
};

// Tornado: tornado/test/web_test.py:1992 FinishInPrepareTest and an asynchronous prepare
// (RequestHandler._execute awaits prepare(), then the method, then on_finish)
TEST_F(ApplicationTest, CoroutinePrepareRunsBeforeTheMethodAndMayFinishTheRequest) {
    start({});
    RawResponse r = get("/prepare/go");
    EXPECT_EQ(r.body, "get ran");
    EXPECT_EQ(r.header("X-Prepared"), "yes");
    r = get("/prepare/finish");
    EXPECT_EQ(r.body, "finished in prepare");
    EXPECT_EQ(*events_, (Strings{"prepare /prepare/go", "get /prepare/go", "on_finish /prepare/go",
                                 "prepare /prepare/finish", "on_finish /prepare/finish"}));
}

// Tornado: tornado/test/web_test.py:726 WSGISafeWebTest.test_reverse_url
TEST_F(ApplicationTest, ReverseUrlFindsNamedRoutesOfEveryHost) {
    start({});
    EXPECT_EQ(get("/reverse?name=named&arg=2024&arg=hello-world").body, "/named/2024/hello-world");
    EXPECT_EQ(app_->reverse_url("admin"), "/admin-only");
    // The later of two routes with one name replaces the earlier.
    EXPECT_EQ(app_->reverse_url("dup"), "/second");
}

// Tornado: tornado/web.py:2029 Application.reverse_url (KeyError)
TEST_F(ApplicationTest, ReverseUrlOfAnUnknownNameIsAnErrorPage) {
    start({});
    EXPECT_THROW((void)app_->reverse_url("nope"), std::out_of_range);
    RawResponse r = get("/reverse?name=nope");
    EXPECT_EQ(r.start_line, "HTTP/1.1 500 Internal Server Error");
    EXPECT_EQ(get("/reverse?name=complicated").code(), 500);
    EXPECT_EQ(get("/reverse?name=named&arg=1").code(), 500);  // one argument short
}

// Tornado: tornado/routing.py:474 DefaultHostMatches
TEST_F(ApplicationTest, DefaultHostRoutesServeUnmatchedHostsUnlessBehindAProxy) {
    web::ApplicationSettings settings;
    settings.default_host = "admin.example.com";
    start(settings);
    EXPECT_EQ(get("/", "admin.example.com").body, "admin");
    // Another host: the wildcard list first, then the default host's routes.
    EXPECT_EQ(get("/", "other.example.com").body, "wildcard");
    EXPECT_EQ(get("/admin-only", "other.example.com").body, "admin-only");
    // X-Real-Ip: the request came through a proxy; the default host is off.
    EXPECT_EQ(get("/admin-only", "other.example.com", "X-Real-Ip: 4.4.4.4\r\n").code(), 404);
}

TEST_F(ApplicationTest, WithoutDefaultHostOtherHostsGetOnlyTheWildcardRoutes) {
    start({});
    EXPECT_EQ(get("/admin-only", "other.example.com").code(), 404);
    EXPECT_EQ(get("/admin-only", "admin.example.com").body, "admin-only");
}

// Tornado: tornado/test/web_test.py:2050 DefaultHandlerArgumentsTest.test_403
TEST_F(ApplicationTest, DefaultHandlerClassAnswersUnmatchedPaths) {
    web::ApplicationSettings settings;
    settings.default_handler_class = web::handler_class<FallbackHandler>(403);
    start(settings);
    RawResponse r = get("/no/such/path");
    EXPECT_EQ(r.start_line, "HTTP/1.1 403 Forbidden");
    EXPECT_EQ(r.body, "fallback for /no/such/path");
    EXPECT_EQ(get("/").body, "wildcard");
}

// Tornado: tornado/web.py:2044 Application.log_request (the log_function setting)
TEST_F(ApplicationTest, LogFunctionIsCalledForEachFinishedRequest) {
    std::vector<std::string> logged;
    web::ApplicationSettings settings;
    settings.log_function = [&logged](const RequestHandler& h) {
        logged.push_back(std::to_string(h.get_status()) + " " + h.request->path);
    };
    start(settings);
    get("/");
    get("/missing");
    get("/boom");
    EXPECT_EQ(logged, (Strings{"200 /", "404 /missing", "500 /boom"}));
}

// Tornado: tornado/web.py:691 RequestHandler.write (a dict is sent as JSON, a list is a TypeError;
// no Tornado test checks either)
TEST_F(ApplicationTest, WriteOfAJsonObjectSetsTheJsonContentType) {
    start({});
    RawResponse r = get("/json");
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json; charset=UTF-8");
    EXPECT_EQ(r.body, R"({"a": 1})");
    EXPECT_EQ(get("/json?list=1").code(), 500);
}

// Tornado: tornado/web.py:1042 RequestHandler.write_error (the default page)
TEST_F(ApplicationTest, ErrorPagesHideTheExceptionByDefault) {
    start({});
    RawResponse r = get("/boom");
    EXPECT_EQ(r.code(), 500);
    EXPECT_EQ(r.body,
              "<html><title>500: Internal Server Error</title><body>500: Internal Server "
              "Error</body></html>");
}

// Tornado: tornado/web.py:1042 RequestHandler.write_error (serve_traceback)
TEST_F(ApplicationTest, ServeTracebackShowsTheExceptionAsText) {
    web::ApplicationSettings settings;
    settings.serve_traceback = true;
    start(settings);
    RawResponse r = get("/boom");
    EXPECT_EQ(r.code(), 500);
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.body, "std::runtime_error: boom\n");
}

// Tornado: tornado/web.py:1873 Application.__init__ (debug's setdefault)
TEST_F(ApplicationTest, DebugTurnsOnServeTracebackUnlessSetOtherwise) {
    web::ApplicationSettings settings;
    settings.debug = true;
    settings.autoreload = false;  // not in a test process
    settings.serve_traceback = false;
    start(settings);
    EXPECT_EQ(app_->settings().serve_traceback, false);
    EXPECT_NE(get("/boom").body.find("<html>"), std::string::npos);
    web::ApplicationSettings on;
    on.debug = true;
    on.autoreload = false;
    EXPECT_EQ(web::Application::create({}, on)->settings().serve_traceback, true);
}

// C++: Tornado 6.2 leaves these requests unanswered (RequestHandler.send_error)
TEST_F(ApplicationTest, HTTPError204AnswersWithoutBodyAndKeepsTheConnection) {
    start({});
    auto stream = connect();
    RawResponse r = roundtrip(stream, "GET /error/204 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 204 No Content");
    EXPECT_EQ(r.body, "");
    EXPECT_FALSE(r.header("Content-Length").has_value());
    EXPECT_EQ(roundtrip(stream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").body, "wildcard");
}

TEST_F(ApplicationTest, HTTPErrorWithAnInformationalCodeAnswers500) {
    start({});
    for (const char* code : {"100", "101", "199"}) {
        RawResponse r = get(std::string("/error/") + code);
        EXPECT_EQ(r.start_line, "HTTP/1.1 500 Internal Server Error") << code;
        EXPECT_EQ(r.body,
                  "<html><title>500: Internal Server Error</title><body>500: Internal Server "
                  "Error</body></html>");
    }
}

// A transform that marks each response and upper-cases its body.
class ShoutTransform : public web::OutputTransform {
  public:
    explicit ShoutTransform(const httputil::HTTPServerRequest& /*request*/) {}
    void transform_first_chunk(int& /*status_code*/, httputil::HTTPHeaders& headers,
                               std::string& chunk, bool finishing) override {
        headers.add("X-Transform", "shout");
        transform_chunk(chunk, finishing);
    }
    void transform_chunk(std::string& chunk, bool /*finishing*/) override {
        for (char& c : chunk) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
};

class TransformsTest : public ServerTest {
  protected:
    RawResponse get_big() {
        return fetch("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    }
    static std::vector<routing::URLSpec> routes() {
        return {url<TextHandler>("/", std::string(2000, 'a'))};
    }
    static web::ApplicationSettings settings() {
        web::ApplicationSettings s;
        s.compress_response = true;
        s.log_requests = false;
        return s;
    }
};

// Tornado: tornado/web.py:1873 Application.__init__ (transforms=None: gzip when compress_response)
TEST_F(TransformsTest, WithoutTransformsCompressResponseInstallsGzip) {
    start_server(web::Application::create(routes(), settings()));
    RawResponse r = get_big();
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
}

// Tornado: tornado/web.py:1873 Application.__init__ (an explicit transforms list)
TEST_F(TransformsTest, GivenTransformsReplaceTheDefaultOnes) {
    start_server(web::Application::create(
        routes(), settings(), std::vector{web::transform_class<ShoutTransform>()}));
    RawResponse r = get_big();
    EXPECT_FALSE(r.header("Content-Encoding").has_value());
    EXPECT_EQ(r.header("X-Transform"), "shout");
    EXPECT_EQ(r.body, std::string(2000, 'A'));
}

// Tornado: tornado/web.py:1963 Application.add_transform
TEST_F(TransformsTest, AddTransformAppliesToLaterResponses) {
    auto app = web::Application::create(routes(), settings(), std::vector<web::TransformFactory>{});
    app->add_transform(web::transform_class<ShoutTransform>());
    start_server(app);
    EXPECT_EQ(get_big().body, std::string(2000, 'A'));
}

}  // namespace
}  // namespace tornado::web_test
