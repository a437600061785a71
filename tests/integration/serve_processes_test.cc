// serve --processes, --reuse-port and --unix with real clients: which
// process answered a connection is read from the kernel's tables (the
// server end of the client's socket, found in /proc/net/tcp{,6}, and the
// process whose fd table holds it), not from what the server says.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child.h"

namespace {

using tornado::testing::Child;

// One "serving ... (Ctrl-C stops)" line: its port (0 for a Unix socket),
// and with several processes the task id and pid it names.
struct Serving {
    int port = 0;
    int task = -1;
    int pid = 0;
};

Serving read_serving(Child& serve) {
    std::string text = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    Serving s;
    static const std::regex line_re(
        "serving the demo app on (?:http://127\\.0\\.0\\.1:([0-9]+)/|unix:[^ ]+)"
        "(?: in process ([0-9]+) \\(pid ([0-9]+)\\))? \\(Ctrl-C stops\\)$");
    if (!std::regex_search(text, m, line_re)) {
        ADD_FAILURE() << "no serving line in: " << text;
        return s;
    }
    s.port = m[1].matched ? std::stoi(m[1]) : 0;
    s.task = m[2].matched ? std::stoi(m[2]) : -1;
    s.pid = m[3].matched ? std::stoi(m[3]) : 0;
    return s;
}

std::vector<std::string> serve_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {TORNADO_WALK_BINARY, "serve", "--address", "127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// The kernel's list of a process's children.
std::set<int> children_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::set<int> out;
    int c = 0;
    while (in >> c) {
        out.insert(c);
    }
    return out;
}

// A client connection with one HTTP/1.1 keep-alive request answered.
class Connection {
  public:
    explicit Connection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{20, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    ~Connection() { ::close(fd_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // GET / and its body (the connection stays open).
    std::string get() {
        std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        EXPECT_EQ(::write(fd_, req.data(), req.size()), static_cast<ssize_t>(req.size()));
        std::string got;
        char buf[4096];
        while (got.find("Hello, world") == std::string::npos) {
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                ADD_FAILURE() << "no answer; had: " << got;
                return "";
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got.substr(got.find("\r\n\r\n") + 4);
    }

    int local_port() const {
        sockaddr_in a{};
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        return ntohs(a.sin_port);
    }

  private:
    int fd_ = -1;
};

// The inode of the server end of a connection from client port
// `client_port` to `server_port`, from /proc/net/tcp and tcp6.
unsigned long server_socket_inode(int server_port, int client_port) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string slot, local, remote, state, queues, timer, retr, uid, timeout;
            unsigned long inode = 0;
            f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
                inode;
            auto port_of = [](const std::string& a) {
                return static_cast<int>(std::stoul(a.substr(a.find(':') + 1), nullptr, 16));
            };
            if (port_of(local) == server_port && port_of(remote) == client_port && inode != 0) {
                return inode;
            }
        }
    }
    return 0;
}

// The process among `pids` with socket `inode` in its fd table; 0 if none.
int holder_of(unsigned long inode, const std::set<int>& pids) {
    std::string want = "socket:[" + std::to_string(inode) + "]";
    for (int pid : pids) {
        std::string dir = "/proc/" + std::to_string(pid) + "/fd";
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            std::error_code lec;
            auto target = std::filesystem::read_symlink(entry.path(), lec);
            if (!lec && target.string() == want) {
                return pid;
            }
        }
    }
    return 0;
}

int answering_pid(const Connection& c, int server_port, const std::set<int>& pids) {
    unsigned long inode = server_socket_inode(server_port, c.local_port());
    EXPECT_NE(inode, 0U) << "no server end for client port " << c.local_port();
    return holder_of(inode, pids);
}

std::string curl(int port) {
    Child c({"curl", "--silent", "--show-error", "--max-time", "30",
             "http://127.0.0.1:" + std::to_string(port) + "/"});
    std::string body = c.read_rest();
    EXPECT_EQ(c.wait(), 0);
    return body;
}

TEST(ServeProcessesTest, UnixSocketAnswersCurlWithRemoteIpZero) {
    char templ[] = "/tmp/tornado-serve-unix-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    std::string path = std::string(templ) + "/serve.sock";
    // The access log line is at INFO, which TORNADO_LOG_QUIET would hide.
    Child serve(serve_args({"--unix", path}), [] { ::unsetenv("TORNADO_LOG_QUIET"); });
    Serving s = read_serving(serve);
    EXPECT_EQ(s.port, 0);
    EXPECT_TRUE(std::filesystem::is_socket(path));
    Child c({"curl", "--silent", "--show-error", "--max-time", "30", "--unix-socket", path,
             "http://x/"});
    EXPECT_EQ(c.read_rest(), "Hello, world");
    EXPECT_EQ(c.wait(), 0);
    // Tornado 6.2's _HTTPRequestContext: no peer address on a Unix socket.
    std::string log = serve.read_err_until("ms\n");  // the access line, "... 2.71ms"
    EXPECT_NE(log.find("200 GET / (0.0.0.0)"), std::string::npos) << log;
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
    std::filesystem::remove_all(templ);
}

// Tornado: tornado/test/process_test.py:60 ProcessTest.test_multi_process, on
// the CLI: two children answer, one killed is forked again, SIGTERM to the
// parent stops them all.
TEST(ServeProcessesTest, TwoChildrenAnswerAndAKilledOneIsReplaced) {
    Child serve(serve_args({"--port", "0", "--processes", "2"}));
    std::map<int, int> pid_of_task;
    Serving a = read_serving(serve);
    Serving b = read_serving(serve);
    ASSERT_GT(a.port, 0);
    EXPECT_EQ(a.port, b.port) << "one socket, bound before the fork";
    pid_of_task[a.task] = a.pid;
    pid_of_task[b.task] = b.pid;
    ASSERT_EQ(pid_of_task.size(), 2U);
    ASSERT_TRUE(pid_of_task.count(0) && pid_of_task.count(1));
    std::set<int> kids = children_of(serve.pid());
    EXPECT_EQ(kids, (std::set<int>{a.pid, b.pid}));
    int port = a.port;

    // Which process takes a connection is the kernel's choice; with one
    // child stopped (SIGSTOP) only the other can accept and answer it.
    // Each connection stays open, so that its server end can be found.
    std::vector<std::unique_ptr<Connection>> held;
    std::map<int, int> answered_by;  // task -> pid holding the server end
    for (int task : {0, 1}) {
        int other = pid_of_task[1 - task];
        ::kill(other, SIGSTOP);
        held.push_back(std::make_unique<Connection>(port));
        EXPECT_EQ(held.back()->get(), "Hello, world");
        ::kill(other, SIGCONT);
        answered_by[task] = answering_pid(*held.back(), port, kids);
    }
    EXPECT_EQ(answered_by[0], pid_of_task[0]);
    EXPECT_EQ(answered_by[1], pid_of_task[1]);
    // More connections, free to go to either: each is held by one child.
    for (int i = 0; i < 6; ++i) {
        held.push_back(std::make_unique<Connection>(port));
        EXPECT_EQ(held.back()->get(), "Hello, world");
        int holder = answering_pid(*held.back(), port, kids);
        EXPECT_TRUE(kids.count(holder)) << "connection " << i << " held by " << holder;
    }
    held.clear();

    // kill -9: the parent forks task 0 again, with a new pid.
    int victim = pid_of_task[0];
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    Serving again = read_serving(serve);
    EXPECT_EQ(again.task, 0);
    EXPECT_NE(again.pid, victim);
    EXPECT_EQ(again.port, port);
    EXPECT_EQ(children_of(serve.pid()), (std::set<int>{again.pid, pid_of_task[1]}));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(curl(port), "Hello, world");
    }

    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
    // The parent reaped them before it exited.
    for (int pid : {again.pid, pid_of_task[1]}) {
        EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid))) << pid;
    }
}

