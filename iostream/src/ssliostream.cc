// tornado.iostream.SSLIOStream over OpenSSL.
//
// Python's ssl module reports "would block" as SSLError(SSL_ERROR_WANT_*);
// here SSL_get_error() gives the same codes. read_from_fd/write_to_fd turn
// them into EAGAIN, which BaseIOStream already understands, so the reading
// and writing logic is the base class's; only the handshake and the frozen
// write buffer are TLS's own.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"

namespace tornado::iostream {

namespace {

constexpr trace::Module kTraceModule{"iostream", "tornado/iostream.py"};

// OpenSSL's description of the failure at the head of its error queue,
// with the certificate verification result when that is what failed (as
// Python's "certificate verify failed: self-signed certificate").
std::string ssl_error_text(SSL* ssl, const char* fallback) {
    unsigned long code = ERR_peek_error();
    std::string text;
    if (code == 0) {
        text = fallback;
    } else {
        const char* reason = ERR_reason_error_string(code);
        text = reason != nullptr ? reason : fmt::format("error {:#x}", code);
        if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl != nullptr) {
            text += ": ";
            text += X509_verify_cert_error_string(SSL_get_verify_result(ssl));
        }
    }
    ERR_clear_error();
    return text;
}

// OpenSSL 3 reports a peer that closed without close_notify as an
// SSL_ERROR_SSL with this reason (Python's SSL_ERROR_EOF).
bool is_unexpected_eof(int err) {
    return (err == SSL_ERROR_SSL &&
            ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
           (err == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0);
}

std::exception_ptr eof_error() {
    ERR_clear_error();
    return std::make_exception_ptr(
        SSLError(SSL_ERROR_SYSCALL, "EOF occurred in violation of protocol"));
}

std::string peer_name(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return "(not connected)";
    }
    netutil::Address address;
    address.storage = ss;
    address.length = len;
    return fmt::format("('{}', {})", address.host(), address.port());
}

bool is_connected(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    return ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
}

}  // namespace

// Tornado: tornado/iostream.py:1264 SSLIOStream.__init__
// C++: the context and side are given here (Tornado wraps the socket before
// constructing the stream, or in _handle_connect for a client).
SSLIOStream::SSLIOStream(int socket_fd, std::shared_ptr<const netutil::SSLContext> ssl_context,
                         bool server_side, IOLoop* io_loop, Options options)
    : IOStream(socket_fd, io_loop, options),
      ssl_context_(ssl_context ? std::move(ssl_context) : netutil::client_ssl_defaults()),
      server_side_(server_side) {
    set_trace_class("SSLIOStream");
    if (is_connected(socket_fd)) {
        // Start the handshake on the next loop iteration; _handle_events
        // then sets the real IO state.
        ssl_wrap_socket();
        _add_io_state(IOLoop::WRITE);
    }
}

SSLIOStream::~SSLIOStream() {
    SSL_free(ssl_);
}

// C++: the wrapping itself is netutil::ssl_wrap_socket; the stream keeps
// the OpenSSL connection it returns.
void SSLIOStream::ssl_wrap_socket() {
    ssl_ = netutil::ssl_wrap_socket(fileno(), *ssl_context_, server_side_, server_hostname_);
}

// Tornado: tornado/iostream.py:1288 SSLIOStream.reading
bool SSLIOStream::reading() const {
    return handshake_reading_ || IOStream::reading();
}

// Tornado: tornado/iostream.py:1291 SSLIOStream.writing
bool SSLIOStream::writing() const {
    return handshake_writing_ || IOStream::writing();
}

// Tornado: tornado/iostream.py:1294 SSLIOStream._got_empty_write
void SSLIOStream::_got_empty_write(std::size_t size) {
    // Tornado: _freeze_write_buffer(size)
    write_frozen_ = size;
    ++frozen_writes_;
    TRACE_EVENT("SSLIOStream._got_empty_write", {"size", size});
}

