// The renderers on a small hand-made trace: what a student sees must name
// every participant and every call, in every format.
#include "tornado/walkthrough/diagram.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tornado/trace.h"

namespace {

using tornado::trace::ArgValue;
using tornado::trace::Event;
using tornado::trace::Phase;
using namespace tornado::walkthrough;

Event ev(std::uint64_t seq, Phase ph, std::string obj, std::string step, std::uint64_t id,
         std::uint64_t parent, std::string role = "") {
    Event e;
    e.seq = seq;
    e.ph = ph;
    e.obj = std::move(obj);
    e.step = std::move(step);
    e.cls = e.step.substr(0, e.step.rfind('.'));
    e.layer = "test";
    e.id = id;
    e.parent = parent;
    e.role = std::move(role);
    return e;
}

// A client write, an accept, a read that suspends and is resumed, a write.
std::vector<Event> sample() {
    std::vector<Event> events;
    events.push_back(ev(1, Phase::Begin, "IOStream#1", "BaseIOStream.write", 1, 0, "client"));
    events.push_back(ev(2, Phase::End, "IOStream#1", "BaseIOStream.write", 1, 0, "client"));
    events.push_back(ev(3, Phase::Begin, "", "netutil.accept_handler", 3, 0));
    events.back().args.emplace_back("fd", ArgValue(std::int64_t{5}));
    events.push_back(
        ev(4, Phase::Begin, "HTTP1Connection#1", "HTTP1Connection._read_message", 4, 3));
    events.push_back(ev(5, Phase::Begin, "IOStream#2", "BaseIOStream.read_until_regex", 5, 4));
    events.push_back(ev(6, Phase::Instant, "IOLoop#1", "PollIOLoop.add_handler", 0, 5));
    events.push_back(ev(7, Phase::End, "IOStream#2", "BaseIOStream.read_until_regex", 5, 4));
    events.push_back(
        ev(8, Phase::Suspend, "HTTP1Connection#1", "HTTP1Connection._read_message", 4, 3));
    events.back().args.emplace_back("awaiting",
                                    ArgValue(std::string("BaseIOStream.read_until_regex")));
    events.push_back(ev(9, Phase::End, "", "netutil.accept_handler", 3, 0));
    events.push_back(
        ev(10, Phase::Resume, "HTTP1Connection#1", "HTTP1Connection._read_message", 4, 0));
    events.push_back(ev(11, Phase::Begin, "IOStream#2", "BaseIOStream.write", 11, 4));
    events.push_back(ev(12, Phase::End, "IOStream#2", "BaseIOStream.write", 11, 4));
    events.push_back(
        ev(13, Phase::End, "HTTP1Connection#1", "HTTP1Connection._read_message", 4, 0));
    return events;
}

TEST(DiagramTest, ParseFormatRejectsUnknownNamesAndNamesThem) {
    EXPECT_EQ(parse_format("mermaid"), Format::Mermaid);
    try {
        (void)parse_format("svgz");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("svgz"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("ascii"), std::string::npos);
    }
}

TEST(DiagramTest, JsonlRoundTripsEveryField) {
    std::vector<Event> events = sample();
    events[2].conn = 7;
    events[2].req = 3;
    events[2].src = "iostream/src/netutil.cc:12";
    events[2].py = "tornado/netutil.py:netutil.accept_handler";
    std::istringstream in(render(events, Format::Jsonl));
    std::vector<Event> back = read_jsonl(in);
    ASSERT_EQ(back.size(), events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(tornado::trace::to_json(back[i]), tornado::trace::to_json(events[i])) << i;
    }
}

TEST(DiagramTest, ReadJsonlNamesTheBadLine) {
    std::istringstream in(tornado::trace::to_json(sample()[0]) + "\n{\"seq\": 2}\n");
    try {
        (void)read_jsonl(in);
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    }
}

TEST(DiagramTest, AsciiNamesEveryParticipantAndCall) {
    std::string out = render(sample(), Format::Ascii);
    for (const char* word : {"Client", "IOLoop", "netutil", "HTTP1Connection", "IOStream",
                             "accept_handler(fd=5)", "_read_message", "read_until_regex",
                             "suspends in _read_message (awaiting BaseIOStream.read_until_regex)",
                             "resume _read_message", "add_handler"}) {
        EXPECT_NE(out.find(word), std::string::npos) << word << " missing in\n" << out;
    }
}

TEST(DiagramTest, MermaidIsASequenceDiagramWithoutBareEnd) {
    std::vector<Event> events = sample();
    events[4].args.emplace_back("note", ArgValue(std::string("the end; #1")));
    std::string out = render(events, Format::Mermaid);
    EXPECT_TRUE(out.starts_with("sequenceDiagram\n"));
    EXPECT_NE(out.find("participant P0 as Client"), std::string::npos) << out;
    EXPECT_NE(out.find("->>"), std::string::npos);
    EXPECT_NE(out.find("-->>"), std::string::npos);
    EXPECT_NE(out.find("Note over"), std::string::npos);
    EXPECT_NE(out.find("the (end)#59; #35;1"), std::string::npos) << out;
}

TEST(DiagramTest, PlantUmlIsWrappedInStartAndEnd) {
    std::string out = render(sample(), Format::PlantUml);
    EXPECT_TRUE(out.starts_with("@startuml\n"));
    EXPECT_TRUE(out.ends_with("@enduml\n"));
    // Only one server-side IOStream: drawn without its "#2".
    EXPECT_NE(out.find("participant \"IOStream\" as"), std::string::npos) << out;
}

TEST(DiagramTest, ChainIndentsByCallDepth) {
    std::string out = render(sample(), Format::Chain);
    EXPECT_NE(out.find("netutil                     accept_handler\n"), std::string::npos) << out;
    EXPECT_NE(out.find("HTTP1Connection               _read_message\n"), std::string::npos) << out;
    EXPECT_NE(out.find("BaseIOStream                    read_until_regex\n"), std::string::npos)
        << out;
}

TEST(DiagramTest, ReturnsAndLoopEventsCanBeLeftOut) {
    RenderOptions quiet;
    quiet.show_returns = false;
    quiet.show_loop_events = false;
    std::string out = render(sample(), Format::Mermaid, quiet);
    EXPECT_EQ(out.find("-->>"), std::string::npos) << out;
    EXPECT_EQ(out.find("add_handler"), std::string::npos) << out;
}

}  // namespace
