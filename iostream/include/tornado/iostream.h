// tornado.iostream: buffered, non-blocking streams over a file descriptor.
//
// Every read and write returns a Future. Only one read may be pending at a
// time. A read is first tried "inline" from the buffer and the socket
// (_try_inline_read); only if that cannot satisfy it does the stream
// register READ with the IOLoop and finish the read later in _handle_read.
// The student's question "when is READ registered for a new connection?"
// is answered by that order.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tornado/callback.h"
#include "tornado/concurrent.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/re.h"
#include "tornado/trace.h"

// OpenSSL's connection type, and the context holder (tornado/netutil.h).
struct ssl_st;
namespace tornado::netutil {
class SSLContext;
}

namespace tornado::iostream {

using ioloop::IOLoop;

// Tornado: tornado/iostream.py:88 StreamClosedError
/// A read or write on a closed stream; `real_error` is what closed it.
class StreamClosedError : public std::runtime_error {
  public:
    explicit StreamClosedError(std::exception_ptr real_error = nullptr)
        : std::runtime_error(message(real_error)), real_error_(std::move(real_error)) {}
    const std::exception_ptr& real_error() const { return real_error_; }

  private:
    static std::string message(const std::exception_ptr& e);
    std::exception_ptr real_error_;
};

// Tornado: tornado/iostream.py:106 UnsatisfiableReadError
/// A read_until or read_until_regex whose delimiter did not appear within
/// max_bytes.
class UnsatisfiableReadError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Tornado: tornado/iostream.py:115 StreamBufferFullError
class StreamBufferFullError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

namespace detail {

// C++ only: the read buffer, one contiguous block with a read offset, so
// that consuming a message copies it once and never shifts the rest.
class ReadBuffer {
  public:
    std::size_t size() const { return end_ - begin_; }
    std::string_view view() const { return {data_.get() + begin_, size()}; }
    std::size_t free_space() const { return capacity_ - end_; }
    /// Room for `n` more bytes at the end; returns where to write them.
    char* prepare(std::size_t n);
    void commit(std::size_t n) { end_ += n; }
    void append(const char* data, std::size_t n);
    /// Removes and returns the first `n` bytes.
    std::string consume(std::size_t n);
    void release();

