// serve --tls: curl over HTTPS against the demo app with a certificate made
// at test time, and the usage errors of the TLS flags (exit status 2).
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <string>
#include <vector>

#include "child.h"
#include "common/test_cert.h"

namespace {

using tornado::testing::Child;
using tornado::testing::TestCert;

std::vector<std::string> serve_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {TORNADO_WALK_BINARY, "serve",  "--address",
                                     "127.0.0.1",         "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

TEST(ServeTlsTest, CurlGetsTheDemoOverHttps) {
    TestCert cert;
    Child serve(serve_args({"--tls", "--certfile", cert.certfile(), "--keyfile", cert.keyfile()}));
    std::string line = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, std::regex("https://127\\.0\\.0\\.1:([0-9]+)/")))
        << "serve did not print an https address: " << line;
    std::string url = "https://127.0.0.1:" + std::string(m[1]) + "/";
    Child curl({"curl", "--silent", "--show-error", "--insecure", "--max-time", "30", url});
    EXPECT_EQ(curl.read_rest(), "Hello, world");
    EXPECT_EQ(curl.wait(), 0);
    // Verified against the certificate itself as the CA: the name matches.
    Child verified({"curl", "--silent", "--show-error", "--cacert", cert.certfile(), "--resolve",
                    "localhost:" + std::string(m[1]) + ":127.0.0.1", "--max-time", "30",
                    "https://localhost:" + std::string(m[1]) + "/"});
    EXPECT_EQ(verified.read_rest(), "Hello, world");
    EXPECT_EQ(verified.wait(), 0);
    // Plain HTTP to the TLS port gets no HTTP answer.
    Child plain({"curl", "--silent", "--max-time", "30",
                 "http://127.0.0.1:" + std::string(m[1]) + "/"});
    EXPECT_EQ(plain.read_rest().find("Hello"), std::string::npos);
    EXPECT_NE(plain.wait(), 0);
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

struct BadFlags {
    std::vector<std::string> args;
    std::string option;  // the option the error line must name
};

TEST(ServeTlsTest, BadTlsFlagsAreUsageErrors) {
    TestCert cert;
    const std::vector<BadFlags> cases = {
        {{"--tls"}, "--certfile"},
        {{"--tls", "--certfile", cert.certfile()}, "--keyfile"},
        {{"--tls", "--keyfile", cert.keyfile()}, "--certfile"},
        {{"--certfile", cert.certfile(), "--keyfile", cert.keyfile()}, "--tls"},
        {{"--tls", "--certfile", cert.dir() + "/missing.pem", "--keyfile", cert.keyfile()},
         "--certfile"},
        {{"--tls", "--certfile", cert.certfile(), "--keyfile", cert.dir() + "/missing.pem"},
         "--keyfile"},
        // Readable, but not what the option needs.
        {{"--tls", "--certfile", cert.keyfile(), "--keyfile", cert.keyfile()}, "--certfile"},
        {{"--tls", "--certfile", cert.certfile(), "--keyfile", cert.certfile()}, "--keyfile"},
    };
    for (const BadFlags& c : cases) {
        std::string joined;
        for (const auto& a : c.args) {
            joined += " " + a;
        }
        Child serve(serve_args(c.args));
        std::string err = serve.read_err_until("\n", 10);
        EXPECT_EQ(serve.wait(), 2) << joined;
        EXPECT_NE(err.find(c.option), std::string::npos) << joined << ": " << err;
    }
}

}  // namespace
