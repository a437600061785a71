// Golden traces: every scenario's whole event sequence against
// tests/golden/<name>.jsonl, the same on a second run, and the hello
// scenario's documented call chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"

#include "integration/hello_chain.h"
#include "integration/scenario_cache.h"

namespace {

using tornado::trace::Event;
using tornado::trace::Phase;

const std::vector<std::string>& kChain = tornado::testing::kHelloChain;

using tornado::testing::line_diff;
using tornado::testing::normalized_lines;
using tornado::testing::scenario_result;

const tornado::walkthrough::ScenarioResult& hello() {
    return scenario_result("hello");
}

std::string golden_path(const std::string& name) {
    return std::string(TORNADO_SOURCE_DIR) + "/tests/golden/" + name + ".jsonl";
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> scenario_names() {
    std::vector<std::string> names;
    for (const auto& s : tornado::walkthrough::list_scenarios()) {
        names.push_back(s.name);
    }
    return names;
}

class ScenarioGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioGoldenTest, TraceMatchesGoldenFile) {
    const std::string& name = GetParam();
    std::vector<std::string> actual = normalized_lines(scenario_result(name).events);
    ASSERT_FALSE(actual.empty());
    std::string path = golden_path(name);
    if (std::getenv("TORNADO_UPDATE_GOLDEN") != nullptr) {
        std::ofstream out(path);
        for (const std::string& line : actual) {
            out << line << "\n";
        }
    }
    ASSERT_TRUE(std::ifstream(path).good())
        << "missing " << path << " (run with TORNADO_UPDATE_GOLDEN=1 to create it)";
    std::string diff = line_diff(read_lines(path), actual);
    EXPECT_TRUE(diff.empty()) << "the trace of " << name << " differs from " << path
                              << " (set TORNADO_UPDATE_GOLDEN=1 to accept a deliberate change)\n"
                              << diff;
}

// Same events, same ids, same order: a second run gives the same trace and
// the same answer.
TEST_P(ScenarioGoldenTest, SecondRunGivesTheSameTrace) {
    const std::string& name = GetParam();
    const auto& first = scenario_result(name);
    tornado::walkthrough::ScenarioResult second = tornado::walkthrough::run_scenario(name);
    std::string diff = line_diff(normalized_lines(first.events), normalized_lines(second.events));
    EXPECT_TRUE(diff.empty()) << name << " is not deterministic:\n" << diff;
    // The parts of an answer that follow the clock: the Date header and a
    // cookie's expires; and what is random by design: an XSRF token (its
    // mask, its token, its timestamp), which the trace records by length
    // only, and so the Etag of a page that carries one.
    auto stable = [](const std::string& response) {
        static const std::regex date("\r\nDate: [^\r]*");
        static const std::regex expires("; expires=[^;\r]*");
        static const std::regex xsrf("2(\\||%7C)[0-9a-f]{8}(\\||%7C)[0-9a-f]{32}(\\||%7C)[0-9]+");
        static const std::regex etag("\r\nEtag: [^\r]*");
        std::string out = std::regex_replace(response, date, "\r\nDate: D");
        out = std::regex_replace(out, expires, "; expires=E");
        std::string tokenless = std::regex_replace(out, xsrf, "XSRF-TOKEN");
        return tokenless == out ? out : std::regex_replace(tokenless, etag, "\r\nEtag: E");
    };
    EXPECT_EQ(stable(first.response), stable(second.response));
}

INSTANTIATE_TEST_SUITE_P(AllScenarios, ScenarioGoldenTest, ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                             return tornado::testing::param_name(p.param);
                         });

TEST(ScenarioListTest, ListsEveryStoryOfTheIssue) {
    std::vector<std::string> names = scenario_names();
    for (const char* expected :
         {"hello", "keepalive", "pipelined", "slow-client", "post-form", "post-chunked",
          "chunked-response", "partial-write", "async-handler", "not-found", "redirect", "gzip",
          "expect-continue", "header-timeout", "malformed", "two-clients", "static-file",
          "xsrf-form", "multiprocess"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
    }
    for (const auto& s : tornado::walkthrough::list_scenarios()) {
        EXPECT_FALSE(s.summary.empty()) << s.name;
        EXPECT_EQ(s.summary.find('\n'), std::string::npos) << s.name;
    }
}

TEST(ScenarioListTest, UnknownScenarioThrowsListingTheKnownNames) {
    try {
        tornado::walkthrough::run_scenario("no-such-story");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("no-such-story"), std::string::npos) << what;
        for (const std::string& name : scenario_names()) {
            EXPECT_NE(what.find(name), std::string::npos) << what;
        }
    }
}

