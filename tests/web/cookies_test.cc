// Cookies, signed cookies and XSRF (web_cookies.cc), ported from Tornado
// 6.2's tornado/test/web_test.py: CookieTest, SecureCookieV1Test,
// SecureCookieV2Test, SignedValueTest, XSRFTest, XSRFCookieKwargsTest,
// ErrorHandlerXSRFTest and ClearAllCookiesTest. Wire behaviour is checked
// over real loopback connections; the signing functions directly.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tornado/escape.h"
#include "tornado/log.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_cookies_test {
namespace {

using httpserver_test::RawResponse;
using httpserver_test::ServerTest;
using Strings = std::vector<std::string>;
using httputil::HTTPServerRequest;
using web::CookieSecret;

// --- Handlers ---------------------------------------------------------------

class SetCookieHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("str", "asdf");
        set_cookie("unicode", "qwer");
        set_cookie("bytes", "zxcv");
        return {};
    }
};

class GetCookieHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(get_cookie("foo", "default").value_or("none"));
        return {};
    }
};

class SetCookieDomainHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("unicode_args", "blah", {.domain = "foo.com", .path = "/foo"});
        return {};
    }
};

class SetCookieSpecialCharHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("equals", "a=b");
        set_cookie("semicolon", "a;b");
        set_cookie("quote", "a\"b");
        set_cookie("nonascii", "\xc3\xa9\xe4\xb8\xadx\x7f");  // é, 中, x, DEL
        set_cookie("empty", "");
        return {};
    }
};

class SetCookieOverwriteHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("a", "b", {.domain = "example.com"});
        set_cookie("c", "d", {.domain = "example.com"});
        // A second call with the same name replaces the first, attributes too.
        set_cookie("a", "e");
        return {};
    }
};

class SetCookieMaxAgeHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("foo", "bar", {.max_age = 10});
        return {};
    }
};

class SetCookieExpiresDaysHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("foo", "bar", {.expires_days = 10});
        return {};
    }
};

class SetCookieFalsyFlagsHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("a", "1", {.secure = true});
        set_cookie("b", "1", {.secure = false});
        set_cookie("c", "1", {.httponly = true});
        set_cookie("d", "1", {.httponly = false});
        return {};
    }
};

class SetCookieAllOptionsHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("a", "b",
                   {.domain = "x.com",
                    .expires = 1577836800,  // 2020-01-01
                    .max_age = 10,
                    .httponly = true,
                    .secure = true,
                    .samesite = "Lax"});
        return {};
    }
};

class SetCookieInvalidHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_cookie("bad", get_argument("v"), {.path = get_argument("path", "/")});
        return {};
    }
};

class ClearAllCookiesHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        clear_all_cookies();
        write("ok");
        return {};
    }
};

// GET ?value=V[&version=N]: set_secure_cookie("foo", V); GET without
// value: the value of get_secure_cookie("foo"), or "none".
class SecureCookieHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        std::optional<int> version;
        if (!get_argument("version", "").empty()) {
            version = std::stoi(get_argument("version"));
        }
        std::vector<std::string> value = get_arguments("value");
        if (!value.empty()) {
            std::string v = value.back() == "e9" ? std::string("\xe9") : value.back();
            set_secure_cookie("foo", v, 30, version);
            write("set");
            return {};
        }
        std::optional<int> min_version;
        if (!get_argument("min_version", "").empty()) {
            min_version = std::stoi(get_argument("min_version"));
        }
        write(get_secure_cookie("foo", std::nullopt, 31, min_version).value_or("none"));
        return {};
    }
};

class XsrfTokenHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(xsrf_token());
        return {};
    }
    Future<void> post() override {
        write("ok");
        return {};
    }
};

class XsrfFormHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(xsrf_form_html() + "|" + xsrf_form_html());
        return {};
    }
};

class UserHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    std::optional<std::string> get_current_user() override {
        ++calls;
        return std::string("alice");
    }
    Future<void> get() override {
        current_user();
        write(*current_user() + " " + std::to_string(calls) + " " + xsrf_token());
        return {};
    }
    int calls = 0;
};

// --- Helpers ----------------------------------------------------------------

Strings set_cookies(const RawResponse& r) {
    Strings out;
    for (const auto& [name, value] : r.headers) {
        if (name == "Set-Cookie") {
            out.push_back(value);
        }
    }
    return out;
}

