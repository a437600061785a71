// The multiprocess scenario: two forked tasks on one socket, each winning
// one connection's accept while the other's accept_handler gets
// EWOULDBLOCK; and its diagrams, one group of lifelines per process.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cerrno>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"
#include "tornado/walkthrough/step.h"

#include "integration/scenario_cache.h"

namespace {

using tornado::trace::Event;
using tornado::trace::Phase;
using tornado::walkthrough::Format;
using tornado::walkthrough::render;
using tornado::walkthrough::RenderOptions;

const tornado::walkthrough::ScenarioResult& multiprocess() {
    return tornado::testing::scenario_result("multiprocess");
}

bool is_accept(const Event& e) {
    return e.step == "TCPServer._handle_connection" && e.ph == Phase::Begin;
}

bool is_would_block(const Event& e) {
    const tornado::trace::ArgValue* accept = e.arg("accept");
    return e.step == "netutil.accept_handler" && e.ph == Phase::Instant && accept != nullptr &&
           *accept == tornado::trace::ArgValue(std::string("EWOULDBLOCK"));
}

// What happened, in order: "accept" or "EWOULDBLOCK", with the task (the
// process's number in order of first appearance).
std::vector<std::pair<std::string, int>> outcomes(const std::vector<Event>& events) {
    std::map<int, int> task;
    std::vector<std::pair<std::string, int>> out;
    for (const Event& e : events) {
        int t = task.try_emplace(e.pid, static_cast<int>(task.size())).first->second;
        if (is_accept(e)) {
            out.emplace_back("accept", t);
        } else if (is_would_block(e)) {
            out.emplace_back("EWOULDBLOCK", t);
        }
    }
    return out;
}

const std::vector<std::pair<std::string, int>> kStory = {
    {"accept", 0}, {"EWOULDBLOCK", 1}, {"accept", 1}, {"EWOULDBLOCK", 0}};

TEST(MultiprocessTest, EachTaskWinsOneConnectionAndTheOtherGetsEwouldblock) {
    const auto& events = multiprocess().events;
    std::set<int> pids;
    for (const Event& e : events) {
        pids.insert(e.pid);
    }
    ASSERT_EQ(pids.size(), 2U) << "the events of two processes";
    EXPECT_EQ(pids.count(::getpid()), 0U) << "the parent plays the client, untraced";
    EXPECT_EQ(outcomes(events), kStory);
    // Both pollers report READ for each connection: four accept_handler spans.
    int handlers = 0;
    for (const Event& e : events) {
        handlers += e.step == "netutil.accept_handler" && e.ph == Phase::Begin ? 1 : 0;
    }
    EXPECT_EQ(handlers, 4);
}

TEST(MultiprocessTest, MergedTraceIsInTimeOrderWithUniqueRenumberedSpans) {
    const auto& events = multiprocess().events;
    std::map<std::uint64_t, int> begins;
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].seq, i + 1);
        if (i > 0) {
            EXPECT_LE(events[i - 1].t_us, events[i].t_us) << "at seq " << events[i].seq;
        }
        if (events[i].ph == Phase::Begin) {
            EXPECT_EQ(events[i].id, events[i].seq);
            ++begins[events[i].id];
        }
    }
    // A span's events all come from the process that began it.
    std::map<std::uint64_t, int> pid_of_span;
    for (const Event& e : events) {
        if (e.ph == Phase::Begin) {
            pid_of_span[e.id] = e.pid;
        } else if (e.id != 0) {
            ASSERT_TRUE(pid_of_span.count(e.id)) << "seq " << e.seq << " ends an unknown span";
            EXPECT_EQ(pid_of_span[e.id], e.pid) << "seq " << e.seq;
        }
        if (e.parent != 0) {
            ASSERT_TRUE(pid_of_span.count(e.parent)) << "seq " << e.seq;
            EXPECT_EQ(pid_of_span[e.parent], e.pid) << "seq " << e.seq;
        }
    }
}

TEST(MultiprocessTest, BothClientsGetHelloWorld) {
    const std::string& response = multiprocess().response;
    std::regex hello("HTTP/1\\.1 200 OK\r\n[^]*?\r\n\r\nHello, world");
    auto begin = std::sregex_iterator(response.begin(), response.end(), hello);
    EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 2) << response;
}

