// The multiprocess scenario. C++ only: the orchestration is ours (Tornado's
// process.fork_processes forks the same way, but nothing in Tornado holds
// a process at a step).
//
// The story: several processes poll one listening socket; a connection
// makes every poller report READ, one process wins accept(), the others
// get EWOULDBLOCK. Left to the scheduler, who wins and how the two traces
// interleave change from run to run, so the parent sequences the tasks
// over a channel each (a byte per command, a byte per report):
//
//   - A task that has nothing to do waits in a callback of its loop (the
//     gate), so that it is not polling, and reports kReady.
//   - A live trace subscriber holds the task at the beginning of
//     netutil.accept_handler (the barrier) and reports kBarrier.
//
// For each connection the parent lets the winner poll, connects, waits for
// the winner at the barrier, then lets the loser poll: the socket is still
// readable (nobody has accepted), so the loser's poller reports READ too
// and it stops at the barrier. Then the winner accepts and serves the
// request (Connection: close, so that the server ends the connection
// whenever the client's reads happen), settles and waits at its gate; then
// the loser goes on, its accept() finds nothing and netutil.accept_handler
// says EWOULDBLOCK. At any time at most one task runs, and every step of a
// task happens after the parent's command that allowed it, which happens
// after the other task's report: the two traces' times never overlap, so
// merging them by time gives the same order on every run.
//
// The pipes are one socketpair per task (send with MSG_NOSIGNAL: a task
// that died is an error to report, not a SIGPIPE that kills the parent).
#include "scenario_multiprocess.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/demo_app.h"
#include "tornado/walkthrough/diagram.h"

namespace tornado::walkthrough::detail {

namespace {

constexpr int kTasks = 2;
// How long a task may take to reach the next step the parent waits for.
constexpr int kStepTimeoutMs = 5000;

// Parent -> task.
constexpr char kPoll = 'p';  // leave the gate: the loop polls the socket again
constexpr char kGo = 'g';    // pass the barrier: accept
constexpr char kExit = 'x';  // write the trace and exit
// Task -> parent.
constexpr char kReady = 'r';    // waiting at the gate
constexpr char kBarrier = 'b';  // holding at the beginning of netutil.accept_handler

const char* const kRequest = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

// CLOCK_MONOTONIC is one clock for every process of the machine: the
// tasks' times compare without knowing each hub's origin.
std::int64_t monotonic_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

void write_byte(int fd, char c) {
    ssize_t n;
    do {
        n = ::send(fd, &c, 1, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        throw std::runtime_error(std::string("multiprocess: a task's channel is closed: ") +
                                 std::strerror(errno));
    }
}

// --- a task (a forked child) ---------------------------------------------------

// The child's side: serves on the inherited socket, obeying the parent.
// Returns the exit status.
int serve_task(int listen_fd, int channel, const std::string& trace_path) {
    trace::reset();  // seq, object ids and conn ids count from 1; our pid
    auto read_command = [channel]() {
        char c = 0;
        ssize_t n;
        do {
            n = ::read(channel, &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            std::_Exit(3);  // the parent is gone: nothing to report to
        }
        return c;
    };
    std::vector<trace::Event> events;
    ioloop::IOLoop loop;
    {
        httpserver::HTTPServer server(make_demo_app({.static_path = "", .log_requests = false}),
                                      demo_server_settings(), &loop);
        server.add_sockets({listen_fd});

        // Waits at the gate until the parent says poll (or exit).
        std::function<void()> gate = [&] {
            write_byte(channel, kReady);
            if (read_command() == kExit) {
                loop.stop();
            }
        };
        // After a READ on the socket: once the connection it accepted (if
        // any) is closed and the callbacks its close queued have run, back
        // to the gate. Callbacks emit no events, so the trace does not show
        // this waiting.
        std::function<void(int)> settle = [&](int idle_iterations) {
            if (server.connection_count() > 0) {
                idle_iterations = 0;
            } else if (idle_iterations >= 3) {
                gate();
                return;
            }
            loop.add_callback([&settle, idle_iterations] { settle(idle_iterations + 1); });
        };
        // Called with the hub's lock held, on the loop's thread: it may block,
        // but must not emit.
        auto recorder = std::make_shared<trace::SubscriberSink>([&](const trace::Event& e) {
            trace::Event copy = e;
            copy.t_us = monotonic_us();
            events.push_back(std::move(copy));
            if (e.step == "netutil.accept_handler" && e.ph == trace::Phase::Begin) {
                write_byte(channel, kBarrier);
                read_command();  // kGo
                loop.add_callback([&settle] { settle(0); });
            }
        });
        trace::add_sink(recorder);
        trace::enable(true);
        loop.add_callback(gate);
        loop.start();
        trace::enable(false);
        trace::remove_sink(recorder);
    }
    std::ofstream out(trace_path, std::ios::binary | std::ios::trunc);
    for (const trace::Event& e : events) {
        out << trace::to_json(e) << "\n";
    }
    out.close();
    return out ? 0 : 4;
}

// --- the parent ------------------------------------------------------------------

struct Task {
    int id = 0;
    pid_t pid = -1;
    int channel = -1;  // the parent's end of the task's socketpair
    std::string trace_path;
};

// The forked tasks. Whatever happens in the parent (a timeout, an exception
// of the client), the destructor kills by pid every task not yet reaped, so
// that no child outlives the scenario.
class Tasks {
  public:
    Tasks() = default;
    Tasks(const Tasks&) = delete;
    Tasks& operator=(const Tasks&) = delete;
    ~Tasks() {
        for (Task& t : tasks_) {
            if (t.pid > 0) {
                ::kill(t.pid, SIGKILL);
                while (::waitpid(t.pid, nullptr, 0) < 0 && errno == EINTR) {
                }
            }
            close_fd(t.channel);
            if (!t.trace_path.empty()) {
                std::error_code ignored;
                std::filesystem::remove(t.trace_path, ignored);
            }
        }
    }

    // Forks task `tasks_.size()` serving on `listen_fd`.
    // Tornado: tornado/process.py:100 fork_processes (the fork of each child;
    // the child's task id is its index, as process.task_id() returns).
    void fork_task(int listen_fd) {
        Task t;
        t.id = static_cast<int>(tasks_.size());
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tornado-walk-task.XXXXXX").string();
        int file = ::mkstemp(pattern.data());
        if (file < 0) {
            throw std::runtime_error("multiprocess: cannot create a temporary trace file");
        }
        ::close(file);
        t.trace_path = pattern;
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
            throw std::runtime_error("multiprocess: socketpair failed");
        }
        const pid_t parent = ::getpid();
        std::fflush(nullptr);  // no buffered output written twice
        pid_t pid = ::fork();
        if (pid < 0) {
            ::close(pair[0]);
            ::close(pair[1]);
            throw std::runtime_error("multiprocess: fork failed");
        }
        if (pid == 0) {
            // The child: dies with the parent, keeps only its own channel.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) {
                std::_Exit(3);
            }
            for (const Task& other : tasks_) {
                ::close(other.channel);
            }
            ::close(pair[0]);
            int status = 1;
            try {
                status = serve_task(listen_fd, pair[1], t.trace_path);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "multiprocess task %d: %s\n", t.id, e.what());
            }
            // Not exit(): the parent's atexit handlers and buffers are not ours.
            std::_Exit(status);
        }
        ::close(pair[1]);
        t.pid = pid;
        t.channel = pair[0];
        tasks_.push_back(std::move(t));
    }

