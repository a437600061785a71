// No descriptor or handler leaks on any poller (issue 8): an HTTPServer on a
// loop of each poller takes 5,000 connections in batches, some sending a
// request and reading the answer, some closing without a word; afterwards
// the process holds the descriptors it held before (/proc/self/fd) and the
// loop has the handlers it had (the waker and the listening socket).
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"

#include "httpserver/raw_client.h"

namespace tornado::httpserver_test {
namespace {

using ioloop::Poller;

constexpr int kConnections = 5000;
// Small enough that select's FD_SETSIZE is never near (two fds a connection).
constexpr int kBatch = 100;

std::size_t open_fd_count() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        throw std::system_error(errno, std::generic_category(), "opendir /proc/self/fd");
    }
    std::size_t n = 0;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] != '.') {
            ++n;
        }
    }
    ::closedir(dir);
    return n;  // the DIR's own descriptor included, the same each time
}

class HelloRequest : public httputil::HTTPMessageDelegate {
  public:
    explicit HelloRequest(std::shared_ptr<httputil::HTTPConnection> connection)
        : connection_(std::move(connection)) {}
    Future<void> headers_received(const httputil::StartLine&,
                                  std::shared_ptr<httputil::HTTPHeaders>) override {
        return {};
    }
    Future<void> data_received(std::string) override { return {}; }
    void finish() override { respond_ok(*connection_, "Hello world", httputil::HTTPHeaders{}); }

  private:
    std::shared_ptr<httputil::HTTPConnection> connection_;
};

class HelloApp : public httputil::HTTPServerConnectionDelegate {
  public:
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection*,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override {
        return std::make_shared<HelloRequest>(std::move(request_conn));
    }
};

// One client: connect, then either a request and its answer or nothing,
// then close. Counts the 200s it read.
Future<void> one_client(IOLoop* loop, int port, bool with_request, int* answered) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    auto stream = std::make_shared<IOStream>(fd, loop);
    co_await stream->connect("127.0.0.1", port);
    if (with_request) {
        co_await stream->write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        RawResponse r = co_await read_response(stream);
        if (r.code() == 200 && r.body == "Hello world") {
            ++*answered;
        }
    }
    stream->close();
}

class FdLeakTest : public ::testing::TestWithParam<Poller> {
  protected:
    void SetUp() override {
        saved_level_ = log::level();
        log::set_level(log::Level::Warning);
    }
    void TearDown() override { log::set_level(saved_level_); }
    log::Level saved_level_ = log::Level::Info;
};

TEST_P(FdLeakTest, FiveThousandConnectionsLeaveNoDescriptorOrHandlerBehind) {
    const std::size_t fds_before_loop = open_fd_count();
    {
        IOLoop loop(GetParam(), true);
        ASSERT_EQ(loop.poller(), GetParam());
        auto server = std::make_unique<httpserver::HTTPServer>(
            std::make_shared<HelloApp>(), httpserver::HTTPServerSettings{}, &loop);
        std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
        ASSERT_FALSE(sockets.empty());
        int port = netutil::bound_port(sockets.front());
        server->add_sockets(sockets);
        const std::size_t fds_baseline = open_fd_count();
        const std::size_t handlers_baseline = loop.handler_count();

        int answered = 0;
        int with_request = 0;
        for (int start = 0; start < kConnections; start += kBatch) {
            std::vector<Future<void>> batch;
            for (int i = start; i < start + kBatch; ++i) {
                // Two of three send a request; the rest close at once.
                bool request = i % 3 != 2;
                with_request += request ? 1 : 0;
                batch.push_back(one_client(&loop, port, request, &answered));
            }
            loop.run_sync([&] { return gen::multi(std::move(batch)); }, 30);
        }
        EXPECT_EQ(answered, with_request);

        // The server closes its side when it reads each client's EOF: wait
        // (bounded) until it has no connection and the loop no extra handler.
        loop.run_sync(
            [&]() -> Future<void> {
                double deadline = loop.time() + 20;
                while ((server->connection_count() != 0 ||
                        loop.handler_count() != handlers_baseline) &&
                       loop.time() < deadline) {
                    co_await gen::sleep(0.002);
                }
            },
            30);
        EXPECT_EQ(server->connection_count(), 0U);
        EXPECT_EQ(loop.handler_count(), handlers_baseline);
        EXPECT_EQ(open_fd_count(), fds_baseline) << ioloop::poller_name(GetParam());

        server.reset();
        loop.close(true);
    }
    EXPECT_EQ(open_fd_count(), fds_before_loop) << "the loop's own descriptors";
}

INSTANTIATE_TEST_SUITE_P(Pollers, FdLeakTest,
                         ::testing::Values(Poller::epoll, Poller::poll, Poller::select),
                         [](const auto& param_info) {
                             return ioloop::poller_name(param_info.param);
                         });

}  // namespace
}  // namespace tornado::httpserver_test
