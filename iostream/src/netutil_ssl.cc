// tornado.netutil's TLS half: ssl_options to an OpenSSL context.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

#include "tornado/netutil.h"

namespace tornado::netutil {

namespace {

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

}  // namespace

SSLContext::~SSLContext() {
    SSL_CTX_free(ctx_);
}

// Tornado: tornado/netutil.py ssl_options_to_context
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

// Tornado: tornado/iostream.py _client_ssl_defaults
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

}  // namespace tornado::netutil