    Task& operator[](int i) { return tasks_.at(static_cast<std::size_t>(i)); }

    // Waits for task `i` to report `expected` (at `what`); throws on a
    // timeout, a task that exited, or another report.
    void expect(int i, char expected, const char* what) {
        Task& t = (*this)[i];
        pollfd p{t.channel, POLLIN, 0};
        int rc;
        do {
            rc = ::poll(&p, 1, kStepTimeoutMs);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            throw std::runtime_error("multiprocess: task " + std::to_string(t.id) + " (pid " +
                                     std::to_string(t.pid) + ") did not reach " + what +
                                     " within " + std::to_string(kStepTimeoutMs / 1000) + " s");
        }
        char c = 0;
        ssize_t n;
        do {
            n = ::read(t.channel, &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            throw std::runtime_error("multiprocess: task " + std::to_string(t.id) +
                                     " exited before " + what);
        }
        if (c != expected) {
            throw std::runtime_error("multiprocess: task " + std::to_string(t.id) +
                                     " reported '" + std::string(1, c) + "' instead of " + what);
        }
    }

    void send(int i, char command) { write_byte((*this)[i].channel, command); }

    // Tells every task to exit, reaps it and reads its trace.
    std::vector<std::vector<trace::Event>> finish() {
        for (Task& t : tasks_) {
            write_byte(t.channel, kExit);
        }
        std::vector<std::vector<trace::Event>> traces;
        for (Task& t : tasks_) {
            // The channel closes when the task exits.
            pollfd p{t.channel, POLLIN, 0};
            int rc;
            do {
                rc = ::poll(&p, 1, kStepTimeoutMs);
            } while (rc < 0 && errno == EINTR);
            char c;
            if (rc == 0 || ::read(t.channel, &c, 1) != 0) {
                throw std::runtime_error("multiprocess: task " + std::to_string(t.id) +
                                         " did not exit");
            }
            int status = 0;
            while (::waitpid(t.pid, &status, 0) < 0 && errno == EINTR) {
            }
            t.pid = -1;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                throw std::runtime_error("multiprocess: task " + std::to_string(t.id) +
                                         " failed (status " + std::to_string(status) + ")");
            }
            std::ifstream in(t.trace_path, std::ios::binary);
            traces.push_back(read_jsonl(in));
        }
        return traces;
    }

