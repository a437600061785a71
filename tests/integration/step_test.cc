// tornado-walk step and explain: the step-through session on its own (commands
// to screens), docs/steps.md against the steps table, and the real program
// driven through pipes as a test, or a student at a pipe, drives it.
#include "tornado/walkthrough/step.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/steps.h"
#include "tornado/walkthrough/view.h"

#include "integration/process.h"

namespace {

using tornado::trace::Event;
using tornado::trace::Phase;
namespace tw = tornado::walkthrough;

using WalkRun = tornado::testing::ProcessRun;
using tornado::testing::exit_code;

// Runs tornado-walk with `args` and `input` on its standard input (a pipe,
// closed after the input); a hang past `timeout_s` fails.
WalkRun run_walk(const std::vector<std::string>& args, const std::string& input = "",
                 int timeout_s = 60) {
    std::vector<std::string> argv = {TORNADO_WALK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return tornado::testing::run_process(argv, input, {}, timeout_s);
}

// The N of each "step N/M" line that starts a screen, in order.
std::vector<std::size_t> screens(const std::string& out, std::size_t* total = nullptr) {
    std::vector<std::size_t> steps;
    std::regex head("^step ([0-9]+)/([0-9]+)  [a-z]");
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_search(line, m, head)) {
            steps.push_back(std::stoul(m[1]));
            if (total != nullptr) {
                *total = std::stoul(m[2]);
            }
        }
    }
    return steps;
}

