// serve's batched answers to pipelined requests (issue 9; IOStream's
// Options::batch_pipelined_writes): every answer arrives, byte for byte as
// without batching, and an answer is not held back when the request after
// it has not fully arrived.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "child.h"
#include "process.h"

namespace {

using tornado::testing::Child;

int start_serve(Child& serve) {
    std::string text = serve.read_err_until("(Ctrl-C stops)");
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/"))) {
        ADD_FAILURE() << "serve did not print its address: " << text;
        return 0;
    }
    return std::stoi(m[1]);
}

int connect_to(int port) {
    int fd = tornado::testing::connect_loopback(port);
    EXPECT_GE(fd, 0) << "cannot connect to port " << port;
    return fd;
}

void send_all(int fd, const std::string& data) {
    ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

// Reads until `answers` whole answers to GET / have come, or a read times out.
std::string read_answers(int fd, std::size_t answers) {
    std::string got;
    char buf[65536];
    while (count_of(got, "Hello, world") < answers) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

const std::string kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

// The headers of an answer without its Date, which moves.
std::string without_dates(const std::string& text) {
    return std::regex_replace(text, std::regex("Date: [^\r]*\r\n"), "");
}

TEST(ServeBatchTest, SixteenPipelinedRequestsGetSixteenAnswersInOrder) {
    Child serve({TORNADO_WALK_BINARY, "serve", "--address", "127.0.0.1", "--port", "0"});
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    int single = connect_to(port);
    send_all(single, kGet);
    std::string one = without_dates(read_answers(single, 1));
    ::close(single);
    ASSERT_EQ(count_of(one, "HTTP/1.1 200 OK"), 1U) << one;

    int fd = connect_to(port);
    std::string batch;
    for (int i = 0; i < 16; ++i) {
        batch += kGet;
    }
    send_all(fd, batch);
    std::string got = without_dates(read_answers(fd, 16));
    std::string expected;
    for (int i = 0; i < 16; ++i) {
        expected += one;
    }
    EXPECT_EQ(got, expected);
    ::close(fd);
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

// The first request is answered while the second is half sent: its answer
// is sent (with MSG_MORE, since bytes of the next request are buffered) and
// must reach the client without waiting for the rest of that request. On
// this kernel a held segment with nothing in flight leaves soon anyway, so
// this fails when the server waits to write, not when the push is missing.
TEST(ServeBatchTest, AnAnswerIsNotHeldForARequestThatHasNotFullyArrived) {
    Child serve({TORNADO_WALK_BINARY, "serve", "--address", "127.0.0.1", "--port", "0"});
    int port = start_serve(serve);
    ASSERT_GT(port, 0);
    int fd = connect_to(port);
    send_all(fd, kGet + "GET / HTTP/1.1\r\nHo");
    std::string first = read_answers(fd, 1);
    EXPECT_EQ(count_of(first, "Hello, world"), 1U) << first;
    send_all(fd, "st: x\r\n\r\n");
    std::string second = read_answers(fd, 1);
    EXPECT_EQ(count_of(second, "Hello, world"), 1U) << second;
    ::close(fd);
    ::kill(serve.pid(), SIGTERM);
    EXPECT_EQ(serve.wait(), 0);
}

}  // namespace
