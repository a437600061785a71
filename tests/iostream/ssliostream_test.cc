// SSLIOStream over real TCP connections on 127.0.0.1, with a certificate
// made at test time: handshakes on both sides through TCPServer's
// ssl_options, SNI, the client's host name check, failures against plain
// TCP peers, a write of many megabytes (incomplete SSL_writes and the frozen
// write buffer), and closes during the handshake.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/tcpserver.h"

#include "common/test_cert.h"
#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

using iostream::SSLCertificateError;
using iostream::SSLError;
using iostream::SSLIOStream;

constexpr double kTimeout = 20;

/// What the TLS server does with each connection.
enum class Mode { echo_line, send_big };

/// A TCPServer with ssl_options: waits for the handshake, then echoes one
/// line (or sends `big_chunks`) and closes.
class TLSServer : public tcpserver::TCPServer {
  public:
    TLSServer(IOLoop* loop, Options options) : TCPServer(loop, std::move(options)) {}

    Future<void> handle_stream(std::shared_ptr<IOStream> stream,
                               const netutil::Address& /*address*/) override {
        auto ssl = std::dynamic_pointer_cast<SSLIOStream>(stream);
        accepted.push_back(stream);
        if (!ssl) {
            not_ssl = true;
            return {};
        }
        return serve(this, std::move(ssl));
    }

    static Future<void> serve(TLSServer* self, std::shared_ptr<SSLIOStream> stream) {
        try {
            co_await stream->wait_for_handshake();
        } catch (const StreamClosedError& e) {
            self->handshake_errors.push_back(e.real_error());
            co_return;
        }
        self->sni.push_back(stream->sni_hostname());
        if (self->mode == Mode::echo_line) {
            try {
                std::string line = co_await stream->read_until("\n");
                co_await stream->write(std::move(line));
            } catch (const StreamClosedError&) {
                // The client gave up (a failed host name check).
            }
            stream->close();
            co_return;
        }
        // Queue the first chunk; it cannot all go out in this iteration
        // (the client reads in later ones), so SSL_write stops short and
        // freezes the buffer. The second chunk is appended while frozen.
        Future<void> first = stream->write(self->big_chunks.at(0));
        self->frozen_after_first = stream->frozen_writes();
        std::vector<Future<void>> rest;
        for (std::size_t i = 1; i < self->big_chunks.size(); ++i) {
            rest.push_back(stream->write(self->big_chunks[i]));
        }
        co_await first;
        for (auto& f : rest) {
            co_await f;
        }
        self->frozen_total = stream->frozen_writes();
        stream->close();
    }

    Mode mode = Mode::echo_line;
    std::vector<std::string> big_chunks;
    std::uint64_t frozen_after_first = 0;
    std::uint64_t frozen_total = 0;
    bool not_ssl = false;
    std::vector<std::shared_ptr<IOStream>> accepted;
    std::vector<std::exception_ptr> handshake_errors;
    std::vector<std::string> sni;
};

class SSLIOStreamTest : public LoopTest {
  protected:
    void TearDown() override {
        if (server_) {
            for (auto& s : server_->accepted) {
                keep(s);
            }
            server_->accepted.clear();
            server_->stop();
        }
        close_streams();
        server_.reset();
        LoopTest::TearDown();
    }

    netutil::SSLOptions server_ssl() const {
        netutil::SSLOptions ssl;
        ssl.certfile = cert_.certfile();
        ssl.keyfile = cert_.keyfile();
        return ssl;
    }

    /// Starts server_ with TLS on a free port of 127.0.0.1; returns the port.
    int start_server() {
        tcpserver::TCPServer::Options options;
        options.ssl_options = server_ssl();
        server_ = std::make_unique<TLSServer>(loop_.get(), options);
        std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
        server_->add_sockets(socks);
        return netutil::bound_port(socks.at(0));
    }

    /// A client context that trusts the test certificate.
    std::shared_ptr<const netutil::SSLContext> trusting_context() const {
        netutil::SSLOptions ssl;
        ssl.ca_certs = cert_.certfile();
        ssl.cert_reqs = netutil::CertReqs::required;
        return netutil::ssl_options_to_context(ssl);
    }

    std::shared_ptr<SSLIOStream> client(std::shared_ptr<const netutil::SSLContext> context) {
        auto stream = std::make_shared<SSLIOStream>(tcp_socket(), std::move(context), false,
                                                    loop_.get());
        keep(stream);
        return stream;
    }

