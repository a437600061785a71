// serve's live views: `--trace -` (one readable line per event, or JSON
// Lines), and `--step`, which holds a real client (curl) until the steps of
// its request are released.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tornado/walkthrough/diagram.h"

#include "child.h"

namespace {

using tornado::testing::Child;

// Starts `tornado-walk serve --port 0 EXTRA...` and reads the port it prints.
int start_serve(Child& serve) {
    std::string line = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    std::regex port_re("http://127\\.0\\.0\\.1:([0-9]+)/");
    if (!std::regex_search(line, m, port_re)) {
        ADD_FAILURE() << "serve did not print its address: " << line;
        return 0;
    }
    return std::stoi(m[1]);
}

std::vector<std::string> serve_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {TORNADO_WALK_BINARY, "serve",  "--address",
                                     "127.0.0.1",         "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::vector<std::string> curl_args(int port, const std::string& path) {
    return {"curl",       "--silent", "--show-error",
            "--max-time", "30",       "http://127.0.0.1:" + std::to_string(port) + path};
}

int stop(Child& serve) {
    ::kill(serve.pid(), SIGTERM);
    return serve.wait();
}

TEST(ServeLiveTest, TraceDashPrintsOneReadableLinePerEvent) {
    Child serve(serve_args({"--trace", "-"}));
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    Child curl(curl_args(port, "/"));
    EXPECT_EQ(curl.read_rest(), "Hello, world");
    EXPECT_EQ(curl.wait(), 0);
    EXPECT_EQ(stop(serve), 0);
    std::istringstream lines(serve.read_rest());
    std::string line;
    std::vector<std::string> steps;
    std::regex readable(R"(^#([0-9]+) +(call|return|note|suspend|resume) +([A-Za-z_.0-9]+) .*$)");
    while (std::getline(lines, line)) {
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, readable)) << "not a readable event line: " << line;
        if (m[2] == "call") {
            steps.push_back(m[3]);
        }
    }
    // The chain of one GET, in order, among the calls.
    std::vector<std::string> chain = {"netutil.accept_handler", "HTTP1Connection._read_message",
                                      "RequestHandler._execute", "HTTP1Connection.write_headers",
                                      "BaseIOStream._handle_write"};
    std::size_t next = 0;
    for (const auto& s : steps) {
        if (next < chain.size() && s == chain[next]) {
            ++next;
        }
    }
    EXPECT_EQ(next, chain.size()) << "missing " << (next < chain.size() ? chain[next] : "");
}

TEST(ServeLiveTest, TraceDashInJsonlIsATraceFileRenderReads) {
    Child serve(serve_args({"--trace", "-", "--trace-format", "jsonl"}));
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    Child curl(curl_args(port, "/index"));
    EXPECT_EQ(curl.read_rest(), "index");
    EXPECT_EQ(curl.wait(), 0);
    EXPECT_EQ(stop(serve), 0);
    std::istringstream in(serve.read_rest());
    std::vector<tornado::trace::Event> events = tornado::walkthrough::read_jsonl(in);
    ASSERT_FALSE(events.empty());
    bool executed = false;
    for (const auto& e : events) {
        executed = executed || e.step == "RequestHandler._execute";
    }
    EXPECT_TRUE(executed);
}

// The server stops inside each emit point until a key arrives; curl cannot
// get its answer before the steps are released, whatever the timing, since
// the only thread that could answer it is the one waiting for the key.
TEST(ServeLiveTest, StepHoldsCurlUntilTheStepsAreReleased) {
    Child serve(serve_args({"--step"}));
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    Child curl(curl_args(port, "/"));

    std::string first = serve.read_line();
    EXPECT_NE(first.find("call    netutil.accept_handler"), std::string::npos) << first;
    // Each key lets the server run to its next event, which it prints and
    // waits at: three keys, three more lines.
    serve.send("\n");
    serve.send("n\n");
    serve.send(" \n");
    std::vector<std::string> next = {serve.read_line(), serve.read_line(), serve.read_line()};
    EXPECT_NE(next[0].find("TCPServer._handle_connection"), std::string::npos) << next[0];
    EXPECT_NE(next[1].find("HTTPServer.handle_stream"), std::string::npos) << next[1];
    EXPECT_NE(next[2].find("HTTP1ServerConnection.start_serving"), std::string::npos) << next[2];
    EXPECT_TRUE(curl.running()) << "curl finished while the server was paused";

    serve.send("q\n");
    EXPECT_EQ(curl.read_rest(), "Hello, world");
    EXPECT_EQ(curl.wait(), 0);
    EXPECT_NE(serve.read_err_until("runs freely").find("stepping off"), std::string::npos);
    EXPECT_EQ(stop(serve), 0);
    std::string rest = serve.read_rest();
    EXPECT_NE(rest.find("BaseIOStream._handle_write"), std::string::npos) << rest;
}

// Closing the keyboard (end of input) also releases the server.
TEST(ServeLiveTest, StepRunsFreelyAtEndOfInput) {
    Child serve(serve_args({"--step"}));
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    Child curl(curl_args(port, "/"));
    EXPECT_NE(serve.read_line().find("netutil.accept_handler"), std::string::npos);
    serve.close_stdin();
    EXPECT_EQ(curl.read_rest(), "Hello, world");
    EXPECT_EQ(curl.wait(), 0);
    EXPECT_EQ(stop(serve), 0);
}

TEST(ServeLiveTest, BadLiveOptionsAreErrorsNamingThem) {
    struct Case {
        std::vector<std::string> extra;
        std::string named;
    };
    for (const Case& c : {Case{{"--trace", "-", "--trace-format", "xml"}, "--trace-format"},
                          Case{{"--trace-format", "jsonl"}, "--trace"},
                          Case{{"--step", "--trace", "-"}, "--step"}}) {
        Child serve(serve_args(c.extra));
        serve.close_stdin();
        EXPECT_EQ(serve.wait(), 2) << c.named;
        std::string err = serve.read_err_until("\n");
        EXPECT_NE(err.find(c.named), std::string::npos) << err;
    }
}

}  // namespace
