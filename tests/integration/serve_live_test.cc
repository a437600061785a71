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

namespace {

using Clock = std::chrono::steady_clock;

// A child process with its standard input, output and error on pipes.
class Child {
  public:
    explicit Child(std::vector<std::string> argv) {
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