Strings sorted(Strings v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The name=value part of a Set-Cookie header.
std::string cookie_pair(const std::string& set_cookie) {
    return set_cookie.substr(0, set_cookie.find(';'));
}

// "Fri, 01 Jan 2027 01:17:46 GMT" -> Unix seconds (-1 if it does not parse).
std::int64_t parse_http_date(const std::string& date) {
    std::tm tm{};
    if (strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) {
        return -1;
    }
    return timegm(&tm);
}

std::string form_body(const std::string& token) {
    return "_xsrf=" + escape::url_escape(token);
}

// Routes each request to one of two Applications: `?version=1` to the one
// whose xsrf_cookie_version is 1 (Tornado's XSRFTest changes the setting
// per request instead; settings here are fixed per Application).
class XsrfVersionRouter : public routing::Router {
  public:
    XsrfVersionRouter(std::shared_ptr<web::Application> v2, std::shared_ptr<web::Application> v1)
        : v2_(std::move(v2)), v1_(std::move(v1)) {}
    std::shared_ptr<httputil::HTTPMessageDelegate> find_handler(
        std::shared_ptr<HTTPServerRequest> request) override {
        auto it = request->query_arguments.find("version");
        bool one = it != request->query_arguments.end() && it->second.back() == "1";
        return (one ? v1_ : v2_)->find_handler(std::move(request));
    }

  private:
    std::shared_ptr<web::Application> v2_;
    std::shared_ptr<web::Application> v1_;
};

// --- Fixture ----------------------------------------------------------------

class CookieServerTest : public ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        log::set_handler([this](std::string_view logger, log::Level, std::string_view message) {
            logged_.push_back(std::string(logger) + ": " + std::string(message));
        });
    }
    void TearDown() override {
        log::set_handler({});
        ServerTest::TearDown();
    }

    static web::ApplicationSettings base_settings() {
        web::ApplicationSettings settings;
        settings.log_requests = false;
        settings.cookie_secret = "0123456789";
        return settings;
    }

    void start_app(std::vector<routing::URLSpec> routes,
                   web::ApplicationSettings settings = base_settings()) {
        start_server(web::Application::create(std::move(routes), std::move(settings)));
    }

    RawResponse get(const std::string& path, const std::string& cookie = "") {
        return fetch("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n" +
                     (cookie.empty() ? "" : "Cookie: " + cookie + "\r\n") + "\r\n");
    }

    RawResponse post(const std::string& path, const std::string& body,
                     const std::string& extra_headers = "") {
        return fetch("POST " + path +
                     " HTTP/1.1\r\nHost: example.com\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n" +
                     extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                     body);
    }

    bool logged(const std::string& needle) const {
        return std::any_of(logged_.begin(), logged_.end(),
                           [&](const std::string& m) { return m.find(needle) != m.npos; });
    }

    std::vector<std::string> logged_;
};

class CookieTest : public CookieServerTest {
  protected:
    void SetUp() override {
        CookieServerTest::SetUp();
        using web::url;
        start_app({
            url<SetCookieHandler>("/set"),
            url<GetCookieHandler>("/get"),
            url<SetCookieDomainHandler>("/set_domain"),
            url<SetCookieSpecialCharHandler>("/special_char"),
            url<SetCookieOverwriteHandler>("/set_overwrite"),
            url<SetCookieMaxAgeHandler>("/set_max_age"),
            url<SetCookieExpiresDaysHandler>("/set_expires_days"),
            url<SetCookieFalsyFlagsHandler>("/set_falsy_flags"),
            url<SetCookieAllOptionsHandler>("/set_all"),
            url<SetCookieInvalidHandler>("/set_invalid"),
        });
    }
};

// Tornado: tornado/test/web_test.py:246 CookieTest.test_set_cookie
TEST_F(CookieTest, SetCookieWritesOneHeaderPerCookieWithPathSlash) {
    EXPECT_EQ(sorted(set_cookies(get("/set"))),
              (Strings{"bytes=zxcv; Path=/", "str=asdf; Path=/", "unicode=qwer; Path=/"}));
}

// Tornado: tornado/test/web_test.py:254 CookieTest.test_get_cookie
TEST_F(CookieTest, GetCookieReadsPlainAndQuotedValuesAndSkipsIllegalNames) {
    EXPECT_EQ(get("/get", "foo=bar").body, "bar");
    EXPECT_EQ(get("/get", "foo=\"bar\"").body, "bar");
    EXPECT_EQ(get("/get", "/=exception;").body, "default");
}

// Tornado: tornado/test/web_test.py:264 CookieTest.test_set_cookie_domain
TEST_F(CookieTest, SetCookieWritesDomainBeforePath) {
    EXPECT_EQ(set_cookies(get("/set_domain")),
              (Strings{"unicode_args=blah; Domain=foo.com; Path=/foo"}));
}

// Tornado: tornado/test/web_test.py:269 CookieTest.test_cookie_special_char
TEST_F(CookieTest, SpecialCharactersAreQuotedAndEscapedAsSimpleCookieDoes) {
    // python3 -c "import http.cookies as c; s=c.SimpleCookie(); s['a']='é中x\x7f'; print(s)"
    EXPECT_EQ(sorted(set_cookies(get("/special_char"))),
              (Strings{"empty=\"\"; Path=/", "equals=\"a=b\"; Path=/",
                       "nonascii=\"\\351\xe4\xb8\xadx\\177\"; Path=/", "quote=\"a\\\"b\"; Path=/",
                       "semicolon=\"a\\073b\"; Path=/"}));
    const std::pair<const char*, const char*> data[] = {
        {"foo=a=b", "a=b"},         {"foo=\"a=b\"", "a=b"},
        {"foo=\"a;b\"", "\"a"},      // even quoted, ";" ends the value
        {"foo=a\\073b", "a\\073b"},  // escapes are decoded only inside quotes
        {"foo=\"a\\073b\"", "a;b"}, {"foo=\"a\\\"b\"", "a\"b"},
    };
    for (const auto& [header, expected] : data) {
        EXPECT_EQ(get("/get", header).body, expected) << header;
    }
}

