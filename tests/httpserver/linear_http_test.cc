// Issue 6, "Linear time": a request head of max_header_size bytes sent one
// byte per send through a real HTTPServer costs work linear in its size, and
// so does a chunked body sent one byte per send. The work is counted on the
// server's own IOStream with BaseIOStream::scan_stats() (the bytes its
// delimiter and regex searches examined), never timed. Rescanning the buffer
// at each read, as Tornado does, would examine about size * size / 2 bytes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"

#include "httpserver/raw_client.h"

namespace tornado::httpserver_test {
namespace {

using httputil::HTTPHeaders;

// Answers "<bytes of body received>" and remembers the server side stream
// of the last connection it saw.
class CountingRequest : public httputil::HTTPMessageDelegate {
  public:
    explicit CountingRequest(std::shared_ptr<httputil::HTTPConnection> connection)
        : connection_(std::move(connection)) {}

    Future<void> headers_received(const httputil::StartLine& /*start_line*/,
                                  std::shared_ptr<HTTPHeaders> /*headers*/) override {
        return {};
    }
    Future<void> data_received(std::string chunk) override {
        received_ += chunk.size();
        return {};
    }
    void finish() override {
        std::string out = std::to_string(received_);
        respond_ok(*connection_, std::move(out));
    }

  private:
    std::shared_ptr<httputil::HTTPConnection> connection_;
    std::size_t received_ = 0;
};

class StreamRecordingApp : public httputil::HTTPServerConnectionDelegate {
  public:
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* server_conn,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override {
        stream = server_conn->stream();
        return std::make_shared<CountingRequest>(std::move(request_conn));
    }

    std::shared_ptr<IOStream> stream;  // the server side of the last connection
};

/// Bytes in `fd`'s receive queue that its reader has not read yet.
int unread_bytes(int fd) {
    int n = 0;
    if (::ioctl(fd, FIONREAD, &n) != 0) {
        return 0;
    }
    return n;
}

/// Writes `data` one byte per send; after each, runs the loop until the
/// server has read that byte (its socket's receive queue is empty), so that
/// each byte reaches the server in a read of its own.
Future<void> send_one_byte_at_a_time(std::shared_ptr<IOStream> client,
                                     std::shared_ptr<IOStream> server, std::string data) {
    for (char c : data) {
        co_await client->write(std::string(1, c));
        for (int i = 0; i < 1000 && unread_bytes(server->fileno()) > 0; ++i) {
            co_await gen::moment;
        }
    }
}

class LinearHttpTest : public ServerTest {
  protected:
    static constexpr std::size_t kMaxHeaderSize = 16 * 1024;

    void SetUp() override {
        ServerTest::SetUp();
        app_ = std::make_shared<StreamRecordingApp>();
        httpserver::HTTPServerSettings settings;
        settings.max_header_size = kMaxHeaderSize;
        start_server(app_, settings);
    }

    /// A new connection, with the server's side of it.
    std::pair<std::shared_ptr<IOStream>, std::shared_ptr<IOStream>> open() {
        auto previous = app_->stream;
        auto client = connect();
        for (int i = 0; i < 1000 && app_->stream == previous; ++i) {
            settle(1);
        }
        EXPECT_NE(app_->stream, previous) << "the server did not start the connection";
        return {client, app_->stream};
    }

    /// Sends `prefix` at once and `trickled` one byte per send, then reads
    /// the answer; returns its body.
    std::string send(const std::shared_ptr<IOStream>& client,
                     const std::shared_ptr<IOStream>& server, const std::string& prefix,
                     const std::string& trickled) {
        RawResponse r = run(
            [&]() -> Future<RawResponse> {
                if (!prefix.empty()) {
                    co_await client->write(prefix);
                }
                co_await send_one_byte_at_a_time(client, server, trickled);
                co_return co_await read_response(client);
            },
            60);
        EXPECT_EQ(r.code(), 200) << r.start_line;
        return r.body;
    }

