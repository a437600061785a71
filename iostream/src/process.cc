#include "tornado/process.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>

#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/trace.h"

namespace tornado::process {

namespace {

constexpr trace::Module kTraceModule{"iostream", "tornado/process.py"};

// Module-level functions have no object; their events carry only the step.
trace::Context trace_context() {
    return {};
}

// Tornado: tornado/process.py:97 _task_id
std::optional<int> g_task_id;
bool g_forked = false;

// C++: besides Tornado's IOLoop.initialized() (and this thread's current
// loop), the kernel's view of this process: an epoll IOLoop owns an epoll
// instance, which a fork would share between the children (their
// registrations would mix); this also catches a loop made on another
// thread. Loops on the poll and select pollers hold no such descriptor.
bool epoll_instance_exists() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return false;
    }
    bool found = false;
    while (dirent* entry = ::readdir(dir)) {
        std::string link = std::string("/proc/self/fd/") + entry->d_name;
        char target[64] = {0};
        ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n > 0 && std::string(target, static_cast<std::size_t>(n)) == "anon_inode:[eventpoll]") {
            found = true;
            break;
        }
    }
    ::closedir(dir);
    return found;
}

}  // namespace

// Tornado: tornado/process.py:60 cpu_count
int cpu_count() {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) {
        n = ::sysconf(_SC_NPROCESSORS_CONF);
    }
    if (n < 1) {
        log::gen_log.error("Could not detect number of processors; assuming 1");
        return 1;
    }
    return static_cast<int>(n);
}

// Tornado: tornado/process.py:100 process.fork_processes
// C++: Tornado's parent sits in os.wait() with Python's default signal
// handling, so SIGTERM kills the parent alone and leaves the children
// serving, orphaned; SIGINT raises KeyboardInterrupt in the parent only
// (from a terminal the children get their own SIGINT). Here the parent
// waits with SIGCHLD, SIGTERM and SIGINT blocked and taken by sigwaitinfo:
// a SIGTERM or SIGINT is sent on to every child as SIGTERM, nothing is
// restarted after it, and the parent exits with status 0 once they are all
// reaped, so that stopping the parent (as a service manager does) stops the
// whole server. There is no random module to reseed (_reseed_random).
int fork_processes(int num_processes, int max_restarts) {
    if (g_forked) {
        throw std::runtime_error("fork_processes: already called in this process");
    }
    if (num_processes <= 0) {
        num_processes = cpu_count();
    }
    if (ioloop::IOLoop::initialized() || ioloop::IOLoop::current(false) != nullptr ||
        epoll_instance_exists()) {
        throw std::runtime_error(
            "Cannot run in multiple processes: IOLoop instance has already been initialized. "
            "You cannot call IOLoop::current() before calling fork_processes()");
    }
    g_forked = true;
    TRACE_EVENT("process.fork_processes", {"num_processes", num_processes});
    log::gen_log.info("Starting {} processes", num_processes);

    // Block the signals the parent waits for before the first fork, so that
    // none is lost between a fork and the wait; each child restores the
    // mask and dispositions it had.
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigset_t saved_mask;
    ::sigprocmask(SIG_BLOCK, &waited, &saved_mask);
    // An ignored SIGCHLD would make the kernel reap the children itself.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    struct sigaction saved_chld {};
    ::sigaction(SIGCHLD, &dfl, &saved_chld);

    std::map<pid_t, int> children;
    // Tornado: tornado/process.py:136 process.fork_processes.start_child
    // Returns true in the child.
    auto start_child = [&](int id) {
        std::fflush(nullptr);  // or the child would write the parent's buffered output again
        pid_t pid = ::fork();
        if (pid < 0) {
            throw std::system_error(errno, std::generic_category(), "fork");
        }
        if (pid == 0) {
            ::sigaction(SIGCHLD, &saved_chld, nullptr);
            ::sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
            g_task_id = id;
            return true;
        }
        children[pid] = id;
        return false;
    };
    for (int i = 0; i < num_processes; ++i) {
        if (start_child(i)) {
            return i;
        }
    }
    int num_restarts = 0;
    bool stopping = false;
    while (!children.empty()) {
        siginfo_t info{};
        if (::sigwaitinfo(&waited, &info) < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::generic_category(), "sigwaitinfo");
        }
        if (info.si_signo == SIGTERM || info.si_signo == SIGINT) {
            log::gen_log.info("received signal {}, stopping {} child processes", info.si_signo,
                              children.size());
            stopping = true;
            for (const auto& [pid, id] : children) {
                ::kill(pid, SIGTERM);
            }
            continue;
        }
        // SIGCHLD: several exits may have merged into one signal.
        while (!children.empty()) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid < 0 && errno == EINTR) {
                continue;
            }
            if (pid <= 0) {
                break;
            }
            auto it = children.find(pid);
            if (it == children.end()) {
                continue;
            }
            int id = it->second;
            children.erase(it);
            if (stopping) {
                // C++: after a stop signal nobody is restarted.
                log::gen_log.info("child {} (pid {}) stopped", id, pid);
                continue;
            }
            if (WIFSIGNALED(status)) {
                log::gen_log.warning("child {} (pid {}) killed by signal {}, restarting", id, pid,
                                     WTERMSIG(status));
            } else if (WEXITSTATUS(status) != 0) {
                log::gen_log.warning("child {} (pid {}) exited with status {}, restarting", id, pid,
                                     WEXITSTATUS(status));
            } else {
                log::gen_log.info("child {} (pid {}) exited normally", id, pid);
                continue;
            }
            TRACE_EVENT("process.fork_processes.start_child", {"task_id", id}, {"dead_pid", pid});
            ++num_restarts;
            if (num_restarts > max_restarts) {
                // As Tornado, the children still running are left alone.
                ::sigaction(SIGCHLD, &saved_chld, nullptr);
                ::sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
                throw std::runtime_error("Too many child restarts, giving up");
            }
            if (start_child(id)) {
                return id;
            }
        }
    }
    // Tornado: sys.exit(0) once every child is gone; static destructors
    // run and buffered output is written, as Python's exit does.
    std::exit(0);
}

// Tornado: tornado/process.py:185 task_id
std::optional<int> task_id() {
    return g_task_id;
}

}  // namespace tornado::process
