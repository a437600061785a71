// netutil::Resolver (threaded and blocking) and IOStream::connect to host
// names and IPv6 addresses, over real loopback sockets.
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"

#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

// Coroutine parameters are taken by value (STYLE.md).
// NOLINTBEGIN(performance-unnecessary-value-param)

using netutil::GAIError;
using netutil::Resolver;

constexpr double kTimeout = 10;
// A failing DNS lookup may wait for the name server's timeout.
constexpr double kLookupTimeout = 60;

/// A ThreadedResolver that notes the thread each lookup runs on.
class RecordingResolver : public netutil::ThreadedResolver {
  public:
    std::vector<std::thread::id> threads() {
        std::lock_guard<std::mutex> lock(mutex_);
        return threads_;
    }

  protected:
    Result _resolve_blocking(const std::string& host, int port, int family) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            threads_.push_back(std::this_thread::get_id());
        }
        return ThreadedResolver::_resolve_blocking(host, port, family);
    }

  private:
    std::mutex mutex_;
    std::vector<std::thread::id> threads_;
};

/// Tornado's test mocks socket.connect to raise gaierror; here the Resolver
/// is the seam. Counts its calls.
class FailingResolver : public Resolver {
  public:
    Future<Result> resolve(const std::string& /*host*/, int /*port*/, int /*family*/) override {
        ++calls;
        return Future<Result>::failed(std::make_exception_ptr(GAIError(EAI_FAIL, "boom")));
    }
    int calls = 0;
};

/// Exposes what connect() kept for SSLIOStream.
class HostnameProbe : public IOStream {
  public:
    using IOStream::IOStream;
    const std::string& server_hostname() const { return server_hostname_; }
};

class ResolverTest : public LoopTest {
  protected:
    void TearDown() override {
        // Lookups still in flight must not post to a loop that is gone.
        for (auto& r : resolvers_) {
            r->close();
        }
        LoopTest::TearDown();
    }

    template <class R>
    std::shared_ptr<R> make_resolver() {
        auto r = std::make_shared<R>();
        resolvers_.push_back(r);
        return r;
    }

    /// A listener on `address` whose accepted connections echo one line
    /// back as "echo: <line>".
    int listen_echo(const std::string& address) {
        std::vector<int> socks = netutil::bind_sockets(0, address);
        if (socks.empty()) {
            return -1;
        }
        for (int fd : socks) {
            listeners_.push_back(fd);
            netutil::add_accept_handler(
                fd,
                [this](int connection, const netutil::Address&) {
                    (void)echo_once(adopt(connection), &accepted_);
                },
                loop_.get());
        }
        return netutil::bound_port(socks[0]);
    }

    static Future<void> echo_once(std::shared_ptr<IOStream> stream, int* accepted) {
        ++*accepted;
        try {
            std::string line = co_await stream->read_until("\n");
            co_await stream->write("echo: " + line);
        } catch (const StreamClosedError&) {
            // The test ended first.
        }
    }

    std::vector<std::shared_ptr<Resolver>> resolvers_;
    std::vector<int> listeners_;
    int accepted_ = 0;

  public:
    ~ResolverTest() override {
        for (int fd : listeners_) {
            ::close(fd);
        }
    }
};

std::string gai_message(const std::exception_ptr& error, int* code) {
    try {
        std::rethrow_exception(error);
    } catch (const GAIError& e) {
        *code = e.code();
        return e.what();
    } catch (const std::exception& e) {
        return std::string("not a GAIError: ") + e.what();
    }
}

// ---------------------------------------------------------------------------
// Resolver

struct ResolveResult {
    bool done_at_once = true;
    Resolver::Result addresses;
};

Future<void> resolve_localhost(std::shared_ptr<Resolver> resolver, ResolveResult* out) {
    Future<Resolver::Result> f = resolver->resolve("localhost", 8080);
    out->done_at_once = f.done();
    out->addresses = co_await f;
}

// Tornado: tornado/test/netutil_test.py:38 _ResolverTestMixin.test_localhost (ThreadedResolverTest)
TEST_F(ResolverTest, ThreadedResolverResolvesLocalhostOnAnotherThread) {
    auto resolver = make_resolver<RecordingResolver>();
    ResolveResult r;
    run([&] { return resolve_localhost(resolver, &r); }, kTimeout);
    // The result comes back through the loop, never inside resolve().
    EXPECT_FALSE(r.done_at_once);
    ASSERT_FALSE(r.addresses.empty());
    for (const auto& [family, address] : r.addresses) {
        EXPECT_TRUE(family == AF_INET || family == AF_INET6) << family;
        EXPECT_EQ(address.family(), family);
        EXPECT_EQ(address.port(), 8080);
        EXPECT_TRUE(address.host() == "127.0.0.1" || address.host() == "::1") << address.host();
    }
    std::vector<std::thread::id> threads = resolver->threads();
    ASSERT_EQ(threads.size(), 1U);
    EXPECT_NE(threads[0], std::this_thread::get_id());
}

