// tornado.netutil: listening sockets and the accept handler.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tornado/ioloop.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

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
    /// The numeric host ("127.0.0.1", "::1"); empty for Unix sockets.
    std::string host() const;
    int port() const;
};

/// Creates non-blocking listening sockets for `address` (all interfaces
/// when empty) and `port` (0: a free port, the same one for every family).
/// Each has SO_REUSEADDR (and SO_REUSEPORT when `reuse_port`), IPV6_V6ONLY on
/// IPv6, and close-on-exec. Throws std::system_error when binding fails.
std::vector<int> bind_sockets(int port, const std::string& address = "", int family = AF_UNSPEC,
                              int backlog = detail::DEFAULT_BACKLOG, bool reuse_port = false);

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

// ---------------------------------------------------------------------------
// TLS (iostream/src/netutil_ssl.cc)

// Tornado: ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED
enum class CertReqs { none, optional, required };

/// Tornado's `ssl_options` dictionary (the keys ssl_options_to_context
/// reads); empty strings are absent keys.
struct SSLOptions {
    std::string certfile;  // PEM certificate chain (the server's own)
    std::string keyfile;   // PEM private key; empty: inside certfile
    std::string ca_certs;  // PEM CAs to verify the peer against
    std::string ciphers;   // OpenSSL cipher list (TLS 1.2 and below)
    CertReqs cert_reqs = CertReqs::none;
    /// C++ only: the highest TLS version, "1.2" or "1.3" (empty: OpenSSL's
    /// default); Tornado passes `ssl_version` for the same purpose.
    std::string max_version;
};

// Tornado: ssl.SSLContext
/// Owns an OpenSSL SSL_CTX, shared by every stream made from it.
class SSLContext {
  public:
    /// Takes ownership of `ctx`.
    SSLContext(ssl_ctx_st* ctx, CertReqs verify_mode) : ctx_(ctx), verify_mode_(verify_mode) {}
    ~SSLContext();
    SSLContext(const SSLContext&) = delete;
    SSLContext& operator=(const SSLContext&) = delete;

    ssl_ctx_st* get() const { return ctx_; }
    CertReqs verify_mode() const { return verify_mode_; }

  private:
    ssl_ctx_st* ctx_;
    CertReqs verify_mode_;
};

// Tornado: tornado/netutil.py ssl_options_to_context
/// Builds a context usable on either side: certificate chain and key,
/// verification mode and CAs, ciphers; TLS compression off. Throws
/// std::invalid_argument naming the file and OpenSSL's reason when a file
/// cannot be loaded or the key does not match the certificate.
std::shared_ptr<const SSLContext> ssl_options_to_context(const SSLOptions& options);

// Tornado: tornado/netutil.py ssl_wrap_socket
/// A new OpenSSL connection over the connected socket `fd` (which stays the
/// caller's), in accept or connect state, sending `server_hostname` as SNI
/// unless it is empty or an IP address. Its I/O sends with MSG_NOSIGNAL, so
/// a vanished peer gives EPIPE and never SIGPIPE. The caller SSL_free()s it.
ssl_st* ssl_wrap_socket(int fd, const SSLContext& context, bool server_side,
                        const std::string& server_hostname = "");

// Tornado: tornado/iostream.py _client_ssl_defaults (ssl.create_default_context())
/// The client's default: verify the server against the system CAs and
/// check its host name. One shared instance.
std::shared_ptr<const SSLContext> client_ssl_defaults();

}  // namespace tornado::netutil
