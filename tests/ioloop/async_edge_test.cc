// The async core's edge cases (issue 6, "Faults"): coroutines waiting on a
// Future that is dropped or on a loop that goes away are destroyed, not
// leaked; a throwing done-callback does not stop the others; run_sync with a
// function that throws at once; remove_timeout of a timeout due in the same
// pass; stop() and add_callback from other threads; result() on a Future
// with no state.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace {

using namespace tornado;
using concurrent::InvalidStateError;
using ioloop::IOLoop;

// Counts the live instances; one lives in each coroutine frame under test,
// so the count says whether the frame is still there.
struct FrameMarker {
    explicit FrameMarker(int* live) : live_(live) { ++*live_; }
    ~FrameMarker() { --*live_; }
    FrameMarker(const FrameMarker&) = delete;
    FrameMarker& operator=(const FrameMarker&) = delete;
    int* live_;
};

// Waits on whatever `source` returns, as a temporary (`co_await source()`).
Future<void> wait_on(int* live, bool* resumed, std::function<Future<void>()> source) {
    FrameMarker marker(live);
    co_await source();
    *resumed = true;
}

// A coroutine in the middle: the outer one awaits this one's Future.
Future<void> outer_wait_on(int* live, bool* resumed, std::function<Future<void>()> source) {
    FrameMarker marker(live);
    co_await wait_on(live, resumed, std::move(source));
    *resumed = true;
}

// Waits on a Future nobody else holds: it can never complete.
Future<void> wait_on_orphan(int* live, bool* resumed) {
    FrameMarker marker(live);
    co_await Future<void>::make();
    *resumed = true;
}

Future<void> sleep_forever(int* live, bool* resumed) {
    FrameMarker marker(live);
    co_await gen::sleep(3600);
    *resumed = true;
}

// Holds a timeout and removes it when destroyed (an RAII guard), and queues
// a callback from its destructor: a frame destroyed by ~IOLoop does both.
struct TimeoutGuard {
    TimeoutGuard(IOLoop* loop, int* live)
        : loop_(loop), handle_(loop->call_later(3600, [] {})), marker_(live) {}
    ~TimeoutGuard() {
        loop_->remove_timeout(handle_);
        loop_->add_callback([] {});
        loop_->call_later(1, [] {});
    }
    TimeoutGuard(const TimeoutGuard&) = delete;
    TimeoutGuard& operator=(const TimeoutGuard&) = delete;
    IOLoop* loop_;
    ioloop::Timeout handle_;
    FrameMarker marker_;
};

Future<void> guarded_sleep(int* live, bool* resumed) {
    TimeoutGuard guard(IOLoop::current(), live);
    co_await gen::sleep(3600);
    *resumed = true;
}

class AsyncEdgeTest : public ::testing::Test {
  protected:
    IOLoop loop;

    // Gives the loop a few passes.
    void spin(int passes = 3) {
        loop.run_sync(
            [passes]() -> Future<void> {
                for (int i = 0; i < passes; ++i) {
                    co_await gen::moment;
                }
            },
            5);
    }
};

TEST_F(AsyncEdgeTest, CoroutineAwaitingATemporaryIsDestroyedWhenTheProducerDropsTheFuture) {
    int live = 0;
    bool resumed = false;
    Future<void> producer = Future<void>::make();
    Future<void> waiter = wait_on(&live, &resumed, [&producer] { return producer; });
    spin();
    ASSERT_EQ(live, 1) << "the frame waits while the producer holds the Future";
    producer = Future<void>();  // never resolved, and now nobody holds it
    EXPECT_EQ(live, 0) << "the waiting coroutine's frame was leaked";
    EXPECT_FALSE(resumed);
    EXPECT_FALSE(waiter.done());
}

TEST_F(AsyncEdgeTest, NestedCoroutinesAwaitingTemporariesAreDestroyedTogether) {
    int live = 0;
    bool resumed = false;
    Future<void> producer = Future<void>::make();
    Future<void> outer = outer_wait_on(&live, &resumed, [&producer] { return producer; });
    spin();
    ASSERT_EQ(live, 2);
    producer = Future<void>();
    EXPECT_EQ(live, 0);
    EXPECT_FALSE(resumed);
    EXPECT_FALSE(outer.done());
}