TEST(ServeProcessesTest, ReusePortGivesEachChildItsOwnSocketOnOnePort) {
    char templ[] = "/tmp/tornado-serve-trace-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    std::string trace = std::string(templ) + "/t.jsonl";
    Child serve(serve_args({"--port", "0", "--processes", "2", "--reuse-port", "--trace", trace}));
    Serving a = read_serving(serve);
    Serving b = read_serving(serve);
    ASSERT_GT(a.port, 0);
    EXPECT_EQ(a.port, b.port);
    EXPECT_NE(a.pid, b.pid);
    std::set<int> kids = children_of(serve.pid());
    EXPECT_EQ(kids, (std::set<int>{a.pid, b.pid}));
    // Stopped, a child's own socket would keep the connections hashed to it
    // waiting: instead check that every connection is answered and held by
    // one of them.
    for (int i = 0; i < 4; ++i) {
        Connection c(a.port);
        EXPECT_EQ(c.get(), "Hello, world");
        EXPECT_TRUE(kids.count(answering_pid(c, a.port, kids)));
    }
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
    // --trace FILE: one file per process, FILE.<task id>.
    EXPECT_TRUE(std::filesystem::exists(trace + ".0"));
    EXPECT_TRUE(std::filesystem::exists(trace + ".1"));
    EXPECT_FALSE(std::filesystem::exists(trace));
    std::filesystem::remove_all(templ);
}

TEST(ServeProcessesTest, BadScaleOutOptionsAreErrorsNamingThem) {
    struct Case {
        std::vector<std::string> extra;
        std::string named;
    };
    for (const Case& c : {Case{{"--processes", "-1"}, "--processes"},
                          Case{{"--processes", "2", "--debug"}, "--processes"},
                          Case{{"--processes", "2", "--step"}, "--processes"},
                          Case{{"--unix", "/tmp/x.sock", "--reuse-port"}, "--reuse-port"},
                          Case{{"--unix", "/tmp/x.sock", "--port", "0"}, "--unix"}}) {
        Child serve(serve_args(c.extra));
        serve.close_stdin();
        EXPECT_EQ(serve.wait(), 2) << c.named;
        std::string err = serve.read_err_until("\n");
        EXPECT_NE(err.find(c.named), std::string::npos) << err;
    }
}

}  // namespace
