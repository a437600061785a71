#include "tornado/netutil.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

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

// Tornado: tornado/netutil.py bind_sockets
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

// Tornado: tornado/netutil.py netutil.accept_handler
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

// Tornado: tornado/netutil.py add_accept_handler
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

// Tornado: tornado/netutil.py is_valid_ip
bool is_valid_ip(const std::string& ip) {
    if (ip.empty() || ip.find('\0') != std::string::npos) {
        return false;
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

}  // namespace tornado::netutil