// Tornado: tornado/test/web_test.py:292 CookieTest.test_set_cookie_overwrite
TEST_F(CookieTest, SecondSetCookieOfTheSameNameReplacesTheFirstWithItsAttributes) {
    EXPECT_EQ(sorted(set_cookies(get("/set_overwrite"))),
              (Strings{"a=e; Path=/", "c=d; Domain=example.com; Path=/"}));
}

// Tornado: tornado/test/web_test.py:298 CookieTest.test_set_cookie_max_age
TEST_F(CookieTest, MaxAgeIsWrittenAsMaxAge) {
    EXPECT_EQ(set_cookies(get("/set_max_age")), (Strings{"foo=bar; Max-Age=10; Path=/"}));
}

// Tornado: tornado/test/web_test.py:304 CookieTest.test_set_cookie_expires_days
TEST_F(CookieTest, ExpiresDaysSetsExpiresThatManyDaysFromNow) {
    std::int64_t before = std::time(nullptr);
    Strings headers = set_cookies(get("/set_expires_days"));
    std::int64_t after = std::time(nullptr);
    ASSERT_EQ(headers.size(), 1U);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(headers[0], m, std::regex("foo=bar; expires=(.+); Path=/")))
        << headers[0];
    std::int64_t expires = parse_http_date(m[1]);
    EXPECT_GE(expires, before + 10 * 86400);
    EXPECT_LE(expires, after + 10 * 86400);
}

// Tornado: tornado/test/web_test.py:315 CookieTest.test_set_cookie_false_flags
TEST_F(CookieTest, FalseSecureAndHttponlyAreLeftOut) {
    EXPECT_EQ(
        sorted(set_cookies(get("/set_falsy_flags"))),
        (Strings{"a=1; Path=/; Secure", "b=1; Path=/", "c=1; HttpOnly; Path=/", "d=1; Path=/"}));
}

// The attribute order and spellings of Python 3.11's Morsel.OutputString.
TEST_F(CookieTest, AllAttributesComeInSimpleCookieOrder) {
    EXPECT_EQ(set_cookies(get("/set_all")),
              (Strings{"a=b; Domain=x.com; expires=Wed, 01 Jan 2020 00:00:00 GMT; HttpOnly; "
                       "Max-Age=10; Path=/; SameSite=Lax; Secure"}));
}

// Tornado raises ValueError for a value with a space or control character.
TEST_F(CookieTest, InvalidCookieValueOrAttributeAnswers500WithoutASetCookie) {
    RawResponse space = get("/set_invalid?v=a%20b");
    EXPECT_EQ(space.code(), 500);
    EXPECT_TRUE(set_cookies(space).empty());
    RawResponse injected = get("/set_invalid?v=ok&path=/%3B%20Secure");
    EXPECT_EQ(injected.code(), 500);
    EXPECT_TRUE(set_cookies(injected).empty());
}

class ClearAllCookiesTest : public CookieServerTest {};

// Tornado: tornado/test/web_test.py:1642 ClearAllCookiesTest.test_clear_all_cookies
TEST_F(ClearAllCookiesTest, EachIncomingCookieIsClearedWithAnExpiryAYearAgo) {
    start_app({web::url<ClearAllCookiesHandler>("/")});
    std::int64_t before = std::time(nullptr);
    Strings headers = sorted(set_cookies(get("/", "foo=bar; baz=xyzzy")));
    ASSERT_EQ(headers.size(), 2U);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(headers[0], m, std::regex("baz=\"\"; expires=(.+); Path=/")))
        << headers[0];
    EXPECT_LE(parse_http_date(m[1]), before - 364 * 86400);
    EXPECT_TRUE(headers[1].starts_with("foo=\"\"; expires=")) << headers[1];
}

// --- Secure cookies over HTTP ----------------------------------------------

class SecureCookieV1Test : public CookieServerTest {
  protected:
    void SetUp() override {
        CookieServerTest::SetUp();
        start_app({web::url<SecureCookieHandler>("/")});
    }
    // Sets foo through the handler; returns the cookie's name=value.
    std::string set(const std::string& query) {
        Strings headers = set_cookies(get("/?" + query));
        return headers.size() == 1 ? cookie_pair(headers[0]) : "";
    }
};

// Tornado: tornado/test/web_test.py:98 SecureCookieV1Test.test_round_trip
TEST_F(SecureCookieV1Test, Version1CookieReadsBack) {
    std::string cookie = set("value=bar&version=1");
    EXPECT_TRUE(std::regex_match(cookie, std::regex("foo=YmFy\\|[0-9]+\\|[0-9a-f]{40}"))) << cookie;
    EXPECT_EQ(get("/?min_version=1", cookie).body, "bar");
    // min_version 2 refuses it.
    EXPECT_EQ(get("/?min_version=2", cookie).body, "none");
}