TEST_F(AsyncEdgeTest, CoroutineAwaitingAFutureNobodyHoldsIsDestroyedOnTheNextPass) {
    int live = 0;
    bool resumed = false;
    Future<void> waiter = wait_on_orphan(&live, &resumed);
    // Not inside the co_await itself: the frame is still there after the
    // call returns, and goes on the loop's next pass.
    EXPECT_EQ(live, 1);
    spin();
    EXPECT_EQ(live, 0);
    EXPECT_FALSE(resumed);
    EXPECT_FALSE(waiter.done());
}

TEST(AsyncEdgeLoopTest, CoroutinesAreDestroyedWhenTheIOLoopGoesAway) {
    int live = 0;
    bool resumed = false;
    Future<void> producer;
    Future<void> queued;
    Future<void> sleeping;
    Future<void> guarded;
    {
        IOLoop loop;
        producer = Future<void>::make();
        // Its resumption is queued on the loop but the loop never runs it.
        queued = wait_on(&live, &resumed, [&producer] { return producer; });
        producer.set_result();
        // Owned by a timeout of the loop.
        sleeping = sleep_forever(&live, &resumed);
        // Removes a timeout and queues more work from its destructor.
        guarded = guarded_sleep(&live, &resumed);
        ASSERT_EQ(live, 3);
    }
    EXPECT_EQ(live, 0);
    EXPECT_FALSE(resumed);
    EXPECT_FALSE(queued.done());
    EXPECT_FALSE(sleeping.done());
    EXPECT_FALSE(guarded.done());
}

// Tornado: tornado/concurrent.py:321 Future._set_done
TEST_F(AsyncEdgeTest, AThrowingDoneCallbackIsLoggedAndTheOthersStillRun) {
    struct Record {
        std::string logger;
        log::Level level;
        std::string message;
    };
    std::vector<Record> records;
    log::set_handler([&records](std::string_view logger, log::Level level, std::string_view msg) {
        records.push_back({std::string(logger), level, std::string(msg)});
    });
    std::vector<int> ran;
    Future<int> f = Future<int>::make();
    f.add_done_callback([&ran](const Future<int>&) { ran.push_back(1); });
    f.add_done_callback(
        [](const Future<int>&) { throw std::runtime_error("callback two exploded"); });
    f.add_done_callback([&ran](const Future<int>& done) { ran.push_back(done.result()); });
    bool resumed = false;
    Future<void> waiter = [](const Future<int>* awaited, bool* flag) -> Future<void> {
        co_await *awaited;
        *flag = true;
    }(&f, &resumed);
    f.set_result(3);
    spin();
    log::set_handler({});
    EXPECT_EQ(ran, (std::vector<int>{1, 3}));
    EXPECT_TRUE(resumed) << "a coroutine awaiting the Future was not resumed";
    int logged = 0;
    for (const Record& r : records) {
        if (r.logger == "tornado.application" && r.level == log::Level::Error &&
            r.message.find("Exception in callback") != std::string::npos &&
            r.message.find("callback two exploded") != std::string::npos) {
            ++logged;
        }
    }
    EXPECT_EQ(logged, 1);
}

struct ThrownAtOnce : std::exception {
    const char* what() const noexcept override { return "thrown before any Future"; }
};

// Tornado: tornado/ioloop.py:405 IOLoop.run_sync
TEST_F(AsyncEdgeTest, RunSyncRethrowsWhatTheFunctionThrowsAtOnce) {
    // The timeout only bounds the test: a hang would surface as
    // TimeoutError, which is not ThrownAtOnce.
    EXPECT_THROW(loop.run_sync([]() -> Future<int> { throw ThrownAtOnce(); }, 5), ThrownAtOnce);
    EXPECT_THROW(loop.run_sync([]() -> Future<void> { throw ThrownAtOnce(); }, 5), ThrownAtOnce);
    // The loop is usable afterwards.
    EXPECT_EQ(loop.run_sync([] { return Future<int>::ready(7); }, 5), 7);
}

// Tornado: tornado/ioloop.py:753 PollIOLoop.start (a cancelled due timeout)
TEST_F(AsyncEdgeTest, RemovingATimeoutDueInTheSamePassKeepsItFromRunning) {
    std::vector<std::string> ran;
    double now = loop.time();
    ioloop::Timeout second;
    ioloop::Timeout by_callback;
    // Due together, in this order: the first removes the second, then
    // schedules another that may reuse the second's slot.
    loop.add_timeout(now, [&] {
        ran.push_back("first");
        loop.remove_timeout(second);
        loop.add_timeout(loop.time(), [&] { ran.push_back("third"); });
    });
    second = loop.add_timeout(now, [&] { ran.push_back("second"); });
    // Callbacks run before the due timeouts of their pass.
    by_callback = loop.add_timeout(now, [&] { ran.push_back("removed by a callback"); });
    loop.add_callback([&] { loop.remove_timeout(by_callback); });
    loop.run_sync([] { return gen::sleep(0.01); }, 5);
    EXPECT_EQ(ran, (std::vector<std::string>{"first", "third"}));
    // Later timeouts are unaffected.
    bool later = false;
    loop.call_later(0, [&] { later = true; });
    spin();
    EXPECT_TRUE(later);
}

