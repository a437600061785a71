// Faults against a real `tornado-walk serve --app demo` process: running out
// of descriptors (RLIMIT_NOFILE lowered in the child), and clients that reset
// their connection in the middle of a response or of a request.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "child.h"

namespace {

using tornado::testing::Child;

std::vector<std::string> serve_args() {
    return {TORNADO_WALK_BINARY, "serve", "--app", "demo", "--address", "127.0.0.1", "--port", "0"};
}

// Reads the port serve prints once it listens.
int start_serve(Child& serve) {
    std::string line = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    if (!std::regex_search(line, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/"))) {
        ADD_FAILURE() << "serve did not print its address: " << line;
        return 0;
    }
    return std::stoi(m[1]);
}

// A blocking TCP client connected to 127.0.0.1:port (-1 on failure). The
// handshake completes against the listener's backlog, accepted or not.
int connect_to(int port, int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (rcvbuf > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
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

bool send_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads from `fd` until `marker` has arrived, the peer closes, or
// `timeout_s` passes; returns what was read.
std::string read_until(int fd, const std::string& marker, int timeout_s = 20) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (got.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

// Closes `fd` with SO_LINGER 0: the peer gets a RST, not a FIN.
void reset(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

// One complete GET of / on a new connection: the response's head and body.
std::string get_root(int port) {
    int fd = connect_to(port);
    if (fd < 0) {
        return "connect failed";
    }
    send_all(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    std::string response = read_until(fd, "\r\n\r\nHello, world");
    ::close(fd);
    return response;
}

// User plus system CPU seconds the process has used, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // Fields after the command name (which is in parentheses): state is
    // field 3, utime and stime are fields 14 and 15.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> fields;
    std::string f;
    while (rest >> f) {
        fields.push_back(f);
    }
    if (fields.size() < 13) {
        ADD_FAILURE() << "cannot read /proc/" << pid << "/stat: " << stat;
        return -1;
    }
    double ticks = std::stod(fields[11]) + std::stod(fields[12]);
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int count_lines(const std::string& s) {
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

int stop(Child& serve) {
    ::kill(serve.pid(), SIGTERM);
    return serve.wait();
}

// With 32 descriptors and 60 clients, accept fails with EMFILE. The server
// pauses accepting (one log line a pause) instead of retrying at every
// READ, goes on serving the connections it has, and accepts again once the
// clients have gone.
TEST(FaultsTest, OutOfDescriptorsTheServerPausesAcceptAndRecovers) {
    Child serve(serve_args(), [] {
        rlimit limit{32, 32};
        ::setrlimit(RLIMIT_NOFILE, &limit);
    });
    int port = start_serve(serve);
    ASSERT_GT(port, 0);

    std::vector<int> clients;
    for (int i = 0; i < 60; ++i) {
        int fd = connect_to(port);
        ASSERT_GE(fd, 0) << "client " << i;
        clients.push_back(fd);
    }
    // Let it hit the limit first, then measure 2 s of its CPU while it holds
    // more connections than it can accept (stderr read all along, so that a
    // flood of log lines cannot block it and look idle).
    serve.pump_err(500);
    double cpu_before = cpu_seconds(serve.pid());
    serve.pump_err(2000);
    double cpu_used = cpu_seconds(serve.pid()) - cpu_before;
    EXPECT_TRUE(serve.running());
    EXPECT_LT(cpu_used, 0.5) << "CPU seconds over 2 s of holding";
    std::string err = serve.err_seen();
    EXPECT_NE(err.find("Too many open files"), std::string::npos)
        << "the server never ran out of descriptors:\n"
        << err;
    EXPECT_LT(count_lines(err), 50) << err.substr(0, 4000);

    // A connection it accepted (the first in the queue) is still served.
    ASSERT_TRUE(send_all(clients[0], "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    std::string first = read_until(clients[0], "\r\n\r\nHello, world");
    EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << first;

    for (int fd : clients) {
        ::close(fd);
    }
    // Descriptors come free as the server sees the clients go; a new client
    // is then accepted (after the current pause) and served.
    std::string response = get_root(port);
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << response;
    EXPECT_NE(response.find("Hello, world"), std::string::npos) << response;
    serve.pump_err(200);
    EXPECT_LT(count_lines(serve.err_seen()), 50) << serve.err_seen().substr(0, 4000);
    EXPECT_EQ(stop(serve), 0);
}

// Twelve pipelined GETs of /big (1 MiB each): more than the server's send
// buffer (at most 4 MiB) and a small receive buffer can hold, so the server
// still has bytes to send when the client resets.
std::string big_requests() {
    std::string requests;
    for (int i = 0; i < 12; ++i) {
        requests += "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    }
    return requests;
}

// A client that asks for /big with a small receive window and resets once the
// response has begun: the server's pending write fails (ECONNRESET), that
// connection closes, and the process serves the next client.
TEST(FaultsTest, ResetDuringAResponseClosesThatConnectionOnly) {
    Child serve(serve_args());
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    for (int round = 0; round < 3; ++round) {
        int fd = connect_to(port, 4096);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, big_requests()));
        std::string head = read_until(fd, "\r\n\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << head;
        reset(fd);
        std::string response = get_root(port);
        EXPECT_NE(response.find("Hello, world"), std::string::npos) << response;
    }
    EXPECT_TRUE(serve.running());
    EXPECT_EQ(stop(serve), 0);
}

// The same after a half-close: the server is in CLOSE_WAIT when the reset
// comes, so its next send fails with EPIPE (strace shows it), the case that
// raises SIGPIPE unless the send says MSG_NOSIGNAL. The process must survive.
TEST(FaultsTest, ResetAfterHalfCloseGivesEpipeNotSigpipe) {
    Child serve(serve_args());
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    for (int round = 0; round < 3; ++round) {
        int fd = connect_to(port, 4096);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, big_requests()));
        ::shutdown(fd, SHUT_WR);
        std::string head = read_until(fd, "\r\n\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << head;
        reset(fd);
        std::string response = get_root(port);
        EXPECT_NE(response.find("Hello, world"), std::string::npos) << response;
    }
    EXPECT_TRUE(serve.running());
    EXPECT_EQ(stop(serve), 0);
}

// Clients that reset in the middle of a request head, and in the middle of
// a body: only their connections close.
TEST(FaultsTest, ResetDuringARequestClosesThatConnectionOnly) {
    Child serve(serve_args());
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    const std::vector<std::string> partial = {
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half",
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nonly a bit",
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
    };
    for (const std::string& request : partial) {
        int fd = connect_to(port);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, request));
        // While it is open, the server holds it: a second client is served.
        std::string during = get_root(port);
        EXPECT_NE(during.find("Hello, world"), std::string::npos) << during;
        reset(fd);
        std::string after = get_root(port);
        EXPECT_NE(after.find("Hello, world"), std::string::npos) << request << "\n" << after;
    }
    EXPECT_TRUE(serve.running());
    EXPECT_EQ(stop(serve), 0);
}

}  // namespace
