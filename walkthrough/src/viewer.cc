// The browser viewer's page: the trace's diagrams, events, source excerpts
// and explanations as one JSON document inside walkthrough/viewer/viewer.html
// (embedded by the build), whose script steps through them.
#include "tornado/walkthrough/viewer.h"

#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tornado/walkthrough/event_line.h"
#include "tornado/walkthrough/step.h"
#include "tornado/walkthrough/steps.h"
#include "tornado/walkthrough/view.h"

#include "diagram_model.h"

namespace tornado::walkthrough {

namespace detail {
extern const char kViewerHtml[];  // walkthrough/viewer/viewer.html, embedded by the build
}  // namespace detail

namespace {

using nlohmann::json;
using trace::Event;
using trace::Phase;

// The trace's own letter for a phase ("B", "E", "i", "S", "R").
std::string phase_code(Phase ph) {
    return std::string(1, static_cast<char>(ph));
}

// Source files read once each: a trace shows many lines of few files.
class SourceExcerpts {
  public:
    SourceExcerpts(std::string root, int before, int after)
        : root_(std::move(root)), before_(before), after_(after) {}

    // {"first": N, "line": L, "lines": [...]} for "dir/file.cc:L", or null
    // when there is no tree, no such file or no such line.
    json excerpt(const std::string& src) {
        auto colon = src.rfind(':');
        int line = 0;
        if (colon == std::string::npos ||
            std::from_chars(src.data() + colon + 1, src.data() + src.size(), line).ec !=
                std::errc() ||
            line <= 0) {
            return nullptr;
        }
        std::string path = src.substr(0, colon);
        if (path.empty() || (root_.empty() && path.front() != '/')) {
            return nullptr;
        }
        std::string full = path.front() == '/' ? path : root_ + "/" + path;
        const std::vector<std::string>& lines = file(full);
        if (static_cast<std::size_t>(line) > lines.size()) {
            return nullptr;
        }
        int first = std::max(1, line - before_);
        int last = std::min(static_cast<int>(lines.size()), line + after_);
        json text = json::array();
        for (int n = first; n <= last; ++n) {
            text.push_back(lines[static_cast<std::size_t>(n - 1)]);
        }
        return json{{"first", first}, {"line", line}, {"lines", std::move(text)}};
    }

    // The citation of `step` in the file of `src`, with its 4.5.2 line
    // (cited_tornado), or "".
    std::string citation(const std::string& src, const std::string& step) {
        std::string path = src.substr(0, src.rfind(':'));
        if (path.empty() || (root_.empty() && path.front() != '/')) {
            return {};
        }
        return cited_tornado(file(path.front() == '/' ? path : root_ + "/" + path), step);
    }

  private:
    const std::vector<std::string>& file(const std::string& full) {
        auto it = files_.find(full);
        if (it == files_.end()) {
            std::vector<std::string> lines;
            std::ifstream in(full);
            for (std::string l; std::getline(in, l);) {
                lines.push_back(std::move(l));
            }
            it = files_.emplace(full, std::move(lines)).first;
        }
        return it->second;
    }

    std::string root_;
    int before_;
    int after_;
    std::map<std::string, std::vector<std::string>> files_;
};

// "connection N" for each lifeline whose first message carries a
// connection: the viewer's lanes per connection when a trace has several.
std::vector<std::string> connection_lanes(
    const detail::Model& m, const std::vector<Event>& events,
    const std::map<std::uint64_t, std::size_t>& index_of_seq) {
    std::vector<std::string> lanes(m.participants.size());
    std::vector<bool> seen(m.participants.size(), false);
    std::set<std::uint64_t> conns;
    for (const detail::Message& msg : m.messages) {
        auto it = index_of_seq.find(msg.seq);
        if (it == index_of_seq.end() || seen[msg.to]) {
            continue;
        }
        const Event& e = events[it->second];
        seen[msg.to] = true;
        // The IOLoop and the client serve every connection.
        const std::string& name = m.participants[msg.to];
        if (e.conn != 0 && name != "IOLoop" && name != "Client" && e.role != "client") {
            lanes[msg.to] = "connection " + std::to_string(e.conn);
            conns.insert(e.conn);
        }
    }
    if (conns.size() < 2) {
        return {};
    }
    return lanes;
}

std::string json_for_script(const json& j) {
    // Invalid UTF-8 in a trace's strings (bytes off the wire) becomes U+FFFD
    // rather than failing the page; "</" and "<!--" cannot end the script.
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '<' && i + 1 < text.size() && (text[i + 1] == '/' || text[i + 1] == '!')) {
            out += "\\u003c";
        } else {
            out += text[i];
        }
    }
    return out;
}

// The template with each marker replaced once, markers found in the
// template only (the title or the data may contain marker-like text).
std::string fill(std::string_view page,
                 const std::vector<std::pair<std::string_view, std::string>>& with) {
    std::string out;
    std::size_t at = 0;
    for (const auto& [marker, text] : with) {
        std::size_t found = page.find(marker, at);
        if (found == std::string_view::npos) {
            continue;
        }
        out.append(page.substr(at, found - at));
        out += text;
        at = found + marker.size();
    }
    out.append(page.substr(at));
    return out;
}

}  // namespace

