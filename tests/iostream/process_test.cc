// process: fork_processes and TCPServer.bind + start(n) over real sockets on
// 127.0.0.1.
//
// The gtest process must never become a supervisor (fork_processes does not
// return in the parent), nor fork while its own IOLoops are alive. So each
// scenario runs in a fresh program: the test forks, and the child execs this
// binary again with a filter naming one DISABLED_ scenario test (gtest runs
// those only when asked). The scenario writes its report to kReportFd; the
// test reads it until every process holding it has exited, then checks the
// scenario's exit status.
#include "tornado/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/tcpserver.h"

namespace tornado::iostream_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReportFd = 100;
// Each process of a scenario is killed by SIGALRM after this many seconds,
// so that a scenario that goes wrong cannot outlive the test.
constexpr unsigned kAlarmSeconds = 20;

bool in_scenario() {
    return ::fcntl(kReportFd, F_GETFD) != -1;
}

void report(const std::string& line) {
    std::string l = line + "\n";
    // One write per line (shorter than PIPE_BUF): lines of several
    // processes do not interleave.
    (void)!::write(kReportFd, l.data(), l.size());
}

// A running scenario: its pid and the read end of its report pipe.
class Scenario {
  public:
    explicit Scenario(const std::string& name) {
        int p[2];
        EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
        std::string filter = "--gtest_filter=ProcessScenario.DISABLED_" + name;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(p[1], kReportFd);  // without close-on-exec
            int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
            ::dup2(null, STDOUT_FILENO);  // gtest's own lines
            ::execl("/proc/self/exe", "/proc/self/exe", filter.c_str(),
                    "--gtest_also_run_disabled_tests", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(p[1]);
        fd_ = p[0];
    }
    ~Scenario() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(fd_);
    }
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    /// The next report line; "" at end of file or after 30 s.
    std::string read_line() {
        auto deadline = Clock::now() + std::chrono::seconds(30);
        while (true) {
            auto nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                ADD_FAILURE() << "no report line within 30 s";
                return "";
            }
            char chunk[512];
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n <= 0) {
                return "";
            }
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    /// Every line up to the end of the report (all its processes are gone).
    std::vector<std::string> read_all() {
        std::vector<std::string> lines;
        for (std::string l = read_line(); !l.empty(); l = read_line()) {
            lines.push_back(l);
        }
        return lines;
    }

    /// The scenario's exit status (-1: killed, or still running after 10 s).
    int wait() {
        auto deadline = Clock::now() + std::chrono::seconds(10);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (Clock::now() > deadline) {
                return -1;
            }
            ::poll(nullptr, 0, 10);  // the report's EOF came first; exit follows
        }
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool reaped_ = false;
    std::string buf_;
};

int connect_to(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        ::close(fd);
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
}

/// Sends `request` on a new connection and reads the answer to its end
/// ("" when the server closed without one, as after "exit").
std::string ask(int port, const std::string& request) {
    int fd = connect_to(port);
    std::string line = request + "\n";
    (void)!::write(fd, line.data(), line.size());
    std::string answer;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return answer;
}

// The handler of Tornado's ProcessTest as a line protocol: "exit N" ends
// the process with status N, anything else answers "<pid>".
class ProcessServer : public tcpserver::TCPServer {
  public:
    Future<void> handle_stream(std::shared_ptr<iostream::IOStream> stream,
                               const netutil::Address&) override {
        return serve(std::move(stream));
    }

    static Future<void> serve(std::shared_ptr<iostream::IOStream> stream) {
        std::string line = co_await stream->read_until("\n");
        if (line.starts_with("exit ")) {
            ::_exit(std::atoi(line.c_str() + 5));
        }
        co_await stream->write(std::to_string(::getpid()));
        stream->close();
    }
};

