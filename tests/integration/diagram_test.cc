// The renderers on a small hand-made trace: what a student sees must name
// every participant and every call, in every format.
#include "tornado/walkthrough/diagram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/scenario.h"
#include "tornado/walkthrough/steps.h"
#include "tornado/walkthrough/view.h"

#include "integration/hello_chain.h"

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

// A trace file is user input: numbers that do not fit the field they fill
// are refused with the line's number (the fuzzer found 1e300 as "pid", an
// undefined float-to-int conversion, and 51e3005, which escaped as a bare
// nlohmann out_of_range).
TEST(DiagramTest, ReadJsonlRefusesNumbersOutOfRange) {
    const std::string good = tornado::trace::to_json(sample()[0]) + "\n";
    for (const char* bad : {R"({"seq":1,"step":"x","ph":"B","pid":1e300})",
                            R"({"seq":-1,"step":"x","ph":"B"})",
                            R"({"seq":1.5,"step":"x","ph":"B"})",
                            R"({"seq":1,"step":"x","ph":"B","t_us":18446744073709551615})",
                            R"({"seq":1,"step":"x","ph":"B","conn":-3})",
                            R"({"seq":1,"step":"x","ph":"B","pid":2147483648})",
                            R"({"seq":1,"step":"x","ph":"B","args":{"bytes":51e3005}})"}) {
        std::istringstream in(good + bad + "\n");
        try {
            (void)read_jsonl(in);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
        }
    }
    // In range, they are read back as written.
    std::istringstream in(good + R"({"seq":7,"step":"x","ph":"B","pid":-2,"t_us":-5,"conn":3})" +
                          "\n");
    std::vector<Event> events = read_jsonl(in);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].seq, 7U);
    EXPECT_EQ(events[1].pid, -2);
    EXPECT_EQ(events[1].t_us, -5);
    EXPECT_EQ(events[1].conn, 3U);
}

// Bytes past ASCII are written as latin-1 code points and read back as the
// same bytes, so write/read/write is stable (the fuzzer found CE AC coming
// back as C3 8E C2 AC, doubling at every round).
TEST(DiagramTest, ReadJsonlGivesBackTheBytesToJsonWrote) {
    Event e = sample()[0];
    e.obj = "IOStream\xff";
    e.args.emplace_back("path", tornado::trace::ArgValue(std::string("/\xce\xac\x80\x01")));
    const std::string once = tornado::trace::to_json(e);
    std::istringstream in(once + "\n");
    std::vector<Event> back = read_jsonl(in);
    ASSERT_EQ(back.size(), 1U);
    EXPECT_EQ(back[0].obj, e.obj);
    EXPECT_EQ(tornado::trace::to_json(back[0]), once);
    // A person's UTF-8 beyond latin-1 is kept as typed.
    std::istringstream typed(R"({"seq":1,"step":"x","ph":"B","role":"\u4e2d"})"
                             "\n");
    EXPECT_EQ(read_jsonl(typed)[0].role, "\xe4\xb8\xad");
    std::istringstream wrong(R"({"seq":1,"step":"x","ph":"B","layer":5})"
                             "\n");
    EXPECT_THROW((void)read_jsonl(wrong), std::runtime_error);
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

TEST(DiagramTest, ChainIndentsByCallDepthAndShowsSuspendAndResume) {
    std::string out = render(sample(), Format::Chain);
    EXPECT_NE(out.find("netutil                     accept_handler\n"), std::string::npos) << out;
    EXPECT_NE(out.find("HTTP1Connection               _read_message\n"), std::string::npos) << out;
    EXPECT_NE(out.find("BaseIOStream                    read_until_regex\n"), std::string::npos)
        << out;
    EXPECT_NE(out.find("HTTP1Connection               ... suspends in _read_message\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("HTTP1Connection               ... resumed: _read_message\n"),
              std::string::npos)
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

// --- Views and filters on real scenario traces ------------------------------

const std::vector<Event>& scenario_events(const std::string& name) {
    static std::map<std::string, std::vector<Event>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        it = cache.emplace(name, run_scenario(name).events).first;
    }
    return it->second;
}

std::size_t count_arrows(const std::string& mermaid) {
    std::size_t n = 0;
    std::istringstream lines(mermaid);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("->>") != std::string::npos) {
            ++n;
        }
    }
    return n;
}

