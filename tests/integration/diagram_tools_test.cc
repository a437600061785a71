// Every output format of tornado-walk, checked by the real tools: Graphviz's
// dot, PlantUML (Debian's 1.2020.2) and the shared Chrome trace checker.
// A missing tool fails the test: scripts/test installs them.
//
// PlantUML exits 0 on some broken input and shows a crash only in the image
// (../shared/diagrams/README.md), so the SVG it writes is searched for its
// error texts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "integration/process.h"

namespace {

namespace fs = std::filesystem;

using ToolRun = tornado::testing::ProcessRun;
using tornado::testing::exit_code;

// Runs `argv` (argv[0] looked up on PATH) with `env` added to the
// environment; a hang past `timeout_s` fails.
ToolRun run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
            int timeout_s = 120) {
    return tornado::testing::run_process(argv, "", env, timeout_s);
}

ToolRun walk(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), TORNADO_WALK_BINARY);
    return run(args, env);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

const char* const kScenarios[] = {"hello", "partial-write", "two-clients"};

// A fresh folder under the build tree for one test's files.
fs::path work_dir(const std::string& name) {
    fs::path dir = fs::path(TORNADO_TEST_OUTPUT_DIR) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// The trace of each scenario, once per test process, as `run -o` writes it.
// ctest runs the tests of this binary as separate processes side by side,
// so each test keeps its traces in a folder of its own.
const fs::path& trace_of(const std::string& scenario) {
    static std::map<std::string, fs::path> traces;
    auto it = traces.find(scenario);
    if (it == traces.end()) {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        fs::path dir = fs::path(TORNADO_TEST_OUTPUT_DIR) / "traces" /
                       (test != nullptr ? test->name() : "shared");
        fs::create_directories(dir);
        fs::path file = dir / (scenario + ".jsonl");
        ToolRun r = walk({"run", scenario, "--format", "jsonl", "-o", file.string()});
        EXPECT_EQ(exit_code(r), 0) << scenario << ": " << r.err;
        it = traces.emplace(scenario, file).first;
    }
    return it->second;
}

// Renders `scenario` in `format` for the default view and the full view.
std::vector<fs::path> render_all(const fs::path& dir, const std::string& format,
                                 const std::string& ext) {
    std::vector<fs::path> files;
    for (const char* s : kScenarios) {
        for (const char* view : {"", "full", "layers"}) {
            fs::path out = dir / (std::string(s) + (view[0] != '\0' ? "." : "") + view + ext);
            std::vector<std::string> args = {"render", trace_of(s).string(), "--format", format,
                                             "-o",     out.string()};
            if (view[0] != '\0') {
                args.insert(args.end(), {"--view", view});
            }
            ToolRun r = walk(args);
            EXPECT_EQ(exit_code(r), 0) << out << ": " << r.err;
            EXPECT_GT(fs::exists(out) ? fs::file_size(out) : 0, 0U) << out;
            files.push_back(out);
        }
    }
    return files;
}

TEST(DiagramToolsTest, DotDrawsEveryScenarioWithoutAWarning) {
    fs::path dir = work_dir("dot");
    for (const fs::path& f : render_all(dir, "dot", ".dot")) {
        // dot takes tens of seconds on the full view of a long trace: the
        // full view is drawn for hello only.
        if (f.string().find(".full.") != std::string::npos &&
            f.filename().string().find("hello") != 0) {
            continue;
        }
        fs::path svg = f.string() + ".svg";
        ToolRun r = run({"dot", "-Tsvg", "-o", svg.string(), f.string()});
        ASSERT_NE(exit_code(r), 127) << "Graphviz's dot is not installed (Debian package graphviz)";
        EXPECT_EQ(exit_code(r), 0) << f << ": " << r.err;
        EXPECT_EQ(r.err, "") << f;
        std::string image = read_file(svg);
        EXPECT_NE(image.find("<svg"), std::string::npos) << svg;
        EXPECT_NE(image.find("class=\"edge\""), std::string::npos) << svg;
    }
}

TEST(DiagramToolsTest, PlantUmlRendersEveryScenarioWithoutAnErrorImage) {
    const std::string jar = "/usr/share/plantuml/plantuml.jar";
    ASSERT_TRUE(fs::exists(jar)) << jar << " is missing (Debian package plantuml)";
    fs::path dir = work_dir("plantuml");
    std::vector<fs::path> files = render_all(dir, "plantuml", ".puml");
    for (const fs::path& f : files) {
        // File mode silently skips a file without @startuml/@enduml.
        std::string text = read_file(f);
        EXPECT_TRUE(text.starts_with("@startuml\n")) << f;
        EXPECT_TRUE(text.ends_with("@enduml\n")) << f;
    }
    // One JVM for all files: PlantUML starts slowly.
    std::vector<std::string> args = {
        "java", "-Djava.awt.headless=true", "-jar", jar, "-charset", "UTF-8", "-tsvg",
        "-o",   (dir / "svg").string()};
    for (const fs::path& f : files) {
        args.push_back(f.string());
    }
    ToolRun r = run(args, {}, 600);
    ASSERT_NE(exit_code(r), 127) << "java is not installed (Debian package plantuml)";
    EXPECT_EQ(exit_code(r), 0) << r.out << r.err;
    EXPECT_EQ(r.err.find("Exception"), std::string::npos) << r.err;
    for (const fs::path& f : files) {
        std::string stem = f.stem().string();
        std::size_t images = 0;
        for (const auto& entry : fs::directory_iterator(dir / "svg")) {
            std::string name = entry.path().filename().string();
            if (!name.starts_with(stem + ".svg") && !name.starts_with(stem + "_")) {
                continue;
            }
            ++images;
            std::string svg = read_file(entry.path());
            for (const char* bad :
                 {"Syntax Error?", "An error has occured", "You should send", "Welcome to PlantUML",
                  "Cannot find Graphviz", "Fatal parsing error"}) {
                EXPECT_EQ(svg.find(bad), std::string::npos) << entry.path() << ": " << bad;
            }
            // Within PlantUML's 4096-pixel limit, which crops a PNG silently.
            auto at = svg.find("viewBox=\"0 0 ");
            ASSERT_NE(at, std::string::npos) << entry.path();
            std::istringstream box(svg.substr(at + 13));
            int w = 0;
            int h = 0;
            box >> w >> h;
            EXPECT_LE(h, 4096) << entry.path();
        }
        EXPECT_GE(images, 1U) << "no SVG for " << f;
    }
}

TEST(DiagramToolsTest, ChromeTraceOfEveryScenarioPassesTheStrictChecker) {
    fs::path checker = fs::path(TORNADO_SHARED_DIR) / "diagrams" / "chrome_trace_check.py";
    ASSERT_TRUE(fs::exists(checker)) << checker;
    fs::path dir = work_dir("chrome");
    for (const fs::path& f : render_all(dir, "chrome", ".json")) {
        ToolRun r = run({"python3", checker.string(), "--strict", f.string()});
        EXPECT_EQ(exit_code(r), 0) << f << ": " << r.out << r.err;
        EXPECT_TRUE(r.out.starts_with("OK: ")) << r.out;
        // Suspends are joined to resumes by flow arrows.
        if (f.string().find(".full.") != std::string::npos) {
            EXPECT_EQ(r.out.find(" 0 flow(s)"), std::string::npos) << f << ": " << r.out;
        }
    }
}

// Our own SVG (the viewer's drawing) read back by an XML parser: Python's
// expat-based ElementTree, which refuses anything not well-formed.
TEST(DiagramToolsTest, OurSvgOfEveryScenarioIsWellFormedXml) {
    fs::path dir = work_dir("svg");
    const char* parse =
        "import sys, xml.etree.ElementTree as E\n"
        "root = E.parse(sys.argv[1]).getroot()\n"
        "assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n"
        "rows = [g for g in root.iter('{http://www.w3.org/2000/svg}g')\n"
        "        if g.get('class', '').startswith('msg ')]\n"
        "assert rows, 'no message rows'\n"
        "print(len(rows))\n";
    for (const fs::path& f : render_all(dir, "svg", ".svg")) {
        ToolRun r = run({"python3", "-c", parse, f.string()});
        EXPECT_EQ(exit_code(r), 0) << f << ": " << r.err;
    }
}

TEST(DiagramToolsTest, SvgAndPngComeFromGraphviz) {
    fs::path dir = work_dir("images");
    fs::path svg = dir / "hello.svg";
    fs::path png = dir / "hello.png";
    ToolRun r =
        walk({"render", trace_of("hello").string(), "--svg", svg.string(), "--png", png.string()});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(r.out, "");  // only the images were asked for
    EXPECT_NE(read_file(svg).find("<svg"), std::string::npos);
    EXPECT_TRUE(read_file(png).starts_with("\x89PNG\r\n"));
}

TEST(DiagramToolsTest, SvgWithoutGraphvizIsAnErrorNamingThePackage) {
    fs::path dir = work_dir("no-dot");
    ToolRun r = walk({"render", trace_of("hello").string(), "--svg", (dir / "x.svg").string()},
                     {"PATH=" + dir.string()});
    EXPECT_EQ(exit_code(r), 2) << r.err;
    EXPECT_NE(r.err.find("graphviz"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "x.svg"));
}

TEST(DiagramToolsTest, RenderOfATruncatedFileNamesTheLineAndExits2) {
    fs::path dir = work_dir("truncated");
    std::string whole = read_file(trace_of("hello"));
    std::size_t lines = static_cast<std::size_t>(std::count(whole.begin(), whole.end(), '\n'));
    fs::path cut = dir / "cut.jsonl";
    std::ofstream(cut, std::ios::binary) << whole.substr(0, whole.size() - 30);
    for (const char* format : {"ascii", "chrome", "jsonl"}) {
        ToolRun r = walk({"render", cut.string(), "--format", format});
        EXPECT_EQ(exit_code(r), 2) << r.err;
        EXPECT_NE(r.err.find("line " + std::to_string(lines)), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(cut.string()), std::string::npos) << r.err;
    }
    fs::path bad = dir / "bad.jsonl";
    std::ofstream(bad, std::ios::binary) << whole.substr(0, whole.find('\n') + 1) << "{nope\n";
    ToolRun r = walk({"render", bad.string()});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST(DiagramToolsTest, JsonlRoundTripsThroughRender) {
    ToolRun r = walk({"render", trace_of("two-clients").string(), "--format", "jsonl"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(r.out, read_file(trace_of("two-clients")));
}

TEST(DiagramToolsTest, BadViewAndFilterValuesExit2NamingThem) {
    const std::string trace = trace_of("hello").string();
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--view", "wide"}, "wide"},     {{"--layer", "kernel"}, "kernel"},
        {{"--hide", "server"}, "server"}, {{"--color", "sometimes"}, "sometimes"},
        {{"--depth", "-1"}, "-1"},        {{"--format", "svgz"}, "svgz"},
        {{"--request", "x"}, "x"},        {{"--part", "9", "--format", "mermaid"}, "9"},
    };
    for (const auto& [flags, word] : cases) {
        std::vector<std::string> args = {"render", trace};
        args.insert(args.end(), flags.begin(), flags.end());
        ToolRun r = walk(args);
        EXPECT_EQ(exit_code(r), 2) << flags[0] << " " << flags[1] << ": " << r.err;
        EXPECT_NE(r.err.find(word), std::string::npos) << r.err;
    }
    ToolRun r = walk({"run", "hello", "--view", "wide"});
    EXPECT_EQ(exit_code(r), 2);
    EXPECT_NE(r.err.find("wide"), std::string::npos) << r.err;
}

std::size_t widest(const std::string& text) {
    std::size_t w = 0;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        w = std::max(w, line.size());
    }
    return w;
}

TEST(DiagramToolsTest, RunFitsOneHundredColumnsOffATerminalAndColoursOnlyWhenAsked) {
    ToolRun r = walk({"run", "hello"});
    ASSERT_EQ(exit_code(r), 0) << r.err;
    EXPECT_LE(widest(r.out), 100U) << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
    r = walk({"run", "hello", "--width", "80"});
    EXPECT_LE(widest(r.out), 80U) << r.out;
    r = walk({"render", trace_of("hello").string(), "--color", "always"});
    EXPECT_NE(r.out.find("\x1b["), std::string::npos);
    r = walk({"render", trace_of("hello").string(), "--color", "always"}, {"NO_COLOR=1"});
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST(DiagramToolsTest, EveryFormatRespectsTheViewAndFilters) {
    const std::string trace = trace_of("two-clients").string();
    for (const char* format : {"ascii", "mermaid", "plantuml", "dot", "chrome", "chain", "jsonl"}) {
        ToolRun all = walk({"render", trace, "--format", format, "--view", "full"});
        ToolRun one = walk({"render", trace, "--format", format, "--view", "full", "--conn", "2",
                            "--layer", "web"});
        ASSERT_EQ(exit_code(all), 0) << all.err;
        ASSERT_EQ(exit_code(one), 0) << one.err;
        EXPECT_LT(one.out.size(), all.out.size()) << format;
        // The web layer's steps are there, the iostream layer's are not.
        EXPECT_NE(one.out.find("_execute"), std::string::npos) << format << "\n" << one.out;
        EXPECT_EQ(one.out.find("read_until_regex"), std::string::npos) << format;
    }
}

}  // namespace
