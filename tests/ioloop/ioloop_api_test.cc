// The rest of IOLoop's server-side API (issue 8): the pollers,
// add_callback_from_signal, close(all_fds), instance()/install(),
// current(), handle_callback_exception, and gen.multi / gen.WaitIterator.
// The suite runs once per poller (poller_config_test.cc).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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
using ioloop::IOLoop;
using ioloop::Poller;

bool fd_open(int fd) {
    return ::fcntl(fd, F_GETFD) >= 0;
}

struct SocketPair {
    int fds[2] = {-1, -1};
    SocketPair() {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            throw std::runtime_error("socketpair");
        }
    }
    ~SocketPair() {
        for (int fd : fds) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
};

// Records app_log errors for the life of the object.
struct LogCapture {
    std::vector<std::string> errors;
    LogCapture() {
        log::set_handler([this](std::string_view, log::Level level, std::string_view message) {
            if (level >= log::Level::Error) {
                errors.emplace_back(message);
            }
        });
    }
    ~LogCapture() { log::set_handler(nullptr); }
};

class IOLoopApiTest : public ::testing::Test {
  protected:
    IOLoop loop;
};

// ---- pollers ----------------------------------------------------------

TEST(PollerTest, NamesParseBackAndUnknownNamesAreRefused) {
    for (Poller p : {Poller::epoll, Poller::poll, Poller::select}) {
        auto parsed = ioloop::parse_poller(ioloop::poller_name(p));
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, p);
    }
    EXPECT_FALSE(ioloop::parse_poller("kqueue").has_value());
    EXPECT_FALSE(ioloop::parse_poller("").has_value());
    EXPECT_FALSE(ioloop::parse_poller("EPOLL").has_value());
}

// Tornado 6.2: tornado/test/ioloop_test.py TestIOLoopConfiguration (IOLoop.configure, as its
// cases do it)
TEST(PollerTest, ConfigureChoosesThePollerOfLoopsMadeAfterwards) {
    Poller before = IOLoop::configured();
    IOLoop old_loop(false);
    for (Poller p : {Poller::select, Poller::poll, Poller::epoll}) {
        IOLoop::configure(p);
        EXPECT_EQ(IOLoop::configured(), p);
        IOLoop made(false);
        EXPECT_EQ(made.poller(), p);
    }
    IOLoop::configure(before);
    EXPECT_EQ(old_loop.poller(), before);
    IOLoop explicit_loop(Poller::select, false);
    EXPECT_EQ(explicit_loop.poller(), Poller::select);
}

class EveryPollerTest : public ::testing::TestWithParam<Poller> {};

// Read, write and hang-up reach the handler as READ, WRITE and ERROR (or
// READ with the end of the stream) on every poller, and the waker works.
TEST_P(EveryPollerTest, EventsAreTranslatedToTheLoopsConstants) {
    IOLoop loop(GetParam(), false);
    SocketPair sp;
    std::vector<std::uint32_t> seen;
    loop.add_handler(
        sp.fds[0],
        [&](int fd, std::uint32_t events) {
            seen.push_back(events);
            if ((events & IOLoop::WRITE) != 0) {
                loop.update_handler(fd, IOLoop::READ);
                char c = 'x';
                ASSERT_EQ(::write(sp.fds[1], &c, 1), 1);
            } else if ((events & IOLoop::READ) != 0) {
                char buf[8];
                ssize_t n = ::read(fd, buf, sizeof buf);
                if (n == 0) {
                    loop.remove_handler(fd);
                    loop.stop();
                } else {
                    ::close(sp.fds[1]);
                    sp.fds[1] = -1;
                }
            } else {
                loop.remove_handler(fd);
                loop.stop();
            }
        },
        IOLoop::WRITE);
    EXPECT_EQ(loop.handler_count(), 2U);  // the waker's and ours
    auto guard = loop.add_timeout(loop.time() + 5, [&] { loop.stop(); });
    loop.start();
    loop.remove_timeout(guard);
    ASSERT_GE(seen.size(), 3U);
    EXPECT_EQ(seen[0], IOLoop::WRITE);
    EXPECT_NE(seen[1] & IOLoop::READ, 0U);
    EXPECT_EQ(seen[1] & IOLoop::WRITE, 0U);
    // The peer's close: epoll and poll say so with HUP (ERROR) and/or READ;
    // select with READ (a zero-byte read).
    EXPECT_NE(seen.back() & (IOLoop::READ | IOLoop::ERROR), 0U);
    EXPECT_EQ(loop.handler_count(), 1U);

    // The waker: add_callback from another thread ends a long poll.
    bool ran = false;
    std::thread t;
    loop.add_callback([&] {
        t = std::thread([&] {
            loop.add_callback([&] {
                ran = true;
                loop.stop();
            });
        });
    });
    loop.start();
    t.join();
    EXPECT_TRUE(ran);
}