std::vector<std::string> begin_steps(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const Event& e : events) {
        if (e.ph == Phase::Begin && e.role != "client") {
            out.push_back(e.step);
        }
    }
    return out;
}

RenderOptions chain_options() {
    RenderOptions o;
    o.show_returns = false;
    return o;
}

TEST(ViewTest, ChainOfHelloShowsTheNineteenStepsInOrderInAtMostThirtyArrows) {
    std::vector<Event> chain = select_events(scenario_events("hello"), View::Chain);
    std::vector<std::string> begins = begin_steps(chain);
    // The documented chain, in order, with only notes steps in between.
    std::size_t next = 0;
    for (const std::string& step : begins) {
        EXPECT_TRUE(is_notes_step(step)) << step;
        if (next < tornado::testing::kHelloChain.size() &&
            step == tornado::testing::kHelloChain[next]) {
            ++next;
        }
    }
    EXPECT_EQ(next, tornado::testing::kHelloChain.size())
        << "missing " << tornado::testing::kHelloChain[std::min(next, std::size_t{18})];
    std::string mermaid = render(chain, Format::Mermaid, chain_options());
    EXPECT_LE(count_arrows(mermaid), 30U) << mermaid;
    EXPECT_GE(count_arrows(mermaid), 19U) << mermaid;
    // Suspend and resume are shown: _read_message waits for the request.
    EXPECT_NE(mermaid.find("suspends in _read_message"), std::string::npos) << mermaid;
    EXPECT_NE(mermaid.find("resume _read_message"), std::string::npos) << mermaid;
    // No instant or IOLoop internals.
    EXPECT_EQ(mermaid.find("_find_read_pos"), std::string::npos) << mermaid;
    EXPECT_EQ(mermaid.find("add_handler"), std::string::npos) << mermaid;
}

TEST(ViewTest, FullKeepsEveryEvent) {
    const auto& all = scenario_events("hello");
    std::vector<Event> full = select_events(all, View::Full);
    ASSERT_EQ(full.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(tornado::trace::to_json(full[i]), tornado::trace::to_json(all[i]));
    }
}

std::vector<std::string> as_json(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const Event& e : events) {
        out.push_back(tornado::trace::to_json(e));
    }
    return out;
}

Filter with_request(std::uint64_t n) {
    Filter f;
    f.request = n;
    return f;
}

Filter with_conn(std::uint64_t n) {
    Filter f;
    f.conn = n;
    return f;
}

Filter with_layers(std::vector<std::string> layers) {
    Filter f;
    f.layers = std::move(layers);
    return f;
}

Filter with_depth(int depth) {
    Filter f;
    f.depth = depth;
    return f;
}

Filter hiding(bool client, bool loop) {
    Filter f;
    f.hide_client = client;
    f.hide_loop = loop;
    return f;
}

std::vector<Filter> some_filters() {
    std::vector<Filter> out(1);
    out.push_back(with_request(1));
    out.push_back(with_conn(1));
    out.push_back(with_conn(2));
    out.push_back(with_layers({"iostream", "web"}));
    out.push_back(with_layers({"ioloop"}));
    out.push_back(with_depth(3));
    out.push_back(hiding(true, true));
    Filter mixed = with_request(2);
    mixed.depth = 4;
    mixed.hide_loop = true;
    out.push_back(mixed);
    return out;
}

