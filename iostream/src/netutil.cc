#include "tornado/netutil.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "tornado/log.h"

namespace tornado::netutil {

namespace {

constexpr trace::Module kTraceModule{"iostream", "tornado/netutil.py"};

// Module-level functions have no object; their events carry only the step.
trace::Context trace_context() {
    return {};
}

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

std::string Address::host() const {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (family() == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
        ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    } else if (family() == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
        ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    } else if (family() == AF_UNIX) {
        // Python's AF_UNIX address: the path (unnamed: empty; an abstract
        // name keeps its leading NUL, as Python's bytes do).
        const auto* a = reinterpret_cast<const sockaddr_un*>(&storage);
        std::size_t offset = offsetof(sockaddr_un, sun_path);
        if (length <= offset) {
            return "";
        }
        std::size_t n = std::min<std::size_t>(length - offset, sizeof a->sun_path);
        if (n > 0 && a->sun_path[0] != '\0') {
            n = ::strnlen(a->sun_path, n);
        }
        return std::string(a->sun_path, n);
    }
    return buf;
}

int Address::port() const {
    if (family() == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    }
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

// Tornado: tornado/netutil.py:114 bind_sockets
std::vector<int> bind_sockets(int port, const std::string& address, int family, int backlog,
                              bool reuse_port) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* results = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints,
                           &results);
    if (rc != 0) {
        throw std::runtime_error("getaddrinfo(" + address + "): " + ::gai_strerror(rc));
    }
    std::vector<int> sockets;
    int bound_port_number = 0;
    try {
        std::vector<std::string> seen;
        for (addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
            // Tornado binds each distinct address once (duplicate /etc/hosts
            // entries would otherwise fail with EADDRINUSE).
            std::string key(reinterpret_cast<const char*>(ai->ai_addr), ai->ai_addrlen);
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
                continue;
            }
            seen.push_back(key);
            int sock = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                ai->ai_protocol);
            if (sock < 0) {
                if (errno == EAFNOSUPPORT) {
                    continue;  // e.g. IPv6 disabled
                }
                throw_errno(errno, "socket");
            }
            sockets.push_back(sock);
            int one = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (reuse_port && ::setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
                throw_errno(errno, "SO_REUSEPORT");
            }
            if (ai->ai_family == AF_INET6) {
                // One socket per family: keep the v6 one off the v4 addresses.
                ::setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            }
            sockaddr_storage addr{};
            std::memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
            // With port 0, every family gets the port the first one was given.
            if (port == 0 && bound_port_number != 0) {
                if (ai->ai_family == AF_INET) {
                    reinterpret_cast<sockaddr_in*>(&addr)->sin_port =
                        htons(static_cast<std::uint16_t>(bound_port_number));
                } else if (ai->ai_family == AF_INET6) {
                    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port =
                        htons(static_cast<std::uint16_t>(bound_port_number));
                }
            }
            if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), ai->ai_addrlen) < 0) {
                if (errno == EADDRNOTAVAIL && address == "localhost" && ai->ai_family == AF_INET6) {
                    // Tornado 6.2: "localhost" may resolve to ::1 where IPv6
                    // is off (containers); the IPv4 socket is enough.
                    sockets.pop_back();
                    ::close(sock);
                    continue;
                }
                throw_errno(errno, "bind " + (address.empty() ? std::string("*") : address) + ":" +
                                       std::to_string(port));
            }
            bound_port_number = bound_port(sock);
            if (::listen(sock, backlog) < 0) {
                throw_errno(errno, "listen");
            }
        }
    } catch (...) {
        for (int s : sockets) {
            ::close(s);
        }
        ::freeaddrinfo(results);
        throw;
    }
    ::freeaddrinfo(results);
    return sockets;
}

// ---- Unix sockets (tornado issue 8) ----

// Tornado: tornado/netutil.py:205 bind_unix_socket
// C++: returns the fd; the "not a socket" refusal is std::invalid_argument
// (Tornado's ValueError), and a path too long for sun_path is ENAMETOOLONG.
int bind_unix_socket(const std::string& path, mode_t mode, int backlog) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
        throw_errno(ENAMETOOLONG, "bind_unix_socket " + path);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        throw_errno(errno, "socket");
    }
    try {
        int one = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            // A server that died leaves its socket file behind, and bind
            // would fail on it; anything else at the path is not ours.
            if (!S_ISSOCK(st.st_mode)) {
                throw std::invalid_argument("File " + path + " exists and is not a socket");
            }
            if (::unlink(path.c_str()) < 0) {
                throw_errno(errno, "remove " + path);
            }
        } else if (errno != ENOENT) {
            throw_errno(errno, "stat " + path);
        }
        if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
            throw_errno(errno, "bind " + path);
        }
        if (::chmod(path.c_str(), mode) < 0) {
            throw_errno(errno, "chmod " + path);
        }
        if (::listen(sock, backlog) < 0) {
            throw_errno(errno, "listen");
        }
    } catch (...) {
        ::close(sock);
        throw;
    }
    return sock;
}