  private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

// C++ only: a first-in first-out queue on a vector, for the write Futures
// (Tornado: a collections.deque). std::deque would do, but libstdc++'s
// allocates about 580 bytes as soon as it is made, and every idle
// connection holds one (issue 9: memory per idle connection).
template <class T>
class FifoQueue {
  public:
    bool empty() const { return head_ == items_.size(); }
    T& front() { return items_[head_]; }
    void push_back(T item) { items_.push_back(std::move(item)); }
    void pop_front() {
        items_[head_] = T();
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
            // Never empty for long (a write always outstanding): drop the
            // taken slots now and then, amortised O(1).
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

  private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace detail

// Tornado: tornado/iostream.py:120 BaseIOStream
/// The buffering and event logic shared by every stream; subclasses supply
/// the fd and the raw reads and writes.
class BaseIOStream : public std::enable_shared_from_this<BaseIOStream>, public trace::Traced {
  public:
    /// Called with each chunk of a streaming read as it arrives (on a later
    /// loop iteration, as Tornado's _run_callback).
    using StreamingCallback = std::function<void(std::string)>;

    /// Tornado's keyword arguments.
    struct Options {
        std::size_t max_buffer_size = 104857600;  // 100 MB
        std::size_t read_chunk_size = 65536;
        std::size_t max_write_buffer_size = 0;  // 0: unlimited
        /// C++ only: answers to pipelined requests leave in batches (see
        /// IOStream::write_to_fd). Off by default: a peer on the same loop
        /// (a `run` scenario's client) then reads each answer as soon as
        /// Tornado would have sent it.
        bool batch_pipelined_writes = false;
    };

    BaseIOStream(const char* cls, IOLoop* io_loop, Options options);
    virtual ~BaseIOStream();
    BaseIOStream(const BaseIOStream&) = delete;
    BaseIOStream& operator=(const BaseIOStream&) = delete;

    /// The fd the IOLoop watches.
    virtual int fileno() const = 0;
    /// Closes the fd (called once, from close()).
    virtual void close_fd() = 0;
    /// Writes at most `size` bytes; returns the count, or -1 with errno set.
    virtual ssize_t write_to_fd(const char* data, std::size_t size) = 0;
    /// Reads at most `size` bytes; returns the count (0 at EOF), or -1 with
    /// errno set (EAGAIN when nothing is there yet).
    virtual ssize_t read_from_fd(char* buffer, std::size_t size) = 0;
    /// The pending socket error (SO_ERROR), or 0.
    virtual int get_fd_error() { return 0; }

    /// Reads up to and including the first match of `regex` (which must
    /// outlive the read). Resolves with the data. With `max_bytes`, if no
    /// match appears within that many bytes the stream is closed and the
    /// Future fails with StreamClosedError (UnsatisfiableReadError inside).
    Future<std::string> read_until_regex(const re::Pattern& regex,
                                         std::optional<std::size_t> max_bytes = std::nullopt);
    /// Like read_until_regex, for a fixed delimiter.
    Future<std::string> read_until(std::string delimiter,
                                   std::optional<std::size_t> max_bytes = std::nullopt);
    /// Reads exactly `num_bytes`; with `partial`, resolves with whatever is
    /// available (at least one byte, at most `num_bytes`).
    Future<std::string> read_bytes(std::size_t num_bytes, bool partial = false);
    /// read_bytes with a `streaming_callback`: each chunk (up to the
    /// `num_bytes` still wanted) goes to it as it arrives, and the Future
    /// resolves with what the callback did not get (empty once all
    /// `num_bytes` were streamed).
    Future<std::string> read_bytes(std::size_t num_bytes, StreamingCallback streaming_callback,
                                   bool partial = false);
    /// C++: takes any callable (a captureless lambda would otherwise also
    /// convert to `bool partial`, making the call ambiguous).
    template <class F, std::enable_if_t<std::is_invocable_v<F&, std::string>, int> = 0>
    Future<std::string> read_bytes(std::size_t num_bytes, F&& streaming_callback,
                                   bool partial = false) {
        return read_bytes(num_bytes, StreamingCallback(std::forward<F>(streaming_callback)),
                          partial);
    }
    /// Reads everything until the peer closes.
    Future<std::string> read_until_close();
    /// read_until_close with a `streaming_callback` that gets every chunk;
    /// the Future resolves with an empty string at the close. There is no
    /// back-pressure: use read_bytes(n, true) in a loop for that.
    Future<std::string> read_until_close(StreamingCallback streaming_callback);

    /// Queues `data` and tries to send it at once. Resolves when this data
    /// has been handed to the kernel; fails with StreamClosedError if the
    /// stream closes first. Throws StreamClosedError on a closed stream and
    /// StreamBufferFullError past max_write_buffer_size.
    Future<void> write(std::string data);

    /// Called (on the next loop iteration) once the stream has closed and
    /// pending reads that buffered data can satisfy have completed.
    void set_close_callback(Callback callback);
    /// Closes the stream; `exc` (if any) becomes error(). Pending Futures
    /// fail with StreamClosedError.
    void close(std::exception_ptr exc = nullptr);

    // Virtual: SSLIOStream also counts a handshake waiting for READ/WRITE.
    virtual bool reading() const { return read_future_.valid(); }
    virtual bool writing() const { return write_buffer_size() > 0; }
    bool closed() const { return closed_; }
    /// Turns Nagle's algorithm off (true) or on; a no-op where meaningless.
    virtual void set_nodelay(bool value);

    /// Why the stream closed, if it closed because of an error.
    std::exception_ptr error() const { return error_; }
    IOLoop* io_loop() const { return io_loop_; }
    std::size_t max_buffer_size() const { return options_.max_buffer_size; }
    std::size_t read_buffer_size() const { return read_buffer_.size(); }

    /// C++ only, test and bench instrumentation: the work of the delimiter
    /// and regex searches of read_until and read_until_regex over the life
    /// of the stream. Each search resumes where the previous one for the
    /// same read left off, so `bytes_examined` grows with the bytes read,
    /// not with the number of reads times the buffer size.
    struct ScanStats {
        std::uint64_t searches = 0;        // delimiter/regex searches run
        std::uint64_t bytes_examined = 0;  // bytes from each search's start to where it stopped
    };
    const ScanStats& scan_stats() const { return scan_stats_; }

  protected:
    void _handle_events(int fd, std::uint32_t events);
    /// Overridden by IOStream to finish a non-blocking connect.
    virtual void _handle_connect() {}
    // Virtual (with _handle_read and _handle_write): overridden by SSLIOStream.
    virtual void _maybe_run_close_callback();
    std::optional<std::size_t> _read_to_buffer_loop();
    virtual void _handle_read();
    Future<std::string> _set_read_callback(const char* origin);
    void _run_read_callback(std::size_t size, bool streaming = false);
    void _run_streaming_callback();
    // Tornado's _run_callback, for the streaming callback (the only
    // callback left in the Future-only C++ API).
    void _run_callback(StreamingCallback callback, std::string data);
    void _try_inline_read();
    std::size_t _read_to_buffer();
    void _read_from_buffer(std::size_t pos);
    std::optional<std::size_t> _find_read_pos();
    void _check_max_bytes(std::string_view delimiter, std::size_t size);
    virtual void _handle_write();
    std::string _consume(std::size_t loc);
    void _check_closed() const;
    void _maybe_add_error_listener();
    void _add_io_state(std::uint32_t state);
    static bool _is_connreset(int err);

    std::size_t write_buffer_size() const { return write_buffer_.size() - write_buffer_pos_; }
    // C++: a read that throws (closed stream, unsatisfiable) leaves no
    // half-started read behind.
    Future<std::string> start_read(Future<std::string> future);

    IOLoop* io_loop_;
    Options options_;
    std::exception_ptr error_;

    detail::ReadBuffer read_buffer_;
    std::optional<std::string> read_delimiter_;
    const re::Pattern* read_regex_ = nullptr;
    std::optional<std::size_t> read_max_bytes_;
    // C++: where the pending read_until/read_until_regex search resumes,
    // as an offset into the unread bytes (the buffer's own compaction keeps
    // it valid; only consuming, which ends the read, moves them).
    std::size_t read_search_pos_ = 0;
    ScanStats scan_stats_;
    std::optional<std::size_t> read_bytes_;
    bool read_partial_ = false;
    bool read_until_close_ = false;
    StreamingCallback streaming_callback_;
    Future<std::string> read_future_;

    std::string write_buffer_;
    std::size_t write_buffer_pos_ = 0;
    std::uint64_t total_write_index_ = 0;
    std::uint64_t total_write_done_index_ = 0;
    detail::FifoQueue<std::pair<std::uint64_t, Future<void>>> write_futures_;

    Future<void> connect_future_;
    Callback close_callback_;
    bool connecting_ = false;
    std::uint32_t state_ = 0;  // 0: no handler registered (Tornado's None)
    int pending_callbacks_ = 0;
    bool closed_ = false;
};

// Tornado: tornado/iostream.py:985 IOStream
/// A stream over a non-blocking socket (TCP or Unix).
class IOStream : public BaseIOStream {
  public:
    /// Takes ownership of `socket_fd` and makes it non-blocking.
    explicit IOStream(int socket_fd, IOLoop* io_loop = nullptr, Options options = Options{});
    ~IOStream() override;

    /// C++ only (Python callers pass socket.socket()): a stream over a new
    /// TCP socket of `family`, for connect(). connect() to a host name
    /// replaces the socket when the address found is of another family.
    static std::shared_ptr<IOStream> create(int family = AF_INET, IOLoop* io_loop = nullptr,
                                            Options options = Options{});

    int fileno() const override { return socket_; }
    void close_fd() override;
    ssize_t write_to_fd(const char* data, std::size_t size) override;
    ssize_t read_from_fd(char* buffer, std::size_t size) override;
    int get_fd_error() override;

    /// Connects the socket to `address` without blocking. Resolves when
    /// connected (Tornado resolves with the stream itself); fails with
    /// StreamClosedError (the OS error inside) if the connection fails.
    /// Writes issued while connecting are queued. C++: a socket of another
    /// family than `address` is first remade (same fd number). The
    /// `server_hostname` is kept for SSLIOStream (SNI, certificate checks).
    Future<void> connect(const sockaddr* address, socklen_t address_len,
                         std::string server_hostname = {});
    /// connect() to `host` (a numeric IPv4/IPv6 address, or a name) and
    /// `port`. A name is resolved first, off the loop thread, by resolver()
    /// (C++: Tornado 4.5.2 resolves it synchronously inside socket.connect,
    /// blocking the loop); the first address found is used, and the socket
    /// is remade if that address is of another family. A failed lookup
    /// fails the Future with StreamClosedError whose real_error is a
    /// netutil::GAIError (also error()). Writes issued meanwhile are queued.
    /// The stream must be owned by a std::shared_ptr for a name.
    Future<void> connect(const std::string& host, int port, std::string server_hostname = {});

    /// The resolver connect() uses for names: the one set here, else
    /// netutil::Resolver::configured().
    void set_resolver(std::shared_ptr<netutil::Resolver> resolver) {
        resolver_ = std::move(resolver);
    }
    std::shared_ptr<netutil::Resolver> resolver() const;

    void set_nodelay(bool value) override;

  protected:
    void _handle_connect() override;
    // C++: makes the socket one of `family` (keeping its fd number and
    // handler state) if it is not; before connecting only.
    void _ensure_family(int family);
    // The connect(2) step, once the address is known.
    void _connect_to(const sockaddr* address, socklen_t address_len);
    void _handle_resolved(const Future<netutil::Resolver::Result>& addresses);

    /// The name the peer is expected to have (SSLIOStream); empty if none.
    std::string server_hostname_;

  private:
    // The batched send (see write_to_fd): an answer sent with MSG_MORE is
    // held by the kernel until a send without it, or push_held() at the end
    // of a loop iteration in which the stream sent nothing more.
    void push_held();
    void schedule_push();

    int socket_;
    bool nodelay_ = false;
    bool held_ = false;                 // sent with MSG_MORE, not pushed yet
    std::uint64_t held_iteration_ = 0;  // the loop iteration of that send
    std::shared_ptr<netutil::Resolver> resolver_;
};

// ---------------------------------------------------------------------------
// TLS (iostream/src/ssliostream.cc)

// Tornado: ssl.SSLError (Python's exception, raised through tornado/iostream.py)
/// A TLS failure: a handshake or record error from OpenSSL, or the peer
/// ending the TLS session. `code` is OpenSSL's SSL_get_error() value.
class SSLError : public std::runtime_error {
  public:
    SSLError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }

  private:
    int code_;
};

// Tornado: tornado/netutil.py:52 SSLCertificateError (ssl.CertificateError)
/// The peer's certificate does not name the host the client asked for.
class SSLCertificateError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Tornado: tornado/iostream.py:1253 SSLIOStream
/// An IOStream over TLS (OpenSSL). The handshake runs through the same
/// _handle_events/_handle_read/_handle_write path as the data: until it is
/// done, READ and WRITE events drive _do_ssl_handshake instead. Reads and
/// writes may be issued at once; they wait for the handshake.
///
/// A socket that is already connected (an accepted connection, or a client
/// socket connected elsewhere) starts its handshake on the next loop
/// iteration, as the server (`server_side`) or the client. An unconnected
/// one is connected with connect(), which resolves after the handshake.
class SSLIOStream : public IOStream {
  public:
    /// Takes ownership of `socket_fd`. `ssl_context` null: the client
    /// defaults (netutil::client_ssl_defaults(): verify the server against
    /// the system CAs and check its name).
    explicit SSLIOStream(int socket_fd, std::shared_ptr<const netutil::SSLContext> ssl_context = {},
                         bool server_side = false, IOLoop* io_loop = nullptr,
                         Options options = Options{});
    ~SSLIOStream() override;

