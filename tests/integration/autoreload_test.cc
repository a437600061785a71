// serve --debug / --autoreload against a copy of tornado-walk: when the
// program file is replaced (as a linker or `cp` + `mv` does), the running
// process re-executes itself with the same command line and serves again;
// --debug also shows the exception on error pages (serve_traceback).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "child.h"

namespace {

namespace fs = std::filesystem;
using tornado::testing::Child;

int read_port(Child& serve) {
    std::string line = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    if (!std::regex_search(line, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/"))) {
        ADD_FAILURE() << "serve did not print its address: " << line;
        return 0;
    }
    return std::stoi(m[1]);
}

std::string curl(int port, const std::string& path, const std::string& extra = "") {
    std::vector<std::string> args = {"curl", "--silent", "--show-error", "--max-time", "30"};
    if (!extra.empty()) {
        args.push_back(extra);
    }
    args.push_back("http://127.0.0.1:" + std::to_string(port) + path);
    Child c(args);
    return c.read_rest();
}

class AutoreloadTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/autoreload_test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        program_ = dir_ / "tornado-walk";
        fs::copy_file(TORNADO_WALK_BINARY, program_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A new file put in place of the program in one rename: what a build
    // does, and the only way on Linux while the old one is running.
    void replace_program() {
        fs::path fresh = dir_ / "tornado-walk.new";
        fs::copy_file(TORNADO_WALK_BINARY, fresh);
        fs::rename(fresh, program_);
    }

    fs::path dir_;
    fs::path program_;
};

// Tornado: tornado/autoreload.py:163 _reload_on_update -> _reload (execv)
TEST_F(AutoreloadTest, ReplacedProgramReExecutesTheSameProcessWhichServesAgain) {
    Child serve({program_.string(), "serve", "--app", "demo", "--address", "127.0.0.1", "--port",
                 "0", "--autoreload"});
    int first_port = read_port(serve);
    ASSERT_GT(first_port, 0);
    EXPECT_EQ(curl(first_port, "/"), "Hello, world");

    replace_program();
    // The same process (pid) starts again and prints its address once more
    // (port 0 in its command line: a new free port).
    int second_port = read_port(serve);
    ASSERT_GT(second_port, 0);
    EXPECT_TRUE(serve.running());
    EXPECT_EQ(curl(second_port, "/index"), "index");

    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

// Without --autoreload (and --debug) nothing watches the program.
TEST_F(AutoreloadTest, WithoutAutoreloadAReplacedProgramChangesNothing) {
    Child serve({program_.string(), "serve", "--app", "demo", "--address", "127.0.0.1", "--port",
                 "0"});
    int port = read_port(serve);
    ASSERT_GT(port, 0);
    replace_program();
    // Two answers on the original port after the replacement: had the
    // process re-executed, the port (0 = any) would have changed.
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(curl(port, "/"), "Hello, world");
    }
    serve.pump_err(1200);  // longer than two autoreload checks
    EXPECT_EQ(serve.err_seen().find("(Ctrl-C stops)"), std::string::npos) << serve.err_seen();
    EXPECT_EQ(curl(port, "/"), "Hello, world");
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

// Tornado: tornado/web.py:1042 RequestHandler.write_error (serve_traceback, on with debug)
TEST_F(AutoreloadTest, DebugServesTheExceptionOnTheErrorPage) {
    Child serve({program_.string(), "serve", "--app", "demo", "--address", "127.0.0.1", "--port",
                 "0", "--debug"});
    int port = read_port(serve);
    ASSERT_GT(port, 0);
    EXPECT_EQ(curl(port, "/exception"), "std::runtime_error: boom\n");
    std::string head = curl(port, "/exception", "--include");
    EXPECT_NE(head.find("Content-Type: text/plain\r\n"), std::string::npos) << head;
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

}  // namespace