TEST(ViewTest, SelectionIsIdempotentAndPrefixStableForEveryViewAndFilter) {
    for (const char* name : {"hello", "two-clients", "partial-write"}) {
        const auto& all = scenario_events(name);
        ASSERT_FALSE(all.empty()) << name;
        for (View view : {View::Chain, View::Layers, View::Full}) {
            for (const Filter& f : some_filters()) {
                std::vector<Event> once = select_events(all, view, f);
                EXPECT_EQ(as_json(select_events(once, view, f)), as_json(once))
                    << name << " view " << static_cast<int>(view) << " not idempotent";
                std::vector<std::string> whole = as_json(once);
                for (std::size_t cut : {all.size() / 3, all.size() / 2, all.size() - 1}) {
                    std::vector<Event> prefix(all.begin(),
                                              all.begin() + static_cast<std::ptrdiff_t>(cut));
                    std::vector<std::string> part = as_json(select_events(prefix, view, f));
                    ASSERT_LE(part.size(), whole.size());
                    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin()))
                        << name << " view " << static_cast<int>(view) << " cut " << cut;
                }
            }
        }
    }
}

TEST(ViewTest, KeptEventsHangFromTheirNearestKeptAncestor) {
    const auto& all = scenario_events("hello");
    std::map<std::uint64_t, std::uint64_t> parent_of;
    for (const Event& e : all) {
        if (e.ph == Phase::Begin) {
            parent_of[e.id] = e.parent;
        }
    }
    for (View view : {View::Chain, View::Full}) {
        for (const Filter& f : some_filters()) {
            std::vector<Event> kept = select_events(all, view, f);
            std::set<std::uint64_t> spans;
            for (const Event& e : kept) {
                if (e.ph == Phase::Begin) {
                    spans.insert(e.id);
                }
            }
            for (const Event& e : kept) {
                if (e.ph != Phase::Begin) {
                    continue;
                }
                // Walk up the original tree: the first kept ancestor is the parent.
                std::uint64_t up = parent_of[e.id];
                while (up != 0 && !spans.contains(up)) {
                    up = parent_of[up];
                }
                EXPECT_EQ(e.parent, up) << e.step << " seq " << e.seq;
            }
        }
    }
}

TEST(ViewTest, SpansStayWholeEveryBeginHasItsEnd) {
    for (View view : {View::Chain, View::Layers}) {
        for (const Filter& f : some_filters()) {
            std::map<std::uint64_t, int> open;
            for (const Event& e : select_events(scenario_events("two-clients"), view, f)) {
                if (e.ph == Phase::Begin) {
                    ++open[e.id];
                } else if (e.ph == Phase::End) {
                    --open[e.id];
                }
            }
            for (const auto& [id, n] : open) {
                EXPECT_EQ(n, 0) << "span " << id;
            }
        }
    }
}

TEST(ViewTest, FiltersNarrowToWhatTheyName) {
    const auto& all = scenario_events("two-clients");
    std::vector<Event> conn2 = select_events(all, View::Full, with_conn(2));
    ASSERT_FALSE(conn2.empty());
    for (const Event& e : conn2) {
        EXPECT_EQ(e.conn, 2U) << e.step;
        EXPECT_NE(e.role, "client");
    }
    std::vector<Event> req1 = select_events(all, View::Chain, with_request(1));
    ASSERT_FALSE(req1.empty());
    for (const Event& e : req1) {
        EXPECT_EQ(e.req, 1U) << e.step;
    }
    std::vector<Event> web = select_events(all, View::Full, with_layers({"web"}));
    ASSERT_FALSE(web.empty());
    for (const Event& e : web) {
        EXPECT_EQ(e.layer, "web") << e.step;
    }
    for (const Event& e : select_events(all, View::Full, hiding(true, true))) {
        EXPECT_NE(e.role, "client") << e.step;
        EXPECT_NE(e.layer, "ioloop") << e.step;
    }
    // --depth 1 keeps only roots: spans whose parent is gone.
    for (const Event& e : select_events(all, View::Full, with_depth(1))) {
        EXPECT_EQ(e.parent, 0U) << e.step;
    }
    std::vector<Event> shallow = select_events(all, View::Chain, with_depth(2));
    std::vector<Event> chain = select_events(all, View::Chain);
    EXPECT_LT(shallow.size(), chain.size());
    EXPECT_GT(shallow.size(), 0U);
}

