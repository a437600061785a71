// Slow clients (issue 6, "Linear time, bounded memory"), over real loopback
// sockets. A client that trickles its request head, a byte every ~100 ms,
// cannot hold the connection past the header timeout (idle_connection_timeout):
// as in Tornado's HTTP1Connection._read_message, the timeout covers the whole
// head read, so each byte does not extend it. A client that trickles its body
// cannot hold it past body_timeout. Tornado 6.2 closes in both cases without
// an answer, and so does this server. Then 1,000 such clients at once, on a
// server running on its own thread, do not stop normal keep-alive clients
// from being served. Every wait is bounded; nothing asserts on durations.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"

#include "common/loop_steps.h"
#include "httpserver/raw_client.h"

namespace tornado::httpserver_test {
namespace {

using httputil::HTTPHeaders;

// Answers every request "ok <path>" (the body is read and dropped), and
// records what it saw: "headers <path>", "finish <path>", "close <path>"
// (on_connection_close). The server may run on another thread: `seen` is
// guarded by a mutex.
class Recorder {
  public:
    void add(std::string event) {
        std::lock_guard lock(mutex_);
        seen_.push_back(std::move(event));
    }
    std::vector<std::string> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::size_t count(const std::string& event) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const std::string& e : seen_) {
            n += e == event ? 1 : 0;
        }
        return n;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> seen_;
};

class OkRequest : public httputil::HTTPMessageDelegate {
  public:
    OkRequest(std::shared_ptr<httputil::HTTPConnection> connection, Recorder* recorder)
        : connection_(std::move(connection)), recorder_(recorder) {}

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> /*headers*/) override {
        path_ = std::get<httputil::RequestStartLine>(start_line).path;
        recorder_->add("headers " + path_);
        return {};
    }

    Future<void> data_received(std::string /*chunk*/) override { return {}; }

    void finish() override {
        recorder_->add("finish " + path_);
        std::string out = "ok " + path_;
        respond_ok(*connection_, std::move(out));
    }

    void on_connection_close() override { recorder_->add("close " + path_); }

  private:
    std::shared_ptr<httputil::HTTPConnection> connection_;
    Recorder* recorder_;
    std::string path_;
};

class OkApp : public httputil::HTTPServerConnectionDelegate {
  public:
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* /*server_conn*/,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override {
        return std::make_shared<OkRequest>(std::move(request_conn), &recorder);
    }

    Recorder recorder;
};

// ---------------------------------------------------------------------------
// One slow client at a time, server and client on the test's IOLoop

struct TrickleResult {
    std::size_t sent = 0;  // bytes the client managed to send
    std::string answer;    // every byte the server sent before closing
    bool closed = false;   // the server closed the connection
};

/// Sends `prefix` at once, then `trickled` one byte per send, `interval`
/// seconds apart, while reading what the server sends. Stops sending when
/// the server closes; returns once it has closed (a reset, when the close
/// found unread bytes, counts as a close too). The client never closes.
Future<TrickleResult> trickle(std::shared_ptr<IOStream> stream, std::string prefix,
                              std::string trickled, double interval) {
    TrickleResult result;
    auto reader = [](std::shared_ptr<IOStream> s, TrickleResult* r) -> Future<void> {
        while (true) {
            try {
                r->answer += co_await s->read_bytes(65536, true);
            } catch (const iostream::StreamClosedError&) {
                r->closed = true;
                co_return;
            }
        }
    };
    Future<void> reading = reader(stream, &result);
    try {
        if (!prefix.empty()) {
            co_await stream->write(std::move(prefix));
        }
        for (char c : trickled) {
            if (reading.done()) {
                break;
            }
            co_await stream->write(std::string(1, c));
            ++result.sent;
            co_await gen::sleep(interval);
        }
    } catch (const iostream::StreamClosedError&) {
    }
    co_await reading;
    co_return result;
}

class SlowClientTest : public ServerTest {
  protected:
    void start(httpserver::HTTPServerSettings settings) {
        app_ = std::make_shared<OkApp>();
        start_server(app_, std::move(settings));
    }

    std::shared_ptr<OkApp> app_;
};

constexpr double kInterval = 0.1;
// Long enough that trickling it takes far longer than any timeout below
// (200 bytes at 0.1 s: 20 s); the bounded wait is 30 s.
const std::string kPad(200, 'a');