Future<void> resolve_many(std::shared_ptr<Resolver> resolver, int n, int* good) {
    std::vector<Future<Resolver::Result>> futures;
    for (int i = 0; i < n; ++i) {
        futures.push_back(resolver->resolve("127.0.0.1", 1000 + i, AF_INET));
    }
    for (int i = 0; i < n; ++i) {
        Resolver::Result result = co_await futures[i];
        if (result.size() == 1 && result[0].second.port() == 1000 + i) {
            ++*good;
        }
    }
}

TEST_F(ResolverTest, ThreadedResolverAnswersConcurrentLookups) {
    auto resolver = make_resolver<RecordingResolver>();
    int good = 0;
    run([&] { return resolve_many(resolver, 20, &good); }, kTimeout);
    EXPECT_EQ(good, 20);
    EXPECT_EQ(resolver->threads().size(), 20U);
}

Future<void> resolve_and_capture(std::shared_ptr<Resolver> resolver, std::string host,
                                 std::exception_ptr* error) {
    try {
        (void)co_await resolver->resolve(host, 80);
    } catch (...) {
        *error = std::current_exception();
    }
}

// Tornado: tornado/test/netutil_test.py:54 _ResolverErrorTestMixin.test_bad_host (ThreadedResolverErrorTest)
TEST_F(ResolverTest, UnknownNameFailsWithGAIError) {
    auto resolver = make_resolver<netutil::ThreadedResolver>();
    std::exception_ptr error;
    run([&] { return resolve_and_capture(resolver, "nonexistent.invalid", &error); },
        kLookupTimeout);
    ASSERT_TRUE(error);
    int code = 0;
    std::string message = gai_message(error, &code);
    ASSERT_NE(code, 0) << message;
    if (code != EAI_SYSTEM) {
        EXPECT_EQ(message, ::gai_strerror(code));
    }
    EXPECT_FALSE(message.empty());
}

// Tornado: tornado/test/netutil_test.py:78 BlockingResolverTest
TEST_F(ResolverTest, BlockingResolverAnswersAtOnce) {
    netutil::BlockingResolver resolver;
    Future<Resolver::Result> f = resolver.resolve("::1", 443, AF_UNSPEC);
    ASSERT_TRUE(f.done());
    const Resolver::Result& result = f.result();
    ASSERT_EQ(result.size(), 1U);
    EXPECT_EQ(result[0].first, AF_INET6);
    EXPECT_EQ(result[0].second.host(), "::1");
    EXPECT_EQ(result[0].second.port(), 443);

    Future<Resolver::Result> bad = resolver.resolve("nonexistent.invalid", 80, AF_UNSPEC);
    ASSERT_TRUE(bad.done());
    int code = 0;
    std::string message = gai_message(bad.exception(), &code);
    EXPECT_NE(code, 0) << message;
}

TEST_F(ResolverTest, ClosedThreadedResolverFailsNewLookups) {
    netutil::ThreadedResolver resolver;
    resolver.close();
    Future<Resolver::Result> f = resolver.resolve("localhost", 80);
    ASSERT_TRUE(f.done());
    EXPECT_THROW((void)f.result(), std::runtime_error);
}

// ---------------------------------------------------------------------------
// IOStream::connect with names and IPv6

Future<void> round_trip(std::shared_ptr<IOStream> client, std::string host, int port,
                        std::string* reply) {
    Future<void> connected = client->connect(host, port);
    // Writes issued while resolving and connecting are queued.
    Future<void> written = client->write("ping\n");
    co_await connected;
    co_await written;
    *reply = co_await client->read_until("\n");
}

// Tornado: tornado/test/iostream_test.py:95 TestIOStreamWebMixin.test_write_while_connecting,
// with a name to resolve first.
TEST_F(ResolverTest, ConnectToLocalhostResolvesAndRoundTrips) {
    int port = listen_echo("localhost");
    ASSERT_GT(port, 0);
    auto resolver = make_resolver<RecordingResolver>();
    auto client = IOStream::create(AF_INET, loop_.get());
    keep(client);
    client->set_resolver(resolver);
    std::string reply;
    run([&] { return round_trip(client, "localhost", port, &reply); }, kTimeout);
    EXPECT_EQ(reply, "echo: ping\n");
    EXPECT_EQ(accepted_, 1);
    ASSERT_EQ(resolver->threads().size(), 1U);
    EXPECT_NE(resolver->threads()[0], std::this_thread::get_id());
}