TEST(ViewTest, ParseViewNamesTheBadValue) {
    EXPECT_EQ(parse_view("layers"), View::Layers);
    try {
        (void)parse_view("wide");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("wide"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("chain"), std::string::npos);
    }
}

TEST(ViewTest, LayersViewHasOneLifelinePerLayer) {
    RenderOptions o = chain_options();
    o.lifelines = Lifelines::Layers;
    std::string out =
        render(select_events(scenario_events("hello"), View::Layers), Format::PlantUml, o);
    std::vector<std::string> participants;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with("participant ")) {
            participants.push_back(line.substr(13, line.find('"', 13) - 13));
        }
    }
    EXPECT_EQ(participants,
              (std::vector<std::string>{"client", "IOLoop", "iostream", "httpserver", "web"}))
        << out;
    EXPECT_NE(out.find("BaseIOStream.read_until_regex"), std::string::npos) << out;
}

// --- Fitting a screen ------------------------------------------------------

std::size_t widest_line(const std::string& text) {
    std::size_t widest = 0;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        widest = std::max(widest, line.size());
    }
    return widest;
}

TEST(AsciiTest, EveryScenarioFitsTheWidthAskedFor) {
    for (const ScenarioInfo& s : list_scenarios()) {
        for (std::size_t width : {100U, 72U}) {
            RenderOptions o = chain_options();
            o.width = width;
            std::string out =
                render(select_events(scenario_events(s.name), View::Chain), Format::Ascii, o);
            EXPECT_LE(widest_line(out), width) << s.name << "\n" << out;
            o.lifelines = Lifelines::Layers;
            out = render(select_events(scenario_events(s.name), View::Layers), Format::Ascii, o);
            EXPECT_LE(widest_line(out), width) << s.name << " (layers)\n" << out;
        }
    }
}

TEST(AsciiTest, ArrowsAreNeverCutOnlyLabelsAreAbbreviated) {
    RenderOptions o = chain_options();
    o.width = 86;
    std::string out =
        render(select_events(scenario_events("hello"), View::Chain), Format::Ascii, o);
    EXPECT_LE(widest_line(out), 86U) << out;
    EXPECT_EQ(out.find("(one lifeline per"), std::string::npos) << out;
    // Every arrow line still has its head, and every call of the trace is
    // there, by its method name at least ("~" marks a cut label).
    std::istringstream lines(out);
    std::string line;
    std::size_t arrows = 0;
    while (std::getline(lines, line)) {
        if (line.find("--") != std::string::npos && line.find("+--") == std::string::npos) {
            EXPECT_TRUE(line.find("->|") != std::string::npos ||
                        line.find("|<-") != std::string::npos)
                << line;
            ++arrows;
        }
    }
    EXPECT_GT(arrows, 10U) << out;
    for (const std::string& step : tornado::testing::kHelloChain) {
        std::string method = step.substr(step.rfind('.') + 1);
        EXPECT_NE(out.find(method.substr(0, 12)), std::string::npos) << method << "\n" << out;
    }
}

TEST(AsciiTest, TooManyLifelinesShareOnePerClassThenPerLayerAndSaySo) {
    RenderOptions o;
    o.width = 60;
    std::string out =
        render(select_events(scenario_events("pipelined"), View::Full), Format::Ascii, o);
    EXPECT_TRUE(out.starts_with("(one lifeline per layer, to fit 60 columns)\n")) << out;
    EXPECT_LE(widest_line(out), 60U) << out;
    o.width = 100;
    out = render(select_events(scenario_events("pipelined"), View::Chain), Format::Ascii, o);
    EXPECT_TRUE(out.starts_with("(one lifeline per class, to fit 100 columns)\n")) << out;
    EXPECT_LE(widest_line(out), 100U) << out;
}

