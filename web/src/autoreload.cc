#include "tornado/autoreload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado::autoreload {

namespace {

struct FileStamp {
    struct timespec mtime {};
    ino_t inode = 0;
    bool operator==(const FileStamp& o) const {
        return mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
               inode == o.inode;
    }
};

struct State {
    std::vector<std::string> watched_files;
    std::vector<std::function<void()>> reload_hooks;
    std::map<std::string, FileStamp> modify_times;
    std::map<ioloop::IOLoop*, std::unique_ptr<ioloop::PeriodicCallback>> io_loops;
    bool reload_attempted = false;
};

// Never destroyed: its PeriodicCallbacks belong to loops that live until
// the process ends or execs.
State& state() {
    static State* s = new State;
    return *s;
}

// The program and its arguments, as the kernel started it.
std::vector<std::string> own_command_line() {
    std::string all;
    int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            all.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fd);
    }
    std::vector<std::string> args;
    std::size_t start = 0;
    while (start < all.size()) {
        std::size_t end = all.find('\0', start);
        if (end == std::string::npos) {
            end = all.size();
        }
        args.push_back(all.substr(start, end - start));
        start = end + 1;
    }
    return args;
}

std::string own_executable() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Tornado: tornado/autoreload.py:202 _reload
void _reload() {
    State& s = state();
    s.reload_attempted = true;
    for (auto& hook : s.reload_hooks) {
        hook();
    }
    // Sockets are opened with close-on-exec, so the new process can bind the
    // same ports again.
    std::vector<std::string> args = own_command_line();
    std::string program = s.watched_files.empty() ? own_executable() : s.watched_files.front();
    std::vector<char*> argv;
    for (std::string& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    // Only reached when exec failed (e.g. the new file is not complete yet):
    // keep serving, and try again at the next change.
    log::gen_log.error("autoreload: cannot execute {}: {}", program, std::strerror(errno));
    s.reload_attempted = false;
}

// Tornado: tornado/autoreload.py:189 _check_file
void _check_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return;  // being replaced right now: look again next time
    }
    FileStamp now{st.st_mtim, st.st_ino};
    State& s = state();
    auto it = s.modify_times.find(path);
    if (it == s.modify_times.end()) {
        s.modify_times.emplace(path, now);
        return;
    }
    if (it->second == now) {
        return;
    }
    it->second = now;
    log::gen_log.info("{} modified; restarting server", path);
    _reload();
}

// Tornado: tornado/autoreload.py:163 _reload_on_update
void _reload_on_update() {
    State& s = state();
    if (s.reload_attempted) {
        // The hooks ran and exec failed; wait for the next change.
        return;
    }
    std::vector<std::string> files = s.watched_files;  // _reload may run hooks that watch more
    for (const std::string& path : files) {
        _check_file(path);
    }
}

}  // namespace

// Tornado: tornado/autoreload.py:114 start
void start(double check_time_ms) {
    State& s = state();
    ioloop::IOLoop* io_loop = ioloop::IOLoop::current();
    if (s.io_loops.contains(io_loop)) {
        return;
    }
    if (s.watched_files.empty()) {
        std::string exe = own_executable();
        if (!exe.empty()) {
            s.watched_files.push_back(exe);
        }
    }
    for (const std::string& path : s.watched_files) {
        _check_file(path);  // records the first stamps
    }
    auto scheduler =
        std::make_unique<ioloop::PeriodicCallback>(_reload_on_update, check_time_ms, io_loop);
    scheduler->start();
    s.io_loops.emplace(io_loop, std::move(scheduler));
}

// Tornado: tornado/autoreload.py:144 watch
void watch(const std::string& filename) {
    State& s = state();
    if (s.watched_files.empty()) {
        std::string exe = own_executable();
        if (!exe.empty()) {
            s.watched_files.push_back(exe);
        }
    }
    s.watched_files.push_back(filename);
    if (!s.io_loops.empty()) {
        _check_file(filename);
    }
}

// Tornado: tornado/autoreload.py:152 add_reload_hook
void add_reload_hook(std::function<void()> fn) {
    state().reload_hooks.push_back(std::move(fn));
}

}  // namespace tornado::autoreload