    bool reading() const override;
    bool writing() const override;
    ssize_t write_to_fd(const char* data, std::size_t size) override;
    ssize_t read_from_fd(char* buffer, std::size_t size) override;

    /// Connects, then runs the client handshake. `server_hostname` is sent
    /// as SNI (unless it is an IP address) and, when the context verifies
    /// certificates, checked against the server's certificate. Resolves
    /// after the handshake; fails with StreamClosedError (SSLError or
    /// SSLCertificateError inside) if the handshake or the check fails.
    Future<void> connect(const sockaddr* address, socklen_t address_len,
                         std::optional<std::string> server_hostname = std::nullopt);
    /// connect() to `host` (numeric or a name, resolved as IOStream does) and port.
    Future<void> connect(const std::string& host, int port,
                         std::optional<std::string> server_hostname = std::nullopt);

    /// Resolves once the handshake is done (at once if it already is);
    /// fails with StreamClosedError if the stream closes first. Only one
    /// wait at a time (throws std::logic_error otherwise); connect() waits
    /// itself.
    Future<void> wait_for_handshake();

    /// Whether the handshake is still under way (Tornado's _ssl_accepting).
    bool ssl_accepting() const { return ssl_accepting_; }
    /// The OpenSSL connection (Tornado's self.socket, an ssl.SSLSocket);
    /// null until a client socket is connected.
    ssl_st* ssl_object() const { return ssl_; }
    /// Server side: the host name the client sent as SNI, or empty.
    std::string sni_hostname() const;
    /// C++ only, test instrumentation: how many SSL_write calls could not
    /// finish and froze the write buffer (see write_to_fd).
    std::uint64_t frozen_writes() const { return frozen_writes_; }

  protected:
    void _handle_read() override;
    void _handle_write() override;
    void _handle_connect() override;
    void _maybe_run_close_callback() override;
    void _do_ssl_handshake();
    void _run_ssl_connect_callback();
    bool _verify_cert();
    void _got_empty_write(std::size_t size);

  private:
    /// Tornado: netutil.ssl_wrap_socket; makes the SSL object for the fd.
    void ssl_wrap_socket();

    std::shared_ptr<const netutil::SSLContext> ssl_context_;
    bool server_side_;
    ssl_st* ssl_ = nullptr;
    bool ssl_accepting_ = true;
    bool handshake_reading_ = false;
    bool handshake_writing_ = false;
    Future<void> ssl_connect_future_;
    // Tornado: _write_buffer_frozen. After an SSL_write that could not
    // finish, OpenSSL must be given the same bytes again: the length it was
    // given (the bytes themselves stay at the front of the write buffer,
    // and later writes only append).
    std::size_t write_frozen_ = 0;
    std::uint64_t frozen_writes_ = 0;
};

}  // namespace tornado::iostream