    std::shared_ptr<StreamRecordingApp> app_;
};

/// A request head of exactly `size` bytes: many short headers, then padding.
std::string head_of_size(std::size_t size, const std::string& first_lines) {
    std::string head = first_lines;
    int i = 0;
    const std::string end = "\r\n";
    while (head.size() + 40 + end.size() < size) {
        head += "X-H" + std::to_string(i++) + ": value\r\n";
    }
    std::string pad_name = "X-Pad: ";
    std::size_t pad = size - head.size() - pad_name.size() - 2 - end.size();
    head += pad_name + std::string(pad, 'p') + "\r\n" + end;
    return head;
}

// No Tornado test (Tornado rescans the buffer at every read): a head of
// max_header_size bytes (16 KiB here), one byte per send.
TEST_F(LinearHttpTest, MaxHeaderSizeHeadOneBytePerSendExaminesLinearBytes) {
    // read_until_regex's limit counts the bytes up to the match's end.
    std::string head = head_of_size(kMaxHeaderSize, "GET /big HTTP/1.1\r\nHost: x\r\n");
    ASSERT_EQ(head.size(), kMaxHeaderSize);
    auto [client, server] = open();
    EXPECT_EQ(send(client, server, "", head), "0");
    const auto& stats = server->scan_stats();
    // Nearly every byte came in a read of its own: one search each.
    EXPECT_GE(stats.searches, head.size() / 2) << stats.searches;
    // A small constant number of bytes examined per byte (not size / 2).
    EXPECT_GE(stats.bytes_examined, head.size());
    EXPECT_LE(stats.bytes_examined, 4 * head.size()) << stats.bytes_examined;
}

// The same head size one byte over the limit is not served: the check is
// the real max_header_size, so the test above sent the largest head allowed.
TEST_F(LinearHttpTest, OneByteOverMaxHeaderSizeIsNotServed) {
    std::string head = head_of_size(kMaxHeaderSize + 1, "GET /big HTTP/1.1\r\nHost: x\r\n");
    ASSERT_EQ(head.size(), kMaxHeaderSize + 1);
    auto client = connect();
    std::string got = run([&]() -> Future<std::string> {
        co_await client->write(head);
        std::string out;
        try {
            out = co_await client->read_until_close();
        } catch (const iostream::StreamClosedError&) {
            // A reset: closed, with our last bytes unread.
        }
        co_return out;
    });
    EXPECT_EQ(got, "");
    EXPECT_TRUE(client->closed());
}

// A chunked body of 16 KiB on the wire, one byte per send: the chunk-size
// lines are the only searches (chunk data is read with read_bytes).
TEST_F(LinearHttpTest, ChunkedBodyOneBytePerSendExaminesLinearBytes) {
    std::string body;
    std::size_t data_bytes = 0;
    for (int i = 0; body.size() < 16 * 1024; ++i) {
        std::size_t n = 1 + static_cast<std::size_t>(i % 16);  // sizes 1..f
        body += fmt::format("{:x}\r\n{}\r\n", n, std::string(n, 'd'));
        data_bytes += n;
    }
    body += "0\r\n\r\n";
    auto [client, server] = open();
    std::string head = "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    // The head is sent at once; its one search is subtracted below.
    run([&] { return client->write(head); });
    for (int i = 0; i < 1000 && server->scan_stats().searches == 0; ++i) {
        settle(1);
    }
    auto before = server->scan_stats();
    ASSERT_GE(before.searches, 1U);
    EXPECT_EQ(send(client, server, "", body), std::to_string(data_bytes));
    auto after = server->scan_stats();
    std::uint64_t searches = after.searches - before.searches;
    std::uint64_t examined = after.bytes_examined - before.bytes_examined;
    // Each byte of a chunk-size line came in a read of its own.
    EXPECT_GE(searches, (body.size() - data_bytes) / 2) << searches;
    // Each search examines the bytes of the line received so far, and the
    // lines here are three or four bytes long.
    EXPECT_LE(examined, 4 * body.size()) << examined;
}

// Chunk-size lines with long extensions, one byte per send. A chunk-size
// line is searched from its start at each byte (the pattern is anchored so
// that a line past 64 bytes can be refused with a 400), but a line is at
// most 64 bytes, so the work per byte stays bounded: the stream searches
// about twice per byte received, and a search that needs more data scans
// the buffered line twice (hard partial, then complete), so at most
// 4 * 64 bytes examined per byte, whatever the body's size.
TEST_F(LinearHttpTest, LongChunkExtensionsCostAtMostTheLineLimitPerByte) {
    std::string body;
    for (int i = 0; i < 40; ++i) {
        body += "1;name=" + std::string(50, 'v') + "\r\nd\r\n";
    }
    body += "0\r\n\r\n";
    auto [client, server] = open();
    std::string head = "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(send(client, server, head, body), "40");
    const auto& stats = server->scan_stats();
    EXPECT_GE(stats.searches, body.size() / 2) << stats.searches;
    EXPECT_LE(stats.bytes_examined, 4 * 64 * body.size() + 4 * head.size()) << stats.searches;
}

}  // namespace
}  // namespace tornado::httpserver_test
