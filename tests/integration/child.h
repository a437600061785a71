// A child process with its standard input, output and error on pipes, for
// the tests that talk to a running tornado-walk (serve) while it runs.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace tornado::testing {

using Clock = std::chrono::steady_clock;

// A child process with its standard input, output and error on pipes.
class Child {
  public:
    /// Starts `argv` (argv[0] looked up on PATH); `before_exec`, when given,
    /// runs in the forked child just before exec (e.g. to set an rlimit).
    explicit Child(std::vector<std::string> argv, std::function<void()> before_exec = {}) {
        int in[2];
        int out[2];
        int err[2];
        EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
        EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
        EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            ::dup2(err[1], 2);
            if (before_exec) {
                before_exec();
            }
            std::vector<char*> args;
            for (auto& a : argv) {
                args.push_back(a.data());
            }
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        in_ = in[1];
        out_ = out[0];
        err_ = err[0];
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        for (int fd : {in_, out_, err_}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }

    pid_t pid() const { return pid_; }

    void send(const std::string& keys) {
        ASSERT_EQ(::write(in_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
    }
    void close_stdin() {
        ::close(in_);
        in_ = -1;
    }

    // The next line of standard output, waiting at most `timeout_s`; "" and a
    // test failure when none comes.
    std::string read_line(int timeout_s = 20) {
        return read_until(out_, out_buf_, "\n", timeout_s);
    }
    // Standard error up to and including `marker`.
    std::string read_err_until(const std::string& marker, int timeout_s = 20) {
        return read_until(err_, err_buf_, marker, timeout_s);
    }
    // Everything left on standard output until the child closes it.
    std::string read_rest(int timeout_s = 20) {
        auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
        while (Clock::now() < deadline && fill(out_, out_buf_, 100) >= 0) {
        }
        std::string rest;
        rest.swap(out_buf_);
        return rest;
    }

    // Reads standard error for `ms` milliseconds (so that a child writing a
    // lot never blocks on a full pipe); all of it stays for err_seen().
    void pump_err(int ms) {
        auto deadline = Clock::now() + std::chrono::milliseconds(ms);
        while (Clock::now() < deadline) {
            if (fill(err_, err_buf_, 20) < 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    }
    // Standard error read so far and not consumed by read_err_until.
    const std::string& err_seen() const { return err_buf_; }

    // True while the child has not exited (never blocks).
    bool running() {
        if (exited_) {
            return false;
        }
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
            exited_ = true;
        }
        return !exited_;
    }
    // Waits at most `timeout_s` for the exit status; -1 (and kills) on a hang.
    int wait(int timeout_s = 20) {
        auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
        while (running() && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!exited_) {
            ADD_FAILURE() << "process " << pid_ << " did not exit within " << timeout_s << " s";
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            exited_ = true;
            return -1;
        }
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    }

  private:
    // Reads what is available into `buf` within `ms`: bytes read, or -1 at EOF.
    static int fill(int fd, std::string& buf, int ms) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, ms) <= 0) {
            return 0;
        }
        char chunk[4096];
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
            return -1;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
        return static_cast<int>(n);
    }
    static std::string read_until(int fd, std::string& buf, const std::string& marker,
                                  int timeout_s) {
        auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
        while (true) {
            auto pos = buf.find(marker);
            if (pos != std::string::npos) {
                std::string got = buf.substr(0, pos + marker.size());
                buf.erase(0, pos + marker.size());
                return got;
            }
            if (Clock::now() >= deadline || fill(fd, buf, 100) < 0) {
                ADD_FAILURE() << "no '" << marker << "' within " << timeout_s << " s; had: " << buf;
                return "";
            }
        }
    }

    pid_t pid_ = -1;
    int in_ = -1;
    int out_ = -1;
    int err_ = -1;
    std::string out_buf_;
    std::string err_buf_;
    int status_ = 0;
    bool exited_ = false;
};

}  // namespace tornado::testing