// ---- end of Unix sockets ----

namespace {

// What one add_accept_handler call shares between its fd handler, its
// back-off timeout and the function that removes it.
struct AcceptState {
    int sock;
    AcceptCallback callback;
    ioloop::IOLoop* io_loop;
    bool removed = false;
    // C++: while backing off the socket is unwatched and `resume` is pending.
    ioloop::Timeout resume;
    double backoff = 0;
};

// C++: out of descriptors (or kernel memory), accept fails at once at every
// READ while the connection stays queued. Tornado lets the loop log and retry,
// which spins; as nginx does, stop watching the socket for a while instead.
bool out_of_resources(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void watch(const std::shared_ptr<AcceptState>& state);

void back_off(const std::shared_ptr<AcceptState>& state, int err) {
    state->backoff = state->backoff == 0 ? detail::ACCEPT_BACKOFF_MIN
                                         : std::min(state->backoff * 2, detail::ACCEPT_BACKOFF_MAX);
    log::gen_log.error("accept on fd {}: {}; not accepting for {} ms", state->sock,
                       std::strerror(err), static_cast<int>(state->backoff * 1000 + 0.5));
    state->io_loop->remove_handler(state->sock);
    state->resume = state->io_loop->call_later(
        state->backoff,
        [state] {
            state->resume = ioloop::Timeout();
            if (!state->removed) {
                watch(state);
            }
        },
        "netutil.accept_backoff");
}

// Tornado: tornado/netutil.py:250 netutil.accept_handler (add_accept_handler's inner function)
void accept_handler(const std::shared_ptr<AcceptState>& state, int fd, std::uint32_t events) {
    TRACE_SPAN("netutil.accept_handler", {"fd", fd}, {"events", events});
    // Accept at most a backlog's worth per event, so that a flood of
    // connections cannot starve the rest of the loop.
    for (int i = 0; i < detail::DEFAULT_BACKLOG && !state->removed; ++i) {
        Address address;
        address.length = sizeof address.storage;
        int connection = ::accept4(state->sock, reinterpret_cast<sockaddr*>(&address.storage),
                                   &address.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (connection < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                if (i == 0) {
                    // Another process sharing the socket took the connection
                    // this READ announced (the multiprocess story).
                    TRACE_EVENT("netutil.accept_handler", {"accept", "EWOULDBLOCK"});
                }
                return;
            }
            if (err == ECONNABORTED || err == EINTR) {
                // The client gave up while it waited in the backlog.
                continue;
            }
            if (out_of_resources(err)) {
                back_off(state, err);
                return;
            }
            // Anything else: Tornado raises (and the loop logs it).
            throw_errno(err, "accept");
        }
        state->backoff = 0;
        state->callback(connection, address);
    }
}

void watch(const std::shared_ptr<AcceptState>& state) {
    state->io_loop->add_handler(
        state->sock, [state](int fd, std::uint32_t events) { accept_handler(state, fd, events); },
        ioloop::IOLoop::READ);
}

}  // namespace

// Tornado: tornado/netutil.py:235 add_accept_handler
std::function<void()> add_accept_handler(int sock, AcceptCallback callback,
                                         ioloop::IOLoop* io_loop) {
    if (io_loop == nullptr) {
        io_loop = ioloop::IOLoop::current();
    }
    auto state = std::make_shared<AcceptState>();
    state->sock = sock;
    state->callback = std::move(callback);
    state->io_loop = io_loop;
    watch(state);
    // Tornado 5.0 returns this remove_handler too (TCPServer.stop calls it);
    // here it also cancels a pending back-off.
    return [state] {
        if (state->removed) {
            return;
        }
        state->removed = true;
        if (state->resume) {
            state->io_loop->remove_timeout(state->resume);
            state->resume = ioloop::Timeout();
        } else {
            state->io_loop->remove_handler(state->sock);
        }
    };
}

// Tornado: tornado/netutil.py:281 is_valid_ip
bool is_valid_ip(const std::string& ip) {
    if (ip.empty() || ip.find('\0') != std::string::npos) {
        return false;
    }
    // Tornado asks getaddrinfo(AI_NUMERICHOST) every time; an address in
    // the plain dotted or colon form (what the xheaders of every proxied
    // request carry) is valid without the lookup's allocation, and anything
    // else ("127.1", "fe80::1%lo") still gets getaddrinfo's answer.
    in6_addr parsed{};
    if (::inet_pton(AF_INET, ip.c_str(), &parsed) == 1 ||
        ::inet_pton(AF_INET6, ip.c_str(), &parsed) == 1) {
        return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(ip.c_str(), "0", &hints, &res);
    if (res != nullptr) {
        ::freeaddrinfo(res);
    }
    return rc == 0;
}

int bound_port(int sock) {
    Address a;
    a.length = sizeof a.storage;
    if (::getsockname(sock, reinterpret_cast<sockaddr*>(&a.storage), &a.length) < 0) {
        return 0;
    }
    return a.port();
}


// ---------------------------------------------------------------------------
// Resolver

namespace {

std::mutex g_resolver_mutex;
std::shared_ptr<Resolver> g_resolver;

}  // namespace

std::shared_ptr<Resolver> Resolver::configured() {
    std::lock_guard<std::mutex> lock(g_resolver_mutex);
    if (!g_resolver) {
        g_resolver = std::make_shared<ThreadedResolver>();
    }
    return g_resolver;
}

void Resolver::configure(std::shared_ptr<Resolver> resolver) {
    std::lock_guard<std::mutex> lock(g_resolver_mutex);
    g_resolver = std::move(resolver);
}

// Tornado 6.2: tornado/netutil.py _resolve_addr (4.5.2: the body of ExecutorResolver.resolve)
Resolver::Result resolve_addr(const std::string& host, int port, int family) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
    if (rc != 0) {
        // Python's gaierror carries strerror's text for EAI_SYSTEM.
        std::string text = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        throw GAIError(rc, text);
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    Resolver::Result results;
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        Address address;
        std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
        address.length = ai->ai_addrlen;
        results.emplace_back(ai->ai_family, address);
    }
    return results;
}

// Tornado: tornado/netutil.py:385 ExecutorResolver.resolve (BlockingResolver's: on the
// dummy_executor, so it runs in the caller)
Future<Resolver::Result> BlockingResolver::resolve(const std::string& host, int port,
                                                   int family) {
    try {
        return Future<Result>::ready(resolve_addr(host, port, family));
    } catch (...) {
        return Future<Result>::failed(std::current_exception());
    }
}

// Tornado: tornado/netutil.py:427 ThreadedResolver.initialize
ThreadedResolver::ThreadedResolver(std::size_t num_threads)
    : num_threads_(std::max<std::size_t>(num_threads, 1)) {}

ThreadedResolver::~ThreadedResolver() { close(); }

// Tornado: tornado/netutil.py:385 ExecutorResolver.resolve
// C++: a queue and worker threads instead of a concurrent.futures executor;
// the result comes back through IOLoop::add_callback, the one IOLoop call
// that is safe from another thread.
Future<Resolver::Result> ThreadedResolver::resolve(const std::string& host, int port,
                                                   int family) {
    Future<Result> future = Future<Result>::make();
    future.set_origin("ThreadedResolver.resolve");
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) {
        future.set_exception(std::make_exception_ptr(std::runtime_error("Resolver is closed")));
        return future;
    }
    jobs_.push_back(Job{host, port, family, ioloop::IOLoop::current(), future});
    // A new thread only when none is idle: a slow lookup (a DNS timeout
    // takes seconds) must not hold up the others.
    if (idle_ == 0 && threads_.size() < num_threads_) {
        threads_.emplace_back([this] { _worker(); });
    }
    wake_.notify_one();
    return future;
}