std::string render_viewer(const std::vector<Event>& events, const ViewerOptions& options) {
    json data;
    data["title"] = options.title;

    // The events, once each, in trace order; the diagrams point into them.
    std::map<std::uint64_t, std::size_t> index_of_seq;
    std::map<int, std::size_t> process_of_pid;
    for (const Event& e : events) {
        process_of_pid.try_emplace(e.pid, process_of_pid.size());
    }
    SourceExcerpts sources(options.source_root, options.lines_before, options.lines_after);
    json jevents = json::array();
    json jsources = json::object();
    json jexplain = json::object();
    for (const Event& e : events) {
        index_of_seq[e.seq] = jevents.size();
        json je{{"seq", e.seq},          {"ph", phase_code(e.ph)}, {"step", e.step},
                {"obj", e.obj},          {"cls", e.cls},           {"layer", e.layer},
                {"role", e.role},        {"conn", e.conn},         {"req", e.req},
                {"args", event_args(e)}, {"src", e.src},           {"py", tornado_location(e)}};
        // With the 4.5.2 line when the emit point's file cites the step.
        if (std::string cited = sources.citation(e.src, e.step); !cited.empty()) {
            je["py"] = cited;
        }
        if (process_of_pid.size() > 1) {
            je["task"] = process_of_pid[e.pid];
        }
        jevents.push_back(std::move(je));
        if (!e.src.empty() && !jsources.contains(e.src)) {
            jsources[e.src] = sources.excerpt(e.src);
        }
        if (!jexplain.contains(e.step) && is_notes_step(e.step)) {
            if (const StepInfo* info = find_step(e.step); info != nullptr) {
                jexplain[e.step] = info->explanation;
            }
        }
    }
    data["events"] = std::move(jevents);
    data["sources"] = std::move(jsources);
    data["explain"] = std::move(jexplain);
    json phases = json::object();
    for (Phase ph : {Phase::Begin, Phase::End, Phase::Instant, Phase::Suspend, Phase::Resume}) {
        phases[phase_code(ph)] = phase_meaning(ph);
    }
    data["phases"] = std::move(phases);

    // One diagram per view and filter: what `run --view V --request N`
    // (or --conn N) draws, as SVG.
    std::set<std::uint64_t> requests;
    std::set<std::uint64_t> conns;
    for (const Event& e : events) {
        if (e.req != 0) {
            requests.insert(e.req);
        }
        if (e.conn != 0) {
            conns.insert(e.conn);
        }
    }
    struct Choice {
        std::string key;
        std::string label;
        Filter filter;
    };
    std::vector<Choice> filters{{"all", "everything", {}}};
    if (requests.size() > 1) {
        for (std::uint64_t r : requests) {
            Filter f;
            f.request = r;
            filters.push_back({"req-" + std::to_string(r), "request " + std::to_string(r), f});
        }
    }
    if (conns.size() > 1) {
        for (std::uint64_t c : conns) {
            Filter f;
            f.conn = c;
            filters.push_back({"conn-" + std::to_string(c), "connection " + std::to_string(c), f});
        }
    }
    json diagrams = json::array();
    const std::pair<const char*, View> kViews[] = {
        {"chain", View::Chain}, {"layers", View::Layers}, {"full", View::Full}};
    for (const auto& [view_name, view] : kViews) {
        for (const Choice& choice : filters) {
            std::vector<Event> kept = select_events(events, view, choice.filter);
            RenderOptions render_options;
            // As `run` draws each view: returns only in the full one.
            render_options.show_returns = view == View::Full;
            render_options.lifelines =
                view == View::Layers ? Lifelines::Layers : Lifelines::Objects;
            detail::Model model = detail::build_model(kept, render_options);
            detail::SvgOptions svg_options;
            if (view != View::Layers && model.groups.empty()) {
                svg_options.lanes = connection_lanes(model, events, index_of_seq);
            }
            json steps = json::array();
            for (const detail::Message& msg : model.messages) {
                auto it = index_of_seq.find(msg.seq);
                steps.push_back(
                    json{{"e", it == index_of_seq.end() ? -1 : static_cast<long long>(it->second)},
                         {"k", detail::kind_name(msg.kind)}});
            }
            diagrams.push_back(json{{"key", std::string(view_name) + "/" + choice.key},
                                    {"view", view_name},
                                    {"filter", choice.key},
                                    {"filterLabel", choice.label},
                                    {"svg", detail::render_svg(model, svg_options)},
                                    {"steps", std::move(steps)}});
        }
    }
    data["diagrams"] = std::move(diagrams);
    if (!options.live_url.empty()) {
        data["live"] = json{{"url", options.live_url}, {"count", options.live_count}};
    }

    // The template has the title (in <title>) before the data (in a script).
    return fill(detail::kViewerHtml,
                {{"@@TITLE@@", detail::xml_text(options.title.empty() ? "trace" : options.title)},
                 {"@@DATA@@", json_for_script(data)}});
}

}  // namespace tornado::walkthrough