TEST_F(AsyncEdgeTest, StopFromAnotherThreadEndsTheLoop) {
    for (int round = 0; round < 20; ++round) {
        std::atomic<bool> started{false};
        loop.add_callback([&started] { started.store(true); });
        std::thread stopper([&] {
            while (!started.load()) {
                std::this_thread::yield();
            }
            loop.stop();
        });
        loop.start();  // returns only once the other thread has stopped it
        stopper.join();
        EXPECT_FALSE(loop.running());
    }
}

TEST_F(AsyncEdgeTest, StopFromAnotherThreadBeforeStartMakesStartReturn) {
    std::thread stopper([&] { loop.stop(); });
    stopper.join();
    loop.start();
    EXPECT_FALSE(loop.running());
}

TEST_F(AsyncEdgeTest, CallbacksAddedFromSeveralThreadsWhileTheLoopRunsRunExactlyOnce) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2000;
    // Touched on the loop thread only (the callbacks run there).
    std::vector<int> runs(kThreads * kPerThread, 0);
    int threads_done = 0;
    bool wrong_thread = false;
    std::thread::id loop_thread = std::this_thread::get_id();
    std::vector<std::thread> posters;
    loop.add_callback([&] {
        // The loop is running: start the posters from inside it.
        for (int t = 0; t < kThreads; ++t) {
            posters.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    int slot = t * kPerThread + i;
                    loop.add_callback([&, slot] {
                        wrong_thread = wrong_thread || std::this_thread::get_id() != loop_thread;
                        ++runs[static_cast<std::size_t>(slot)];
                    });
                }
                // Queued after this thread's other callbacks, so it runs
                // after them.
                loop.add_callback([&] {
                    if (++threads_done == kThreads) {
                        loop.stop();
                    }
                });
            });
        }
    });
    loop.start();
    for (std::thread& t : posters) {
        t.join();
    }
    spin();  // nothing left over runs twice
    EXPECT_EQ(threads_done, kThreads);
    EXPECT_FALSE(wrong_thread);
    int not_once = 0;
    for (int n : runs) {
        not_once += n != 1 ? 1 : 0;
    }
    EXPECT_EQ(not_once, 0);
}

TEST(AsyncEdgeFutureTest, ResultOnAFutureWithNoStateThrowsInvalidStateError) {
    Future<int> none;
    try {
        (void)none.result();
        ADD_FAILURE() << "result() on a default-constructed Future<int> returned";
    } catch (const InvalidStateError& e) {
        EXPECT_NE(std::string(e.what()).find("no state"), std::string::npos) << e.what();
    }
    Future<int> a = Future<int>::ready(3);
    Future<int> b = std::move(a);
    EXPECT_THROW((void)a.result(), InvalidStateError);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.result(), 3);
    EXPECT_THROW(none.set_result(1), InvalidStateError);
    EXPECT_THROW(none.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
                 InvalidStateError);
    // A stateless Future<void> stands for "returned None": its result is fine.
    Future<void> none_void;
    EXPECT_NO_THROW(none_void.result());
}

TEST(AsyncEdgeFutureTest, ResultOnAPendingFutureThrowsInvalidStateError) {
    Future<int> pending = Future<int>::make();
    try {
        (void)pending.result();
        ADD_FAILURE() << "result() on a pending Future<int> returned";
    } catch (const InvalidStateError& e) {
        EXPECT_NE(std::string(e.what()).find("not done"), std::string::npos) << e.what();
    }
    Future<void> pending_void = Future<void>::make();
    EXPECT_THROW(pending_void.result(), InvalidStateError);
    pending.set_result(1);
    EXPECT_EQ(pending.result(), 1);
}

TEST_F(AsyncEdgeTest, AwaitingAFutureWithNoStateFailsTheCoroutine) {
    Future<int> result = []() -> Future<int> {
        Future<int> none;
        int value = co_await none;
        co_return value + 1;
    }();
    ASSERT_TRUE(result.done());
    EXPECT_THROW((void)result.result(), InvalidStateError);
}

}  // namespace