TEST_P(EveryPollerTest, AnFdBelowFdSetsizeButHighWorksAndRemovalFreesIt) {
    IOLoop loop(GetParam(), false);
    SocketPair sp;
    int high = ::fcntl(sp.fds[0], F_DUPFD_CLOEXEC, 200);
    ASSERT_GE(high, 200);
    int hits = 0;
    loop.add_handler(
        high,
        [&](int fd, std::uint32_t) {
            char buf[4];
            ASSERT_EQ(::read(fd, buf, sizeof buf), 1);
            ++hits;
            loop.remove_handler(fd);
            loop.stop();
        },
        IOLoop::READ);
    char c = 'y';
    ASSERT_EQ(::write(sp.fds[1], &c, 1), 1);
    auto guard = loop.add_timeout(loop.time() + 5, [&] { loop.stop(); });
    loop.start();
    loop.remove_timeout(guard);
    ::close(high);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(loop.handler_count(), 1U);
}

INSTANTIATE_TEST_SUITE_P(Pollers, EveryPollerTest,
                         ::testing::Values(Poller::epoll, Poller::poll, Poller::select),
                         [](const auto& param_info) {
                             return ioloop::poller_name(param_info.param);
                         });

// select() cannot take a descriptor >= FD_SETSIZE: add_handler refuses it
// with an error naming both, and the loop is unchanged; epoll and poll take it.
TEST(PollerTest, SelectRefusesDescriptorsFromFdSetsizeOnAndTheOthersTakeThem) {
    rlimit old_limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old_limit), 0);
    const rlim_t need = FD_SETSIZE + 8;
    if (old_limit.rlim_cur < need) {
        if (old_limit.rlim_max != RLIM_INFINITY && old_limit.rlim_max < need) {
            GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << old_limit.rlim_max
                         << " leaves no descriptor >= FD_SETSIZE";
        }
        rlimit raised = old_limit;
        raised.rlim_cur = need;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
    }
    SocketPair sp;
    const int big = FD_SETSIZE + 2;
    ASSERT_EQ(::dup2(sp.fds[0], big), big);
    {
        IOLoop loop(Poller::select, false);
        try {
            loop.add_handler(
                big, [](int, std::uint32_t) {}, IOLoop::READ);
            ADD_FAILURE() << "select took fd " << big;
        } catch (const std::invalid_argument& e) {
            std::string what = e.what();
            EXPECT_NE(what.find(std::to_string(big)), std::string::npos) << what;
            EXPECT_NE(what.find("FD_SETSIZE"), std::string::npos) << what;
        }
        EXPECT_EQ(loop.handler_count(), 1U);
        // The slot stays free: remove is a no-op, the loop still runs.
        loop.remove_handler(big);
        bool ran = false;
        loop.add_callback([&] {
            ran = true;
            loop.stop();
        });
        loop.start();
        EXPECT_TRUE(ran);
    }
    for (Poller p : {Poller::epoll, Poller::poll}) {
        IOLoop loop(p, false);
        bool read = false;
        loop.add_handler(
            big,
            [&](int fd, std::uint32_t events) {
                read = (events & IOLoop::READ) != 0;
                loop.remove_handler(fd);
                loop.stop();
            },
            IOLoop::READ);
        char c = 'z';
        ASSERT_EQ(::write(sp.fds[1], &c, 1), 1);
        auto guard = loop.add_timeout(loop.time() + 5, [&] { loop.stop(); });
        loop.start();
        loop.remove_timeout(guard);
        EXPECT_TRUE(read) << ioloop::poller_name(p);
        char buf[4];
        ASSERT_EQ(::read(sp.fds[0], buf, sizeof buf), 1);
    }
    ::close(big);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old_limit), 0);
}

// ---- add_callback_from_signal -------------------------------------------

// Tornado: tornado/test/ioloop_test.py:143 TestIOLoop.test_add_callback_from_signal
TEST_F(IOLoopApiTest, AddCallbackFromSignal) {
    // As Tornado's test: called normally, outside a handler.
    IOLoop* l = &loop;
    EXPECT_TRUE(loop.add_callback_from_signal([l] { l->stop(); }));
    auto guard = loop.add_timeout(loop.time() + 5, [&] {
        ADD_FAILURE() << "never ran";
        loop.stop();
    });
    loop.start();
    loop.remove_timeout(guard);
}