// Tornado: no test; Tornado 6.2 HTTP1Connection._read_message closes on a
// header timeout with self.close() and no answer.
TEST_F(SlowClientTest, TrickledHeadIsClosedAtTheHeaderTimeoutWithoutAnAnswer) {
    httpserver::HTTPServerSettings settings;
    settings.idle_connection_timeout = 0.4;
    start(settings);
    std::string head = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + kPad + "\r\n\r\n";
    auto stream = connect();
    TrickleResult r = run([&] { return trickle(stream, "", head, kInterval); }, 30);
    EXPECT_TRUE(r.closed);
    EXPECT_LT(r.sent, head.size()) << "the whole head got through";
    EXPECT_EQ(r.answer, "");
    EXPECT_TRUE(app_->recorder.seen().empty());
    settle();
    EXPECT_EQ(server_->connection_count(), 0U);
}

// The header timeout applies to each request's head: the second request of a
// keep-alive connection, trickled, is cut off the same way after the first
// was answered.
TEST_F(SlowClientTest, TrickledSecondHeadOnAKeepAliveConnectionIsClosedToo) {
    httpserver::HTTPServerSettings settings;
    settings.idle_connection_timeout = 0.4;
    start(settings);
    auto stream = connect();
    RawResponse first = roundtrip(stream, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(first.code(), 200);
    EXPECT_EQ(first.body, "ok /first");
    std::string head = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + kPad + "\r\n\r\n";
    TrickleResult r = run([&] { return trickle(stream, "", head, kInterval); }, 30);
    EXPECT_TRUE(r.closed);
    EXPECT_LT(r.sent, head.size());
    EXPECT_EQ(r.answer, "");
    EXPECT_EQ(app_->recorder.seen(), (std::vector<std::string>{"headers /first", "finish /first"}));
}

// Tornado 6.2 _read_message: on a body timeout it logs "Timeout reading body"
// and closes the stream without an answer; the delegate learns of the close.
TEST_F(SlowClientTest, TrickledFixedBodyIsClosedAtTheBodyTimeout) {
    httpserver::HTTPServerSettings settings;
    settings.body_timeout = 0.4;
    start(settings);
    std::string body = kPad;
    std::string head =
        "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n";
    auto stream = connect();
    TrickleResult r = run([&] { return trickle(stream, head, body, kInterval); }, 30);
    EXPECT_TRUE(r.closed);
    EXPECT_LT(r.sent, body.size());
    EXPECT_EQ(r.answer, "");
    settle();
    EXPECT_EQ(app_->recorder.seen(), (std::vector<std::string>{"headers /slow", "close /slow"}));
}

TEST_F(SlowClientTest, TrickledChunkedBodyIsClosedAtTheBodyTimeout) {
    httpserver::HTTPServerSettings settings;
    settings.body_timeout = 0.4;
    start(settings);
    std::string body;
    for (int i = 0; i < 50; ++i) {
        body += "1\r\nb\r\n";
    }
    body += "0\r\n\r\n";
    auto stream = connect();
    TrickleResult r = run(
        [&] {
            return trickle(stream,
                           "POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                           body, kInterval);
        },
        30);
    EXPECT_TRUE(r.closed);
    EXPECT_LT(r.sent, body.size());
    EXPECT_EQ(r.answer, "");
    settle();
    EXPECT_EQ(app_->recorder.seen(), (std::vector<std::string>{"headers /slow", "close /slow"}));
}

// The control for the tests above: the same trickling, well within generous
// timeouts, is served; the timeouts, not the trickling, end those connections.
TEST_F(SlowClientTest, TrickleWithinTheTimeoutsIsServed) {
    httpserver::HTTPServerSettings settings;
    settings.idle_connection_timeout = 20;
    settings.body_timeout = 20;
    start(settings);
    std::string head = "POST /slow HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
    auto stream = connect();
    TrickleResult r = run(
        [&]() -> Future<TrickleResult> {
            // trickle() waits for the close: ask for one, after the body.
            return trickle(stream, "", head + "bodyGET /last HTTP/1.1\r\nConnection: close\r\n\r\n",
                           0.01);
        },
        30);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.answer.starts_with("HTTP/1.1 200 OK\r\n")) << r.answer;
    EXPECT_NE(r.answer.find("\r\n\r\nok /slow"), std::string::npos) << r.answer;
    EXPECT_TRUE(r.answer.ends_with("\r\n\r\nok /last")) << r.answer;
    EXPECT_EQ(app_->recorder.count("finish /slow"), 1U);
}

// ---------------------------------------------------------------------------
// 1,000 slow clients at once, the server on its own thread

/// An HTTPServer for an OkApp, on an IOLoop running on its own thread.
class ServerThread {
  public:
    explicit ServerThread(httpserver::HTTPServerSettings settings)
        : app_(std::make_shared<OkApp>()) {
        std::promise<int> port;
        std::future<int> port_future = port.get_future();
        thread_ = std::thread([this, settings, &port] {
            try {
                IOLoop loop(true);
                auto server = std::make_unique<httpserver::HTTPServer>(app_, settings, &loop);
                std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1", AF_INET);
                server->add_sockets(sockets);
                loop_ = &loop;
                server_ = server.get();
                port.set_value(netutil::bound_port(sockets.front()));
                loop.start();
                server.reset();
                tornado::testing::run_iterations(loop, 10);
            } catch (...) {
                port.set_exception(std::current_exception());
            }
        });
        if (port_future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            throw std::runtime_error("server thread did not start");
        }
        port_ = port_future.get();
    }

    ~ServerThread() {
        loop_->add_callback([loop = loop_] { loop->stop(); });
        thread_.join();
    }

    ServerThread(const ServerThread&) = delete;
    ServerThread& operator=(const ServerThread&) = delete;

    /// The server's open connection count, read on the server's thread.
    std::size_t connection_count() {
        auto done = std::make_shared<std::promise<std::size_t>>();
        std::future<std::size_t> result = done->get_future();
        loop_->add_callback(
            [done, server = server_] { done->set_value(server->connection_count()); });
        if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            throw std::runtime_error("server loop does not answer");
        }
        return result.get();
    }

    int port() const { return port_; }
    const Recorder& recorder() const { return app_->recorder; }

  private:
    std::shared_ptr<OkApp> app_;
    std::thread thread_;
    IOLoop* loop_ = nullptr;
    httpserver::HTTPServer* server_ = nullptr;
    int port_ = 0;
};

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

