// The hello scenario's trace: the documented call chain, and the whole
// event sequence against tests/golden/hello.jsonl.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"

#include "integration/hello_chain.h"

namespace {

using tornado::trace::Event;
using tornado::trace::Phase;

const std::vector<std::string>& kChain = tornado::testing::kHelloChain;

const tornado::walkthrough::ScenarioResult& hello() {
    static const tornado::walkthrough::ScenarioResult result =
        tornado::walkthrough::run_scenario("hello");
    return result;
}

// An event without what changes from run to run or machine to machine:
// time, pid, fd numbers and source line numbers.
std::string normalized(Event e) {
    e.t_us = 0;
    e.pid = 0;
    e.src = e.src.substr(0, e.src.rfind(':'));
    std::erase_if(e.args, [](const auto& kv) { return kv.first == "fd"; });
    return tornado::trace::to_json(e);
}

std::string golden_path() {
    return std::string(TORNADO_SOURCE_DIR) + "/tests/golden/hello.jsonl";
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

TEST(GoldenTraceTest, HelloTraceMatchesGoldenFile) {
    std::ostringstream actual;
    for (const Event& e : hello().events) {
        actual << normalized(e) << "\n";
    }
    if (std::getenv("TORNADO_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(golden_path()) << actual.str();
    }
    std::ifstream in(golden_path());
    ASSERT_TRUE(in) << "missing " << golden_path()
                    << " (run with TORNADO_UPDATE_GOLDEN=1 to create it)";
    std::stringstream expected;
    expected << in.rdbuf();
    // Line by line, so that a change in the call chain reads as a diff.
    std::istringstream a(actual.str());
    std::istringstream x(expected.str());
    std::string al;
    std::string xl;
    int line = 0;
    while (true) {
        bool more_a = static_cast<bool>(std::getline(a, al));
        bool more_x = static_cast<bool>(std::getline(x, xl));
        ++line;
        if (!more_a && !more_x) {
            break;
        }
        ASSERT_EQ(more_a, more_x) << "trace length differs from the golden file at line " << line;
        ASSERT_EQ(al, xl) << "line " << line
                          << " differs (set TORNADO_UPDATE_GOLDEN=1 to accept a deliberate change)";
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
           "tornado-walk run hello --format mermaid --no-returns --no-loop";
}

}  // namespace