// The screen that starts with "step N/", or "" if none does.
std::string screen_of(const std::string& out, std::size_t n) {
    std::string head = "step " + std::to_string(n) + "/";
    std::size_t start = out.rfind("\n" + head);
    start = out.starts_with(head) ? 0 : (start == std::string::npos ? start : start + 1);
    if (start == std::string::npos) {
        return "";
    }
    std::size_t end = out.find("\nstep ", start + 1);
    return out.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Blanks of any kind and length as one space: wrapping only moves blanks.
std::string squeeze(std::string_view s) {
    std::string out;
    for (char c : s) {
        bool blank = c == ' ' || c == '\n' || c == '\t';
        if (blank) {
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
        } else {
            out += c;
        }
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t columns(std::string_view line) {
    std::size_t n = 0;
    for (char c : line) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

Event make_event(std::uint64_t seq, Phase ph, std::string step, std::uint64_t req) {
    Event e;
    e.seq = seq;
    e.id = seq;
    e.ph = ph;
    e.step = std::move(step);
    e.obj = "IOStream#1";
    e.cls = "BaseIOStream";
    e.layer = "iostream";
    e.req = req;
    e.conn = 1;
    return e;
}

// ---------------------------------------------------------------------------
// The session on its own.

std::vector<Event> sample_events() {
    return {
        make_event(1, Phase::Begin, "netutil.accept_handler", 0),
        make_event(2, Phase::Begin, "HTTP1Connection._read_message", 1),
        make_event(3, Phase::Suspend, "HTTP1Connection._read_message", 1),
        make_event(4, Phase::Begin, "BaseIOStream._handle_events", 0),
        make_event(5, Phase::Resume, "HTTP1Connection._read_message", 1),
        make_event(6, Phase::Begin, "RequestHandler._execute", 1),
        make_event(7, Phase::Begin, "HTTP1Connection._read_message", 2),
        make_event(8, Phase::End, "HTTP1Connection._read_message", 1),
    };
}

TEST(StepSessionTest, NextBackFirstLastAndJumpMoveAndStayInRange) {
    tw::StepSession s(sample_events(), {});
    EXPECT_EQ(s.current(), 1U);
    EXPECT_TRUE(s.command("n").moved);
    EXPECT_TRUE(s.command("").moved);
    EXPECT_TRUE(s.command(" ").moved);
    EXPECT_EQ(s.current(), 4U);
    EXPECT_TRUE(s.command("b").moved);
    EXPECT_EQ(s.current(), 3U);
    EXPECT_TRUE(s.command("e").moved);
    EXPECT_EQ(s.current(), 8U);
    tw::StepOutcome past = s.command("n");
    EXPECT_FALSE(past.moved);
    EXPECT_FALSE(past.quit);
    EXPECT_NE(past.message.find("already at the last step, 8/8"), std::string::npos)
        << past.message;
    EXPECT_EQ(s.current(), 8U);
    EXPECT_TRUE(s.command("g").moved);
    EXPECT_EQ(s.current(), 1U);
    EXPECT_NE(s.command("b").message.find("already at the first step"), std::string::npos);
    EXPECT_TRUE(s.command(" 6 ").moved);
    EXPECT_EQ(s.current(), 6U);
    tw::StepOutcome bad = s.command("9");
    EXPECT_FALSE(bad.moved);
    EXPECT_NE(bad.message.find("no step 9"), std::string::npos) << bad.message;
    EXPECT_FALSE(s.command("0").moved);
    EXPECT_FALSE(s.command("99999999999999999999999").moved);
    EXPECT_EQ(s.current(), 6U);
    EXPECT_TRUE(s.command("q").quit);
}

TEST(StepSessionTest, UnknownCommandGivesAOneLineHintAndStays) {
    tw::StepSession s(sample_events(), {});
    tw::StepOutcome o = s.command("x");
    EXPECT_FALSE(o.quit);
    EXPECT_FALSE(o.moved);
    EXPECT_EQ(o.message.find('\n'), std::string::npos);
    EXPECT_NE(o.message.find("unknown command 'x'"), std::string::npos) << o.message;
    EXPECT_NE(o.message.find("q quit"), std::string::npos) << o.message;
    EXPECT_EQ(s.current(), 1U);
}

TEST(StepSessionTest, SuspendKeyFindsTheNextSuspendOrResume) {
    tw::StepSession s(sample_events(), {});
    EXPECT_TRUE(s.command("s").moved);
    EXPECT_EQ(s.current(), 3U);
    EXPECT_TRUE(s.command("s").moved);
    EXPECT_EQ(s.current(), 5U);
    tw::StepOutcome none = s.command("s");
    EXPECT_FALSE(none.moved);
    EXPECT_NE(none.message.find("no suspend or resume"), std::string::npos);
    EXPECT_EQ(s.current(), 5U);
}

TEST(StepSessionTest, RequestKeyFindsTheFirstEventOfANewRequest) {
    tw::StepSession s(sample_events(), {});
    EXPECT_TRUE(s.command("r").moved);
    EXPECT_EQ(s.current(), 2U);  // the first event with req 1
    EXPECT_TRUE(s.command("r").moved);
    EXPECT_EQ(s.current(), 7U);  // req 2; events 4..6 are req 0 or the same request
    EXPECT_FALSE(s.command("r").moved);
    EXPECT_EQ(s.current(), 7U);
}

TEST(StepSessionTest, ScreenStartsWithStepAndShowsTheEvent) {
    std::vector<Event> events = sample_events();
    events[1].args.emplace_back("max_bytes", std::int64_t{65536});
    tw::StepSession s(events, {.width = 80, .height = 40, .source_root = ""});
    s.command("2");
    std::string screen = s.screen("a message");
    EXPECT_TRUE(screen.starts_with("step 2/8")) << screen;
    EXPECT_NE(screen.find("IOStream#1"), std::string::npos) << screen;
    EXPECT_NE(screen.find("max_bytes=65536"), std::string::npos) << screen;
    EXPECT_NE(screen.find("HTTP1Connection._read_message"), std::string::npos) << screen;
    EXPECT_NE(screen.find("conn    1   req 1"), std::string::npos) << screen;
    EXPECT_NE(screen.find("a message"), std::string::npos) << screen;
    EXPECT_NE(screen.find("read_message"), std::string::npos);
    std::istringstream lines(screen);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_LE(columns(line), 80U) << line;
    }
}

TEST(FitDiagramTest, KeepsTheHeaderAndTheLastLines) {
    std::string diagram = "   A    B\n   |    |\n";
    for (int i = 1; i <= 30; ++i) {
        diagram += "   |--> |  line " + std::to_string(i) + "\n";
    }
    std::string fitted = tw::fit_diagram(diagram, 100, 10);
    std::vector<std::string> lines;
    std::istringstream in(fitted);
    for (std::string l; std::getline(in, l);) {
        lines.push_back(l);
    }
    ASSERT_EQ(lines.size(), 10U) << fitted;
    EXPECT_EQ(lines[0], "   A    B");
    EXPECT_EQ(lines[1], "   |    |");
    EXPECT_NE(lines[2].find("23 earlier lines"), std::string::npos) << lines[2];
    EXPECT_NE(lines[3].find("line 24"), std::string::npos);
    EXPECT_NE(lines[9].find("line 30"), std::string::npos);
    // Cut to width, never longer.
    std::istringstream narrow(tw::fit_diagram(diagram, 8, 40));
    for (std::string l; std::getline(narrow, l);) {
        EXPECT_LE(l.size(), 8U) << l;
    }
    // A short diagram is left whole.
    EXPECT_EQ(tw::fit_diagram("   A\n   |\n", 100, 10), "   A\n   |\n");
}

TEST(WrapTextTest, WrapsParagraphsToTheWidthAndKeepsTheWords) {
    std::string text =
        "The quick brown fox jumps over the lazy dog and keeps on running far away.\n"
        "Second line of the same paragraph.\n\nA new paragraph.\n- an item that is long "
        "enough to wrap onto a second line\n";
    std::string wrapped = tw::wrap_text(text, 30);
    std::istringstream lines(wrapped);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_LE(line.size(), 30U) << line;
    }
    EXPECT_EQ(squeeze(wrapped), squeeze(text));
    EXPECT_NE(wrapped.find("\n\nA new paragraph.\n- an item"), std::string::npos) << wrapped;
    EXPECT_NE(wrapped.find("\n  "), std::string::npos) << "a list item hangs: " << wrapped;
}

TEST(CitedDefinitionTest, FindsTheCodeUnderTheCitationOfExactlyThatStep) {
    namespace fs = std::filesystem;
    fs::path root = fs::path(::testing::TempDir()) / ("cited_" + std::to_string(::getpid()));
    fs::create_directories(root / "iostream" / "src");
    std::ofstream(root / "iostream" / "src" / "a.cc")
        << "// Tornado: tornado/iostream.py BaseIOStream.write_to_fd\n"
           "void write_to_fd();\n"
           "\n"
           "    // Tornado: tornado/iostream.py:820 BaseIOStream.write\n"
           "    // C++: a note on what differs.\n"
           "    void write();\n";
    EXPECT_EQ(tw::cited_definition(root.string(), "BaseIOStream.write", "tornado/iostream.py"),
              "iostream/src/a.cc:6");
    EXPECT_EQ(
        tw::cited_definition(root.string(), "BaseIOStream.write_to_fd", "tornado/iostream.py"),
        "iostream/src/a.cc:2");
    EXPECT_EQ(tw::cited_definition(root.string(), "BaseIOStream.close", "tornado/iostream.py"), "");
    EXPECT_EQ(tw::cited_definition(root.string(), "BaseIOStream.write", "tornado/web.py"), "");
    EXPECT_EQ(tw::cited_definition("", "BaseIOStream.write", "tornado/iostream.py"), "");
    fs::remove_all(root);
}

// ---------------------------------------------------------------------------
// docs/steps.md: the one place the explanations are written.

TEST(StepsDocumentTest, ParsesSectionsAndSkipsTheIntroductionAndCode) {
    auto sections = tw::parse_steps_document(
        "# Title\n\nIntro.\n\n## `A.b`\n\nText of b.\n\nMore.\n\n## C.d\nd\n```\n## not.a_heading\n"
        "```\n");
    ASSERT_EQ(sections.size(), 2U);
    EXPECT_EQ(sections[0].step, "A.b");
    EXPECT_EQ(sections[0].text, "Text of b.\n\nMore.");
    EXPECT_EQ(sections[1].step, "C.d");
    EXPECT_EQ(sections[1].text, "d\n```\n## not.a_heading\n```");
}

TEST(StepsDocumentTest, EveryNotesStepHasASectionAndNoSectionIsUnknown) {
    std::string doc = read_file(std::string(TORNADO_SOURCE_DIR) + "/docs/steps.md");
    ASSERT_FALSE(doc.empty());
    std::set<std::string> sections;
    for (const tw::StepSection& s : tw::parse_steps_document(doc)) {
        EXPECT_TRUE(sections.insert(s.step).second) << "two sections for " << s.step;
        EXPECT_TRUE(tw::is_notes_step(s.step))
            << "docs/steps.md explains '" << s.step << "', which is not a step of notes_steps()";
        EXPECT_GE(s.text.size(), 200U) << s.step << " has hardly any explanation";
    }
    for (const tw::StepInfo& s : tw::notes_steps()) {
        EXPECT_EQ(sections.count(s.step), 1U) << "docs/steps.md has no section for " << s.step;
    }
}

TEST(StepsDocumentTest, TheProgramCarriesTheDocumentAsItIsInTheTree) {
    std::string doc = read_file(std::string(TORNADO_SOURCE_DIR) + "/docs/steps.md");
    EXPECT_EQ(tw::steps_document(), doc) << "rebuild: the embedded docs/steps.md is stale";
    for (const tw::StepInfo& s : tw::notes_steps()) {
        EXPECT_FALSE(s.explanation.empty()) << s.step;
    }
    const tw::StepInfo* info = tw::find_step("BaseIOStream.read_until_regex");
    ASSERT_NE(info, nullptr);
    std::string heading = "## BaseIOStream.read_until_regex\n\n";
    auto at = doc.find(heading);
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(doc.compare(at + heading.size(), info->explanation.size(), info->explanation), 0);
}

TEST(StepsDocumentTest, TheWalkthroughLinksToIt) {
    std::string walkthrough = read_file(std::string(TORNADO_SOURCE_DIR) + "/docs/walkthrough.md");
    EXPECT_NE(walkthrough.find("(steps.md)"), std::string::npos);
}

// ---------------------------------------------------------------------------
// The real program over pipes.

class StepCliTest : public ::testing::Test {
  protected:
    // One saved trace of hello for the whole suite: `step FILE.jsonl` reads
    // it, and the expected step numbers are computed from the same events.
    static void SetUpTestSuite() {
        path_ = new std::string(::testing::TempDir() + "step_test_hello_" +
                                std::to_string(::getpid()) + ".jsonl");
        WalkRun r = run_walk({"run", "hello", "--format", "jsonl", "-o", *path_});
        ASSERT_EQ(exit_code(r), 0) << r.err;
        std::ifstream in(*path_);
        events_ = new std::vector<Event>(tw::read_jsonl(in));
        chain_ = new std::vector<Event>(tw::select_events(*events_, tw::View::Chain));
    }
    static void TearDownTestSuite() {
        std::filesystem::remove(*path_);
        delete path_;
        delete events_;
        delete chain_;
    }

    // The 1-based step of the first chain event after `after` that `pred` accepts.
    template <class Pred>
    static std::size_t first_step(std::size_t after, Pred pred) {
        for (std::size_t i = after; i < chain_->size(); ++i) {
            if (pred((*chain_)[i])) {
                return i + 1;
            }
        }
        return 0;
    }

    static std::string* path_;
    static std::vector<Event>* events_;
    static std::vector<Event>* chain_;
};

std::string* StepCliTest::path_ = nullptr;
std::vector<Event>* StepCliTest::events_ = nullptr;
std::vector<Event>* StepCliTest::chain_ = nullptr;

TEST_F(StepCliTest, ScriptedStepThroughOfHelloGoesForwardBackAndJumps) {
    // The scenario itself, as a student types it.
    WalkRun r = run_walk({"step", "hello"}, "n\nn\nb\n7\ne\ng\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    std::size_t total = 0;
    std::vector<std::size_t> seen = screens(r.out, &total);
    ASSERT_GT(total, 7U);
    EXPECT_EQ(seen, (std::vector<std::size_t>{1, 2, 3, 2, 7, total, 1})) << r.out;
    EXPECT_TRUE(r.out.starts_with("step 1/" + std::to_string(total))) << r.out.substr(0, 200);
}

TEST_F(StepCliTest, SpaceAndEmptyLineStepOnAndEndOfInputQuits) {
    WalkRun r = run_walk({"step", *path_}, " \n\nn\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(screens(r.out), (std::vector<std::size_t>{1, 2, 3, 4}));
}

TEST_F(StepCliTest, StepsOverTheChainViewByDefaultAndOverEveryEventWithViewFull) {
    std::size_t total = 0;
    WalkRun chain = run_walk({"step", *path_}, "q\n");
    ASSERT_EQ(exit_code(chain), 0) << chain.err;
    screens(chain.out, &total);
    EXPECT_EQ(total, chain_->size());
    WalkRun full = run_walk({"step", *path_, "--view", "full"}, "e\nq\n");
    ASSERT_EQ(exit_code(full), 0) << full.err;
    EXPECT_EQ(screens(full.out, &total), (std::vector<std::size_t>{1, events_->size()}));
    EXPECT_EQ(total, events_->size());
}

TEST_F(StepCliTest, TakesTheViewAndFilterFlagsOfRun) {
    tw::Filter only_request;
    only_request.request = 1;
    std::size_t layers = tw::select_events(*events_, tw::View::Layers).size();
    std::size_t request = tw::select_events(*events_, tw::View::Full, only_request).size();
    ASSERT_GT(request, 0U);
    ASSERT_LT(request, events_->size());
    std::size_t total = 0;
    WalkRun l = run_walk({"step", *path_, "--view", "layers"}, "q\n");
    ASSERT_EQ(exit_code(l), 0) << l.err;
    screens(l.out, &total);
    EXPECT_EQ(total, layers);
    WalkRun r = run_walk({"step", *path_, "--view", "full", "--request", "1"}, "e\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(screens(r.out, &total), (std::vector<std::size_t>{1, request}));
    EXPECT_EQ(total, request);
    EXPECT_NE(screen_of(r.out, request).find("req 1"), std::string::npos);
    WalkRun bad = run_walk({"step", *path_, "--view", "sideways"}, "q\n");
    EXPECT_EQ(exit_code(bad), 2);
    EXPECT_NE(bad.err.find("sideways"), std::string::npos) << bad.err;
}

TEST_F(StepCliTest, SuspendKeyGoesToTheNextSuspendOrResume) {
    auto is_sr = [](const Event& e) { return e.ph == Phase::Suspend || e.ph == Phase::Resume; };
    std::size_t first = first_step(0, is_sr);
    std::size_t second = first_step(first, is_sr);
    ASSERT_GT(first, 1U);
    ASSERT_GT(second, first);
    WalkRun r = run_walk({"step", *path_}, "s\ns\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(screens(r.out), (std::vector<std::size_t>{1, first, second}));
    const Event& e = (*chain_)[first - 1];
    std::string screen = screen_of(r.out, first);
    EXPECT_TRUE(screen.starts_with("step " + std::to_string(first) + "/" +
                                   std::to_string(chain_->size()) + "  " +
                                   (e.ph == Phase::Suspend ? "suspend " : "resume ") + e.step))
        << screen;
}

TEST_F(StepCliTest, RequestKeyGoesToTheFirstEventOfTheNextRequest) {
    std::size_t first = first_step(0, [](const Event& e) { return e.req != 0; });
    ASSERT_GT(first, 1U);
    std::uint64_t req = (*chain_)[first - 1].req;
    std::size_t second = first_step(first, [&](const Event& e) { return e.req > req; });
    WalkRun r = run_walk({"step", *path_}, "r\nr\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    std::vector<std::size_t> expected = {1, first};
    if (second != 0) {
        expected.push_back(second);
    } else {
        EXPECT_NE(r.out.find("no new request after step"), std::string::npos) << r.out;
    }
    EXPECT_EQ(screens(r.out), expected);
    EXPECT_NE(screen_of(r.out, first).find("req " + std::to_string(req)), std::string::npos);
}

TEST_F(StepCliTest, PastTheLastStepStaysThereAndSaysSo) {
    WalkRun r = run_walk({"step", *path_}, "e\nn\nn\nb\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    std::size_t m = chain_->size();
    EXPECT_EQ(screens(r.out), (std::vector<std::size_t>{1, m, m - 1}));
    EXPECT_NE(r.out.find("\nalready at the last step, " + std::to_string(m) + "/" +
                         std::to_string(m) + " (b back"),
              std::string::npos)
        << r.out;
}

TEST_F(StepCliTest, InvalidInputShowsAHintAndDoesNotQuit) {
    WalkRun r = run_walk({"step", *path_}, "hello?\n0\nn\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(screens(r.out), (std::vector<std::size_t>{1, 2}));
    EXPECT_NE(r.out.find("\nunknown command 'hello?'; keys:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nthere is no step 0: steps go from 1 to "), std::string::npos);
}

TEST_F(StepCliTest, ScreenShowsTheSourceLinesTornadoMethodAndExplanation) {
    std::size_t n =
        first_step(0, [](const Event& e) { return e.step == "BaseIOStream.read_until_regex"; });
    ASSERT_GT(n, 0U);
    const Event& e = (*chain_)[n - 1];
    WalkRun r = run_walk({"step", *path_}, std::to_string(n) + "\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    std::string screen = screen_of(r.out, n);
    ASSERT_FALSE(screen.empty()) << r.out;

    // The C++ location and the very line it names, read from the tree.
    EXPECT_NE(screen.find("-- C++: " + e.src + " "), std::string::npos) << screen;
    auto colon = e.src.rfind(':');
    int line = std::stoi(e.src.substr(colon + 1));
    std::ifstream src(std::string(TORNADO_SOURCE_DIR) + "/" + e.src.substr(0, colon));
    std::string text;
    for (int i = 0; i < line; ++i) {
        std::getline(src, text);
    }
    ASSERT_NE(text.find("TRACE"), std::string::npos) << "src does not name an emit point: " << text;
    EXPECT_NE(screen.find(">" + std::string(5 - std::to_string(line).size() + 1, ' ') +
                          std::to_string(line) + "  " + text),
              std::string::npos)
        << screen;
    // Lines around it, numbered.
    EXPECT_NE(screen.find(std::to_string(line - 1) + "  "), std::string::npos);

    EXPECT_NE(screen.find("-- Tornado: tornado/iostream.py:236 BaseIOStream.read_until_regex"),
              std::string::npos)
        << screen;
    const tw::StepInfo* info = tw::find_step(e.step);
    ASSERT_NE(info, nullptr);
    ASSERT_FALSE(info->explanation.empty());
    EXPECT_NE(squeeze(screen).find(squeeze(info->explanation)), std::string::npos) << screen;
}

TEST_F(StepCliTest, AMissingSourceTreeIsOneLineNotAFailure) {
    std::string empty = ::testing::TempDir() + "step_test_no_source";
    std::filesystem::create_directories(empty);
    WalkRun r = run_walk({"step", *path_, "--source", empty}, "q\n");
    EXPECT_EQ(exit_code(r), 0) << r.err;
    EXPECT_NE(r.out.find("(source not found: " + empty + "/"), std::string::npos) << r.out;
    std::filesystem::remove(empty);
}

TEST_F(StepCliTest, ScreensFitTheGivenWidthAndHeight) {
    WalkRun r = run_walk({"step", *path_, "--width", "72", "--height", "45"}, "5\n20\ne\nq\n");
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(screens(r.out).size(), 4U);
    std::istringstream lines(r.out);
    int rows = 0;
    for (std::string line; std::getline(lines, line);) {
        EXPECT_LE(columns(line), 72U) << line;
        if (line.starts_with("step ")) {
            rows = 0;
        }
        if (!line.empty()) {
            ++rows;
        }
        EXPECT_LE(rows, 45) << "a screen is taller than --height 45:\n" << r.out;
    }
    // With no size given and no terminal: 100 columns.
    WalkRun plain = run_walk({"step", *path_}, "e\nq\n");
    std::istringstream plain_lines(plain.out);
    bool wide = false;
    for (std::string line; std::getline(plain_lines, line);) {
        EXPECT_LE(columns(line), 100U) << line;
        wide = wide || columns(line) > 72;
    }
    EXPECT_TRUE(wide) << "no line uses the 100 columns of a pipe";
}

TEST_F(StepCliTest, UnknownScenarioOrMissingTraceFileExitsTwoNamingIt) {
    WalkRun r = run_walk({"step", "no-such-scenario"}, "q\n");
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("no-such-scenario"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hello"), std::string::npos) << "lists the scenarios: " << r.err;
    WalkRun f = run_walk({"step", "/nonexistent/trace.jsonl"}, "q\n");
    EXPECT_EQ(exit_code(f), 2);
    EXPECT_NE(f.err.find("/nonexistent/trace.jsonl"), std::string::npos) << f.err;
}

// ---------------------------------------------------------------------------
// explain

TEST(ExplainCliTest, KnownStepPrintsItsTornadoMethodAndExplanation) {
    WalkRun r = run_walk({"explain", "BaseIOStream.read_until_regex"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_TRUE(r.out.starts_with("BaseIOStream.read_until_regex")) << r.out;
    EXPECT_NE(r.out.find("Tornado: tornado/iostream.py:236 BaseIOStream.read_until_regex"),
              std::string::npos)
        << r.out;
    const tw::StepInfo* info = tw::find_step("BaseIOStream.read_until_regex");
    ASSERT_NE(info, nullptr);
    EXPECT_NE(squeeze(r.out).find(squeeze(info->explanation)), std::string::npos) << r.out;
    // The C++ definition, found under its citation in the tree.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        r.out, m, std::regex("\nC\\+\\+: +(iostream/src/iostream\\.cc):([0-9]+)\n")))
        << r.out;
    std::ifstream src(std::string(TORNADO_SOURCE_DIR) + "/" + m[1].str());
    std::string line;
    for (int i = 0; i < std::stoi(m[2]); ++i) {
        std::getline(src, line);
    }
    EXPECT_NE(line.find("BaseIOStream::read_until_regex("), std::string::npos) << line;
}

TEST(ExplainCliTest, BareMethodNameFindsItsStepWhenUnambiguous) {
    WalkRun full = run_walk({"explain", "HTTP1ServerConnection._server_request_loop"});
    WalkRun bare = run_walk({"explain", "_server_request_loop"});
    ASSERT_EQ(exit_code(bare), 0) << bare.err;
    EXPECT_EQ(bare.out, full.out);
    // "finish" is the method of several steps: they are listed.
    std::vector<std::string> finishes = tw::steps_with_method("finish");
    ASSERT_GE(finishes.size(), 2U);
    WalkRun amb = run_walk({"explain", "finish"});
    EXPECT_EQ(exit_code(amb), 2);
    for (const std::string& step : finishes) {
        EXPECT_NE(amb.err.find(step), std::string::npos) << amb.err;
    }
}

TEST(ExplainCliTest, UnknownStepExitsTwoAndListsTheNearestNames) {
    WalkRun r = run_walk({"explain", "BaseIOStream.read_untl_regex"});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("BaseIOStream.read_untl_regex"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nearest: BaseIOStream.read_until_regex"), std::string::npos) << r.err;
}

TEST(ExplainCliTest, NoArgumentListsEveryStep) {
    WalkRun r = run_walk({"explain"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    for (const tw::StepInfo& s : tw::notes_steps()) {
        EXPECT_NE(r.out.find("  " + s.step + " "), std::string::npos) << s.step;
    }
}

TEST(ExplainCliTest, EveryNotesStepHasAnExplanation) {
    for (const tw::StepInfo& s : tw::notes_steps()) {
        WalkRun r = run_walk({"explain", s.step});
        ASSERT_EQ(exit_code(r), 0) << s.step << ": " << r.err;
        if (!s.py.empty()) {
            EXPECT_NE(r.out.find("\nC++:     "), std::string::npos)
                << s.step << " has no cited C++ definition:\n"
                << r.out;
        }
        EXPECT_EQ(r.out.find("no explanation"), std::string::npos) << r.out;
        EXPECT_NE(squeeze(r.out).find(squeeze(s.explanation)), std::string::npos) << s.step;
        EXPECT_GE(s.explanation.size(), 200U) << s.step;
    }
}

}  // namespace