/// Opens `n` non-blocking connections to `port` and waits (bounded) until
/// every one is established.
std::vector<int> connect_many(int port, std::size_t n) {
    std::vector<int> fds;
    sockaddr_in addr = loopback(port);
    for (std::size_t i = 0; i < n; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        }
        fds.push_back(fd);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
            errno != EINPROGRESS) {
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        }
    }
    std::vector<bool> up(n, false);
    std::size_t remaining = n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (remaining > 0 && std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> pfds;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < n; ++i) {
            if (!up[i]) {
                pfds.push_back({fds[i], POLLOUT, 0});
                index.push_back(i);
            }
        }
        ::poll(pfds.data(), pfds.size(), 200);
        for (std::size_t k = 0; k < pfds.size(); ++k) {
            if (pfds[k].revents != 0) {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(pfds[k].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    throw std::runtime_error(std::string("connect: ") + std::strerror(err));
                }
                up[index[k]] = true;
                --remaining;
            }
        }
    }
    if (remaining > 0) {
        throw std::runtime_error(std::to_string(remaining) + " connections not established");
    }
    return fds;
}

/// A blocking keep-alive client: one request, one Content-Length answer.
/// Every receive is bounded by SO_RCVTIMEO; throws on a timeout or close.
class BlockingClient {
  public:
    explicit BlockingClient(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr = loopback(port);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        }
    }
    ~BlockingClient() { ::close(fd_); }
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /// GET `path`; returns the body of a 200 answer, throws otherwise.
    std::string get(const std::string& path) {
        std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
        if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
            throw std::runtime_error("send failed");
        }
        std::size_t head_end;
        while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            receive();
        }
        std::string head = buffer_.substr(0, head_end + 4);
        if (!head.starts_with("HTTP/1.1 200 OK\r\n")) {
            throw std::runtime_error("unexpected answer: " + head);
        }
        std::size_t cl = head.find("Content-Length: ");
        if (cl == std::string::npos) {
            throw std::runtime_error("no Content-Length: " + head);
        }
        std::size_t length = std::stoul(head.substr(cl + 16));
        while (buffer_.size() < head.size() + length) {
            receive();
        }
        std::string body = buffer_.substr(head.size(), length);
        buffer_.erase(0, head.size() + length);
        return body;
    }

  private:
    void receive() {
        char chunk[4096];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            throw std::runtime_error(n == 0 ? "closed by the server"
                                            : std::string("recv: ") + std::strerror(errno));
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }

    int fd_ = -1;
    std::string buffer_;
};

