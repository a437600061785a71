// The async model the trace order depends on: callback and timeout order,
// eager coroutines resumed on a later iteration, exceptions through
// Futures, and the trace hub's suspend/resume events.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/trace.h"

namespace {

using namespace tornado;
using ioloop::IOLoop;

constexpr trace::Module kTraceModule{"test", "tornado/test/ioloop_test.py"};
trace::Context trace_context() {
    return {};
}

class IOLoopTest : public ::testing::Test {
  protected:
    IOLoop loop;
};

// Tornado: tornado/test/ioloop_test.py:65 TestIOLoop.test_add_callback_return_sequence
TEST_F(IOLoopTest, CallbacksRunInOrderAndOneAddedFromACallbackWaitsForTheNextIteration) {
    std::vector<std::string> order;
    loop.add_callback([&] {
        order.push_back("a");
        loop.add_callback([&] { order.push_back("c (queued by a)"); });
    });
    loop.add_callback([&] { order.push_back("b"); });
    // A timeout that is due now runs after this iteration's callbacks but
    // before a callback queued during them.
    loop.add_timeout(loop.time(), [&] { order.push_back("timeout"); });
    loop.run_sync(
        []() -> Future<void> {
            co_await gen::moment;
            co_await gen::moment;
        },
        5);
    ASSERT_GE(order.size(), 4U);
    EXPECT_EQ(order[0], "a");
    EXPECT_EQ(order[1], "b");
    EXPECT_EQ(order[2], "timeout");
    EXPECT_EQ(order[3], "c (queued by a)");
}

TEST_F(IOLoopTest, TimeoutsRunByDeadlineThenInsertionOrderAndCanBeRemoved) {
    std::vector<int> order;
    double now = loop.time();
    loop.add_timeout(now + 0.02, [&] { order.push_back(3); });
    loop.add_timeout(now + 0.01, [&] { order.push_back(1); });
    loop.add_timeout(now + 0.01, [&] { order.push_back(2); });
    ioloop::Timeout removed = loop.add_timeout(now + 0.015, [&] { order.push_back(99); });
    loop.remove_timeout(removed);
    loop.run_sync([] { return gen::sleep(0.05); }, 5);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    loop.remove_timeout(removed);  // removing twice (or after firing) is harmless
}

// Tornado: tornado/test/ioloop_test.py:221 TestIOLoop.test_remove_timeout_cleanup
TEST_F(IOLoopTest, ManyCancelledTimeoutsLeaveTheRestWorking) {
    std::vector<ioloop::Timeout> handles;
    for (int i = 0; i < 2000; ++i) {
        handles.push_back(loop.call_later(3600, [] {}));
    }
    for (auto h : handles) {
        loop.remove_timeout(h);
    }
    bool fired = false;
    loop.call_later(0.001, [&] { fired = true; });
    loop.run_sync([] { return gen::sleep(0.01); }, 5);
    EXPECT_TRUE(fired);
}

// Tornado: tornado/test/ioloop_test.py:103 TestIOLoop.test_add_callback_wakeup_other_thread
TEST_F(IOLoopTest, AddCallbackFromAnotherThreadWakesThePoll) {
    std::atomic<bool> ran{false};
    std::thread other;
    loop.add_callback([&] {
        other = std::thread([&] {
            loop.add_callback([&] {
                ran = true;
                loop.stop();
            });
        });
    });
    // Nothing else is scheduled: without the waker the poll would sleep for
    // an hour and the safety timeout below would end the loop instead.
    ioloop::Timeout guard = loop.call_later(10, [&] { loop.stop(); });
    loop.start();
    loop.remove_timeout(guard);
    other.join();
    EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, HandlerReadEventsAndRemovalOverASocketPair) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    int reads = 0;
    loop.add_handler(
        fds[0],
        [&](int fd, std::uint32_t events) {
            char buf[16];
            EXPECT_NE(events & IOLoop::READ, 0U);
            while (::read(fd, buf, sizeof buf) > 0) {
            }
            ++reads;
            loop.remove_handler(fd);
        },
        IOLoop::READ);
    ASSERT_EQ(::write(fds[1], "x", 1), 1);
    loop.run_sync([] { return gen::sleep(0.02); }, 5);
    ASSERT_EQ(::write(fds[1], "y", 1), 1);  // no handler any more
    loop.run_sync([] { return gen::sleep(0.02); }, 5);
    EXPECT_EQ(reads, 1);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_F(IOLoopTest, AnExceptionInACallbackIsLoggedAndTheLoopGoesOn) {
    std::vector<std::string> logged;
    log::set_handler(
        [&](std::string_view, log::Level, std::string_view msg) { logged.emplace_back(msg); });
    bool after = false;
    loop.add_callback([] { throw std::runtime_error("boom"); });
    loop.add_callback([&] { after = true; });
    loop.run_sync([]() -> Future<void> { co_await gen::moment; }, 5);
    log::set_handler({});
    EXPECT_TRUE(after);
    ASSERT_EQ(logged.size(), 1U);
    EXPECT_NE(logged[0].find("boom"), std::string::npos);
}

TEST_F(IOLoopTest, StartWhileRunningThrowsAndStopBeforeStartReturnsAtOnce) {
    bool threw = false;
    loop.add_callback([&] {
        try {
            loop.start();
        } catch (const std::runtime_error&) {
            threw = true;
        }
        loop.stop();
    });
    loop.start();
    EXPECT_TRUE(threw);
    loop.stop();
    loop.start();  // returns at once: stop() came first
}

// --- Coroutines ------------------------------------------------------------

Future<int> wait_then_add(Future<int> input, std::vector<std::string>* log) {
    log->push_back("started");
    int v = co_await input;
    log->push_back("resumed");
    co_return v + 1;
}

TEST_F(IOLoopTest, CoroutineStartsEagerlyAndResumesOnALaterIteration) {
    std::vector<std::string> log;
    Future<int> input = Future<int>::make();
    Future<int> result = wait_then_add(input, &log);
    // Eager: the body ran up to its co_await before the call returned.
    EXPECT_EQ(log, (std::vector<std::string>{"started"}));
    EXPECT_FALSE(result.done());
    input.set_result(41);
    // Not inline inside set_result: the resumption waits for the loop.
    EXPECT_EQ(log.size(), 1U);
    EXPECT_FALSE(result.done());
    loop.run_sync([]() -> Future<void> { co_await gen::moment; }, 5);
    EXPECT_EQ(log.back(), "resumed");
    ASSERT_TRUE(result.done());
    EXPECT_EQ(result.result(), 42);
}

TEST_F(IOLoopTest, AwaitingADoneFutureDoesNotSuspend) {
    std::vector<std::string> log;
    Future<int> result = wait_then_add(Future<int>::ready(1), &log);
    ASSERT_TRUE(result.done());
    EXPECT_EQ(result.result(), 2);
}

Future<int> thrower(Future<void> gate) {
    co_await gate;
    throw std::runtime_error("from inside");
}

Future<std::string> catcher(Future<void> gate) {
    try {
        co_await thrower(std::move(gate));
    } catch (const std::runtime_error& e) {
        co_return std::string("caught: ") + e.what();
    }
    co_return "not caught";
}

TEST_F(IOLoopTest, AnExceptionInACoroutineReachesTheAwaitingCoroutine) {
    Future<void> gate = Future<void>::make();
    loop.call_later(0.001, [gate] { gate.set_result(); });
    std::string got = loop.run_sync([gate] { return catcher(gate); }, 5);
    EXPECT_EQ(got, "caught: from inside");
}

TEST_F(IOLoopTest, RunSyncRethrowsAndTimesOut) {
    Future<void> gate = Future<void>::make();
    loop.call_later(0.001, [gate] { gate.set_result(); });
    EXPECT_THROW(loop.run_sync([gate] { return thrower(gate); }, 5), std::runtime_error);
    Future<void> never = Future<void>::make();
    EXPECT_THROW(loop.run_sync([never] { return never; }, 0.01), TimeoutError);
}

Future<void> ticker(std::string name, int n, std::vector<std::string>* out) {
    for (int i = 0; i < n; ++i) {
        out->push_back(name + std::to_string(i));
        co_await gen::moment;
    }
}

// Tornado: gen.moment gives the loop exactly one iteration.
TEST_F(IOLoopTest, MomentInterleavesTwoCoroutines) {
    std::vector<std::string> out;
    loop.run_sync(
        [&]() -> Future<void> {
            Future<void> a = ticker("a", 3, &out);
            Future<void> b = ticker("b", 3, &out);
            co_await a;
            co_await b;
        },
        5);
    EXPECT_EQ(out, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"}));
}

TEST_F(IOLoopTest, WithTimeoutFailsLateFuturesAndPassesPromptOnes) {
    Future<int> slow = Future<int>::make();
    EXPECT_THROW(loop.run_sync([&] { return gen::with_timeout(loop.time() + 0.01, slow); }, 5),
                 TimeoutError);
    Future<int> fast = Future<int>::make();
    loop.call_later(0.001, [fast] { fast.set_result(7); });
    EXPECT_EQ(loop.run_sync([&] { return gen::with_timeout(loop.time() + 5, fast); }, 5), 7);
    slow.set_result(0);  // completing it after the timeout is harmless
}

struct Flag {
    bool* destroyed;
    ~Flag() { *destroyed = true; }
};

// The producer side of an operation (as an IOStream holds its read Future).
struct Producer {
    Future<void> pending = Future<void>::make();
};

Future<void> waits_forever(Producer* producer, bool* destroyed) {
    Flag flag{destroyed};
    co_await producer->pending;
}

// A suspended coroutine is owned by the Future it waits for: when the
// producer drops that Future without completing it, the frame (and its
// locals) is destroyed instead of leaked.
TEST_F(IOLoopTest, AbandonedCoroutineFrameIsDestroyedNotLeaked) {
    bool destroyed = false;
    Producer producer;
    Future<void> f = waits_forever(&producer, &destroyed);
    EXPECT_FALSE(destroyed);
    producer.pending = Future<void>();
    EXPECT_TRUE(destroyed);
    EXPECT_FALSE(f.done());
}

TEST_F(IOLoopTest, PeriodicCallbackRunsUntilStopped) {
    int runs = 0;
    ioloop::PeriodicCallback pc([&] { ++runs; }, 1, &loop);
    pc.start();
    loop.run_sync(
        [&]() -> Future<void> {
            while (runs < 3) {
                co_await gen::sleep(0.001);
            }
        },
        5);
    pc.stop();
    int at_stop = runs;
    loop.run_sync([] { return gen::sleep(0.01); }, 5);
    EXPECT_EQ(runs, at_stop);
    EXPECT_FALSE(pc.is_running());
}

// --- Trace hub -------------------------------------------------------------

class TraceTest : public IOLoopTest {
  protected:
    void SetUp() override {
        trace::reset();
        trace::add_sink(ring);
        trace::enable(true);
    }
    void TearDown() override {
        trace::enable(false);
        trace::remove_sink(ring);
    }
    std::shared_ptr<trace::RingSink> ring = std::make_shared<trace::RingSink>(1024);
};

Future<void> traced_waiter(Future<void> gate) {
    TRACE_SPAN("test.waiter", {"n", 1});
    { TRACE_SPAN("test.inner"); }
    co_await gate;
}

TEST_F(TraceTest, CoroutineSpanSuspendsAndResumesWithParents) {
    Future<void> gate = Future<void>::make();
    gate.set_origin("test.gate");
    Future<void> f = traced_waiter(gate);
    loop.call_later(0.001, [gate] { gate.set_result(); });
    loop.run_sync([f] { return f; }, 5);
    std::vector<trace::Event> ev = ring->events();
    std::vector<std::pair<char, std::string>> seen;
    for (const auto& e : ev) {
        if (e.step.starts_with("test.")) {
            seen.emplace_back(static_cast<char>(e.ph), e.step);
        }
    }
    std::vector<std::pair<char, std::string>> want = {{'B', "test.waiter"}, {'B', "test.inner"},
                                                      {'E', "test.inner"},  {'S', "test.waiter"},
                                                      {'R', "test.waiter"}, {'E', "test.waiter"}};
    EXPECT_EQ(seen, want);
    const trace::Event* outer = nullptr;
    for (const auto& e : ev) {
        if (e.step == "test.waiter" && e.ph == trace::Phase::Begin) {
            outer = &e;
        }
        if (e.step == "test.inner" && e.ph == trace::Phase::Begin) {
            ASSERT_NE(outer, nullptr);
            EXPECT_EQ(e.parent, outer->id);
        }
        if (e.ph == trace::Phase::Suspend) {
            ASSERT_NE(e.arg("awaiting"), nullptr);
            EXPECT_EQ(std::get<std::string>(*e.arg("awaiting")), "test.gate");
            EXPECT_EQ(e.id, outer->id);
        }
    }
}

TEST_F(TraceTest, JsonKeysComeInTheDocumentedOrderWithNullForUnknownIds) {
    TRACE_EVENT("test.instant", {"bytes", 3}, {"name", "x\"y"});
    std::vector<trace::Event> ev = ring->events();
    ASSERT_EQ(ev.size(), 1U);
    std::string json = trace::to_json(ev[0]);
    std::vector<std::string> keys = {"\"seq\":",
                                     "\"t_us\":",
                                     "\"pid\":",
                                     "\"layer\":",
                                     "\"cls\":",
                                     "\"obj\":",
                                     "\"step\":",
                                     "\"ph\":",
                                     "\"conn\":null",
                                     "\"req\":null",
                                     "\"args\":{\"bytes\":3,\"name\":\"x\\\"y\"}",
                                     "\"src\":",
                                     "\"py\":\"tornado/test/ioloop_test.py:test.instant\""};
    std::size_t pos = 0;
    for (const auto& k : keys) {
        std::size_t at = json.find(k, pos);
        ASSERT_NE(at, std::string::npos) << k << " in " << json;
        pos = at;
    }
}

TEST_F(TraceTest, NothingIsRecordedWhileDisabledAndIdsRestartOnReset) {
    trace::enable(false);
    TRACE_EVENT("test.hidden");
    EXPECT_TRUE(ring->events().empty());
    trace::enable(true);
    struct Obj : trace::Traced {
        Obj() : Traced("Obj") {}
    } a, b;
    EXPECT_EQ(a.trace_tag().label(), "Obj#1");
    EXPECT_EQ(b.trace_tag().label(), "Obj#2");
    trace::reset();
    Obj c;
    EXPECT_EQ(c.trace_tag().label(), "Obj#1");
}

}  // namespace