  private:
    static void close_fd(int& fd) {
        if (fd >= 0) {
            ::close(fd);
            fd = -1;
        }
    }

    std::vector<Task> tasks_;
};

// The scenario's client: a plain blocking socket in the parent, untraced
// (the trace is the servers').
class BlockingClient {
  public:
    explicit BlockingClient(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::runtime_error("multiprocess: socket failed");
        }
        timeval limit{kStepTimeoutMs / 1000, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
            int err = errno;
            ::close(fd_);
            throw std::runtime_error(std::string("multiprocess: connect failed: ") +
                                     std::strerror(err));
        }
    }
    ~BlockingClient() { ::close(fd_); }
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    void send_all(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                throw std::runtime_error("multiprocess: send failed");
            }
            done += static_cast<std::size_t>(n);
        }
    }

    std::string read_until_close() {
        std::string out;
        char buf[4096];
        while (true) {
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                throw std::runtime_error("multiprocess: no answer from the server within " +
                                         std::to_string(kStepTimeoutMs / 1000) + " s");
            }
            if (n == 0) {
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

  private:
    int fd_ = -1;
};

// The tasks' events in one list, by time; seq renumbered from 1 and span
// ids and parents with it, so that they stay unique; t_us from `origin`.
std::vector<trace::Event> merge(std::vector<std::vector<trace::Event>> traces,
                                std::int64_t origin) {
    struct Ref {
        std::int64_t t;
        std::size_t task;
        std::size_t index;
    };
    std::vector<Ref> order;
    for (std::size_t task = 0; task < traces.size(); ++task) {
        for (std::size_t i = 0; i < traces[task].size(); ++i) {
            order.push_back({traces[task][i].t_us, task, i});
        }
    }
    std::stable_sort(order.begin(), order.end(), [](const Ref& a, const Ref& b) {
        return a.t != b.t ? a.t < b.t : a.task < b.task;
    });
    std::vector<std::map<std::uint64_t, std::uint64_t>> renumber(traces.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
        renumber[order[k].task][traces[order[k].task][order[k].index].seq] = k + 1;
    }
    auto mapped = [&](std::size_t task, std::uint64_t seq) -> std::uint64_t {
        auto it = renumber[task].find(seq);
        return seq == 0 || it == renumber[task].end() ? 0 : it->second;
    };
    std::vector<trace::Event> merged;
    merged.reserve(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
        trace::Event e = std::move(traces[order[k].task][order[k].index]);
        e.seq = k + 1;
        e.id = mapped(order[k].task, e.id);
        e.parent = mapped(order[k].task, e.parent);
        e.t_us -= origin;
        merged.push_back(std::move(e));
    }
    return merged;
}

}  // namespace

ScenarioResult run_multiprocess() {
    // Tornado: tornado/tcpserver.py:166 TCPServer.bind, then start(2): bind once,
    // fork, every child adds the inherited socket to its own IOLoop.
    std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
    int listen_fd = sockets.front();
    int port = netutil::bound_port(listen_fd);
    std::int64_t origin = monotonic_us();
    ScenarioResult result;
    std::vector<std::vector<trace::Event>> traces;
    {
        Tasks tasks;
        try {
            for (int i = 0; i < kTasks; ++i) {
                tasks.fork_task(listen_fd);
            }
        } catch (...) {
            for (int fd : sockets) {
                ::close(fd);
            }
            throw;
        }
        for (int fd : sockets) {
            ::close(fd);  // the parent only plays the client
        }
        for (int i = 0; i < kTasks; ++i) {
            tasks.expect(i, kReady, "its IOLoop");
        }
        for (int round = 0; round < kTasks; ++round) {
            const int winner = round;
            const int loser = 1 - round;
            tasks.send(winner, kPoll);
            BlockingClient client(port);
            // In the socket before anyone accepts: the winner reads it inline.
            client.send_all(kRequest);
            tasks.expect(winner, kBarrier, "netutil.accept_handler");
            // The connection is still queued: the loser's poll reports READ too.
            tasks.send(loser, kPoll);
            tasks.expect(loser, kBarrier, "netutil.accept_handler");
            tasks.send(winner, kGo);
            result.response += client.read_until_close();
            tasks.expect(winner, kReady, "the end of its connection");
            tasks.send(loser, kGo);
            tasks.expect(loser, kReady, "the end of its accept_handler");
        }
        traces = tasks.finish();
    }
    result.events = merge(std::move(traces), origin);
    return result;
}

}  // namespace tornado::walkthrough::detail