    testing::TestCert cert_;
    std::unique_ptr<TLSServer> server_;
};

struct RoundTrip {
    std::string echoed;
    std::string rest;
    std::exception_ptr error;
};

Future<void> echo_over_tls(std::shared_ptr<SSLIOStream> client, int port,
                           std::optional<std::string> hostname, RoundTrip* out) {
    try {
        co_await client->connect("127.0.0.1", port, std::move(hostname));
        co_await client->write("hello over tls\n");
        out->echoed = co_await client->read_until("\n");
        out->rest = co_await client->read_until_close();
    } catch (...) {
        out->error = std::current_exception();
    }
}

template <class E>
bool real_error_is(const std::exception_ptr& closed) {
    try {
        std::rethrow_exception(closed);
    } catch (const StreamClosedError& e) {
        if (!e.real_error()) {
            return false;
        }
        try {
            std::rethrow_exception(e.real_error());
        } catch (const E&) {
            return true;
        } catch (...) {
            return false;
        }
    } catch (...) {
        return false;
    }
}

std::string describe(const std::exception_ptr& e) {
    return e ? log::describe(e) : "(none)";
}

// Tornado: tornado/test/iostream_test.py:865 TestIOStreamSSL (the shared
// read/write tests over an SSL pair) and test_handshake
TEST_F(SSLIOStreamTest, ServerAndClientRoundTripWithSNI) {
    int port = start_server();
    auto c = client(trusting_context());
    RoundTrip result;
    run([&] { return echo_over_tls(c, port, "localhost", &result); }, kTimeout);
    ASSERT_FALSE(result.error) << describe(result.error);
    EXPECT_EQ(result.echoed, "hello over tls\n");
    EXPECT_EQ(result.rest, "");
    EXPECT_FALSE(server_->not_ssl);
    EXPECT_EQ(server_->sni, (std::vector<std::string>{"localhost"}));
    ASSERT_NE(c->ssl_object(), nullptr);
    EXPECT_FALSE(c->ssl_accepting());
    // The server closed without close_notify, as Tornado: the client's
    // read_until_close ends at the EOF all the same.
    EXPECT_TRUE(c->closed());
}

// An IP address is checked against the IP SAN and is never sent as SNI.
TEST_F(SSLIOStreamTest, ClientChecksIPAddressAndSendsNoSNIForIt) {
    int port = start_server();
    auto c = client(trusting_context());
    RoundTrip result;
    run([&] { return echo_over_tls(c, port, "127.0.0.1", &result); }, kTimeout);
    ASSERT_FALSE(result.error) << describe(result.error);
    EXPECT_EQ(result.echoed, "hello over tls\n");
    EXPECT_EQ(server_->sni, (std::vector<std::string>{""}));
}

// Tornado: tornado/test/iostream_test.py:989 TestIOStreamStartTLS.test_check_hostname
TEST_F(SSLIOStreamTest, ClientRejectsWrongHostname) {
    int port = start_server();
    auto c = client(trusting_context());
    RoundTrip result;
    LogCapture logs(log::Level::Warning);
    run([&] { return echo_over_tls(c, port, "example.com", &result); }, kTimeout);
    ASSERT_TRUE(result.error);
    EXPECT_TRUE(real_error_is<SSLCertificateError>(result.error)) << describe(result.error);
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(logs.count("tornado.general", log::Level::Warning, "example.com"), 1)
        << logs.dump();
}

// Without the certificate among its CAs the client fails in the handshake
// itself (OpenSSL's chain check), with OpenSSL's reason.
TEST_F(SSLIOStreamTest, ClientRejectsUntrustedCertificate) {
    int port = start_server();
    netutil::SSLOptions ssl;
    ssl.cert_reqs = netutil::CertReqs::required;
    auto c = client(netutil::ssl_options_to_context(ssl));
    RoundTrip result;
    LogCapture logs(log::Level::Warning);
    run([&] { return echo_over_tls(c, port, "localhost", &result); }, kTimeout);
    ASSERT_TRUE(real_error_is<SSLError>(result.error)) << describe(result.error);
    EXPECT_NE(describe(result.error).find("certificate verify failed"), std::string::npos)
        << describe(result.error);
}

// cert_reqs none: no chain check and no host name check.
TEST_F(SSLIOStreamTest, UnverifiedClientAcceptsAnyName) {
    int port = start_server();
    auto c = client(netutil::ssl_options_to_context({}));
    RoundTrip result;
    run([&] { return echo_over_tls(c, port, "example.com", &result); }, kTimeout);
    ASSERT_FALSE(result.error) << describe(result.error);
    EXPECT_EQ(result.echoed, "hello over tls\n");
}