// Tornado: tornado/test/process_test.py:60 ProcessTest.test_multi_process
// Task 0 and 1 serve on the socket bound before the fork; task 2 is the
// client that makes them exit and watches them come back.
TEST(ProcessScenario, DISABLED_MultiProcess) {
    if (!in_scenario()) {
        GTEST_SKIP() << "run by ProcessTest.MultiProcess";
    }
    ::alarm(kAlarmSeconds);
    report(process::task_id() ? "task_id before fork" : "no task_id before fork");
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    int port = netutil::bound_port(socks[0]);
    int id = process::fork_processes(3, 3);
    // Only the children get here; the supervisor exits (0 when all exited
    // cleanly) inside fork_processes.
    ::alarm(kAlarmSeconds);
    if (process::task_id() != id) {
        report("task_id differs from the id returned");
    }
    if (id == 0 || id == 1) {
        ProcessServer server;
        server.add_sockets(socks);
        ioloop::IOLoop::current()->start();
        ::_exit(1);
    }
    ::close(socks[0]);
    try {
        // Two abnormal exits; both servers are forked again.
        report("exit 2: '" + ask(port, "exit 2") + "'");
        report("exit 3: '" + ask(port, "exit 3") + "'");
        std::string pid_a = ask(port, "pid");
        report(std::string("served after restarts: ") + (std::stoi(pid_a) > 0 ? "yes" : "no"));
        // A clean exit is not restarted: one server is left.
        ask(port, "exit 0");
        std::string pid = ask(port, "pid");
        ask(port, "exit 4");
        std::string pid2 = ask(port, "pid");
        report(std::string("restarted with a new pid: ") + (pid != pid2 ? "yes" : "no"));
        ask(port, "exit 0");
        report("client done");
    } catch (const std::exception& e) {
        report(std::string("client failed: ") + e.what());
        ::_exit(1);
    }
    ::_exit(0);
}

TEST(ProcessTest, MultiProcess) {
    Scenario scenario("MultiProcess");
    std::vector<std::string> lines = scenario.read_all();
    std::vector<std::string> expected = {
        "no task_id before fork",        "exit 2: ''", "exit 3: ''", "served after restarts: yes",
        "restarted with a new pid: yes", "client done"};
    EXPECT_EQ(lines, expected);
    // The supervisor's sys.exit(0): every child exited with status 0.
    EXPECT_EQ(scenario.wait(), 0);
}

// Answers "<task id> <pid>" once, then stops accepting and ends its loop,
// so that the next connection can only be taken by another process.
class OnceServer : public tcpserver::TCPServer {
  public:
    Future<void> handle_stream(std::shared_ptr<iostream::IOStream> stream,
                               const netutil::Address&) override {
        stop();
        return answer(std::move(stream), io_loop());
    }

    static Future<void> answer(std::shared_ptr<iostream::IOStream> stream, ioloop::IOLoop* loop) {
        co_await stream->write(std::to_string(process::task_id().value_or(-1)) + " " +
                               std::to_string(::getpid()));
        stream->close();
        loop->stop();
    }
};

// Tornado 6.2: tornado/test/tcpserver_test.py TestMultiprocess.test_bind_start
TEST(ProcessScenario, DISABLED_BindStart) {
    if (!in_scenario()) {
        GTEST_SKIP() << "run by ProcessTest.TCPServerBindStartForks";
    }
    ::alarm(kAlarmSeconds);
    OnceServer server;  // no loop yet: each child takes its own in start()
    server.bind(0, "127.0.0.1");
    report("port " + std::to_string(netutil::bound_port(server.sockets().at(0))));
    server.start(2);
    ::alarm(kAlarmSeconds);
    report("child " + std::to_string(process::task_id().value_or(-1)) + " accepting on " +
           std::to_string(server.sockets().size()) + " socket");
    server.io_loop()->start();
    ::_exit(0);
}

TEST(ProcessTest, TCPServerBindStartForks) {
    Scenario scenario("BindStart");
    std::string first = scenario.read_line();
    ASSERT_TRUE(first.starts_with("port ")) << first;
    int port = std::stoi(first.substr(5));
    std::set<std::string> tasks;
    std::set<std::string> pids;
    for (int i = 0; i < 2; ++i) {
        std::istringstream answer(ask(port, "hello"));
        std::string task;
        std::string pid;
        answer >> task >> pid;
        tasks.insert(task);
        pids.insert(pid);
    }
    EXPECT_EQ(tasks, (std::set<std::string>{"0", "1"}));
    EXPECT_EQ(pids.size(), 2U);
    std::vector<std::string> rest = scenario.read_all();
    std::multiset<std::string> children(rest.begin(), rest.end());
    EXPECT_EQ(children, (std::multiset<std::string>{"child 0 accepting on 1 socket",
                                                    "child 1 accepting on 1 socket"}));
    EXPECT_EQ(scenario.wait(), 0);
}