TEST(AsciiTest, ColourOnlyWhenAsked) {
    const auto& events = scenario_events("hello");
    RenderOptions plain;
    EXPECT_EQ(render(events, Format::Ascii, plain).find('\x1b'), std::string::npos);
    RenderOptions colour;
    colour.color = true;
    colour.width = 100;
    std::string out = render(events, Format::Ascii, colour);
    EXPECT_NE(out.find("\x1b[32m"), std::string::npos);  // resumes in green
    // Colour codes take no columns: without them the lines still fit.
    std::string stripped;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\x1b') {
            i = out.find('m', i);
            continue;
        }
        stripped.push_back(out[i]);
    }
    EXPECT_LE(widest_line(stripped), 100U);
}

// --- Staying inside the tools' limits ---------------------------------------

// A long trace: `n` requests on one connection, each a few nested calls with
// long arguments, a suspend and a resume.
std::vector<Event> synthetic(std::size_t n) {
    std::vector<Event> events;
    std::uint64_t seq = 0;
    for (std::size_t r = 1; r <= n; ++r) {
        std::uint64_t top = ++seq;
        events.push_back(
            ev(top, Phase::Begin, "HTTP1Connection#1", "HTTP1Connection._read_message", top, 0));
        events.back().req = r;
        std::uint64_t read = ++seq;
        events.push_back(
            ev(read, Phase::Begin, "IOStream#1", "BaseIOStream.read_until_regex", read, top));
        events.back().args.emplace_back(
            "regex", ArgValue(std::string("\\r?\\n\\r?\\n with a long argument <to> & #escape")));
        events.push_back(
            ev(++seq, Phase::End, "IOStream#1", "BaseIOStream.read_until_regex", read, top));
        events.push_back(ev(++seq, Phase::Suspend, "HTTP1Connection#1",
                            "HTTP1Connection._read_message", top, 0));
        events.push_back(ev(++seq, Phase::Instant, "IOLoop#1", "PollIOLoop.start", 0, 0));
        events.push_back(
            ev(++seq, Phase::Resume, "HTTP1Connection#1", "HTTP1Connection._read_message", top, 0));
        std::uint64_t w = ++seq;
        events.push_back(ev(w, Phase::Begin, "IOStream#1", "BaseIOStream.write", w, top));
        events.push_back(ev(++seq, Phase::End, "IOStream#1", "BaseIOStream.write", w, top));
        events.push_back(
            ev(++seq, Phase::End, "HTTP1Connection#1", "HTTP1Connection._read_message", top, 0));
    }
    return events;
}

TEST(MermaidLimitsTest, ABigDiagramIsSplitIntoPartsThatEachFitAndSaySo) {
    std::vector<Event> events = synthetic(400);  // 3,600 events, 2,800 arrows
    std::size_t parts = mermaid_parts(events);
    ASSERT_GT(parts, 1U);
    std::set<std::string> seen;
    std::size_t total_arrows = 0;
    for (std::size_t k = 1; k <= parts; ++k) {
        RenderOptions o;
        o.part = k;
        std::string out = render(events, Format::Mermaid, o);
        EXPECT_TRUE(out.starts_with("sequenceDiagram\n"));
        EXPECT_LE(out.size(), kMermaidMaxTextSize) << "part " << k;
        EXPECT_LE(count_arrows(out), kMermaidMaxArrows) << "part " << k;
        EXPECT_NE(out.find("part " + std::to_string(k) + " of " + std::to_string(parts)),
                  std::string::npos)
            << out.substr(0, 600);
        if (k < parts) {
            EXPECT_NE(out.find("continued in part " + std::to_string(k + 1)), std::string::npos);
        }
        // Each message line appears in exactly one part.
        std::istringstream lines(out);
        std::string line;
        while (std::getline(lines, line)) {
            if (line.find("->>") != std::string::npos) {
                EXPECT_TRUE(seen.insert(line).second) << line;
                ++total_arrows;
            }
        }
    }
    // Per request: 3 calls, 3 returns and a resume.
    EXPECT_EQ(total_arrows, 400U * 7U);
}