/// A plain TCP server that answers whatever arrives with an HTTP error and
/// closes, as a non-TLS server would.
class PlainServer : public tcpserver::TCPServer {
  public:
    explicit PlainServer(IOLoop* loop) : TCPServer(loop) {}
    Future<void> handle_stream(std::shared_ptr<IOStream> stream,
                               const netutil::Address& /*address*/) override {
        accepted.push_back(stream);
        return answer(std::move(stream));
    }
    static Future<void> answer(std::shared_ptr<IOStream> stream) {
        co_await stream->read_bytes(1, true);
        co_await stream->write("HTTP/1.1 400 Bad Request\r\n\r\n");
        stream->close();
    }
    std::vector<std::shared_ptr<IOStream>> accepted;
};

TEST_F(SSLIOStreamTest, ClientHandshakeFailsAgainstPlainServer) {
    PlainServer plain(loop_.get());
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    plain.add_sockets(socks);
    int port = netutil::bound_port(socks.at(0));
    auto c = client(netutil::ssl_options_to_context({}));
    RoundTrip result;
    LogCapture logs(log::Level::Warning);
    run([&] { return echo_over_tls(c, port, "localhost", &result); }, kTimeout);
    for (auto& s : plain.accepted) {
        keep(s);
    }
    ASSERT_TRUE(real_error_is<SSLError>(result.error)) << describe(result.error);
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(logs.count("tornado.general", log::Level::Warning, "SSL Error on"), 1)
        << logs.dump();
}

Future<void> plain_request(std::shared_ptr<IOStream> client, int port, std::string* reply) {
    co_await client->connect("127.0.0.1", port);
    co_await client->write("GET / HTTP/1.0\r\n\r\n");
    *reply = co_await client->read_until_close();
}

TEST_F(SSLIOStreamTest, ServerHandshakeFailsAgainstPlainClient) {
    int port = start_server();
    auto c = adopt(tcp_socket());
    std::string reply = "unset";
    LogCapture logs(log::Level::Warning);
    run([&] { return plain_request(c, port, &reply); }, kTimeout);
    // The server answers with a TLS alert at most, never with data.
    EXPECT_EQ(reply.find("HTTP"), std::string::npos);
    run([&]() -> Future<void> {
        while (server_->handshake_errors.empty()) {
            co_await gen::moment;
        }
    }, kTimeout);
    ASSERT_EQ(server_->handshake_errors.size(), 1u);
    const std::exception_ptr& real = server_->handshake_errors[0];
    ASSERT_TRUE(real);
    EXPECT_THROW(std::rethrow_exception(real), SSLError);
    ASSERT_EQ(server_->accepted.size(), 1u);
    EXPECT_TRUE(server_->accepted[0]->closed());
    EXPECT_EQ(server_->accepted[0]->error(), real);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Warning, "SSL Error on"), 1)
        << logs.dump();
}

std::string pattern(std::size_t size, std::uint32_t seed) {
    std::string out(size, '\0');
    std::uint32_t x = seed;
    for (char& ch : out) {
        x = x * 1664525u + 1013904223u;  // an LCG: every byte depends on its position
        ch = static_cast<char>(x >> 24);
    }
    return out;
}

Future<void> read_all(std::shared_ptr<SSLIOStream> client, int port, std::size_t total,
                      std::string* data, std::string* rest) {
    co_await client->connect("127.0.0.1", port, "localhost");
    *data = co_await client->read_bytes(total);
    *rest = co_await client->read_until_close();
}

TEST_F(SSLIOStreamTest, LargeWritesArriveByteExact) {
    int port = start_server();
    server_->mode = Mode::send_big;
    server_->big_chunks = {pattern(6 << 20, 1), pattern(3 << 20, 2), pattern(1000, 3)};
    std::string expected;
    for (const auto& c : server_->big_chunks) {
        expected += c;
    }
    auto c = client(trusting_context());
    std::string data;
    std::string rest = "unset";
    run([&] { return read_all(c, port, expected.size(), &data, &rest); }, kTimeout);
    EXPECT_EQ(data.size(), expected.size());
    EXPECT_TRUE(data == expected) << "the bytes differ";
    EXPECT_EQ(rest, "");
    // The path under test was taken: the first write stopped short before
    // the next chunks were appended.
    EXPECT_GE(server_->frozen_after_first, 1u);
    EXPECT_GE(server_->frozen_total, server_->frozen_after_first);
}