// Tornado: tornado/netutil.py:379 ExecutorResolver.close
void ThreadedResolver::close() {
    std::vector<std::thread> threads;
    std::deque<Job> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        closing_ = true;
        threads.swap(threads_);
        dropped.swap(jobs_);
    }
    wake_.notify_all();
    for (std::thread& t : threads) {
        t.join();
    }
    // Queued lookups that never started: their Futures are simply dropped
    // (the loop that made them may be gone).
}

ThreadedResolver::Result ThreadedResolver::_resolve_blocking(const std::string& host, int port,
                                                             int family) {
    return resolve_addr(host, port, family);
}

void ThreadedResolver::_worker() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        ++idle_;
        wake_.wait(lock, [this] { return closing_ || !jobs_.empty(); });
        --idle_;
        if (closing_) {
            return;
        }
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        std::exception_ptr error;
        Result result;
        try {
            result = _resolve_blocking(job.host, job.port, job.family);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        if (closing_) {
            // close() is waiting: the loop may be going away, post nothing.
            lock.unlock();
            job.future = Future<Result>();
            return;
        }
        // The exception is moved, not copied: a copy left here would be
        // released on this thread after the loop's last use, and that
        // release (an atomic in the uninstrumented libstdc++) is invisible
        // to ThreadSanitizer, which then reports the delete as a race.
        job.loop->add_callback(
            [future = std::move(job.future), result = std::move(result),
             error = std::move(error)]() mutable {
                if (error) {
                    future.set_exception(error);
                } else {
                    future.set_result(std::move(result));
                }
            });
    }
}

}  // namespace tornado::netutil
