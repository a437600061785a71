// Which poller the IOLoop suite runs on. ctest runs ioloop_test once per
// poller (tests/ioloop/CMakeLists.txt): TORNADO_TEST_POLLER names it, and
// this file's static initialiser calls IOLoop::configure before any test
// makes a loop, so every `IOLoop loop;` in the suite waits with it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tornado/ioloop.h"

namespace {

using tornado::ioloop::IOLoop;
using tornado::ioloop::Poller;

Poller requested_poller() {
    const char* name = std::getenv("TORNADO_TEST_POLLER");
    if (name == nullptr || *name == '\0') {
        return Poller::epoll;
    }
    auto p = tornado::ioloop::parse_poller(name);
    if (!p) {
        throw std::invalid_argument(std::string("TORNADO_TEST_POLLER: unknown poller ") + name);
    }
    return *p;
}

// The line tests/ioloop/CMakeLists.txt checks: a poll.* or select.* entry
// whose run names another poller (the environment did not reach it) fails.
const Poller kRequested = [] {
    Poller p = requested_poller();
    IOLoop::configure(p);
    std::fprintf(stderr, "ioloop_test: IOLoop poller %s\n", tornado::ioloop::poller_name(p));
    return p;
}();

TEST(PollerConfigTest, TheSuiteRunsOnThePollerTheEnvironmentNames) {
    EXPECT_EQ(IOLoop::configured(), kRequested);
    IOLoop loop(false);
    EXPECT_EQ(loop.poller(), kRequested);
    ::testing::Test::RecordProperty("poller", tornado::ioloop::poller_name(kRequested));
}

}  // namespace