TEST(MermaidLimitsTest, EveryScenarioFitsInOnePartInEveryView) {
    for (const ScenarioInfo& s : list_scenarios()) {
        for (View view : {View::Chain, View::Full}) {
            std::string out = render(select_events(scenario_events(s.name), view), Format::Mermaid);
            EXPECT_EQ(out.find("part 1 of"), std::string::npos) << s.name;
            EXPECT_LE(out.size(), kMermaidMaxTextSize) << s.name;
            EXPECT_LE(count_arrows(out), kMermaidMaxArrows) << s.name;
        }
    }
}

TEST(PlantUmlLimitsTest, ABigDiagramIsSplitIntoPagesWithANote) {
    std::string out = render(synthetic(100), Format::PlantUml);
    std::size_t pages = 1;
    std::size_t since = 0;
    std::size_t most = 0;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line == "newpage") {
            ++pages;
            most = std::max(most, since);
            since = 0;
        } else if (line.find(" -> ") != std::string::npos ||
                   line.find(" --> ") != std::string::npos || line.starts_with("note over P")) {
            ++since;
        }
    }
    most = std::max(most, since);
    EXPECT_GT(pages, 5U);
    EXPECT_LE(most, kPlantUmlMessagesPerPage + 1);  // + the page's note
    EXPECT_NE(out.find("page 1 of " + std::to_string(pages)), std::string::npos);
    EXPECT_NE(out.find("page " + std::to_string(pages) + " of " + std::to_string(pages)),
              std::string::npos);
    // Labels are kept literal: the backslashes doubled, no HTML tag or entity.
    EXPECT_NE(out.find("\\\\r?\\\\n"), std::string::npos);
    EXPECT_EQ(out.find("<to>"), std::string::npos);
    EXPECT_EQ(out.find("&#"), std::string::npos);
}

TEST(ChromeTest, PiecesOfASuspendedCoroutineNestAndResumesAreFlows) {
    std::string out = render(sample(), Format::Chrome);
    EXPECT_TRUE(out.starts_with("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[")) << out;
    // _read_message runs twice: before its suspend and after its resume.
    std::size_t pieces = 0;
    for (std::size_t at = out.find("\"ph\":\"B\",\"name\":\"HTTP1Connection._read_message\"");
         at != std::string::npos;
         at = out.find("\"ph\":\"B\",\"name\":\"HTTP1Connection._read_message\"", at + 1)) {
        ++pieces;
    }
    EXPECT_EQ(pieces, 2U) << out;
    EXPECT_NE(out.find("\"ph\":\"s\",\"name\":\"resume\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"ph\":\"f\",\"bp\":\"e\",\"name\":\"resume\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"name\":\"thread_name\""), std::string::npos) << out;
}

TEST(DiagramTest, ReadJsonlNamesATruncatedLastLine) {
    std::string whole = render(sample(), Format::Jsonl);
    std::string cut = whole.substr(0, whole.size() - 20);  // mid-way through line 13
    std::istringstream in(cut);
    try {
        (void)read_jsonl(in);
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 13"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
}

TEST(DiagramTest, EveryFormatHasAName) {
    for (const char* name : {"ascii", "mermaid", "plantuml", "dot", "chrome", "chain", "jsonl"}) {
        EXPECT_NO_THROW((void)parse_format(name)) << name;
    }
    EXPECT_TRUE(is_diagram_format(Format::Dot));
    EXPECT_FALSE(is_diagram_format(Format::Jsonl));
}

}  // namespace
