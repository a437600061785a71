// Secure cookies and XSRF tokens cross between Python Tornado 6.2 and
// tornado-cpp (issue 7): the reference demo app (../shared/reference/
// demo_app.py under /usr/bin/python3) and `tornado-walk serve --app demo`
// run side by side with the same cookie_secret, and what one signs or
// issues the other must accept, and refuse once tampered with. A unit-level
// check does the same with tornado.web.create_signed_value run by Python
// with a fixed clock.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tornado/web.h"

#include "child.h"
#include "process.h"

namespace {

using tornado::testing::Child;
using tornado::testing::run_process;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kSecret = "demo-cookie-secret";

// A blocking TCP connection to 127.0.0.1:port (-1 on failure).
int connect_to(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A port nobody listens on right now (the kernel's choice for port 0).
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

struct Response {
    int code = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // The name=value part of the Set-Cookie header for `name` ("" if none).
    std::string cookie(const std::string& name) const {
        for (const auto& [n, v] : headers) {
            if (n == "set-cookie" && v.starts_with(name + "=")) {
                return v.substr(0, v.find(';'));
            }
        }
        return "";
    }
};

// One request with Connection: close; the response read until the close.
Response http(int port, const std::string& method, const std::string& target,
              const std::vector<std::string>& headers = {}, const std::string& body = "") {
    Response r;
    int fd = connect_to(port);
    if (fd < 0) {
        ADD_FAILURE() << "cannot connect to port " << port;
        return r;
    }
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const std::string& h : headers) {
        request += h + "\r\n";
    }
    if (method == "POST") {
        request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n";
    }
    request += "Connection: close\r\n\r\n" + body;
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string raw;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        raw.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::size_t end = raw.find("\r\n\r\n");
    if (raw.size() < 12 || end == std::string::npos) {
        ADD_FAILURE() << "no response from port " << port << ": " << raw;
        return r;
    }
    r.code = std::stoi(raw.substr(9, 3));
    r.body = raw.substr(end + 4);
    std::size_t pos = raw.find("\r\n") + 2;
    while (pos < end) {
        std::size_t eol = raw.find("\r\n", pos);
        std::string line = raw.substr(pos, eol - pos);
        std::size_t colon = line.find(": ");
        std::string name = line.substr(0, colon);
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        r.headers.emplace_back(name, colon == std::string::npos ? "" : line.substr(colon + 2));
        pos = eol + 2;
    }
    return r;
}

// Both demo apps, started once for the suite.
class InteropTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        py_port_ = free_port();
        python_ = std::make_unique<Child>(std::vector<std::string>{
            kPython, TORNADO_SHARED_DIR "/reference/demo_app.py", "--port",
            std::to_string(py_port_), "--static-path", TORNADO_SHARED_DIR "/demo-static"});
        walk_ = std::make_unique<Child>(std::vector<std::string>{
            TORNADO_WALK_BINARY, "serve", "--app", "demo", "--address", "127.0.0.1", "--port", "0",
            "--static-path", TORNADO_SHARED_DIR "/demo-static"});
        std::string line = walk_->read_err_until("(Ctrl-C stops)");
        std::smatch m;
        if (std::regex_search(line, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/"))) {
            cpp_port_ = std::stoi(m[1]);
        }
        // The reference is ready when its port accepts a connection.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline && python_->running()) {
            int fd = connect_to(py_port_);
            if (fd >= 0) {
                ::close(fd);
                py_ready_ = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    static void TearDownTestSuite() {
        python_.reset();
        walk_.reset();
    }
    void SetUp() override {
        ASSERT_TRUE(py_ready_) << "the reference demo app did not start";
        ASSERT_NE(cpp_port_, 0) << "tornado-walk serve did not start";
    }

    static inline std::unique_ptr<Child> python_;
    static inline std::unique_ptr<Child> walk_;
    static inline int py_port_ = 0;
    static inline int cpp_port_ = 0;
    static inline bool py_ready_ = false;
};

// The `user` cookie one server sets for `?set=value`.
std::string user_cookie(int port, const std::string& value) {
    Response r = http(port, "GET", "/secure-cookie?set=" + value);
    EXPECT_EQ(r.body, "set");
    return r.cookie("user");
}

TEST_F(InteropTest, SecureCookieSignedByPythonIsReadByOursAndOursByPython) {
    std::string from_python = user_cookie(py_port_, "alice");
    std::string from_cpp = user_cookie(cpp_port_, "bob");
    ASSERT_TRUE(from_python.starts_with("user=\"2|1:0|")) << from_python;
    ASSERT_TRUE(from_cpp.starts_with("user=2|1:0|")) << from_cpp;  // no '=' in "Ym9i"
    for (int port : {py_port_, cpp_port_}) {
        EXPECT_EQ(http(port, "GET", "/secure-cookie", {"Cookie: " + from_python}).body, "alice");
        EXPECT_EQ(http(port, "GET", "/secure-cookie", {"Cookie: " + from_cpp}).body, "bob");
    }
}

TEST_F(InteropTest, TamperedSecureCookieIsRefusedByBoth) {
    std::string from_python = user_cookie(py_port_, "alice");
    // "alice" -> "alicf" in the base64 field; the signature no longer fits.
    std::string tampered = std::regex_replace(from_python, std::regex("YWxpY2U="), "YWxpY2Y=");
    ASSERT_NE(tampered, from_python);
    std::string resigned_name = std::regex_replace(from_python, std::regex("4:user"), "4:usex");
    for (int port : {py_port_, cpp_port_}) {
        for (const std::string& c : {tampered, resigned_name, from_python + "0"}) {
            Response r = http(port, "GET", "/secure-cookie", {"Cookie: " + c});
            EXPECT_EQ(r.code, 200) << c;
            EXPECT_EQ(r.body, "none") << port << " " << c;
        }
    }
}

struct Xsrf {
    std::string token;   // the body of GET /xsrf
    std::string cookie;  // _xsrf=...
};

Xsrf xsrf_from(int port) {
    Response r = http(port, "GET", "/xsrf");
    EXPECT_TRUE(std::regex_match(r.body, std::regex("2\\|[0-9a-f]{8}\\|[0-9a-f]{32}\\|[0-9]+")))
        << r.body;
    return {r.body, r.cookie("_xsrf")};
}

std::string url_quote(const std::string& s) {
    return std::regex_replace(s, std::regex("\\|"), "%7C");
}

TEST_F(InteropTest, XsrfTokenAndCookieFromEitherServerPassTheOthersCheck) {
    for (auto [issuer, checker] :
         {std::pair{py_port_, cpp_port_}, std::pair{cpp_port_, py_port_}}) {
        Xsrf x = xsrf_from(issuer);
        ASSERT_FALSE(x.cookie.empty());
        Response body =
            http(checker, "POST", "/xsrf", {"Cookie: " + x.cookie}, "_xsrf=" + url_quote(x.token));
        EXPECT_EQ(body.code, 200) << issuer << " -> " << checker;
        EXPECT_EQ(body.body, "ok");
        Response header =
            http(checker, "POST", "/xsrf", {"Cookie: " + x.cookie, "X-Xsrftoken: " + x.token});
        EXPECT_EQ(header.code, 200) << issuer << " -> " << checker;
        // A token re-masked by the checker for the same cookie still fits.
        Response again = http(checker, "GET", "/xsrf", {"Cookie: " + x.cookie});
        EXPECT_EQ(again.cookie("_xsrf"), "");  // the cookie was valid: not replaced
        EXPECT_EQ(
            http(issuer, "POST", "/xsrf", {"Cookie: " + x.cookie, "X-Xsrftoken: " + again.body})
                .code,
            200);
    }
}

TEST_F(InteropTest, TamperedXsrfTokenIsRefusedByBoth) {
    Xsrf x = xsrf_from(py_port_);
    // Flip one hex digit of the masked token.
    std::string tampered = x.token;
    std::size_t i = tampered.find('|', 2) + 1;
    tampered[i] = tampered[i] == '0' ? '1' : '0';
    for (int port : {py_port_, cpp_port_}) {
        EXPECT_EQ(
            http(port, "POST", "/xsrf", {"Cookie: " + x.cookie, "X-Xsrftoken: " + tampered}).code,
            403);
        EXPECT_EQ(http(port, "POST", "/xsrf", {"Cookie: " + x.cookie}, "_xsrf=").code, 403);
        Response missing = http(port, "POST", "/xsrf", {"Cookie: " + x.cookie});
        EXPECT_EQ(missing.code, 403);
        EXPECT_EQ(missing.body,
                  "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>");
    }
}

// --- Unit level: tornado.web.create_signed_value under a fixed clock -------

// Runs a Python snippet with Tornado 6.2; its standard output, stripped.
std::string python(const std::string& code, const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv{kPython, "-c", code};
    argv.insert(argv.end(), args.begin(), args.end());
    auto run = run_process(argv);
    EXPECT_EQ(tornado::testing::exit_code(run), 0) << run.err;
    std::string out = run.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

constexpr const char* kCreate =
    "import os, sys\n"
    "from tornado.web import create_signed_value\n"
    "secret = {0: 'k0', 1: 'k1'} if sys.argv[3] == 'dict' else sys.argv[1]\n"
    "kv = 1 if sys.argv[3] == 'dict' else None\n"
    "v = create_signed_value(secret, 'user', os.fsencode(sys.argv[2]),\n"
    "    version=int(sys.argv[4]), clock=lambda: 1300000000, key_version=kv)\n"
    "sys.stdout.buffer.write(v)\n";

constexpr const char* kDecode =
    "import os, sys\n"
    "from tornado.web import decode_signed_value\n"
    "secret = {0: 'k0', 1: 'k1'} if sys.argv[3] == 'dict' else sys.argv[1]\n"
    "v = decode_signed_value(secret, 'user', sys.argv[2], clock=lambda: 1300000000)\n"
    "sys.stdout.buffer.write(b'None' if v is None else v)\n";

double fixed_clock() {
    return 1300000000;
}

TEST(SignedValueInteropTest, ValuesSignedByPythonEqualOursAndDecodeBothWays) {
    const tornado::web::CookieSecret secret = std::string(kSecret);
    const tornado::web::CookieSecret keys = std::map<int, std::string>{{0, "k0"}, {1, "k1"}};
    struct Case {
        std::string value;
        const char* secret_kind;
        int version;
    };
    for (const Case& c : {Case{"alice", "str", 2}, Case{"alice", "str", 1},
                          Case{"caf\xe9 |;\"", "str", 2}, Case{"bob", "dict", 2}}) {
        bool dict = std::string(c.secret_kind) == "dict";
        std::string from_python =
            python(kCreate, {kSecret, c.value, c.secret_kind, std::to_string(c.version)});
        std::string ours = tornado::web::create_signed_value(
            dict ? keys : secret, "user", c.value,
            {.version = c.version,
             .clock = fixed_clock,
             .key_version = dict ? std::optional<int>(1) : std::nullopt});
        EXPECT_EQ(ours, from_python) << c.value;
        EXPECT_EQ(tornado::web::decode_signed_value(dict ? keys : secret, "user", from_python,
                                                    {.clock = fixed_clock}),
                  c.value);
        EXPECT_EQ(python(kDecode, {kSecret, ours, c.secret_kind}), c.value);
    }
    // A tampered value: None in Python, nullopt here.
    std::string ours =
        tornado::web::create_signed_value(secret, "user", "alice", {.clock = fixed_clock});
    std::string tampered = ours.substr(0, ours.size() - 1) + (ours.back() == '0' ? "1" : "0");
    EXPECT_EQ(python(kDecode, {kSecret, tampered, "str"}), "None");
    EXPECT_EQ(tornado::web::decode_signed_value(secret, "user", tampered, {.clock = fixed_clock}),
              std::nullopt);
}

}  // namespace