// Tornado: tornado/test/web_test.py:104 SecureCookieV1Test.test_cookie_tampering_future_timestamp
TEST_F(SecureCookieV1Test, DigitsMovedFromPayloadToTimestampAreRefused) {
    // "\xd7\x6d\xf8\xe7\xae\xfc" base64-encodes to "12345678".
    std::string signed_value = web::create_signed_value(CookieSecret("0123456789"), "foo",
                                                        "\xd7\x6d\xf8\xe7\xae\xfc", {.version = 1});
    std::smatch m;
    ASSERT_TRUE(std::regex_match(signed_value, m, std::regex("12345678\\|([0-9]+)\\|([0-9a-f]+)")));
    std::string timestamp = m[1];
    std::string sig = m[2];
    // v1 signs name + payload + timestamp without separators, so moving
    // digits keeps the signature (why the future-timestamp check exists).
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::string moved = "foo1234" + ("5678" + timestamp);
    HMAC(EVP_sha1(), "0123456789", 10, reinterpret_cast<const unsigned char*>(moved.data()),
         moved.size(), digest, &len);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        hex += fmt::format("{:02x}", digest[i]);
    }
    EXPECT_EQ(hex, sig);
    std::string tampered = "1234|5678" + timestamp + "|" + sig;
    EXPECT_EQ(get("/?min_version=1", "foo=" + tampered).body, "none");
    EXPECT_TRUE(logged("Cookie timestamp in future"));
}

// Tornado: tornado/test/web_test.py:133 SecureCookieV1Test.test_arbitrary_bytes
TEST_F(SecureCookieV1Test, ArbitraryBytesRoundTrip) {
    std::string cookie = set("value=e9&version=1");  // the byte \xe9
    EXPECT_EQ(get("/?min_version=1", cookie).body, "\xe9");
}

TEST_F(SecureCookieV1Test, Version2CookieIsTheDefaultAndReadsBack) {
    std::string cookie = set("value=bar");
    EXPECT_TRUE(std::regex_match(
        cookie, std::regex("foo=2\\|1:0\\|10:[0-9]{10}\\|3:foo\\|4:YmFy\\|[0-9a-f]{64}")))
        << cookie;
    EXPECT_EQ(get("/", cookie).body, "bar");
    // Base64 padding ('=') makes SimpleCookie quote the value.
    std::string padded = set("value=alice");
    EXPECT_TRUE(std::regex_match(padded, std::regex("foo=\"2\\|.*\\|8:YWxpY2U=\\|[0-9a-f]{64}\"")))
        << padded;
    EXPECT_EQ(get("/", padded).body, "alice");
}

TEST_F(SecureCookieV1Test, SecureCookieSetsExpiresThirtyDaysAhead) {
    std::int64_t before = std::time(nullptr);
    Strings headers = set_cookies(get("/?value=bar"));
    ASSERT_EQ(headers.size(), 1U);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(headers[0], m, std::regex("foo=[^;]+; expires=(.+); Path=/")));
    EXPECT_GE(parse_http_date(m[1]), before + 30 * 86400);
}

TEST_F(SecureCookieV1Test, TamperedOrGarbageCookiesReadAsNone) {
    std::string cookie = set("value=bar");
    std::string tampered = cookie;
    tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == '0' ? '1' : '0';
    for (const std::string& c :
         {tampered, std::string("foo=2|1:0|10:1300000000|3:foo|4:YmFy|"), std::string("foo=2|"),
          std::string("foo=2|99999999999999999999999:x|"), std::string("foo=||"),
          std::string("foo=abc"), std::string("foo=\"\"")}) {
        RawResponse r = get("/", c);
        EXPECT_EQ(r.code(), 200) << c;
        EXPECT_EQ(r.body, "none") << c;
    }
}

// --- Secure cookies through a handler (Tornado's stub handler) -------------

// A RequestHandler with no connection, over an Application with `secret`:
// create_signed_value and get_secure_cookie(name, value) need nothing more.
class SecureCookieV2Test : public CookieServerTest {
  protected:
    std::shared_ptr<web::RequestHandler> handler(CookieSecret secret,
                                                 std::optional<int> key_version = std::nullopt) {
        web::ApplicationSettings settings = base_settings();
        settings.cookie_secret = std::move(secret);
        settings.key_version = key_version;
        auto app = web::Application::create({}, settings);
        auto headers = std::make_shared<httputil::HTTPHeaders>();
        auto request = std::make_shared<HTTPServerRequest>(
            nullptr, httputil::RequestStartLine{"GET", "/", "HTTP/1.1"}, headers);
        return std::make_shared<web::RequestHandler>(app, request);
    }
    const std::map<int, std::string> KEY_VERSIONS = {{0, "ajklasdf0ojaisdf"},
                                                     {1, "aslkjasaolwkjsdf"}};
};

// Tornado: tornado/test/web_test.py:148 SecureCookieV2Test.test_round_trip
TEST_F(SecureCookieV2Test, Version2RoundTrip) {
    auto h = handler(CookieSecret("0123456789"));
    std::string value = h->create_signed_value("foo", "bar", 2);
    EXPECT_EQ(h->get_secure_cookie("foo", value, 31, 2), "bar");
}

