// Running a program as a user would, for the CLI tests: a separate process
// with its standard input from a string, its output and error collected,
// and a time bound after which it is killed so that a hang fails the test
// instead of blocking it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tornado::testing {

struct ProcessRun {
    int status = -1;
    std::string out;
    std::string err;
};

/// The exit status, or -1 when the process did not exit normally.
inline int exit_code(const ProcessRun& r) {
    return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
}

/// Runs `argv` (argv[0] looked up on PATH; 127 when it cannot be run) with
/// `input` on its standard input (a pipe closed after it; keep it shorter
/// than a pipe buffer) and `env` ("KEY=value") added to its environment.
inline ProcessRun run_process(const std::vector<std::string>& argv, const std::string& input = "",
                              const std::vector<std::string>& env = {}, int timeout_s = 60) {
    int in_pipe[2];
    int out_pipe[2];
    int err_pipe[2];
    EXPECT_EQ(::pipe2(in_pipe, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        for (const std::string& kv : env) {
            auto eq = kv.find('=');
            ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
        }
        std::vector<std::string> copy = argv;
        std::vector<char*> args;
        for (auto& a : copy) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (!input.empty()) {
        // The program may exit before it reads its input (a usage error
        // does): the write then fails with EPIPE instead of the SIGPIPE
        // killing the test.
        ::signal(SIGPIPE, SIG_IGN);
        ssize_t n = ::write(in_pipe[1], input.data(), input.size());
        EXPECT_TRUE(n == static_cast<ssize_t>(input.size()) || (n < 0 && errno == EPIPE))
            << std::strerror(errno);
    }
    ::close(in_pipe[1]);
    ProcessRun run;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
        if (::poll(fds, 2, 100) <= 0) {
            continue;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
                char buf[65536];
                ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_fds;
                } else {
                    (i == 0 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
                }
            }
        }
    }
    if (open_fds > 0) {
        ::kill(pid, SIGKILL);
        ADD_FAILURE() << argv[0] << " did not finish within " << timeout_s << " s";
    }
    for (auto& f : fds) {
        if (f.fd >= 0) {
            ::close(f.fd);
        }
    }
    ::waitpid(pid, &run.status, 0);
    return run;
}

/// A blocking TCP connection to 127.0.0.1:`port` whose reads give up after
/// 10 s, or -1 when the connect fails.
inline int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace tornado::testing
