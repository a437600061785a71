// The SVG renderer and the browser viewer's page on real scenario traces:
// one row per message in trace order, lanes per connection and per process,
// and a page that carries everything it shows (tests/browser/viewer_test.mjs
// drives the same page in Chromium).
#include "tornado/walkthrough/viewer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/steps.h"
#include "tornado/walkthrough/view.h"

#include "integration/scenario_cache.h"

namespace {

using nlohmann::json;
using tornado::testing::scenario_result;
using tornado::trace::Event;
using tornado::trace::Phase;
using namespace tornado::walkthrough;

std::vector<std::uint64_t> row_seqs(const std::string& svg) {
    std::vector<std::uint64_t> seqs;
    std::regex row(
        "<g class=\"msg [a-z]+\" id=\"m([0-9]+)\" data-row=\"[0-9]+\" data-seq=\"([0-9]+)\"");
    std::size_t expected_row = 0;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), row); it != std::sregex_iterator();
         ++it) {
        EXPECT_EQ(std::stoul((*it)[1]), expected_row++);
        seqs.push_back(std::stoull((*it)[2]));
    }
    return seqs;
}

// The page's data, read back from its script element.
json page_data(const std::string& page) {
    const std::string open = "<script type=\"application/json\" id=\"trace-data\">";
    auto start = page.find(open);
    EXPECT_NE(start, std::string::npos);
    start += open.size();
    auto end = page.find("</script>", start);
    EXPECT_NE(end, std::string::npos);
    return json::parse(page.substr(start, end - start));
}

const json* diagram(const json& data, const std::string& key) {
    for (const json& d : data["diagrams"]) {
        if (d["key"] == key) {
            return &d;
        }
    }
    return nullptr;
}

TEST(RenderSvgTest, OneRowPerCallSuspendAndResumeOfTheChainInTraceOrder) {
    std::vector<Event> chain = select_events(scenario_result("hello").events, View::Chain);
    RenderOptions options;
    options.show_returns = false;
    std::string svg = render(chain, Format::Svg, options);
    // Without returns the chain view draws every begin, suspend and resume.
    std::vector<std::uint64_t> expected;
    for (const Event& e : chain) {
        if (e.ph == Phase::Begin || e.ph == Phase::Suspend || e.ph == Phase::Resume ||
            e.ph == Phase::Instant) {
            expected.push_back(e.seq);
        }
    }
    EXPECT_EQ(row_seqs(svg), expected);
    EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    EXPECT_NE(svg.find("aria-roledescription=\"sequence\""), std::string::npos);
    EXPECT_NE(svg.find(">IOStream<"), std::string::npos) << "a participant box per lifeline";
    EXPECT_NE(svg.find("_try_inline_read"), std::string::npos);
}

TEST(RenderSvgTest, TwoClientsGetALanePerConnectionAndMultiprocessOnePerProcess) {
    std::string page = render_viewer(scenario_result("two-clients").events, {});
    json data = page_data(page);
    const json* full = diagram(data, "full/all");
    ASSERT_NE(full, nullptr);
    std::string svg = (*full)["svg"];
    EXPECT_NE(svg.find("<g class=\"lane\">"), std::string::npos);
    EXPECT_NE(svg.find(">connection 1<"), std::string::npos);
    EXPECT_NE(svg.find(">connection 2<"), std::string::npos);

    std::string svg2 = render(scenario_result("multiprocess").events, Format::Svg);
    EXPECT_NE(svg2.find(">task 0<"), std::string::npos);
    EXPECT_NE(svg2.find(">task 1<"), std::string::npos);
}