// Tornado: tornado/test/web_test.py:153 SecureCookieV2Test.test_key_version_roundtrip
TEST_F(SecureCookieV2Test, KeyVersionZeroRoundTrip) {
    auto h = handler(KEY_VERSIONS, 0);
    std::string value = h->create_signed_value("foo", "bar");
    EXPECT_EQ(h->get_secure_cookie("foo", value), "bar");
    EXPECT_EQ(h->get_secure_cookie_key_version("foo", value), 0);
}

// Tornado: tornado/test/web_test.py:159 SecureCookieV2Test.test_key_version_roundtrip_differing_version
TEST_F(SecureCookieV2Test, KeyVersionOneRoundTrip) {
    auto h = handler(KEY_VERSIONS, 1);
    std::string value = h->create_signed_value("foo", "bar");
    EXPECT_EQ(h->get_secure_cookie("foo", value), "bar");
    EXPECT_EQ(h->get_secure_cookie_key_version("foo", value), 1);
}

// Tornado: tornado/test/web_test.py:165 SecureCookieV2Test.test_key_version_increment_version
TEST_F(SecureCookieV2Test, CookieSignedWithTheOldKeyIsReadAfterTheKeyVersionMovesOn) {
    std::string value = handler(KEY_VERSIONS, 0)->create_signed_value("foo", "bar");
    EXPECT_EQ(handler(KEY_VERSIONS, 1)->get_secure_cookie("foo", value), "bar");
}

// Tornado: tornado/test/web_test.py:174 SecureCookieV2Test.test_key_version_invalidate_version
TEST_F(SecureCookieV2Test, CookieSignedWithARemovedKeyReadsAsNone) {
    std::string value = handler(KEY_VERSIONS, 0)->create_signed_value("foo", "bar");
    std::map<int, std::string> remaining = KEY_VERSIONS;
    remaining.erase(0);
    EXPECT_EQ(handler(remaining, 1)->get_secure_cookie("foo", value), std::nullopt);
}

TEST_F(SecureCookieV2Test, MissingSecretOrKeyVersionThrows) {
    EXPECT_THROW(handler(CookieSecret(""))->create_signed_value("foo", "bar"), std::runtime_error);
    EXPECT_THROW(handler(KEY_VERSIONS)->create_signed_value("foo", "bar"), std::runtime_error);
    EXPECT_THROW(handler(CookieSecret(""))->get_secure_cookie("foo", "x"), std::runtime_error);
}

// --- Signed values (module functions) --------------------------------------

class SignedValueTest : public ::testing::Test {
  protected:
    static double present() { return 1300000000; }
    static double past() { return present() - 86400 * 32; }
    const CookieSecret SECRET = std::string("It's a secret to everybody");
    const CookieSecret SECRET_DICT =
        std::map<int, std::string>{{0, "asdfbasdf"}, {1, "12312312"}, {2, "2342342"}};
};

// Tornado: tornado/test/web_test.py:2364 SignedValueTest.test_known_values
// (the literals come from Tornado's test, made by Python's Tornado)
TEST_F(SignedValueTest, KnownValuesMatchPythonTornado) {
    std::string v1 =
        web::create_signed_value(SECRET, "key", "value", {.version = 1, .clock = present});
    EXPECT_EQ(v1, "dmFsdWU=|1300000000|31c934969f53e48164c50768b40cbd7e2daaaa4f");
    std::string v2 =
        web::create_signed_value(SECRET, "key", "value", {.version = 2, .clock = present});
    EXPECT_EQ(v2,
              "2|1:0|10:1300000000|3:key|8:dmFsdWU=|"
              "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152");
    EXPECT_EQ(web::create_signed_value(SECRET, "key", "value", {.clock = present}), v2);
    EXPECT_EQ(web::decode_signed_value(SECRET, "key", v1, {.clock = present, .min_version = 1}),
              "value");
    EXPECT_EQ(web::decode_signed_value(SECRET, "key", v2, {.clock = present, .min_version = 2}),
              "value");
}

// Tornado: tornado/test/web_test.py:2392 SignedValueTest.test_name_swap
TEST_F(SignedValueTest, ValueSignedForOneNameDoesNotDecodeForAnother) {
    std::string signed1 = web::create_signed_value(SECRET, "key1", "value", {.clock = present});
    std::string signed2 = web::create_signed_value(SECRET, "key2", "value", {.clock = present});
    EXPECT_EQ(web::decode_signed_value(SECRET, "key2", signed1, {.clock = present}), std::nullopt);
    EXPECT_EQ(web::decode_signed_value(SECRET, "key1", signed2, {.clock = present}), std::nullopt);
}

// Tornado: tornado/test/web_test.py:2405 SignedValueTest.test_expired
TEST_F(SignedValueTest, ValueOlderThanMaxAgeDaysIsNone) {
    std::string signed_value = web::create_signed_value(SECRET, "key1", "value", {.clock = past});
    EXPECT_EQ(web::decode_signed_value(SECRET, "key1", signed_value, {.clock = past}), "value");
    EXPECT_EQ(web::decode_signed_value(SECRET, "key1", signed_value, {.clock = present}),
              std::nullopt);
}