TEST(MultiprocessTest, NoChildIsLeftBehind) {
    multiprocess();
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

// The column ranges of the ASCII group row: "+---- task 0 ----+".
std::map<std::string, std::pair<std::size_t, std::size_t>> ascii_groups(const std::string& row) {
    std::map<std::string, std::pair<std::size_t, std::size_t>> out;
    std::regex group("\\+-* (task [0-9]+) -*\\+");
    for (auto it = std::sregex_iterator(row.begin(), row.end(), group);
         it != std::sregex_iterator(); ++it) {
        auto from = static_cast<std::size_t>(it->position(0));
        out[(*it)[1]] = {from, from + static_cast<std::size_t>(it->length(0))};
    }
    return out;
}

TEST(MultiprocessDiagramTest, AsciiHasAGroupPerProcessAndEachStepInItsTask) {
    std::string diagram = render(multiprocess().events, Format::Ascii);
    std::istringstream in(diagram);
    std::string first;
    std::getline(in, first);
    auto groups = ascii_groups(first);
    ASSERT_EQ(groups.size(), 2U) << first;
    ASSERT_LT(groups["task 0"].second, groups["task 1"].first) << first;
    // Each lifeline of a group is named once, without the process prefix
    // (the group row names it): two IOLoops.
    std::string header;
    std::getline(in, header);
    std::size_t loops = 0;
    for (std::size_t at = header.find("IOLoop"); at != std::string::npos;
         at = header.find("IOLoop", at + 1)) {
        ++loops;
    }
    EXPECT_EQ(loops, 2U) << header;
    auto task_at = [&](std::size_t column) {
        for (const auto& [name, range] : groups) {
            if (column >= range.first && column < range.second) {
                return std::stoi(name.substr(5));
            }
        }
        return -1;
    };
    std::vector<std::pair<std::string, int>> seen;
    std::string line;
    while (std::getline(in, line)) {
        if (auto at = line.find(" _handle_connection"); at != std::string::npos) {
            seen.emplace_back("accept", task_at(at));
        } else if (auto note = line.find("accept_handler(accept=EWOULDBLOCK)");
                   note != std::string::npos) {
            seen.emplace_back("EWOULDBLOCK", task_at(note));
        }
    }
    EXPECT_EQ(seen, kStory) << diagram;
}

TEST(MultiprocessDiagramTest, MermaidHasABoxPerProcessAndEachStepInItsTask) {
    std::string diagram = render(multiprocess().events, Format::Mermaid);
    std::istringstream in(diagram);
    std::string line;
    std::map<std::string, int> task_of;  // P3 -> 1
    int box = -1;
    int boxes = 0;
    std::vector<std::pair<std::string, int>> seen;
    std::regex participant("^    participant (P[0-9]+) as (task [0-9]+) \xc2\xb7 .*");
    std::regex call("^    P[0-9]+->>(P[0-9]+): [0-9]+ _handle_connection.*");
    std::regex note("^    Note over (P[0-9]+): [0-9]+ accept_handler\\(accept=EWOULDBLOCK\\)$");
    std::smatch m;
    while (std::getline(in, line)) {
        if (line.starts_with("    box task ")) {
            EXPECT_EQ(box, -1) << "nested box: " << line;
            box = std::stoi(line.substr(13));
            EXPECT_EQ(box, boxes);
            ++boxes;
        } else if (line == "    end") {
            box = -1;
        } else if (std::regex_match(line, m, participant)) {
            EXPECT_NE(box, -1) << "outside a box: " << line;
            EXPECT_EQ(m[2].str(), "task " + std::to_string(box)) << line;
            task_of[m[1]] = box;
        } else if (std::regex_match(line, m, call)) {
            seen.emplace_back("accept", task_of.at(m[1]));
        } else if (std::regex_match(line, m, note)) {
            seen.emplace_back("EWOULDBLOCK", task_of.at(m[1]));
        }
    }
    EXPECT_EQ(boxes, 2) << diagram;
    EXPECT_EQ(seen, kStory) << diagram;
}

TEST(MultiprocessDiagramTest, PlantUmlDotAndChromeGroupTheProcesses) {
    const auto& events = multiprocess().events;
    std::string uml = render(events, Format::PlantUml);
    EXPECT_NE(uml.find("box \"task 0\"\n"), std::string::npos) << uml;
    EXPECT_NE(uml.find("box \"task 1\"\n"), std::string::npos) << uml;
    std::size_t ends = 0;
    for (std::size_t at = uml.find("end box\n"); at != std::string::npos;
         at = uml.find("end box\n", at + 1)) {
        ++ends;
    }
    EXPECT_EQ(ends, 2U);
    std::string dot = render(events, Format::Dot);
    EXPECT_NE(dot.find("subgraph cluster_0 { label=\"task 0\""), std::string::npos);
    EXPECT_NE(dot.find("subgraph cluster_1 { label=\"task 1\""), std::string::npos);
    std::string chrome = render(events, Format::Chrome);
    EXPECT_NE(chrome.find(R"("pid":1,"args":{"name":"task 0"})"), std::string::npos);
    EXPECT_NE(chrome.find(R"("pid":2,"args":{"name":"task 1"})"), std::string::npos);
}

// step names the process of each event as the diagram's groups do.
TEST(MultiprocessDiagramTest, StepNamesTheTaskOfTheEvent) {
    const auto& events = multiprocess().events;
    tornado::walkthrough::StepSession session(events, {});
    std::size_t would_block = 0;
    while (would_block < events.size() && !is_would_block(events[would_block])) {
        ++would_block;
    }
    ASSERT_LT(would_block, events.size());
    session.command("g");
    EXPECT_NE(session.screen().find("  process task 0 (of 2)\n"), std::string::npos);
    session.command(std::to_string(would_block + 1));
    EXPECT_NE(session.screen().find("  process task 1 (of 2)\n"), std::string::npos)
        << session.screen();
    tornado::walkthrough::StepSession one(tornado::testing::scenario_result("hello").events, {});
    one.command("g");
    EXPECT_EQ(one.screen().find("  process "), std::string::npos);
}

// One process, whatever its pid: no group, the diagrams as they always were.
TEST(MultiprocessDiagramTest, OneProcessTraceHasNoGroups) {
    std::vector<Event> events = tornado::testing::scenario_result("hello").events;
    std::vector<Event> other_pid = events;
    for (Event& e : other_pid) {
        e.pid = 4242;
    }
    for (Format f : {Format::Ascii, Format::Mermaid, Format::PlantUml, Format::Dot,
                     Format::Chrome}) {
        std::string out = render(events, f);
        EXPECT_EQ(out, render(other_pid, f));
        EXPECT_EQ(out.find("task 0"), std::string::npos) << out;
        EXPECT_EQ(out.find("\xc2\xb7"), std::string::npos);
    }
}

}  // namespace
