// TCPServer: handle_stream as a coroutine, stop(), and errors from
// handle_stream, over real TCP connections on 127.0.0.1.
#include "tornado/tcpserver.h"

#include <gtest/gtest.h>

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

#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

constexpr double kTimeout = 10;

/// Echoes one line back and closes; with `fail_first`, the first connection's
/// handle_stream instead fails after a loop iteration.
class EchoServer : public tcpserver::TCPServer {
  public:
    explicit EchoServer(IOLoop* loop) : TCPServer(loop) {}

    // C++: handle_stream hands the connection to a coroutine that takes its
    // arguments by value (STYLE.md); `address` is a reference into
    // _handle_connection and would dangle across a co_await.
    Future<void> handle_stream(std::shared_ptr<IOStream> stream,
                               const netutil::Address& address) override {
        peer_hosts.push_back(address.host());
        accepted.push_back(stream);
        ++connections;
        if (fail_first && connections == 1) {
            return fail_after_a_moment(std::move(stream));
        }
        return echo_line(std::move(stream));
    }

    static Future<void> echo_line(std::shared_ptr<IOStream> stream) {
        std::string line = co_await stream->read_until("\n");
        co_await stream->write(std::move(line));
        stream->close();
    }

    static Future<void> fail_after_a_moment(std::shared_ptr<IOStream> stream) {
        co_await gen::moment;
        stream->close();
        throw std::runtime_error("handle_stream failed on purpose");
    }

    bool fail_first = false;
    int connections = 0;
    std::vector<std::string> peer_hosts;
    std::vector<std::shared_ptr<IOStream>> accepted;
};

class TCPServerTest : public LoopTest {
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

    /// Starts server_ on a free port of 127.0.0.1; returns the port.
    int start_server() {
        server_ = std::make_unique<EchoServer>(loop_.get());
        std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
        server_->add_sockets(socks);
        return netutil::bound_port(socks.at(0));
    }

    std::unique_ptr<EchoServer> server_;
};

struct EchoResult {
    std::string echoed;
    std::string rest;
};

Future<void> echo_once(std::shared_ptr<IOStream> client, int port, std::string line,
                       EchoResult* out) {
    co_await client->connect("127.0.0.1", port);
    co_await client->write(std::move(line));
    out->echoed = co_await client->read_until("\n");
    out->rest = co_await client->read_until_close();
}

// Tornado: tornado/test/tcpserver_test.py:45 TCPServerTest.test_handle_stream_native_coroutine
TEST_F(TCPServerTest, HandleStreamCoroutineEchoesLine) {
    int port = start_server();
    auto client = adopt(tcp_socket());
    EchoResult result;
    run([&] { return echo_once(client, port, "hello\n", &result); }, kTimeout);
    EXPECT_EQ(result.echoed, "hello\n");
    EXPECT_EQ(result.rest, "");  // then the server closed the connection
    EXPECT_EQ(server_->connections, 1);
    EXPECT_EQ(server_->peer_hosts, (std::vector<std::string>{"127.0.0.1"}));
}

Future<void> connect_capturing(std::shared_ptr<IOStream> client, int port,
                               std::exception_ptr* error) {
    try {
        co_await client->connect("127.0.0.1", port);
    } catch (...) {
        *error = std::current_exception();
    }
}

// Tornado: tornado/test/tcpserver_test.py:65 TCPServerTest.test_stop_twice
TEST_F(TCPServerTest, StopCanBeCalledTwice) {
    std::size_t handlers_before = loop_->handler_count();
    int port = start_server();
    EXPECT_EQ(loop_->handler_count(), handlers_before + 1);
    ASSERT_EQ(server_->sockets().size(), 1U);
    server_->stop();
    EXPECT_NO_THROW(server_->stop());
    EXPECT_TRUE(server_->sockets().empty());
    EXPECT_EQ(loop_->handler_count(), handlers_before);

    // The port no longer accepts.
    auto client = adopt(tcp_socket());
    std::exception_ptr error;
    run([&] { return connect_capturing(client, port, &error); }, kTimeout);
    ASSERT_TRUE(error != nullptr);
    EXPECT_THROW(std::rethrow_exception(error), StreamClosedError);
    EXPECT_EQ(server_->connections, 0);
}

struct FailThenEchoResult {
    std::string first_connection;
    std::string echoed;
};

Future<void> fail_then_echo(std::shared_ptr<IOStream> first, std::shared_ptr<IOStream> second,
                            int port, const LogCapture* logs, FailThenEchoResult* out) {
    co_await first->connect("127.0.0.1", port);
    out->first_connection = co_await first->read_until_close();
    // The failed Future is logged on a later iteration.
    while (logs->count("tornado.application", log::Level::Error, "on purpose") == 0) {
        co_await gen::moment;
    }
    co_await second->connect("127.0.0.1", port);
    co_await second->write("still here\n");
    out->echoed = co_await second->read_until("\n");
}

// Tornado: tornado/test/tcpserver_test.py:16 TCPServerTest.test_handle_stream_coroutine_logging
TEST_F(TCPServerTest, ExceptionFromHandleStreamIsLoggedAndServerKeepsAccepting) {
    int port = start_server();
    server_->fail_first = true;
    auto first = adopt(tcp_socket());
    auto second = adopt(tcp_socket());
    LogCapture logs;
    FailThenEchoResult result;
    run([&] { return fail_then_echo(first, second, port, &logs, &result); }, kTimeout);
    EXPECT_EQ(result.first_connection, "");
    EXPECT_EQ(result.echoed, "still here\n");
    EXPECT_EQ(server_->connections, 2);
    EXPECT_EQ(
        logs.count("tornado.application", log::Level::Error, "handle_stream failed on purpose"), 1)
        << logs.dump();
}

}  // namespace
}  // namespace tornado::iostream_test
