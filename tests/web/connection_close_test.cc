// RequestHandler.on_connection_close over real loopback connections: a
// long-polling GET waits on a Future nobody resolves, the client goes away,
// and every such handler hears of it (Tornado connects it in
// RequestHandler.__init__ through request.connection.set_close_callback).
// The waiting coroutines and their handlers are not leaked either.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::ServerTest;

struct Counters {
    int started = 0;                    // GETs that began waiting
    int closed = 0;                     // on_connection_close calls
    int handlers_alive = 0;             // LongPollHandler instances
    int frames_alive = 0;               // GET coroutine frames
    std::vector<Future<void>> waiters;  // the "message buffer" of a chat room
};

// Lives in the GET coroutine's frame: says whether the frame is still there.
struct FrameMarker {
    explicit FrameMarker(int* live) : live_(live) { ++*live_; }
    ~FrameMarker() { --*live_; }
    FrameMarker(const FrameMarker&) = delete;
    FrameMarker& operator=(const FrameMarker&) = delete;
    int* live_;
};

// Waits for a message that never comes. With `registered`, the Future it
// waits on is kept in Counters::waiters (as a chat room keeps its waiters);
// without, nobody holds it.
class LongPollHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    ~LongPollHandler() override { --counters_->handlers_alive; }
    void initialize(Counters* counters, bool registered) {
        counters_ = counters;
        registered_ = registered;
        ++counters_->handlers_alive;
    }
    Future<void> get() override {
        FrameMarker marker(&counters_->frames_alive);
        ++counters_->started;
        co_await wait_for_messages();
        write("a message");
    }
    void on_connection_close() override { ++counters_->closed; }

  private:
    Future<void> wait_for_messages() {
        Future<void> waiter = Future<void>::make();
        if (registered_) {
            counters_->waiters.push_back(waiter);
        }
        return waiter;
    }
    Counters* counters_ = nullptr;
    bool registered_ = false;
};

class HelloHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("hello");
        return {};
    }
};

class ConnectionCloseTest : public ServerTest {
  protected:
    static constexpr int kClients = 4;

    void start_app() {
        web::ApplicationSettings settings;
        settings.log_requests = false;
        using web::url;
        auto app = web::Application::create(
            {
                url<LongPollHandler>("/poll", &counters_, false),
                url<LongPollHandler>("/poll_registered", &counters_, true),
                url<HelloHandler>("/hello"),
            },
            settings);
        start_server(app);
    }

    // Runs the loop until `done()` holds (bounded by run()'s timeout).
    template <class P>
    void run_until(P done) {
        run([&]() -> Future<void> {
            while (!done()) {
                co_await gen::sleep(0.002);
            }
        });
    }

    // kClients clients send a GET of `path`, wait until every handler is
    // waiting, then all go away.
    void poll_and_hang_up(const std::string& path) {
        std::vector<std::shared_ptr<iostream::IOStream>> streams;
        for (int i = 0; i < kClients; ++i) {
            auto stream = connect();
            run([&] {
                return stream->write("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n");
            });
            streams.push_back(stream);
        }
        run_until([this] { return counters_.started == kClients; });
        ASSERT_EQ(counters_.closed, 0) << "on_connection_close before any client went away";
        for (auto& stream : streams) {
            stream->close();
        }
        run_until([this] { return counters_.closed == kClients; });
        settle();
    }

    Counters counters_;
};

// Tornado: tornado/web.py:268 RequestHandler.on_connection_close
TEST_F(ConnectionCloseTest, EveryLongPollingHandlerHearsItsClientGoAway) {
    start_app();
    poll_and_hang_up("/poll_registered");
    EXPECT_EQ(counters_.closed, kClients);
    // Still waiting: a chat room would drop the waiter in on_connection_close;
    // this one keeps them, so the frames (and their handlers) live on ...
    EXPECT_EQ(counters_.frames_alive, kClients);
    // ... until the Futures are dropped: then nothing is left.
    counters_.waiters.clear();
    settle();
    EXPECT_EQ(counters_.frames_alive, 0);
    EXPECT_EQ(counters_.handlers_alive, 0);
    // The server goes on serving.
    EXPECT_EQ(fetch("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n").body, "hello");
}

TEST_F(ConnectionCloseTest, AHandlerWaitingOnAFutureNobodyHoldsStillHearsTheClose) {
    start_app();
    poll_and_hang_up("/poll");
    EXPECT_EQ(counters_.closed, kClients);
    // The Future could never complete: the frames are gone, and the handlers
    // too once their connections closed.
    EXPECT_EQ(counters_.frames_alive, 0);
    EXPECT_EQ(counters_.handlers_alive, 0);
}

TEST_F(ConnectionCloseTest, AFinishedHandlerIsNotToldOfALaterClose) {
    start_app();
    auto stream = connect();
    EXPECT_EQ(roundtrip(stream, "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n").body, "hello");
    // A long poll that finishes normally is not told either: resolve it.
    auto poller = connect();
    run([&] {
        return poller->write("GET /poll_registered HTTP/1.1\r\nHost: example.com\r\n\r\n");
    });
    run_until([this] { return counters_.started == 1; });
    ASSERT_EQ(counters_.waiters.size(), 1U);
    counters_.waiters.front().set_result();
    std::string response = run([&] { return poller->read_until("a message"); });
    EXPECT_NE(response.find("HTTP/1.1 200 OK"), std::string::npos) << response;
    poller->close();
    stream->close();
    settle(20);
    EXPECT_EQ(counters_.closed, 0);
    counters_.waiters.clear();
    settle();
    EXPECT_EQ(counters_.frames_alive, 0);
    EXPECT_EQ(counters_.handlers_alive, 0);
}

}  // namespace
}  // namespace tornado::web_test