// Tornado: tornado/test/web_test.py:2415 SignedValueTest.test_payload_tampering
TEST_F(SignedValueTest, ChangedFieldsDoNotValidate) {
    const std::string sig = "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";
    auto validate = [&](const std::string& prefix) {
        return web::decode_signed_value(SECRET, "key", prefix + sig, {.clock = present}) == "value";
    };
    EXPECT_TRUE(validate("2|1:0|10:1300000000|3:key|8:dmFsdWU=|"));
    EXPECT_FALSE(validate("2|1:1|10:1300000000|3:key|8:dmFsdWU=|"));   // key version
    EXPECT_FALSE(validate("2|1:0|10:130000000|3:key|8:dmFsdWU=|"));    // field too short
    EXPECT_FALSE(validate("2|1:0|10:1300000000|3:keey|8:dmFsdWU=|"));  // field too long
}

// Tornado: tornado/test/web_test.py:2431 SignedValueTest.test_signature_tampering
TEST_F(SignedValueTest, ChangedSignaturesDoNotValidate) {
    const std::string prefix = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|";
    auto validate = [&](const std::string& sig) {
        return web::decode_signed_value(SECRET, "key", prefix + sig, {.clock = present}) == "value";
    };
    EXPECT_TRUE(validate("3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152"));
    EXPECT_FALSE(validate(std::string(32, '0')));
    EXPECT_FALSE(validate("4d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152"));
    EXPECT_FALSE(validate("3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e153"));
    EXPECT_FALSE(validate("3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e15"));
    EXPECT_FALSE(validate("3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e1538"));
    EXPECT_FALSE(validate(""));
}

// Tornado: tornado/test/web_test.py:2455 SignedValueTest.test_non_ascii
TEST_F(SignedValueTest, NonAsciiBytesRoundTrip) {
    std::string signed_value = web::create_signed_value(SECRET, "key", "\xe9", {.clock = present});
    EXPECT_EQ(web::decode_signed_value(SECRET, "key", signed_value, {.clock = present}), "\xe9");
}

// Tornado: tornado/test/web_test.py:2463 SignedValueTest.test_key_versioning_read_write_default_key
TEST_F(SignedValueTest, KeyVersionZeroReadsBack) {
    std::string signed_value =
        web::create_signed_value(SECRET_DICT, "key", "\xe9", {.clock = present, .key_version = 0});
    EXPECT_EQ(web::decode_signed_value(SECRET_DICT, "key", signed_value, {.clock = present}),
              "\xe9");
}

// Tornado: tornado/test/web_test.py:2472 SignedValueTest.test_key_versioning_read_write_non_default_key
TEST_F(SignedValueTest, KeyVersionOneReadsBack) {
    std::string signed_value =
        web::create_signed_value(SECRET_DICT, "key", "\xe9", {.clock = present, .key_version = 1});
    EXPECT_EQ(web::decode_signed_value(SECRET_DICT, "key", signed_value, {.clock = present}),
              "\xe9");
}

// Tornado: tornado/test/web_test.py:2481 SignedValueTest.test_key_versioning_invalid_key
TEST_F(SignedValueTest, KeyMissingFromTheMapIsNone) {
    std::string signed_value =
        web::create_signed_value(SECRET_DICT, "key", "\xe9", {.clock = present, .key_version = 0});
    auto keys = std::get<std::map<int, std::string>>(SECRET_DICT);
    keys.erase(0);
    EXPECT_EQ(web::decode_signed_value(keys, "key", signed_value, {.clock = present}),
              std::nullopt);
}

// Tornado: tornado/test/web_test.py:2492 SignedValueTest.test_key_version_retrieval
TEST_F(SignedValueTest, KeyVersionIsReadFromTheValue) {
    std::string signed_value =
        web::create_signed_value(SECRET_DICT, "key", "\xe9", {.clock = present, .key_version = 1});
    EXPECT_EQ(web::get_signature_key_version(signed_value), 1);
    EXPECT_EQ(web::get_signature_key_version("dmFsdWU=|1300000000|31c9"), std::nullopt);
    EXPECT_EQ(web::get_signature_key_version("2|garbage"), std::nullopt);
}

TEST_F(SignedValueTest, BadVersionsAndSecretsThrowInvalidArgument) {
    EXPECT_THROW(web::create_signed_value(SECRET, "k", "v", {.version = 3}), std::invalid_argument);
    EXPECT_THROW(web::create_signed_value(SECRET_DICT, "k", "v", {.version = 1}),
                 std::invalid_argument);
    EXPECT_THROW(web::create_signed_value(SECRET_DICT, "k", "v", {.key_version = 7}),
                 std::invalid_argument);
    EXPECT_THROW(web::decode_signed_value(SECRET, "k", "x", {.min_version = 3}),
                 std::invalid_argument);
    // A v1 value read with a map secret, and empty or absent values: none.
    std::string v1 = web::create_signed_value(SECRET, "k", "v", {.version = 1});
    EXPECT_EQ(web::decode_signed_value(SECRET_DICT, "k", v1), std::nullopt);
    EXPECT_EQ(web::decode_signed_value(SECRET, "k", ""), std::nullopt);
    EXPECT_EQ(web::decode_signed_value(SECRET, "k", std::nullopt), std::nullopt);
}