// Tornado: tornado/iostream.py:1305 SSLIOStream._do_ssl_handshake
void SSLIOStream::_do_ssl_handshake() {
    TRACE_SPAN_AS(span, "SSLIOStream._do_ssl_handshake", {"fd", fileno()},
                  {"server_side", server_side_});
    handshake_reading_ = false;
    handshake_writing_ = false;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        ssl_accepting_ = false;
        span.end({{"result", "done"}});
        if (!_verify_cert()) {
            return;
        }
        _run_ssl_connect_callback();
        return;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
        handshake_reading_ = true;
        span.end({{"result", "want_read"}});
        return;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        handshake_writing_ = true;
        span.end({{"result", "want_write"}});
        return;
    }
    span.end({{"result", "error"}});
    if (is_unexpected_eof(err)) {
        // The peer went away mid-handshake (port scans do this): quiet.
        close(eof_error());
        return;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
        close(std::make_exception_ptr(SSLError(err, "TLS/SSL connection has been closed (EOF)")));
        return;
    }
    if (err == SSL_ERROR_SYSCALL) {
        int e = errno;
        ERR_clear_error();
        // Tornado: connection resets, EBADF and ENOTCONN are quiet.
        if (!_is_connreset(e) && e != EBADF && e != ENOTCONN) {
            log::gen_log.warning("SSL Error on {} {}: {}", fileno(), peer_name(fileno()),
                                 std::strerror(e));
        }
        close(std::make_exception_ptr(
            std::system_error(e, std::generic_category(), "SSL handshake")));
        return;
    }
    std::string text = ssl_error_text(ssl_, "handshake failed");
    log::gen_log.warning("SSL Error on {} {}: {}", fileno(), peer_name(fileno()), text);
    close(std::make_exception_ptr(SSLError(err, text)));
}

// Tornado: tornado/iostream.py:1351 SSLIOStream._run_ssl_connect_callback
void SSLIOStream::_run_ssl_connect_callback() {
    if (ssl_connect_future_.valid()) {
        Future<void> future = std::exchange(ssl_connect_future_, Future<void>());
        future.set_result();
    }
}

// Tornado: tornado/iostream.py:1361 SSLIOStream._verify_cert
// C++: OpenSSL has already checked the chain (SSL_VERIFY_PEER); this is the
// host name check of ssl.match_hostname, by X509_check_host/X509_check_ip.
// A mismatch closes the stream with SSLCertificateError in error() (Tornado
// logs it and closes without an error).
bool SSLIOStream::_verify_cert() {
    netutil::CertReqs verify_mode = ssl_context_->verify_mode();
    if (verify_mode == netutil::CertReqs::none || server_hostname_.empty() || server_side_) {
        return true;
    }
    X509* cert = SSL_get0_peer_certificate(ssl_);
    if (cert == nullptr) {
        if (verify_mode != netutil::CertReqs::required) {
            return true;
        }
        log::gen_log.warning("No SSL certificate given");
        close(std::make_exception_ptr(SSLCertificateError("No SSL certificate given")));
        return false;
    }
    const std::string& host = server_hostname_;
    int match = netutil::is_valid_ip(host)
                    ? X509_check_ip_asc(cert, host.c_str(), 0)
                    : X509_check_host(cert, host.data(), host.size(), 0, nullptr);
    if (match != 1) {
        std::string text = fmt::format("hostname '{}' doesn't match the certificate", host);
        log::gen_log.warning("Invalid SSL certificate: {}", text);
        close(std::make_exception_ptr(SSLCertificateError(text)));
        return false;
    }
    return true;
}

// Tornado: tornado/iostream.py:1388 SSLIOStream._handle_read
void SSLIOStream::_handle_read() {
    if (ssl_accepting_) {
        _do_ssl_handshake();
        return;
    }
    IOStream::_handle_read();
}

// Tornado: tornado/iostream.py:1394 SSLIOStream._handle_write
void SSLIOStream::_handle_write() {
    if (ssl_accepting_) {
        // C++: write() before connect() has finished lands here with no
        // SSL object yet; the bytes wait for the handshake.
        if (ssl_ != nullptr) {
            _do_ssl_handshake();
        }
        return;
    }
    IOStream::_handle_write();
}

// Tornado: tornado/iostream.py:1400 SSLIOStream.connect
Future<void> SSLIOStream::connect(const sockaddr* address, socklen_t address_len,
                                  std::optional<std::string> server_hostname) {
    // IOStream keeps the name (Tornado's _server_hostname); empty: none.
    // Tornado passes a dummy callback: only the handshake's Future is
    // returned; a failure reaches it through close().
    IOStream::connect(address, address_len, server_hostname.value_or("")).quiet();
    return wait_for_handshake();
}

