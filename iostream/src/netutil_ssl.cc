// tornado.netutil's TLS half: ssl_options to an OpenSSL context.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"

namespace tornado::netutil {

namespace {

constexpr trace::Module kTraceModule{"iostream", "tornado/netutil.py"};

// Module-level functions have no object; their events carry only the step.
trace::Context trace_context() {
    return {};
}

// OpenSSL's reason for the last failure ("no such file", "key values
// mismatch"...), emptying its error queue.
std::string last_ssl_error() {
    unsigned long code = ERR_get_error();
    std::string reason = code != 0 ? ERR_reason_error_string(code) != nullptr
                                         ? ERR_reason_error_string(code)
                                         : "error " + std::to_string(code)
                                   : "unknown error";
    ERR_clear_error();
    return reason;
}

[[noreturn]] void fail(const std::string& what, const std::string& file) {
    throw std::invalid_argument(what + " \"" + file + "\": " + last_ssl_error());
}

int verify_flags(CertReqs reqs) {
    switch (reqs) {
        case CertReqs::none:
            return SSL_VERIFY_NONE;
        case CertReqs::optional:
            return SSL_VERIFY_PEER;
        case CertReqs::required:
            // On a server this also refuses a client without a certificate;
            // a client always fails without the server's.
            return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    return SSL_VERIFY_NONE;
}

// Both sides: no compression (CRIME), and modes the write path relies on
// (see SSLIOStream::write_to_fd).
SSL_CTX* new_ctx() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_method());
    if (ctx == nullptr) {
        throw std::runtime_error("SSL_CTX_new: " + last_ssl_error());
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    return ctx;
}

// C++ only: OpenSSL's socket BIO writes with write(), which raises SIGPIPE
// when the peer has gone (Python ignores SIGPIPE at startup, so Tornado
// never sees it). This BIO sends with MSG_NOSIGNAL, as IOStream does, and
// otherwise behaves as the socket BIO: EAGAIN asks for a retry, and a read
// of 0 marks the EOF that SSL_read reports.
int fd_of(BIO* bio) {
    return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

bool would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

int bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    BIO_clear_retry_flags(bio);
    ssize_t n = ::send(fd_of(bio), data, size, MSG_NOSIGNAL);
    if (n < 0) {
        if (would_block(errno)) {
            BIO_set_retry_write(bio);
        }
        return 0;
    }
    *written = static_cast<std::size_t>(n);
    return 1;
}

int bio_read(BIO* bio, char* buffer, std::size_t size, std::size_t* read) {
    BIO_clear_retry_flags(bio);
    ssize_t n = ::recv(fd_of(bio), buffer, size, 0);
    if (n < 0) {
        if (would_block(errno)) {
            BIO_set_retry_read(bio);
        }
        return 0;
    }
    if (n == 0) {
        BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
        return 0;
    }
    *read = static_cast<std::size_t>(n);
    return 1;
}

long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    switch (cmd) {
        case BIO_CTRL_FLUSH:
            return 1;  // nothing is buffered here
        case BIO_CTRL_EOF:
            return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
        case BIO_C_GET_FD:
            return fd_of(bio);
        default:
            return 0;
    }
}

BIO_METHOD* nosignal_socket_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "tornado socket");
        BIO_meth_set_write_ex(m, bio_write);
        BIO_meth_set_read_ex(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
        return m;
    }();
    return method;
}

}  // namespace

SSLContext::~SSLContext() {
    SSL_CTX_free(ctx_);
}

// Tornado: tornado/netutil.py:476 ssl_options_to_context
// C++: the context is always built here (there is no pre-made SSLContext
// form of ssl_options); failures throw at once, naming the file.
std::shared_ptr<const SSLContext> ssl_options_to_context(const SSLOptions& options) {
    SSL_CTX* raw = new_ctx();
    auto context = std::make_shared<const SSLContext>(raw, options.cert_reqs);
    if (!options.certfile.empty()) {
        // Tornado: context.load_cert_chain(certfile, keyfile)
        if (SSL_CTX_use_certificate_chain_file(raw, options.certfile.c_str()) != 1) {
            fail("certfile", options.certfile);
        }
        const std::string& keyfile = options.keyfile.empty() ? options.certfile : options.keyfile;
        if (SSL_CTX_use_PrivateKey_file(raw, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
            fail("keyfile", keyfile);
        }
        if (SSL_CTX_check_private_key(raw) != 1) {
            fail("keyfile", keyfile);
        }
    }
    SSL_CTX_set_verify(raw, verify_flags(options.cert_reqs), nullptr);
    if (!options.ca_certs.empty() &&
        SSL_CTX_load_verify_locations(raw, options.ca_certs.c_str(), nullptr) != 1) {
        fail("ca_certs", options.ca_certs);
    }
    if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(raw, options.ciphers.c_str()) != 1) {
        fail("ciphers", options.ciphers);
    }
    if (options.max_version == "1.2") {
        SSL_CTX_set_max_proto_version(raw, TLS1_2_VERSION);
    } else if (options.max_version == "1.3") {
        SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION);
    } else if (!options.max_version.empty()) {
        throw std::invalid_argument("max_version \"" + options.max_version +
                                    "\": expected 1.2 or 1.3");
    }
    return context;
}

// Tornado: tornado/netutil.py:65 _client_ssl_defaults
std::shared_ptr<const SSLContext> client_ssl_defaults() {
    static const std::shared_ptr<const SSLContext> defaults = [] {
        SSL_CTX* raw = new_ctx();
        auto context = std::make_shared<const SSLContext>(raw, CertReqs::required);
        SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
        // Tornado: ssl.create_default_context() loads the system's CAs.
        SSL_CTX_set_default_verify_paths(raw);
        return context;
    }();
    return defaults;
}

// Tornado: tornado/netutil.py:509 netutil.ssl_wrap_socket
// C++: returns the OpenSSL connection over `fd` (the stream keeps the fd);
// Tornado returns a new ssl.SSLSocket. No close_notify is ever sent, as
// Python closes an SSLSocket without one.
ssl_st* ssl_wrap_socket(int fd, const SSLContext& context, bool server_side,
                        const std::string& server_hostname) {
    TRACE_SPAN("netutil.ssl_wrap_socket", {"fd", fd}, {"server_side", server_side});
    SSL* ssl = SSL_new(context.get());
    BIO* bio = ssl != nullptr ? BIO_new(nosignal_socket_method()) : nullptr;
    if (bio == nullptr) {
        SSL_free(ssl);
        throw iostream::SSLError(SSL_ERROR_SSL, "ssl_wrap_socket: " + last_ssl_error());
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);
    // The retry after an incomplete SSL_write passes the same bytes, but the
    // write buffer may have moved (appends reallocate it); and each call
    // may send fewer bytes than asked, one record at a time.
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (server_side) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    if (!server_hostname.empty() && !is_valid_ip(server_hostname)) {
        // SNI; RFC 6066 allows no IP addresses there. (SSL_set_tlsext_host_name
        // without the macro's C cast.)
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(server_hostname.c_str()));
    }
    return ssl;
}

}  // namespace tornado::netutil