// The diff a golden mismatch prints: context, then - and + lines.
TEST(GoldenDiffTest, ShowsContextAndBothSidesOfTheFirstDifference) {
    std::vector<std::string> expected = {"a", "b", "c", "d", "e", "f"};
    std::vector<std::string> actual = {"a", "b", "c", "X", "e", "f"};
    std::string diff = line_diff(expected, actual);
    EXPECT_NE(diff.find("first difference at line 4"), std::string::npos) << diff;
    EXPECT_NE(diff.find("  c\n- d\n+ X\n  e\n"), std::string::npos) << diff;
    EXPECT_TRUE(line_diff(expected, expected).empty());
    std::string shorter = line_diff(expected, {"a", "b", "c", "e", "f"});
    EXPECT_NE(shorter.find("- d\n"), std::string::npos) << shorter;
    EXPECT_EQ(shorter.find("+ "), std::string::npos) << shorter;
}

TEST(GoldenTraceTest, HelloAnswersHelloWorld) {
    const std::string& response = hello().response;
    EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\nHello, world")) << response;
}

TEST(GoldenTraceTest, HelloBeginEventsFollowTheDocumentedChain) {
    std::vector<std::string> server_begins;
    for (const Event& e : hello().events) {
        if (e.ph == Phase::Begin && e.role != "client") {
            server_begins.push_back(e.step);
        }
    }
    std::size_t next = 0;
    for (const std::string& step : server_begins) {
        if (next < kChain.size() && step == kChain[next]) {
            ++next;
        }
    }
    ASSERT_EQ(next, kChain.size()) << "the server's begin events stop following the chain at "
                                   << kChain[std::min(next, kChain.size() - 1)];
}

TEST(GoldenTraceTest, HelloReadsTheRequestAfterAReadEvent) {
    // The request arrives after the connection was accepted: the first
    // inline read finds nothing and registers READ; _handle_read then
    // resumes _read_message, which was suspended in between.
    const auto& events = hello().events;
    auto find = [&](const std::string& step, Phase ph, std::size_t from) {
        for (std::size_t i = from; i < events.size(); ++i) {
            if (events[i].step == step && events[i].ph == ph && events[i].role != "client") {
                return i;
            }
        }
        return events.size();
    };
    std::size_t add_state = find("BaseIOStream._add_io_state", Phase::Begin, 0);
    std::size_t suspend = find("HTTP1Connection._read_message", Phase::Suspend, add_state);
    std::size_t handle_read = find("BaseIOStream._handle_read", Phase::Begin, suspend);
    std::size_t resume = find("HTTP1Connection._read_message", Phase::Resume, handle_read);
    std::size_t routed = find("_RoutingDelegate.headers_received", Phase::Begin, resume);
    EXPECT_LT(add_state, suspend);
    EXPECT_LT(suspend, handle_read);
    EXPECT_LT(handle_read, resume);
    EXPECT_LT(resume, routed);
    EXPECT_LT(routed, events.size());
}

TEST(GoldenTraceTest, HelloEverySpanEndsAndEverySuspendResumes) {
    std::map<std::uint64_t, int> open;
    std::map<std::uint64_t, int> suspended;
    for (const Event& e : hello().events) {
        switch (e.ph) {
            case Phase::Begin:
                ++open[e.id];
                break;
            case Phase::End:
                --open[e.id];
                break;
            case Phase::Suspend:
                ++suspended[e.id];
                break;
            case Phase::Resume:
                --suspended[e.id];
                break;
            case Phase::Instant:
                break;
        }
    }
    for (const auto& [id, n] : open) {
        EXPECT_EQ(n, 0) << "span " << id << " did not end";
    }
    for (const auto& [id, n] : suspended) {
        EXPECT_EQ(n, 0) << "span " << id << " suspended without resuming";
    }
}

// docs/walkthrough.md shows docs/hello.mmd: it must be what the code draws.
TEST(GoldenTraceTest, DocsDiagramMatchesAFreshRun) {
    tornado::walkthrough::RenderOptions options;
    options.show_returns = false;
    options.show_loop_events = false;
    std::string fresh = tornado::walkthrough::render(
        hello().events, tornado::walkthrough::Format::Mermaid, options);
    std::string path = std::string(TORNADO_SOURCE_DIR) + "/docs/hello.mmd";
    if (std::getenv("TORNADO_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(path) << fresh;
    }
    std::ifstream in(path);
    ASSERT_TRUE(in) << "missing " << path;
    std::stringstream doc;
    doc << in.rdbuf();
    // fd numbers depend on what else the process has open.
    std::regex fd("fd=[0-9]+");
    EXPECT_EQ(std::regex_replace(doc.str(), fd, "fd=N"), std::regex_replace(fresh, fd, "fd=N"))
        << "docs/hello.mmd is stale: regenerate it with "
           "tornado-walk run hello --format mermaid --view full --no-returns --no-loop";
}

}  // namespace