// --- XSRF --------------------------------------------------------------------

// Tornado: tornado/test/web_test.py:2502 XSRFTest
class XSRFTest : public CookieServerTest {
  protected:
    void SetUp() override {
        CookieServerTest::SetUp();
        auto make = [](int version) {
            web::ApplicationSettings settings = base_settings();
            settings.xsrf_cookies = true;
            settings.xsrf_cookie_version = version;
            return web::Application::create({web::url<XsrfTokenHandler>("/")}, settings);
        };
        start_server(std::make_shared<XsrfVersionRouter>(make(2), make(1)));
        xsrf_token = get_token();
    }

    std::string get_token(const std::string& old_token = "", int version = 0) {
        RawResponse r = get(version == 0 ? "/" : "/?version=" + std::to_string(version),
                            old_token.empty() ? "" : "_xsrf=" + old_token);
        EXPECT_EQ(r.code(), 200);
        return r.body;
    }

    RawResponse post_token(const std::string& body_token, const std::string& cookie_token) {
        return post("/", form_body(body_token), "Cookie: _xsrf=" + cookie_token + "\r\n");
    }

    std::string xsrf_token;
};

TEST_F(XSRFTest, NoTokenIs403) {
    RawResponse r = post("/", "");
    EXPECT_EQ(r.code(), 403);
    EXPECT_EQ(r.body, "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>");
    EXPECT_TRUE(logged("'_xsrf' argument missing from POST"));
}

TEST_F(XSRFTest, BodyTokenWithoutCookieIs403) {
    EXPECT_EQ(post("/", form_body(xsrf_token)).code(), 403);
    EXPECT_TRUE(logged("XSRF cookie does not match POST argument"));
}

TEST_F(XSRFTest, ArgumentWithInvalidFormatIs403) {
    EXPECT_EQ(post_token("3|", xsrf_token).code(), 403);
    EXPECT_TRUE(logged("'_xsrf' argument has invalid format"));
}

TEST_F(XSRFTest, CookieWithInvalidFormatIs403) {
    EXPECT_EQ(post_token(xsrf_token, "3|").code(), 403);
    EXPECT_TRUE(logged("XSRF cookie does not match POST argument"));
}

TEST_F(XSRFTest, CookieWithoutBodyTokenIs403) {
    EXPECT_EQ(post("/", "", "Cookie: _xsrf=" + xsrf_token + "\r\n").code(), 403);
    EXPECT_TRUE(logged("'_xsrf' argument missing from POST"));
}

TEST_F(XSRFTest, ShortV1TokenIsAccepted) {
    EXPECT_EQ(post_token("deadbeef", "deadbeef").code(), 200);
}

TEST_F(XSRFTest, NonHexV1TokenIsAccepted) {
    EXPECT_EQ(post_token("xoxo", "xoxo").code(), 200);
}

TEST_F(XSRFTest, TokenInTheBodyIsAccepted) {
    RawResponse r = post_token(xsrf_token, xsrf_token);
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body, "ok");
}

TEST_F(XSRFTest, TokenInTheQueryIsAccepted) {
    EXPECT_EQ(post("/?" + form_body(xsrf_token), "", "Cookie: _xsrf=" + xsrf_token + "\r\n").code(),
              200);
}

TEST_F(XSRFTest, TokenInXXsrftokenOrXCsrftokenHeaderIsAccepted) {
    std::string cookie = "Cookie: _xsrf=" + xsrf_token + "\r\n";
    EXPECT_EQ(post("/", "", "X-Xsrftoken: " + xsrf_token + "\r\n" + cookie).code(), 200);
    EXPECT_EQ(post("/", "", "X-Csrftoken: " + xsrf_token + "\r\n" + cookie).code(), 200);
}

TEST_F(XSRFTest, EveryRequestGetsADistinctToken) {
    std::set<std::string> tokens;
    for (int i = 0; i < 10; ++i) {
        std::string token = get_token();
        EXPECT_TRUE(std::regex_match(token, std::regex("2\\|[0-9a-f]{8}\\|[0-9a-f]{32}\\|[0-9]+")))
            << token;
        tokens.insert(token);
    }
    EXPECT_EQ(tokens.size(), 10U);
}

TEST_F(XSRFTest, TokensDoNotCrossUsers) {
    std::string token2 = get_token();
    for (const std::string& token : {xsrf_token, token2}) {
        EXPECT_EQ(post_token(token, token).code(), 200);
    }
    EXPECT_EQ(post_token(token2, xsrf_token).code(), 403);
    EXPECT_EQ(post_token(xsrf_token, token2).code(), 403);
}

TEST_F(XSRFTest, RefreshedTokensStayValid) {
    std::string token = xsrf_token;
    std::set<std::string> seen{token};
    for (int i = 0; i < 5; ++i) {
        token = get_token(token);
        seen.insert(token);
        EXPECT_EQ(post_token(xsrf_token, token).code(), 200);
    }
    EXPECT_EQ(seen.size(), 6U);
}