Future<void> connect_and_close(std::shared_ptr<IOStream> client, int port) {
    co_await client->connect("127.0.0.1", port);
    client->close();
}

// The peer goes away before sending a ClientHello: the server's handshake
// sees the EOF, closes quietly, and wait_for_handshake fails.
TEST_F(SSLIOStreamTest, PeerClosesDuringServerHandshake) {
    int port = start_server();
    auto c = adopt(tcp_socket());
    LogCapture logs(log::Level::Warning);
    run([&] { return connect_and_close(c, port); }, kTimeout);
    run([&]() -> Future<void> {
        while (server_->handshake_errors.empty()) {
            co_await gen::moment;
        }
    }, kTimeout);
    ASSERT_EQ(server_->accepted.size(), 1u);
    EXPECT_TRUE(server_->accepted[0]->closed());
    EXPECT_TRUE(server_->handshake_errors[0]);
    EXPECT_TRUE(server_->sni.empty());
    EXPECT_EQ(logs.count("tornado.general", log::Level::Warning, "SSL Error"), 0) << logs.dump();
}

struct Pending {
    std::exception_ptr error;
    bool done = false;
};

Future<void> await_connect(Future<void> f, Pending* out) {
    try {
        co_await f;
    } catch (...) {
        out->error = std::current_exception();
    }
    out->done = true;
}

// The client closes its own stream while the server (a socket nobody
// accepts from; the kernel completes the TCP handshake) never answers.
TEST_F(SSLIOStreamTest, CloseDuringClientHandshakeFailsConnect) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    int port = netutil::bound_port(socks.at(0));
    auto c = client(netutil::ssl_options_to_context({}));
    Pending pending;
    Future<void> f = c->connect("127.0.0.1", port, "localhost");
    run([&]() -> Future<void> {
        // Connected and the ClientHello sent: the handshake waits to read.
        while (c->ssl_object() == nullptr || !c->reading()) {
            co_await gen::moment;
        }
        EXPECT_TRUE(c->ssl_accepting());
        c->close();
        co_await await_connect(f, &pending);
    }, kTimeout);
    ::close(socks[0]);
    EXPECT_TRUE(pending.done);
    ASSERT_TRUE(pending.error);
    EXPECT_THROW(std::rethrow_exception(pending.error), StreamClosedError);
    // Only one wait at a time; after the close a new wait fails at once.
    auto again = c->wait_for_handshake();
    EXPECT_TRUE(again.done());
    EXPECT_THROW(again.result(), StreamClosedError);
}

TEST_F(SSLIOStreamTest, WaitForHandshakeTwiceThrows) {
    int port = start_server();
    auto c = client(netutil::ssl_options_to_context({}));
    Future<void> f = c->connect("127.0.0.1", port);
    EXPECT_THROW(c->wait_for_handshake(), std::logic_error);
    run([&]() -> Future<void> { co_await f; }, kTimeout);
    // Done: a new wait resolves at once.
    auto again = c->wait_for_handshake();
    EXPECT_TRUE(again.done());
    EXPECT_NO_THROW(again.result());
}

TEST_F(SSLIOStreamTest, BadServerFilesFailAtConstruction) {
    tcpserver::TCPServer::Options options;
    options.ssl_options = server_ssl();
    options.ssl_options->certfile = cert_.dir() + "/missing.pem";
    try {
        TLSServer s(loop_.get(), options);
        FAIL() << "no error for a missing certfile";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
    }
    // A file that exists but holds no certificate: OpenSSL's reason.
    options.ssl_options = server_ssl();
    options.ssl_options->certfile = cert_.keyfile();
    options.ssl_options->keyfile = cert_.keyfile();
    try {
        TLSServer s(loop_.get(), options);
        FAIL() << "no error for a certfile without a certificate";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("certfile"), std::string::npos) << e.what();
    }
    // The key file holds the certificate, not a key.
    options.ssl_options = server_ssl();
    options.ssl_options->keyfile = cert_.certfile();
    EXPECT_THROW(TLSServer(loop_.get(), options), std::invalid_argument);
    options.ssl_options = netutil::SSLOptions{};
    EXPECT_THROW(TLSServer(loop_.get(), options), std::invalid_argument);
}

}  // namespace
}  // namespace tornado::iostream_test