Future<void> SSLIOStream::connect(const std::string& host, int port,
                                  std::optional<std::string> server_hostname) {
    IOStream::connect(host, port, server_hostname.value_or("")).quiet();
    return wait_for_handshake();
}

// Tornado: tornado/iostream.py:1407 SSLIOStream._handle_connect
// C++: the fd stays the same object when it is wrapped, so there is no
// handler to remove and re-add.
void SSLIOStream::_handle_connect() {
    IOStream::_handle_connect();
    if (closed()) {
        return;
    }
    ssl_wrap_socket();
}

// Tornado: tornado/iostream.py:1430 SSLIOStream.wait_for_handshake
Future<void> SSLIOStream::wait_for_handshake() {
    if (ssl_connect_future_.valid()) {
        throw std::logic_error("Already waiting");
    }
    Future<void> future = Future<void>::make();
    future.set_origin("SSLIOStream.wait_for_handshake");
    ssl_connect_future_ = future;
    if (!ssl_accepting_) {
        _run_ssl_connect_callback();
    } else if (closed()) {
        _maybe_run_close_callback();
    }
    return future;
}

// Tornado: tornado/iostream.py:448 BaseIOStream._maybe_run_close_callback
// (the _ssl_connect_future part).
void SSLIOStream::_maybe_run_close_callback() {
    if (closed() && pending_callbacks_ == 0 && ssl_connect_future_.valid()) {
        Future<void> future = std::exchange(ssl_connect_future_, Future<void>());
        future.set_exception(std::make_exception_ptr(StreamClosedError(error_)));
    }
    IOStream::_maybe_run_close_callback();
}

// Tornado: tornado/iostream.py:1461 SSLIOStream.write_to_fd (with the frozen
// size of BaseIOStream._handle_write)
// C++: `data`/`size` are the unsent part of the write buffer. Once an
// SSL_write has stopped short, OpenSSL must see the same bytes again: the
// retry is cut to the frozen size, which writes appended since cannot change.
ssize_t SSLIOStream::write_to_fd(const char* data, std::size_t size) {
    if (write_frozen_ != 0) {
        assert(size >= write_frozen_);
        size = write_frozen_;
    }
    size = std::min<std::size_t>(size, INT_MAX);
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(ssl_, data, static_cast<int>(size));
    if (n > 0) {
        write_frozen_ = 0;  // Tornado: _unfreeze_write_buffer
        return n;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        _got_empty_write(size);
        errno = EAGAIN;
        return -1;
    }
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
        ERR_clear_error();
        return -1;  // the socket's errno (EPIPE, ECONNRESET...)
    }
    // Tornado: _handle_write logs "Write error" and closes with the error;
    // EPIPE tells the base class the stream is closed already.
    std::string text = ssl_error_text(ssl_, "write failed");
    log::gen_log.warning("Write error on {}: {}", fileno(), text);
    close(std::make_exception_ptr(SSLError(err, text)));
    errno = EPIPE;
    return -1;
}

// Tornado: tornado/iostream.py:1475 SSLIOStream.read_from_fd
ssize_t SSLIOStream::read_from_fd(char* buffer, std::size_t size) {
    if (ssl_accepting_) {
        // No application data before the handshake is done.
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    if (n > 0) {
        return n;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
        return 0;  // the peer's close_notify: a clean EOF
    }
    if (is_unexpected_eof(err)) {
        // Tornado: SSL_ERROR_EOF counts as a connection reset (a quiet
        // close that keeps the error).
        close(eof_error());
        errno = ECONNRESET;
        return -1;
    }
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
        ERR_clear_error();
        return -1;
    }
    // Tornado: _read_to_buffer closes with the error and raises it.
    auto error = std::make_exception_ptr(SSLError(err, ssl_error_text(ssl_, "read failed")));
    close(error);
    std::rethrow_exception(error);
}

std::string SSLIOStream::sni_hostname() const {
    const char* name = ssl_ != nullptr ? SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)
                                       : nullptr;
    return name != nullptr ? name : "";
}

}  // namespace tornado::iostream