TEST_F(XSRFTest, Version1AndVersion2TokensWorkWithEachOther) {
    EXPECT_NE(get_token("", 1), get_token("", 1));
    std::string v1_token = get_token("", 1);
    EXPECT_TRUE(std::regex_match(v1_token, std::regex("[0-9a-f]{32}"))) << v1_token;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(get_token(v1_token, 1), v1_token);
    }
    std::string v2_token = get_token(v1_token);
    EXPECT_NE(v1_token, v2_token);
    EXPECT_NE(v2_token, get_token(v1_token));
    EXPECT_EQ(post_token(v2_token, v1_token).code(), 200);
    EXPECT_EQ(post_token(v1_token, v2_token).code(), 200);
}

// The cookie is set only when the request had no valid one.
TEST_F(XSRFTest, CookieIsSetOnlyWhenMissingOrInvalid) {
    Strings fresh = set_cookies(get("/"));
    ASSERT_EQ(fresh.size(), 1U);
    EXPECT_TRUE(std::regex_match(fresh[0], std::regex("_xsrf=2\\|[0-9a-f|]+\\|[0-9]+; Path=/")))
        << fresh[0];
    EXPECT_TRUE(set_cookies(get("/", "_xsrf=" + xsrf_token)).empty());
    EXPECT_EQ(set_cookies(get("/", "_xsrf=3|")).size(), 1U);
    EXPECT_EQ(set_cookies(get("/", "_xsrf=2|0102|abcd|5")).size(), 1U);  // a 2-byte mask
}

class XSRFCookieKwargsTest : public CookieServerTest {};

// Tornado: tornado/test/web_test.py:2687 XSRFCookieKwargsTest.test_xsrf_httponly
TEST_F(XSRFCookieKwargsTest, CookieKwargsAreAppliedToTheXsrfCookie) {
    web::ApplicationSettings settings = base_settings();
    settings.xsrf_cookies = true;
    settings.xsrf_cookie_kwargs = {.expires_days = 2, .httponly = true};
    start_app({web::url<XsrfTokenHandler>("/")}, settings);
    std::int64_t before = std::time(nullptr);
    Strings headers = set_cookies(get("/"));
    ASSERT_EQ(headers.size(), 1U);
    std::smatch m;
    ASSERT_TRUE(
        std::regex_match(headers[0], m, std::regex("_xsrf=[^;]+; expires=(.+); HttpOnly; Path=/")))
        << headers[0];
    EXPECT_GE(parse_http_date(m[1]), before + 2 * 86400);
}

class ErrorHandlerXSRFTest : public CookieServerTest {
  protected:
    void SetUp() override {
        CookieServerTest::SetUp();
        web::ApplicationSettings settings = base_settings();
        settings.xsrf_cookies = true;
        start_app({web::url<web::ErrorHandler>("/error", 417)}, settings);
    }
};

// Tornado: tornado/test/web_test.py:1545 ErrorHandlerXSRFTest.test_error_xsrf
TEST_F(ErrorHandlerXSRFTest, PostToAnErrorHandlerAnswersItsStatusNot403) {
    EXPECT_EQ(post("/error", "").code(), 417);
}

// Tornado: tornado/test/web_test.py:1549 ErrorHandlerXSRFTest.test_404_xsrf
TEST_F(ErrorHandlerXSRFTest, PostToAnUnknownPathAnswers404Not403) {
    EXPECT_EQ(post("/404", "").code(), 404);
}

class XsrfFormHtmlTest : public CookieServerTest {};

TEST_F(XsrfFormHtmlTest, FormHtmlIsTheHiddenInputWithTheSameTokenEachCall) {
    start_app({web::url<XsrfFormHandler>("/")});
    RawResponse r = get("/");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(
        r.body, m,
        std::regex("<input type=\"hidden\" name=\"_xsrf\" value=\"(2\\|[0-9a-f|]+)\"/>\\|(.*)")))
        << r.body;
    EXPECT_EQ(m[2].str(), "<input type=\"hidden\" name=\"_xsrf\" value=\"" + m[1].str() + "\"/>");
}

class CurrentUserTest : public CookieServerTest {};

// Tornado: tornado/test/web_test.py:1833 GetCurrentUserTest (get_current_user once)
TEST_F(CurrentUserTest, GetCurrentUserIsCalledOnceAndGivesTheXsrfCookieThirtyDays) {
    start_app({web::url<UserHandler>("/")});
    std::int64_t before = std::time(nullptr);
    RawResponse r = get("/");
    EXPECT_TRUE(r.body.starts_with("alice 1 2|")) << r.body;
    Strings headers = set_cookies(r);
    ASSERT_EQ(headers.size(), 1U);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(headers[0], m, std::regex("_xsrf=[^;]+; expires=(.+); Path=/")))
        << headers[0];
    EXPECT_GE(parse_http_date(m[1]), before + 30 * 86400);
}

}  // namespace
}  // namespace tornado::web_cookies_test
