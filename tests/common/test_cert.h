// A self-signed certificate made at test time with the OpenSSL API: EC
// P-256, CN=localhost, SAN DNS:localhost and IP:127.0.0.1, valid from an
// hour ago for a day. Written as PEM files into a fresh temporary directory
// that is removed with the object. Tests that use it link OpenSSL::Crypto.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace tornado::testing {

class TestCert {
  public:
    TestCert() {
        char tmpl[] = "/tmp/tornado-cert-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = tmpl;
        certfile_ = dir_ + "/cert.pem";
        keyfile_ = dir_ + "/key.pem";
        generate();
    }
    ~TestCert() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    TestCert(const TestCert&) = delete;
    TestCert& operator=(const TestCert&) = delete;

    const std::string& dir() const { return dir_; }
    const std::string& certfile() const { return certfile_; }
    const std::string& keyfile() const { return keyfile_; }

  private:
    static void check(bool ok, const char* what) {
        if (!ok) {
            throw std::runtime_error(std::string("test certificate: ") + what + " failed");
        }
    }

    void generate() {
        // (EVP_EC_gen without the macro's C cast.)
        EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        check(key != nullptr, "EVP_EC_gen");
        X509* cert = X509_new();
        check(cert != nullptr, "X509_new");
        X509_set_version(cert, 2);  // v3
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
        X509_set_issuer_name(cert, name);  // self-signed
        add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        // A CA:TRUE self-signed certificate can be its own trust anchor
        // when a client loads it as ca_certs.
        add_ext(cert, NID_basic_constraints, "critical,CA:TRUE");
        check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign");

        FILE* f = std::fopen(certfile_.c_str(), "w");
        check(f != nullptr, "open cert.pem");
        check(PEM_write_X509(f, cert) == 1, "PEM_write_X509");
        std::fclose(f);
        f = std::fopen(keyfile_.c_str(), "w");
        check(f != nullptr, "open key.pem");
        check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
              "PEM_write_PrivateKey");
        std::fclose(f);
        X509_free(cert);
        EVP_PKEY_free(key);
    }

    static void add_ext(X509* cert, int nid, const char* value) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        check(ext != nullptr, "X509V3_EXT_conf_nid");
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }

    std::string dir_;
    std::string certfile_;
    std::string keyfile_;
};

}  // namespace tornado::testing
