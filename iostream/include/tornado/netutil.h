// tornado.netutil: listening sockets and the accept handler.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "tornado/ioloop.h"

namespace tornado::netutil {

namespace detail {
// Tornado: tornado/netutil.py _DEFAULT_BACKLOG
inline constexpr int DEFAULT_BACKLOG = 128;
// C++: how long accept pauses when the process is out of descriptors (the
// first pause, doubled at each failure in a row up to the second).
inline constexpr double ACCEPT_BACKOFF_MIN = 0.1;
inline constexpr double ACCEPT_BACKOFF_MAX = 1.0;
}  // namespace detail

/// A socket address (Python's address tuple).
struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    /// The numeric host ("127.0.0.1", "::1"); for a Unix socket its path
    /// (Python's address for AF_UNIX), empty for an unnamed one (a client
    /// that did not bind, as every accepted connection's peer).
    std::string host() const;
    int port() const;
};

/// Creates non-blocking listening sockets for `address` (all interfaces
/// when empty) and `port` (0: a free port, the same one for every family).
/// Each has SO_REUSEADDR (and SO_REUSEPORT when `reuse_port`), IPV6_V6ONLY on
/// IPv6, and close-on-exec. Throws std::system_error when binding fails.
std::vector<int> bind_sockets(int port, const std::string& address = "", int family = AF_UNSPEC,
                              int backlog = detail::DEFAULT_BACKLOG, bool reuse_port = false);

// ---- Unix sockets (tornado issue 8) ----

/// Creates a non-blocking, close-on-exec listening Unix socket at `path`
/// with SO_REUSEADDR, and chmods the file to `mode`. A socket file already
/// at `path` (left by a server that died) is removed first; any other kind
/// of file there is refused with std::invalid_argument. Returns one fd, not
/// a list as bind_sockets does. Throws std::system_error when binding fails.
int bind_unix_socket(const std::string& path, mode_t mode = 0600,
                     int backlog = detail::DEFAULT_BACKLOG);

// ---- end of Unix sockets ----

/// Called with each accepted (non-blocking, close-on-exec) connection, which
/// it then owns.
using AcceptCallback = std::function<void(int connection, const Address& address)>;

/// Watches `sock` for READ; each event accepts up to 128 connections,
/// stopping early at EWOULDBLOCK and skipping ECONNABORTED. When accept fails
/// for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), it
/// logs one line, stops watching `sock` for ACCEPT_BACKOFF_MIN seconds
/// (doubled at each failure in a row, up to ACCEPT_BACKOFF_MAX) and then
/// watches it again; connections already accepted are not affected.
/// Returns a function that stops accepting (removes the handler, or cancels
/// a pending back-off); call it, not IOLoop::remove_handler, before closing
/// `sock`. Calling it again does nothing.
std::function<void()> add_accept_handler(int sock, AcceptCallback callback,
                                         ioloop::IOLoop* io_loop = nullptr);

/// True for a numeric IPv4 or IPv6 address.
bool is_valid_ip(const std::string& ip);

/// The port a bound socket listens on.
int bound_port(int sock);

}  // namespace tornado::netutil