// Tornado: tornado/test/ioloop_test.py:149 TestIOLoop.test_add_callback_from_signal_other_thread
TEST(IOLoopSignalTest, AddCallbackFromSignalOtherThread) {
    IOLoop other(false);
    std::thread thread([&] { other.start(); });
    IOLoop* l = &other;
    EXPECT_TRUE(other.add_callback_from_signal([l] { l->stop(); }));
    thread.join();
    other.close();
}

IOLoop* g_signal_loop = nullptr;
volatile sig_atomic_t g_handler_ran = 0;
std::atomic<int> g_posted{0};

void on_sigusr1(int) {
    g_handler_ran = 1;
    // Three in a row from inside the handler: they run in this order.
    IOLoop* l = g_signal_loop;
    for (int i = 1; i <= 3; ++i) {
        (void)l->add_callback_from_signal([l, i] {
            g_posted.store(g_posted.load() * 10 + i);
            if (i == 3) {
                l->stop();
            }
        });
    }
}

// A real signal handler, run by raise() on the loop's thread while the loop
// runs.
TEST_F(IOLoopApiTest, AddCallbackFromARealSignalHandlerRunsOnTheLoopInOrder) {
    struct sigaction sa {};
    struct sigaction old {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
    g_signal_loop = &loop;
    g_posted = 0;
    g_handler_ran = 0;
    loop.add_callback([] { ::raise(SIGUSR1); });
    auto guard = loop.add_timeout(loop.time() + 5, [&] { loop.stop(); });
    loop.start();
    loop.remove_timeout(guard);
    ::sigaction(SIGUSR1, &old, nullptr);
    g_signal_loop = nullptr;
    EXPECT_EQ(g_handler_ran, 1);
    EXPECT_EQ(g_posted.load(), 123);
}

TEST_F(IOLoopApiTest, SignalSlotsAreBoundedAndFreedWhenRun) {
    int runs = 0;
    int* r = &runs;
    for (std::size_t i = 0; i < IOLoop::kSignalSlots; ++i) {
        EXPECT_TRUE(loop.add_callback_from_signal([r] { ++*r; }));
    }
    EXPECT_FALSE(loop.add_callback_from_signal([r] { ++*r; })) << "more than kSignalSlots";
    loop.run_sync([]() -> Future<void> { co_await gen::moment; }, 5);
    EXPECT_EQ(runs, static_cast<int>(IOLoop::kSignalSlots));
    // Freed: they can be used again.
    IOLoop* l = &loop;
    EXPECT_TRUE(loop.add_callback_from_signal([r, l] {
        ++*r;
        l->stop();
    }));
    loop.start();
    EXPECT_EQ(runs, static_cast<int>(IOLoop::kSignalSlots) + 1);
    loop.close();
    EXPECT_FALSE(loop.add_callback_from_signal([r] { ++*r; })) << "closed loop";
}

// ---- close --------------------------------------------------------------

// Tornado: tornado/test/ioloop_test.py:285 TestIOLoop.test_close_file_object
// C++: fds, not file objects: close(all_fds=true) closes every registered
// one; close() leaves them to their owner.
TEST(IOLoopCloseTest, CloseAllFdsClosesTheRegisteredDescriptors) {
    SocketPair sp;
    {
        IOLoop loop(false);
        loop.add_handler(
            sp.fds[0], [](int, std::uint32_t) {}, IOLoop::READ);
        loop.add_handler(
            sp.fds[1], [](int, std::uint32_t) {}, IOLoop::READ);
        EXPECT_EQ(loop.handler_count(), 3U);
        loop.close(true);
        EXPECT_TRUE(loop.closed());
        EXPECT_EQ(loop.handler_count(), 0U);
        EXPECT_FALSE(fd_open(sp.fds[0]));
        EXPECT_FALSE(fd_open(sp.fds[1]));
        EXPECT_EQ(errno, EBADF);
        sp.fds[0] = sp.fds[1] = -1;
    }
    SocketPair kept;
    IOLoop loop(false);
    loop.add_handler(
        kept.fds[0], [](int, std::uint32_t) {}, IOLoop::READ);
    loop.close();
    EXPECT_TRUE(fd_open(kept.fds[0]));
    EXPECT_EQ(loop.handler_count(), 0U);
}

TEST(IOLoopCloseTest, AClosedLoopDropsWhatWasQueuedAndRefusesToStart) {
    IOLoop loop(false);
    auto held = std::make_shared<int>(1);
    bool ran = false;
    loop.add_callback([held, &ran] { ran = true; });
    loop.add_timeout(loop.time(), [held, &ran] { ran = true; });
    EXPECT_EQ(held.use_count(), 3);
    loop.close();
    EXPECT_EQ(held.use_count(), 1) << "queued callbacks and timeouts are destroyed";
    EXPECT_THROW(loop.start(), std::runtime_error);
    SocketPair sp;
    EXPECT_THROW(loop.add_handler(
                     sp.fds[0], [](int, std::uint32_t) {}, IOLoop::READ),
                 std::runtime_error);
    loop.add_callback([&ran] { ran = true; });
    EXPECT_EQ(loop.pending_callbacks(), 0U);
    loop.remove_handler(sp.fds[0]);  // allowed, a no-op
    loop.close();                    // again: a no-op
    EXPECT_FALSE(ran);
}

TEST(IOLoopCloseTest, CloseWhileRunningIsRefused) {
    IOLoop loop(false);
    bool threw = false;
    loop.add_callback([&] {
        try {
            loop.close();
        } catch (const std::runtime_error&) {
            threw = true;
        }
        loop.stop();
    });
    loop.start();
    EXPECT_TRUE(threw);
    EXPECT_FALSE(loop.closed());
}

// ---- current and instance ----------------------------------------------

class IOLoopCurrentTest : public ::testing::Test {
  protected:
    void SetUp() override { IOLoop::clear_current(); }
    void TearDown() override { IOLoop::clear_current(); }
};

// Tornado: tornado/test/ioloop_test.py:463 TestIOLoopCurrent.test_non_current
TEST_F(IOLoopCurrentTest, NonCurrent) {
    IOLoop loop(false);
    EXPECT_EQ(IOLoop::current(false), nullptr);
    for (int i = 0; i < 3; ++i) {
        IOLoop* seen = nullptr;
        loop.add_callback([&] {
            seen = IOLoop::current();
            loop.stop();
        });
        loop.start();
        EXPECT_EQ(seen, &loop);
        EXPECT_EQ(IOLoop::current(false), nullptr);
    }
}

// Tornado: tornado/test/ioloop_test.py:479 TestIOLoopCurrent.test_force_current
TEST_F(IOLoopCurrentTest, ForceCurrent) {
    IOLoop loop(true);
    EXPECT_EQ(IOLoop::current(), &loop);
    EXPECT_THROW(IOLoop second(true), std::runtime_error);
    EXPECT_EQ(IOLoop::current(), &loop);
    IOLoop::clear_current();
    EXPECT_EQ(IOLoop::current(false), nullptr);
    loop.make_current();
    EXPECT_EQ(IOLoop::current(false), &loop);
}

// Tornado: tornado/ioloop.py:150 IOLoop.instance / initialized / install / clear_instance
TEST_F(IOLoopCurrentTest, InstanceIsOneLoopForAllThreadsUntilCleared) {
    IOLoop::clear_instance();
    EXPECT_FALSE(IOLoop::initialized());
    IOLoop* a = IOLoop::instance();
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(IOLoop::initialized());
    EXPECT_EQ(IOLoop::instance(), a);
    EXPECT_EQ(a->poller(), IOLoop::configured());
    // Made current: this thread had none.
    EXPECT_EQ(IOLoop::current(false), a);
    IOLoop* from_thread = nullptr;
    std::thread([&] { from_thread = IOLoop::instance(); }).join();
    EXPECT_EQ(from_thread, a);
    // Another thread posts to it through instance(), as Tornado apps do.
    bool ran = false;
    std::thread t([&] {
        IOLoop::instance()->add_callback([&] {
            ran = true;
            IOLoop::instance()->stop();
        });
    });
    a->start();
    t.join();
    EXPECT_TRUE(ran);
    IOLoop::clear_instance();
    EXPECT_FALSE(IOLoop::initialized());
    EXPECT_EQ(IOLoop::current(false), nullptr) << "the destroyed instance is not current";

    IOLoop mine(Poller::poll, false);
    mine.install();
    EXPECT_TRUE(IOLoop::initialized());
    EXPECT_EQ(IOLoop::instance(), &mine);
    IOLoop other(false);
    EXPECT_THROW(other.install(), std::logic_error);
    IOLoop::clear_instance();
    EXPECT_FALSE(IOLoop::initialized());
    // An installed loop is its owner's: clear_instance left it working.
    bool still = false;
    mine.add_callback([&] {
        still = true;
        mine.stop();
    });
    mine.start();
    EXPECT_TRUE(still);
}

TEST_F(IOLoopCurrentTest, DestroyingTheInstalledLoopUninstallsIt) {
    IOLoop::clear_instance();
    {
        IOLoop mine(false);
        mine.install();
        EXPECT_EQ(IOLoop::instance(), &mine);
    }
    EXPECT_FALSE(IOLoop::initialized());
}

// ---- handle_callback_exception ------------------------------------------

class RecordingLoop : public IOLoop {
  public:
    using IOLoop::IOLoop;
    std::vector<std::string> seen;
    void handle_callback_exception(std::exception_ptr e, std::string_view where) override {
        seen.push_back(std::string(where) + ": " + log::describe(e));
    }
};

// Tornado: tornado/test/ioloop_test.py:183 TestIOLoop.test_handle_callback_exception
// (the 4.5.2 tests override handle_callback_exception to see what escapes).
TEST(IOLoopExceptionTest, HandleCallbackExceptionSeesCallbacksTimeoutsHandlersAndPeriodics) {
    RecordingLoop loop(false);
    SocketPair sp;
    loop.add_callback([] { throw std::runtime_error("from callback"); });
    loop.add_timeout(loop.time(), [] { throw std::runtime_error("from timeout"); });
    RecordingLoop* l = &loop;
    EXPECT_TRUE(loop.add_callback_from_signal([] { throw std::runtime_error("from signal"); }));
    loop.add_handler(
        sp.fds[0],
        [l](int fd, std::uint32_t) {
            l->remove_handler(fd);
            throw std::runtime_error("from handler");
        },
        IOLoop::READ);
    char c = 'q';
    ASSERT_EQ(::write(sp.fds[1], &c, 1), 1);
    int periodic_runs = 0;
    ioloop::PeriodicCallback pc(
        [&] {
            if (++periodic_runs == 1) {
                throw std::runtime_error("from periodic");
            }
        },
        1, &loop);
    pc.start();
    // Every source has reported once the periodic callback ran twice.
    ioloop::PeriodicCallback stopper(
        [&] {
            if (periodic_runs >= 2 && loop.seen.size() >= 5) {
                loop.stop();
            }
        },
        1, &loop);
    stopper.start();
    auto guard = loop.add_timeout(loop.time() + 5, [&] { loop.stop(); });
    loop.start();
    loop.remove_timeout(guard);
    pc.stop();
    stopper.stop();
    auto has = [&](const std::string& s) {
        return std::find(loop.seen.begin(), loop.seen.end(), s) != loop.seen.end();
    };
    EXPECT_TRUE(has("callback: from callback"));
    EXPECT_TRUE(has("callback: from timeout"));
    EXPECT_TRUE(has("callback: from signal"));
    EXPECT_TRUE(has("callback: from periodic"));
    EXPECT_TRUE(has("I/O handler for fd " + std::to_string(sp.fds[0]) + ": from handler"))
        << ::testing::PrintToString(loop.seen);
    EXPECT_EQ(loop.seen.size(), 5U) << ::testing::PrintToString(loop.seen);
}

TEST(IOLoopExceptionTest, TheDefaultLogsAsBefore) {
    LogCapture capture;
    IOLoop loop(false);
    loop.add_callback([] { throw std::runtime_error("boom"); });
    loop.add_callback([&] { loop.stop(); });
    loop.start();
    ASSERT_EQ(capture.errors.size(), 1U);
    EXPECT_EQ(capture.errors[0], "Exception in callback: boom");
}

// ---- gen.multi and gen.WaitIterator -------------------------------------

// Tornado: tornado/test/gen_test.py:392 GenEngineTest.test_multi_future
TEST_F(IOLoopApiTest, MultiGathersResultsInListOrder) {
    auto result = loop.run_sync(
        [&]() -> Future<std::vector<int>> {
            std::vector<Future<int>> futures;
            for (int i = 0; i < 3; ++i) {
                futures.push_back(Future<int>::make());
            }
            // Finished in reverse order, on later iterations.
            Future<int> f0 = futures[0], f1 = futures[1], f2 = futures[2];
            IOLoop* l = &loop;
            loop.add_callback([=] {
                f2.set_result(30);
                l->add_callback([=] {
                    f1.set_result(20);
                    l->add_callback([=] { f0.set_result(10); });
                });
            });
            Future<std::vector<int>> all = gen::multi(futures);
            EXPECT_FALSE(all.done());
            co_return co_await all;
        },
        5);
    EXPECT_EQ(result, (std::vector<int>{10, 20, 30}));
}

// Tornado: tornado/test/gen_test.py:370 GenEngineTest.test_multi_empty
TEST_F(IOLoopApiTest, MultiOfNothingIsDoneAtOnce) {
    Future<std::vector<std::string>> none = gen::multi(std::vector<Future<std::string>>{});
    ASSERT_TRUE(none.done());
    EXPECT_TRUE(none.result().empty());
    Future<void> none_void = gen::multi(std::vector<Future<void>>{});
    EXPECT_TRUE(none_void.done());
}

// Tornado: tornado/test/gen_test.py:408 GenEngineTest.test_multi_exceptions
TEST_F(IOLoopApiTest, MultiFailsWithTheFirstExceptionInListOrderAndLogsTheRest) {
    LogCapture capture;
    std::vector<Future<void>> futures{Future<void>::make(), Future<void>::make(),
                                      Future<void>::make()};
    Future<void> all = gen::multi(futures);
    futures[2].set_exception(std::make_exception_ptr(std::runtime_error("error 2")));
    EXPECT_FALSE(all.done()) << "waits for every child, as multi_future does";
    futures[1].set_exception(std::make_exception_ptr(std::runtime_error("error 1")));
    futures[0].set_result();
    ASSERT_TRUE(all.done());
    try {
        all.result();
        ADD_FAILURE() << "multi succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "error 1");
    }
    ASSERT_EQ(capture.errors.size(), 1U);
    EXPECT_EQ(capture.errors[0], "Multiple exceptions in yield list: error 2");
}

// Tornado: tornado/test/gen_test.py:1303 WaitIteratorTest.test_already_done
TEST_F(IOLoopApiTest, WaitIteratorAlreadyDone) {
    std::vector<Future<int>> futures{Future<int>::ready(24), Future<int>::ready(42),
                                     Future<int>::ready(84)};
    std::vector<std::pair<std::size_t, int>> got;
    loop.run_sync(
        [&]() -> Future<void> {
            gen::WaitIterator<int> it(futures);
            EXPECT_FALSE(it.current_index().has_value());
            while (!it.done()) {
                int r = co_await it.next();
                got.emplace_back(*it.current_index(), r);
            }
            EXPECT_FALSE(it.current_index().has_value());
            EXPECT_FALSE(it.current_future().valid());
        },
        5);
    EXPECT_EQ(got, (std::vector<std::pair<std::size_t, int>>{{0, 24}, {1, 42}, {2, 84}}));
}

// Tornado: tornado/test/gen_test.py:1366 WaitIteratorTest.test_iterator
TEST_F(IOLoopApiTest, WaitIteratorHandsOutResultsAsTheyFinish) {
    std::vector<Future<int>> futures{Future<int>::make(), Future<int>::make(), Future<int>::make(),
                                     Future<int>::make()};
    std::vector<std::string> got;
    loop.run_sync(
        [&]() -> Future<void> {
            gen::WaitIterator<int> it(futures);
            // As the Tornado test: finished in the order 1, 0 (failing), 3, 2,
            // each on its own iteration.
            loop.add_callback([&] {
                futures[1].set_result(24);
                loop.add_callback([&] {
                    futures[0].set_exception(std::make_exception_ptr(std::runtime_error("zero")));
                    loop.add_callback([&] {
                        futures[3].set_result(84);
                        loop.add_callback([&] { futures[2].set_result(42); });
                    });
                });
            });
            while (!it.done()) {
                try {
                    int r = co_await it.next();
                    got.push_back(std::to_string(*it.current_index()) + "=" + std::to_string(r));
                } catch (const std::runtime_error& e) {
                    got.push_back(std::to_string(*it.current_index()) + "!" + e.what());
                }
            }
        },
        5);
    EXPECT_EQ(got, (std::vector<std::string>{"1=24", "0!zero", "3=84", "2=42"}));
}

// Tornado: tornado/test/gen_test.py:1292 WaitIteratorTest.test_empty_iterator
TEST_F(IOLoopApiTest, WaitIteratorOverNothingIsDone) {
    gen::WaitIterator<int> it({});
    EXPECT_TRUE(it.done());
    EXPECT_FALSE(it.current_index().has_value());
}

}  // namespace