TEST(ViewerTest, PageLoadsNothingAndCarriesEveryViewAndFilter) {
    const auto& events = scenario_result("two-clients").events;
    ViewerOptions options;
    options.title = "two-clients";
    options.source_root = TORNADO_SOURCE_DIR;
    std::string page = render_viewer(events, options);
    // Self-contained: no script, style, image or link fetched from anywhere.
    EXPECT_EQ(page.find(" src="), std::string::npos);
    EXPECT_EQ(page.find("@import"), std::string::npos);
    EXPECT_EQ(page.find("url(http"), std::string::npos);
    std::regex remote("(href|src)=\"(https?:)?//");
    EXPECT_FALSE(std::regex_search(page, remote));
    EXPECT_NE(page.find("<title>two-clients · tornado-walk</title>"), std::string::npos);

    json data = page_data(page);
    std::set<std::string> keys;
    for (const json& d : data["diagrams"]) {
        keys.insert(d["key"]);
    }
    for (const char* view : {"chain", "layers", "full"}) {
        for (const char* filter : {"all", "req-1", "req-2", "conn-1", "conn-2"}) {
            EXPECT_TRUE(keys.count(std::string(view) + "/" + filter)) << view << "/" << filter;
        }
    }
    // Each diagram's steps are its SVG's rows, pointing at the trace's events.
    for (const json& d : data["diagrams"]) {
        std::vector<std::uint64_t> seqs = row_seqs(d["svg"]);
        ASSERT_EQ(seqs.size(), d["steps"].size()) << d["key"];
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            int e = d["steps"][i]["e"];
            ASSERT_GE(e, 0);
            EXPECT_EQ(data["events"][static_cast<std::size_t>(e)]["seq"], seqs[i]) << d["key"];
        }
    }
    // What `run --request 2` keeps is what the page's request 2 shows.
    Filter second;
    second.request = 2;
    std::vector<Event> kept = select_events(events, View::Chain, second);
    RenderOptions no_returns;
    no_returns.show_returns = false;
    EXPECT_EQ(row_seqs(render(kept, Format::Svg, no_returns)),
              row_seqs((*diagram(data, "chain/req-2"))["svg"]));
}

TEST(ViewerTest, SourceExcerptsAreTheFilesLinesAndExplanationsTheDocs) {
    ViewerOptions options;
    options.source_root = TORNADO_SOURCE_DIR;
    json data = page_data(render_viewer(scenario_result("hello").events, options));
    std::size_t checked = 0;
    for (const auto& [src, excerpt] : data["sources"].items()) {
        ASSERT_FALSE(excerpt.is_null()) << src << " was not found";
        std::ifstream in(std::string(TORNADO_SOURCE_DIR) + "/" + src.substr(0, src.rfind(':')));
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) {
            lines.push_back(l);
        }
        int line = excerpt["line"];
        EXPECT_EQ(std::to_string(line), src.substr(src.rfind(':') + 1));
        int first = excerpt["first"];
        for (std::size_t k = 0; k < excerpt["lines"].size(); ++k) {
            EXPECT_EQ(excerpt["lines"][k], lines.at(static_cast<std::size_t>(first - 1) + k))
                << src;
        }
        // The marked line is the emit point.
        EXPECT_NE(lines.at(static_cast<std::size_t>(line - 1)).find("TRACE_"), std::string::npos)
            << src;
        ++checked;
    }
    EXPECT_GT(checked, 10U);
    // The Tornado method with its 4.5.2 line, as docs/citations.tsv has it.
    std::string line_in_table;
    std::ifstream table(std::string(TORNADO_SOURCE_DIR) + "/docs/citations.tsv");
    for (std::string row; std::getline(table, row);) {
        if (row.starts_with("tornado/iostream.py\t") &&
            row.find("\tBaseIOStream._try_inline_read\t") != std::string::npos) {
            line_in_table = row.substr(row.find('\t') + 1,
                                       row.find('\t', row.find('\t') + 1) - row.find('\t') - 1);
        }
    }
    ASSERT_FALSE(line_in_table.empty());
    bool found = false;
    for (const json& e : data["events"]) {
        if (e["step"] == "BaseIOStream._try_inline_read") {
            EXPECT_EQ(e["py"],
                      "tornado/iostream.py:" + line_in_table + " BaseIOStream._try_inline_read");
            found = true;
        }
    }
    EXPECT_TRUE(found);
    const StepInfo* info = find_step("BaseIOStream._try_inline_read");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(data["explain"]["BaseIOStream._try_inline_read"], info->explanation);
    EXPECT_FALSE(info->explanation.empty());
}

TEST(ViewerTest, ScriptEndingTextInTheTraceCannotEndThePagesScript) {
    std::vector<Event> events = scenario_result("hello").events;
    events.front().args.emplace_back("evil",
                                     tornado::trace::ArgValue(std::string("</script><b>x")));
    std::string page = render_viewer(events, {});
    json data = page_data(page);  // parses: the data ended where it should
    EXPECT_NE(data["events"][0]["args"].get<std::string>().find("</script><b>x"),
              std::string::npos);
}

}  // namespace
