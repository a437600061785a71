// tornado.netutil: listening sockets and the accept handler.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace tornado::netutil {

namespace detail {
// Tornado: tornado/netutil.py:111 _DEFAULT_BACKLOG
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


// ---------------------------------------------------------------------------
// Resolver: host names to addresses without blocking the IOLoop.

// Tornado: socket.gaierror (raised by getaddrinfo)
/// A failed name lookup: `code()` is the EAI_* value, what() gai_strerror's
/// text (strerror's for EAI_SYSTEM).
class GAIError : public std::runtime_error {
  public:
    GAIError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

  private:
    int code_;
};

// Tornado: tornado/netutil.py:302 Resolver
/// Resolves host names; Tornado's Configurable becomes configure() and
/// configured(), the process-wide resolver IOStream::connect uses.
class Resolver {
  public:
    /// (family, address) pairs in getaddrinfo's order.
    using Result = std::vector<std::pair<int, Address>>;

    virtual ~Resolver() = default;

    /// Resolves `host` and `port` to the addresses of SOCK_STREAM sockets
    /// for `family` (AF_UNSPEC: any). Call on the thread of the IOLoop the
    /// Future belongs to. Fails with GAIError.
    virtual Future<Result> resolve(const std::string& host, int port, int family = AF_UNSPEC) = 0;
    /// Releases the resources (threads) of the resolver.
    virtual void close() {}

    /// The resolver to use when none is given: a ThreadedResolver unless
    /// configure() chose another. C++: Tornado 4.5.2's default is the
    /// BlockingResolver, which stalls the loop for the whole DNS round
    /// trip; here a lookup must never block the loop, hence threads.
    static std::shared_ptr<Resolver> configured();
    /// Replaces the default resolver (null: back to a ThreadedResolver).
    static void configure(std::shared_ptr<Resolver> resolver);
};

// Tornado 6.2: tornado/netutil.py _resolve_addr
/// getaddrinfo(host, port, family, SOCK_STREAM) as a list; throws GAIError.
/// Blocks for the whole lookup.
Resolver::Result resolve_addr(const std::string& host, int port, int family = AF_UNSPEC);

// Tornado: tornado/netutil.py:398 BlockingResolver
/// Resolves on the calling thread (blocking the IOLoop); the Future is done
/// when resolve returns.
class BlockingResolver : public Resolver {
  public:
    Future<Result> resolve(const std::string& host, int port, int family = AF_UNSPEC) override;
};

// Tornado: tornado/netutil.py:408 ThreadedResolver
/// Runs getaddrinfo on a pool of `num_threads` worker threads (started on
/// the first lookup) and completes the Future on the calling IOLoop via
/// add_callback. C++: the pool belongs to the instance (Tornado shares one
/// per process); close() and the destructor wait for lookups in flight and
/// drop their results. An IOLoop must outlive the lookups it started, or
/// the resolver must be closed before the loop goes (getaddrinfo cannot be
/// cancelled, and its result is posted to the loop).
class ThreadedResolver : public Resolver {
  public:
    explicit ThreadedResolver(std::size_t num_threads = 4);
    ~ThreadedResolver() override;
    ThreadedResolver(const ThreadedResolver&) = delete;
    ThreadedResolver& operator=(const ThreadedResolver&) = delete;

    Future<Result> resolve(const std::string& host, int port, int family = AF_UNSPEC) override;
    void close() override;

  protected:
    /// The blocking lookup, run on a worker thread (resolve_addr); tests
    /// override it to observe the thread or to fail.
    virtual Result _resolve_blocking(const std::string& host, int port, int family);

  private:
    struct Job {
        std::string host;
        int port;
        int family;
        ioloop::IOLoop* loop;
        Future<Result> future;  // touched only on `loop`'s thread
    };
    void _worker();

    std::size_t num_threads_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::vector<std::thread> threads_;
    std::size_t idle_ = 0;  // workers waiting for a job
    bool closing_ = false;
};
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

// Tornado: tornado/netutil.py:476 ssl_options_to_context
/// Builds a context usable on either side: certificate chain and key,
/// verification mode and CAs, ciphers; TLS compression off. Throws
/// std::invalid_argument naming the file and OpenSSL's reason when a file
/// cannot be loaded or the key does not match the certificate.
std::shared_ptr<const SSLContext> ssl_options_to_context(const SSLOptions& options);

// Tornado: tornado/netutil.py:509 ssl_wrap_socket
/// A new OpenSSL connection over the connected socket `fd` (which stays the
/// caller's), in accept or connect state, sending `server_hostname` as SNI
/// unless it is empty or an IP address. Its I/O sends with MSG_NOSIGNAL, so
/// a vanished peer gives EPIPE and never SIGPIPE. The caller SSL_free()s it.
ssl_st* ssl_wrap_socket(int fd, const SSLContext& context, bool server_side,
                        const std::string& server_hostname = "");

// Tornado: tornado/netutil.py:65 _client_ssl_defaults (ssl.create_default_context())
/// The client's default: verify the server against the system CAs and
/// check its host name. One shared instance.
std::shared_ptr<const SSLContext> client_ssl_defaults();

}  // namespace tornado::netutil