TEST_F(ResolverTest, ConnectToIPv6LoopbackRemakesAnIPv4Socket) {
    int port = -1;
    try {
        port = listen_echo("::1");
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "no IPv6 loopback: " << e.what();
    }
    ASSERT_GT(port, 0);
    // Made for AF_INET on purpose: connect() must switch the family.
    auto client = IOStream::create(AF_INET, loop_.get());
    keep(client);
    int fd = client->fileno();
    auto failing = std::make_shared<FailingResolver>();
    client->set_resolver(failing);
    std::string reply;
    run([&] { return round_trip(client, "::1", port, &reply); }, kTimeout);
    EXPECT_EQ(reply, "echo: ping\n");
    // A numeric address skips the resolver, and the fd number is kept.
    EXPECT_EQ(failing->calls, 0);
    EXPECT_EQ(client->fileno(), fd);
    int domain = 0;
    socklen_t len = sizeof domain;
    ASSERT_EQ(::getsockopt(client->fileno(), SOL_SOCKET, SO_DOMAIN, &domain, &len), 0);
    EXPECT_EQ(domain, AF_INET6);
}

TEST_F(ResolverTest, ConnectToIPv6WithAnIPv6Stream) {
    int port = -1;
    try {
        port = listen_echo("::1");
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "no IPv6 loopback: " << e.what();
    }
    auto client = IOStream::create(AF_INET6, loop_.get());
    keep(client);
    std::string reply;
    run([&] { return round_trip(client, "::1", port, &reply); }, kTimeout);
    EXPECT_EQ(reply, "echo: ping\n");
}

Future<void> connect_and_capture(std::shared_ptr<IOStream> client, std::string host, int port,
                                 std::exception_ptr* error) {
    try {
        co_await client->connect(host, port);
    } catch (...) {
        *error = std::current_exception();
    }
}

void expect_closed_by_gai_error(const std::exception_ptr& error) {
    ASSERT_TRUE(error) << "connect did not fail";
    try {
        std::rethrow_exception(error);
    } catch (const StreamClosedError& e) {
        ASSERT_TRUE(e.real_error());
        EXPECT_THROW(std::rethrow_exception(e.real_error()), GAIError);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a StreamClosedError: " << e.what();
    }
}

// Tornado: tornado/test/iostream_test.py:251 TestIOStreamMixin.test_gaierror
TEST_F(ResolverTest, GAIErrorBecomesTheStreamError) {
    auto client = adopt(tcp_socket());
    auto failing = std::make_shared<FailingResolver>();
    client->set_resolver(failing);
    int close_calls = 0;
    client->set_close_callback([&close_calls] { ++close_calls; });
    std::exception_ptr error;
    run([&] { return connect_and_capture(client, "localhost", 80, &error); }, kTimeout);
    EXPECT_EQ(failing->calls, 1);
    expect_closed_by_gai_error(error);
    ASSERT_TRUE(client->error());
    EXPECT_THROW(std::rethrow_exception(client->error()), GAIError);
    EXPECT_TRUE(client->closed());
    settle();
    EXPECT_EQ(close_calls, 1);
}

TEST_F(ResolverTest, ConnectToUnknownNameFailsCleanly) {
    auto client = adopt(tcp_socket());
    client->set_resolver(make_resolver<netutil::ThreadedResolver>());
    std::exception_ptr error;
    run([&] { return connect_and_capture(client, "nonexistent.invalid", 80, &error); },
        kLookupTimeout);
    expect_closed_by_gai_error(error);
    EXPECT_TRUE(client->closed());
}

TEST_F(ResolverTest, ConnectUsesTheConfiguredResolver) {
    auto failing = std::make_shared<FailingResolver>();
    Resolver::configure(failing);
    auto client = adopt(tcp_socket());
    EXPECT_EQ(client->resolver(), failing);
    std::exception_ptr error;
    run([&] { return connect_and_capture(client, "example.invalid", 80, &error); }, kTimeout);
    Resolver::configure(nullptr);
    EXPECT_EQ(failing->calls, 1);
    expect_closed_by_gai_error(error);
    // Back to a ThreadedResolver.
    EXPECT_NE(std::dynamic_pointer_cast<netutil::ThreadedResolver>(Resolver::configured()),
              nullptr);
}

Future<void> close_while_resolving(std::shared_ptr<IOStream> client, std::exception_ptr* error) {
    Future<void> connected = client->connect("localhost", 80);
    client->close();
    try {
        co_await connected;
    } catch (...) {
        *error = std::current_exception();
    }
    // Let the lookup's answer arrive at the closed stream.
    co_await moments(5);
}

TEST_F(ResolverTest, CloseWhileResolvingFailsTheConnect) {
    auto resolver = make_resolver<RecordingResolver>();
    auto client = adopt(tcp_socket());
    client->set_resolver(resolver);
    std::exception_ptr error;
    run([&] { return close_while_resolving(client, &error); }, kTimeout);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), StreamClosedError);
    EXPECT_TRUE(client->closed());
}

TEST_F(ResolverTest, ConnectKeepsServerHostname) {
    int port = listen_echo("127.0.0.1");
    auto client = std::make_shared<HostnameProbe>(tcp_socket(), loop_.get());
    keep(client);
    run([&]() -> Future<void> { return client->connect("127.0.0.1", port, "example.com"); },
        kTimeout);
    EXPECT_EQ(client->server_hostname(), "example.com");
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace
}  // namespace tornado::iostream_test
