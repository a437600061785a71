// tornado-walk as a user runs it: a separate process, its output and exit
// status, and `serve` answering real HTTP over loopback.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/hello_chain.h"
#include "integration/process.h"

namespace {

using WalkRun = tornado::testing::ProcessRun;
using tornado::testing::exit_code;

// Runs tornado-walk with `args`; a hang past `timeout_s` fails.
WalkRun run_walk(const std::vector<std::string>& args, int timeout_s = 30) {
    std::vector<std::string> argv = {TORNADO_WALK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return tornado::testing::run_process(argv, "", {}, timeout_s);
}

TEST(TornadoWalkTest, RunHelloJsonlCarriesTheChainInOrder) {
    WalkRun r = run_walk({"run", "hello", "--format", "jsonl"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    const std::vector<std::string>& chain = tornado::testing::kHelloChain;
    std::istringstream lines(r.out);
    std::string line;
    std::size_t next = 0;
    std::size_t count = 0;
    bool saw_suspend = false;
    bool saw_resume = false;
    bool saw_add_io_state = false;
    bool saw_loop = false;
    while (std::getline(lines, line)) {
        ++count;
        ASSERT_TRUE(line.starts_with("{\"seq\":")) << line;
        saw_suspend = saw_suspend || line.find("\"ph\":\"S\"") != std::string::npos;
        saw_resume = saw_resume || line.find("\"ph\":\"R\"") != std::string::npos;
        saw_add_io_state = saw_add_io_state || line.find("_add_io_state") != std::string::npos;
        saw_loop = saw_loop || line.find("\"step\":\"PollIOLoop.") != std::string::npos;
        bool server_begin = line.find("\"ph\":\"B\"") != std::string::npos &&
                            line.find("\"role\":\"client\"") == std::string::npos;
        if (server_begin && next < chain.size() &&
            line.find("\"step\":\"" + chain[next] + "\"") != std::string::npos) {
            ++next;
        }
    }
    EXPECT_EQ(next, chain.size()) << "stopped at " << chain[std::min(next, chain.size() - 1)];
    EXPECT_GT(count, 50U);
    EXPECT_TRUE(saw_suspend);
    EXPECT_TRUE(saw_resume);
    EXPECT_TRUE(saw_add_io_state);
    EXPECT_TRUE(saw_loop);
}

TEST(TornadoWalkTest, RunHelloDrawsAnAsciiDiagram) {
    WalkRun r = run_walk({"run", "hello"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    for (const char* word :
         {"Client", "IOLoop", "accept_handler", "read_until_regex", "_try_inline_read",
          "headers_received", "write_headers", "_handle_write"}) {
        EXPECT_NE(r.out.find(word), std::string::npos) << "missing " << word << " in\n" << r.out;
    }
}

TEST(TornadoWalkTest, RunHelloMermaidIsASequenceDiagram) {
    WalkRun r = run_walk({"run", "hello", "--format", "mermaid"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_TRUE(r.out.starts_with("sequenceDiagram")) << r.out.substr(0, 200);
    EXPECT_NE(r.out.find("->>"), std::string::npos);
}

// Two forked tasks: the same diagram every run, a group row per process.
TEST(TornadoWalkTest, RunMultiprocessDrawsAGroupPerProcessTheSameEveryRun) {
    WalkRun first = run_walk({"run", "multiprocess", "--view", "full"});
    ASSERT_EQ(exit_code(first), 0) << first.err;
    // The group row opens the diagram (after the note that a narrow
    // terminal made the lifelines per layer).
    std::string out = first.out.starts_with("(") ? first.out.substr(first.out.find('\n') + 1)
                                                 : first.out;
    std::string row = out.substr(0, out.find('\n'));
    EXPECT_NE(row.find(" task 0 "), std::string::npos) << row;
    EXPECT_NE(row.find(" task 1 "), std::string::npos) << row;
    WalkRun second = run_walk({"run", "multiprocess", "--view", "full"});
    ASSERT_EQ(exit_code(second), 0) << second.err;
    EXPECT_EQ(first.out, second.out);
    WalkRun mermaid = run_walk({"run", "multiprocess", "--view", "full", "--format", "mermaid"});
    ASSERT_EQ(exit_code(mermaid), 0) << mermaid.err;
    EXPECT_NE(mermaid.out.find("    box task 1\n"), std::string::npos) << mermaid.out;
    EXPECT_NE(mermaid.out.find("accept_handler(accept=EWOULDBLOCK)"), std::string::npos)
        << mermaid.out;
}

TEST(TornadoWalkTest, UnknownScenarioIsAnErrorNamingIt) {
    WalkRun r = run_walk({"run", "no-such-scenario"});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("no-such-scenario"), std::string::npos) << r.err;
}

// The test runs in the build tree, where no ../shared is: the scenario finds
// the demo templates by this build's absolute path.
TEST(TornadoWalkTest, RunXsrfFormFindsTheDemoTemplatesOutsideTheProjectRoot) {
    WalkRun r = run_walk({"run", "xsrf-form", "--format", "jsonl"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    for (const char* step :
         {"\"step\":\"RequestHandler.render\"", "\"step\":\"BaseLoader.load\"",
          "\"step\":\"Template.generate\"", "\"step\":\"RequestHandler.check_xsrf_cookie\""}) {
        EXPECT_NE(r.out.find(step), std::string::npos) << step;
    }
}

TEST(TornadoWalkTest, RunXsrfFormWithAMissingTemplatePathNamesIt) {
    WalkRun r = run_walk({"run", "xsrf-form", "--template-path", "/nonexistent/templates"});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("/nonexistent/templates"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST(TornadoWalkTest, UnknownFormatIsAnErrorNamingIt) {
    WalkRun r = run_walk({"run", "hello", "--format", "svgz"});
    EXPECT_NE(exit_code(r), 0);
    EXPECT_NE(r.err.find("svgz"), std::string::npos) << r.err;
}

TEST(TornadoWalkTest, ViewWritesOneSelfContainedPage) {
    std::string path = ::testing::TempDir() + "/walk_cli_view.html";
    WalkRun r = run_walk({"view", "hello", "-o", path});
    EXPECT_EQ(exit_code(r), 0) << r.err;
    std::ifstream in(path);
    std::stringstream page;
    page << in.rdbuf();
    EXPECT_TRUE(page.str().starts_with("<!DOCTYPE html>"));
    EXPECT_NE(page.str().find("id=\"trace-data\""), std::string::npos);
    EXPECT_NE(page.str().find("BaseIOStream._try_inline_read"), std::string::npos);
}

TEST(TornadoWalkTest, ViewOfAnUnknownScenarioOrAMissingTargetExits2) {
    WalkRun unknown = run_walk({"view", "no-such-scenario"});
    EXPECT_EQ(exit_code(unknown), 2);
    EXPECT_NE(unknown.err.find("no-such-scenario"), std::string::npos) << unknown.err;
    WalkRun missing = run_walk({"view"});
    EXPECT_EQ(exit_code(missing), 2);
    EXPECT_NE(missing.err.find("target"), std::string::npos) << missing.err;
}

TEST(TornadoWalkTest, RenderOfAMissingFileIsAnError) {
    WalkRun r = run_walk({"render", "/nonexistent/trace.jsonl"});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("/nonexistent/trace.jsonl"), std::string::npos) << r.err;
}

// Starts `serve` on a free port; returns the pid and the port it printed.
std::pair<pid_t, int> start_server(int& err_fd) {
    int err_pipe[2];
    EXPECT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(err_pipe[1], 2);
        std::string binary = TORNADO_WALK_BINARY;
        std::string static_dir = std::string(TORNADO_SOURCE_DIR) + "/../shared/demo-static";
        ::execl(binary.c_str(), binary.c_str(), "serve", "--app", "demo", "--address", "127.0.0.1",
                "--port", "0", "--static-path", static_dir.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(err_pipe[1]);
    err_fd = err_pipe[0];
    std::string err;
    std::regex port_re("http://127\\.0\\.0\\.1:([0-9]+)/");
    std::smatch m;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{err_fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
            char buf[4096];
            ssize_t n = ::read(err_fd, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            err.append(buf, static_cast<std::size_t>(n));
            if (std::regex_search(err, m, port_re)) {
                return {pid, std::stoi(m[1])};
            }
        }
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ADD_FAILURE() << "serve did not report its port: " << err;
    return {-1, 0};
}

// One blocking HTTP exchange: sends `request`, reads until the server closes.
std::string exchange(int port, const std::string& request) {
    int fd = tornado::testing::connect_loopback(port);
    if (fd < 0) {
        return "";
    }
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

TEST(TornadoWalkTest, ServeAnswersRealClientsAndStopsOnSigterm) {
    int err_fd = -1;
    auto [pid, port] = start_server(err_fd);
    ASSERT_GT(pid, 0);
    std::string root = exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(root.starts_with("HTTP/1.1 200 OK\r\n")) << root;
    EXPECT_TRUE(root.ends_with("\r\n\r\nHello, world")) << root;
    EXPECT_NE(root.find("\r\nConnection: close\r\n"), std::string::npos) << root;
    std::string index = exchange(port, "GET /index HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(index.ends_with("\r\n\r\nindex")) << index;
    std::string missing = exchange(port, "GET /nope HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(missing.starts_with("HTTP/1.1 404 Not Found\r\n")) << missing;
    EXPECT_TRUE(
        missing.ends_with("<html><title>404: Not Found</title><body>404: Not Found</body></html>"))
        << missing;
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (i == 99) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ADD_FAILURE() << "serve did not stop on SIGTERM";
        }
    }
    ::close(err_fd);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(TornadoWalkTest, ServeOnAPortInUseIsAnError) {
    int blocker = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(blocker, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len);
    std::string port = std::to_string(ntohs(addr.sin_port));
    WalkRun r = run_walk({"serve", "--address", "127.0.0.1", "--port", port});
    ::close(blocker);
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << r.err;
}

}  // namespace