// A child that keeps failing: after max_restarts restarts the supervisor
// gives up with Tornado's error.
TEST(ProcessScenario, DISABLED_TooManyRestarts) {
    if (!in_scenario()) {
        GTEST_SKIP() << "run by ProcessTest.TooManyRestartsGivesUp";
    }
    ::alarm(kAlarmSeconds);
    try {
        int id = process::fork_processes(1, 2);
        report("child " + std::to_string(id));
        ::_exit(3);
    } catch (const std::runtime_error& e) {
        report(std::string("supervisor: ") + e.what());
        ::_exit(0);
    }
}

TEST(ProcessTest, TooManyRestartsGivesUp) {
    Scenario scenario("TooManyRestarts");
    std::vector<std::string> lines = scenario.read_all();
    std::vector<std::string> expected = {"child 0", "child 0", "child 0",
                                         "supervisor: Too many child restarts, giving up"};
    EXPECT_EQ(lines, expected);
    EXPECT_EQ(scenario.wait(), 0);
}

// Tornado: IOLoop.initialized() makes fork_processes refuse.
TEST(ProcessScenario, DISABLED_RefusesWithAnIOLoop) {
    if (!in_scenario()) {
        GTEST_SKIP() << "run by ProcessTest.RefusesWhenAnIOLoopExists";
    }
    ::alarm(kAlarmSeconds);
    {
        ioloop::IOLoop loop;
        try {
            process::fork_processes(2);
            report("forked");
        } catch (const std::runtime_error& e) {
            report(std::string("refused: ") + e.what());
        }
    }
    // Once the loop is gone forking is allowed; 0 processes: one per CPU.
    int id = process::fork_processes(0);
    report("child " + std::to_string(id) + " of " + std::to_string(process::cpu_count()));
    ::_exit(0);
}

TEST(ProcessTest, RefusesWhenAnIOLoopExists) {
    Scenario scenario("RefusesWithAnIOLoop");
    std::string first = scenario.read_line();
    EXPECT_TRUE(first.starts_with("refused: Cannot run in multiple processes")) << first;
    std::vector<std::string> rest = scenario.read_all();
    EXPECT_EQ(static_cast<int>(rest.size()), process::cpu_count());
    for (const auto& l : rest) {
        EXPECT_NE(l.find(" of " + std::to_string(process::cpu_count())), std::string::npos) << l;
    }
    EXPECT_EQ(scenario.wait(), 0);
}

// SIGTERM to the supervisor stops the children and exits 0 (C++; Tornado's
// parent would just die and leave them).
TEST(ProcessScenario, DISABLED_TermStopsChildren) {
    if (!in_scenario()) {
        GTEST_SKIP() << "run by ProcessTest.SigtermToTheSupervisorStopsTheChildren";
    }
    ::alarm(kAlarmSeconds);
    report("supervisor " + std::to_string(::getpid()));
    int id = process::fork_processes(2);
    ::alarm(kAlarmSeconds);
    report("child " + std::to_string(id));
    ::pause();  // until SIGTERM (default action: die from it)
    ::_exit(5);
}

TEST(ProcessTest, SigtermToTheSupervisorStopsTheChildren) {
    Scenario scenario("TermStopsChildren");
    std::string sup = scenario.read_line();
    ASSERT_TRUE(sup.starts_with("supervisor ")) << sup;
    std::multiset<std::string> children = {scenario.read_line(), scenario.read_line()};
    EXPECT_EQ(children, (std::multiset<std::string>{"child 0", "child 1"}));
    ::kill(std::stoi(sup.substr(11)), SIGTERM);
    EXPECT_TRUE(scenario.read_all().empty());  // EOF: the children are gone
    EXPECT_EQ(scenario.wait(), 0);
}

TEST(ProcessTest, TaskIdIsEmptyOutsideForkedChildren) {
    EXPECT_FALSE(process::task_id().has_value());
    EXPECT_GE(process::cpu_count(), 1);
}

}  // namespace
}  // namespace tornado::iostream_test