// Sends the next byte of a head that never ends to every socket, every
// ~200 ms, until stopped. Counts the bytes each managed to send.
class Trickler {
  public:
    explicit Trickler(const std::vector<int>& fds) : fds_(fds), sent_(fds.size(), 0) {
        thread_ = std::thread([this] { loop(); });
    }
    ~Trickler() { stop(); }
    Trickler(const Trickler&) = delete;
    Trickler& operator=(const Trickler&) = delete;

    void stop() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    std::size_t rounds() const { return rounds_; }
    std::size_t failed_sends() const { return failed_; }

  private:
    void loop() {
        const std::string head =
            "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4000, 'a');
        while (!stop_) {
            for (std::size_t i = 0; i < fds_.size(); ++i) {
                char c = head[sent_[i] % head.size()];
                if (::send(fds_[i], &c, 1, MSG_NOSIGNAL) == 1) {
                    ++sent_[i];
                } else {
                    ++failed_;
                }
            }
            ++rounds_;
            for (int i = 0; i < 4 && !stop_; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    }

    const std::vector<int>& fds_;
    std::vector<std::size_t> sent_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> rounds_{0};
    std::atomic<std::size_t> failed_{0};
    std::thread thread_;
};

/// The descriptors among `fds` that are readable, at EOF or in error (a
/// server that answered or closed them), checked without waiting.
std::size_t count_disturbed(const std::vector<int>& fds) {
    std::vector<pollfd> pfds;
    for (int fd : fds) {
        pfds.push_back({fd, POLLIN | POLLRDHUP, 0});
    }
    ::poll(pfds.data(), pfds.size(), 0);
    std::size_t n = 0;
    for (const pollfd& p : pfds) {
        n += p.revents != 0 ? 1 : 0;
    }
    return n;
}

// Issue 6: "1,000 such clients at once do not stop normal clients from
// being served". The header timeout is the default (3600 s), so the slow
// clients stay connected through the test: normal keep-alive clients get
// every answer while all 1,000 hold their connections, and none of the slow
// ones is answered, closed, or reaches the application.
TEST(ManySlowClientsTest, ThousandTricklingClientsDoNotStopNormalClients) {
    constexpr std::size_t kSlow = 1000;
    constexpr int kNormal = 20;
    constexpr int kRequestsEach = 10;
    rlimit limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur < 4 * kSlow && limit.rlim_max >= 4 * kSlow) {
        limit.rlim_cur = 4 * kSlow;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
    }
    ASSERT_GE(limit.rlim_cur, 2 * kSlow + 100) << "RLIMIT_NOFILE too low for this test";

    ServerThread server(httpserver::HTTPServerSettings{});
    std::vector<int> slow = connect_many(server.port(), kSlow);
    Trickler trickler(slow);
    // Every slow connection accepted (bounded wait; the accept backlog is 128).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (server.connection_count() < kSlow && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(server.connection_count(), kSlow);
    while (trickler.rounds() < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }

    std::vector<std::unique_ptr<BlockingClient>> normal;
    for (int i = 0; i < kNormal; ++i) {
        normal.push_back(std::make_unique<BlockingClient>(server.port()));
    }
    int answered = 0;
    for (int round = 0; round < kRequestsEach; ++round) {
        for (int i = 0; i < kNormal; ++i) {
            std::string path = "/normal/" + std::to_string(i) + "/" + std::to_string(round);
            std::string body;
            ASSERT_NO_THROW(body = normal[static_cast<std::size_t>(i)]->get(path)) << path;
            EXPECT_EQ(body, "ok " + path);
            ++answered;
        }
    }
    EXPECT_EQ(answered, kNormal * kRequestsEach);
    // The slow clients were connected all along and still are.
    EXPECT_GE(server.connection_count(), kSlow + kNormal);
    EXPECT_EQ(trickler.failed_sends(), 0U);
    EXPECT_GE(trickler.rounds(), 2U);
    EXPECT_EQ(count_disturbed(slow), 0U);
    EXPECT_EQ(server.recorder().count("headers /slow"), 0U);
    EXPECT_EQ(server.recorder().count("finish /normal/0/0"), 1U);

    trickler.stop();
    for (int fd : slow) {
        ::close(fd);
    }
    normal.clear();
}

}  // namespace
}  // namespace tornado::httpserver_test
