// tornado-walk --poller (issue 8): run, step and serve take epoll, poll or
// select, and refuse anything else naming the option. The scenarios whose
// trace does not depend on the poller give the same normalised trace (as
// the golden test normalises it) on all three.
//
// Not poller-independent, by design (so not compared here):
//   * two-clients on poll: when both connections are ready in one poll,
//     poll(2) reports them in pollfd-array order, epoll in the order they
//     became ready, so the two handlers run the other way round;
//   * pipelined, post-form, post-chunked and partial-write on select: as
//     Tornado's _Select, asking for ERROR also listens for reads (select
//     shows a closed peer as readable), so a stream that waits for nothing
//     but errors is woken with READ when data arrives, one iteration
//     earlier than epoll, which only reports what was asked.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tornado/walkthrough/diagram.h"

#include "integration/process.h"
#include "integration/scenario_cache.h"

namespace {

using tornado::testing::exit_code;
using tornado::testing::ProcessRun;

ProcessRun run_walk(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {TORNADO_WALK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return tornado::testing::run_process(argv, "", {}, 60);
}

std::vector<std::string> normalised_trace(const std::string& scenario, const std::string& poller) {
    std::vector<std::string> args = {"run", scenario, "--format", "jsonl"};
    if (!poller.empty()) {
        args.push_back("--poller");
        args.push_back(poller);
    }
    ProcessRun r = run_walk(args);
    EXPECT_EQ(exit_code(r), 0) << r.err;
    std::istringstream in(r.out);
    return tornado::testing::normalized_lines(tornado::walkthrough::read_jsonl(in));
}

struct Case {
    const char* scenario;
    const char* poller;
};

class PollerTraceTest : public ::testing::TestWithParam<Case> {};

TEST_P(PollerTraceTest, TraceIsTheSameAsOnEpoll) {
    const Case& c = GetParam();
    std::vector<std::string> epoll = normalised_trace(c.scenario, "");
    std::vector<std::string> explicit_epoll = normalised_trace(c.scenario, "epoll");
    std::vector<std::string> other = normalised_trace(c.scenario, c.poller);
    ASSERT_GT(epoll.size(), 10U);
    EXPECT_EQ(explicit_epoll, epoll);
    std::string diff = tornado::testing::line_diff(epoll, other);
    EXPECT_TRUE(diff.empty()) << c.scenario << " on " << c.poller << ":\n" << diff;
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, PollerTraceTest,
    ::testing::Values(Case{"hello", "poll"}, Case{"hello", "select"}, Case{"keepalive", "poll"},
                      Case{"keepalive", "select"}, Case{"chunked-response", "poll"},
                      Case{"chunked-response", "select"}, Case{"slow-client", "poll"},
                      Case{"slow-client", "select"}, Case{"header-timeout", "poll"},
                      Case{"header-timeout", "select"}, Case{"malformed", "poll"},
                      Case{"malformed", "select"}),
    [](const auto& param_info) {
        std::string name = std::string(param_info.param.scenario) + "_" + param_info.param.poller;
        for (char& ch : name) {
            if (ch == '-') {
                ch = '_';
            }
        }
        return name;
    });

TEST(PollerCliTest, AnUnknownPollerIsAUsageErrorNamingTheOption) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"run", "hello", "--poller", "kqueue"},
          std::vector<std::string>{"step", "hello", "--poller", "kqueue"},
          std::vector<std::string>{"serve", "--port", "0", "--poller", "kqueue"}}) {
        ProcessRun r = run_walk(args);
        EXPECT_EQ(exit_code(r), 2) << args[0] << ": " << r.err;
        EXPECT_NE(r.err.find("--poller"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("kqueue"), std::string::npos) << r.err;
    }
}

}  // namespace
