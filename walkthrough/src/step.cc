#include "tornado/walkthrough/step.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "tornado/walkthrough/event_line.h"
#include "tornado/walkthrough/steps.h"

namespace tornado::walkthrough {

namespace {

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
        s.remove_suffix(1);
    }
    return s;
}

// `line` cut to `width` visible columns: UTF-8 continuation bytes and ANSI
// colour sequences take no column, so a coloured diagram is cut where it shows.
std::string clip(std::string_view line, int width) {
    std::string out;
    int columns = 0;
    bool coloured = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
            std::size_t end = i + 2;
            while (end < line.size() && (line[end] < '@' || line[end] > '~')) {
                ++end;
            }
            out.append(line.substr(i, end + 1 - i));
            coloured = true;
            i = end;
            continue;
        }
        bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
        if (!continuation) {
            if (columns == width) {
                return coloured ? out + "\x1b[0m" : out;
            }
            ++columns;
        }
        out += c;
    }
    return out;
}

// "-- title ---------" across the screen.
std::string rule(std::string_view title, int width) {
    std::string out = "-- ";
    out += title;
    out += ' ';
    int fill = width - static_cast<int>(out.size());
    if (fill > 0) {
        out.append(static_cast<std::size_t>(fill), '-');
    }
    return clip(out, width);
}

std::string expand_tabs(std::string_view line) {
    std::string out;
    for (char c : line) {
        if (c == '\t') {
            out.append(4 - out.size() % 4, ' ');
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

// What an event of each phase means, in a student's words.
const char* phase_meaning(trace::Phase ph) {
    switch (ph) {
        case trace::Phase::Begin:
            return "call: the method begins";
        case trace::Phase::End:
            return "return: the method ends";
        case trace::Phase::Instant:
            return "note: something the running step reports";
        case trace::Phase::Suspend:
            return "suspend: the coroutine waits at co_await for a Future that is not done yet; "
                   "the IOLoop goes on with other work";
        case trace::Phase::Resume:
            return "resume: the Future it waited for is done, and the IOLoop resumes the "
                   "coroutine";
    }
    return "?";
}

// "tornado/iostream.py BaseIOStream.read_until_regex" as the docs write it.
std::string tornado_location(const trace::Event& e) {
    if (e.py.empty()) {
        return e.role == "client" ? "none: the scenario's scripted client is ours" : "none";
    }
    std::string py = e.py;
    auto colon = py.find(".py:");
    if (colon != std::string::npos) {
        py[colon + 3] = ' ';
    }
    return py;
}

namespace {

// "  label   value", the value wrapped under itself.
std::string field(std::string_view label, std::string_view value, int width) {
    const std::string indent(10, ' ');
    std::string out = wrap_text(value, width, indent);
    std::string head = fmt::format("  {:<8}", label);
    return head + out.substr(std::min(out.size(), head.size()));
}

}  // namespace

StepSession::StepSession(std::vector<trace::Event> events, StepOptions options)
    : events_(std::move(events)), options_(std::move(options)) {}

void StepSession::resize(int width, int height) {
    options_.width = width;
    options_.height = height;
}

StepOutcome StepSession::go(std::size_t pos) {
    pos_ = pos;
    return {.quit = false, .moved = true, .message = ""};
}

StepOutcome StepSession::command(std::string_view input) {
    std::string_view c = trim(input);
    if (c == "q") {
        return {.quit = true, .moved = false, .message = ""};
    }
    StepOutcome stay;
    if (events_.empty()) {
        stay.message = "there are no events to step through (q quits)";
        return stay;
    }
    const std::size_t last = events_.size() - 1;
    if (c.empty() || c == "n") {
        if (pos_ == last) {
            stay.message = fmt::format(
                "already at the last step, {0}/{0} (b back, g first, q quit)", events_.size());
            return stay;
        }
        return go(pos_ + 1);
    }
    if (c == "b") {
        if (pos_ == 0) {
            stay.message = fmt::format("already at the first step, 1/{}", events_.size());
            return stay;
        }
        return go(pos_ - 1);
    }
    if (c == "g") {
        return go(0);
    }
    if (c == "e") {
        return go(last);
    }
    if (c == "r") {
        // The first event of a request that none of the steps so far belonged to.
        std::set<std::uint64_t> seen;
        for (std::size_t i = 0; i <= pos_; ++i) {
            seen.insert(events_[i].req);
        }
        for (std::size_t i = pos_ + 1; i < events_.size(); ++i) {
            if (events_[i].req != 0 && seen.count(events_[i].req) == 0) {
                return go(i);
            }
        }
        stay.message = fmt::format("no new request after step {}/{}", current(), size());
        return stay;
    }
    if (c == "s") {
        for (std::size_t i = pos_ + 1; i < events_.size(); ++i) {
            if (events_[i].ph == trace::Phase::Suspend || events_[i].ph == trace::Phase::Resume) {
                return go(i);
            }
        }
        stay.message = fmt::format("no suspend or resume after step {}/{}", current(), size());
        return stay;
    }
    if (std::all_of(c.begin(), c.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        std::size_t n = 0;
        auto [ptr, ec] = std::from_chars(c.data(), c.data() + c.size(), n);
        if (ec == std::errc() && ptr == c.data() + c.size() && n >= 1 && n <= events_.size()) {
            return go(n - 1);
        }
        stay.message = fmt::format("there is no step {}: steps go from 1 to {}", c, size());
        return stay;
    }
    stay.message = fmt::format("unknown command '{}'; {}", c, kStepKeys);
    return stay;
}

std::string StepSession::diagram_so_far(int rows) const {
    std::vector<trace::Event> so_far(events_.begin(),
                                     events_.begin() + static_cast<std::ptrdiff_t>(pos_ + 1));
    RenderOptions render_options;
    render_options.width = static_cast<std::size_t>(std::max(options_.width, 1));
    render_options.lifelines = options_.lifelines;
    return fit_diagram(render(so_far, Format::Ascii, render_options), options_.width, rows);
}

std::string StepSession::source_block() const {
    const trace::Event& e = event();
    std::string out =
        rule("C++: " + (e.src.empty() ? std::string("no location") : e.src), options_.width) + "\n";
    auto colon = e.src.rfind(':');
    int line = 0;
    if (colon == std::string::npos ||
        std::from_chars(e.src.data() + colon + 1, e.src.data() + e.src.size(), line).ec !=
            std::errc() ||
        line <= 0) {
        return e.src.empty() ? out : out + "(the event's location has no line number)\n";
    }
    std::string path = e.src.substr(0, colon);
    if (options_.source_root.empty() && path.front() != '/') {
        return out + "(no source tree to show lines from: --source DIR names one)\n";
    }
    std::string full = path.front() == '/' ? path : options_.source_root + "/" + path;
    static const std::vector<std::string> kNone;
    const std::vector<std::string>* found = source_lines();
    const std::vector<std::string>& lines = found != nullptr ? *found : kNone;
    if (lines.empty() || static_cast<std::size_t>(line) > lines.size()) {
        return out + fmt::format("(source not found: {}; --source DIR names the tree)\n", full);
    }
    int first = std::max(1, line - options_.lines_before);
    int end = std::min(static_cast<int>(lines.size()), line + options_.lines_after);
    for (int n = first; n <= end; ++n) {
        out += clip(fmt::format("{} {:>5}  {}", n == line ? '>' : ' ', n,
                                lines[static_cast<std::size_t>(n - 1)]),
                    options_.width);
        out += '\n';
    }
    return out;
}

// The lines of the current event's source file (read once), or null when
// the event has no location or there is no tree to read it from.
const std::vector<std::string>* StepSession::source_lines() const {
    const trace::Event& e = event();
    auto colon = e.src.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return nullptr;
    }
    std::string path = e.src.substr(0, colon);
    if (options_.source_root.empty() && path.front() != '/') {
        return nullptr;
    }
    std::string full = path.front() == '/' ? path : options_.source_root + "/" + path;
    auto it = files_.find(full);
    if (it == files_.end()) {
        std::vector<std::string> lines;
        std::ifstream in(full);
        for (std::string l; std::getline(in, l);) {
            lines.push_back(expand_tabs(l));
        }
        it = files_.emplace(full, std::move(lines)).first;
    }
    return &it->second;
}

std::string StepSession::explanation_block() const {
    const trace::Event& e = event();
    // With its 4.5.2 line when the emit point's file cites the step.
    std::string tornado = tornado_location(e);
    if (const std::vector<std::string>* lines = source_lines(); lines != nullptr) {
        if (std::string cited = cited_tornado(*lines, e.step); !cited.empty()) {
            tornado = cited;
        }
    }
    std::string out = rule("Tornado: " + tornado, options_.width) + "\n";
    const StepInfo* info = is_notes_step(e.step) ? find_step(e.step) : nullptr;
    if (info == nullptr) {
        return out + wrap_text(e.step +
                                   " is not one of the chain's steps, so it has no explanation; "
                                   "`tornado-walk explain` lists those that do.",
                               options_.width);
    }
    if (info->explanation.empty()) {
        return out + wrap_text("(docs/steps.md has no explanation of " + e.step + " yet)",
                               options_.width);
    }
    return out + wrap_text(info->explanation, options_.width);
}

std::string StepSession::screen(std::string_view message) const {
    const int width = options_.width;
    if (events_.empty()) {
        return "step 0/0\nthe view and filters kept no events\n";
    }
    const trace::Event& e = event();
    std::string head =
        clip(fmt::format("step {}/{}  {} {}", current(), size(), phase_word(e.ph), e.step), width) +
        "\n";

    std::string details = rule("the event", width) + "\n";
    std::string who = e.obj.empty() ? e.cls : e.obj;
    std::string what = e.cls.empty() ? e.layer : e.cls + ", " + e.layer + " layer";
    if (e.role == "client") {
        what += ", the client's side";
    }
    details += clip(fmt::format("  object  {} ({})", who, what), width) + "\n";
    details += field("phase", phase_meaning(e.ph), width);
    details += clip(fmt::format("  step    {}  (event #{})", e.step, e.seq), width) + "\n";
    std::string args = event_args(e);
    if (!args.empty()) {
        details += field("args", args, width);
    }
    details += fmt::format("  conn    {}   req {}\n", e.conn == 0 ? "-" : std::to_string(e.conn),
                           e.req == 0 ? "-" : std::to_string(e.req));
    // A trace of several processes: which one, numbered as the diagram's
    // groups are (in order of first appearance), not by its pid.
    std::map<int, std::size_t> processes;
    for (const trace::Event& other : events_) {
        processes.try_emplace(other.pid, processes.size());
    }
    if (processes.size() > 1) {
        details += fmt::format("  process task {} (of {})\n", processes[e.pid], processes.size());
    }

    std::string source = source_block();
    std::string explanation = explanation_block();
    std::string tail;
    if (!message.empty()) {
        tail += wrap_text(message, width);
    }
    tail += clip(kStepKeys, width) + "\n";

    // The diagram gets the rows the rest leaves, but always a few.
    auto count = [](const std::string& s) {
        return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
    };
    int used = count(head) + 1 + count(details) + count(source) + count(explanation) + count(tail);
    int rows = std::max(6, options_.height - used);
    return head + rule("the diagram so far", width) + "\n" + diagram_so_far(rows) + details +
           source + explanation + tail;
}

std::string cited_tornado(const std::vector<std::string>& lines, std::string_view step) {
    const std::string_view marker = "// Tornado: ";
    for (const std::string& l : lines) {
        auto at = l.find(marker);
        if (at == std::string::npos) {
            continue;
        }
        std::string_view rest = std::string_view(l).substr(at + marker.size());
        auto space = rest.find(' ');
        if (space != std::string_view::npos && rest.substr(space + 1) == step &&
            rest.substr(0, space).find(".py:") != std::string_view::npos) {
            return std::string(rest);
        }
    }
    return {};
}

std::string cited_definition(const std::string& source_root, std::string_view step,
                             std::string_view py_file, std::string* citation_out) {
    namespace fs = std::filesystem;
    if (source_root.empty() || py_file.empty()) {
        return "";
    }
    const std::string citation = "// Tornado: " + std::string(py_file);
    // The citation names the module, maybe a 4.5.2 line number, then the step.
    auto cites = [&](std::string_view line) {
        line = trim(line);
        if (!line.starts_with(citation)) {
            return false;
        }
        line.remove_prefix(citation.size());
        if (line.starts_with(":")) {
            line.remove_prefix(1);
            while (!line.empty() && line.front() >= '0' && line.front() <= '9') {
                line.remove_prefix(1);
            }
        }
        if (!line.starts_with(" ")) {
            return false;
        }
        line.remove_prefix(1);
        return line.starts_with(step) && (line.size() == step.size() || line[step.size()] == ' ');
    };
    std::vector<fs::path> files;
    for (const char* layer : {"ioloop", "iostream", "httpserver", "web", "walkthrough"}) {
        for (const char* part : {"src", "include"}) {
            fs::path dir = fs::path(source_root) / layer / part;
            std::error_code ec;
            for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
                 it.increment(ec)) {
                if (it->path().extension() == ".cc" || it->path().extension() == ".h") {
                    files.push_back(it->path());
                }
            }
        }
    }
    std::sort(files.begin(), files.end());  // the same answer whatever the directory order
    for (const fs::path& file : files) {
        std::ifstream in(file);
        int n = 0;
        bool found = false;
        for (std::string line; std::getline(in, line);) {
            ++n;
            if (found && !trim(line).starts_with("//")) {
                // The definition: past the citation and its "// C++:" lines.
                return fs::relative(file, source_root).generic_string() + ":" + std::to_string(n);
            }
            if (!found && cites(line)) {
                found = true;
                if (citation_out != nullptr) {
                    *citation_out =
                        std::string(trim(line).substr(std::string_view("// Tornado: ").size()));
                }
            }
        }
    }
    return "";
}

std::string fit_diagram(std::string_view diagram, int width, int rows) {
    std::vector<std::string> lines = split_lines(diagram);
    while (!lines.empty() && trim(lines.back()).empty()) {
        lines.pop_back();
    }
    // The participant header ends at the first line that is only lifelines.
    std::size_t header = 0;
    for (std::size_t i = 0; i < lines.size() && i < 8; ++i) {
        std::string_view l = lines[i];
        if (!trim(l).empty() && l.find_first_not_of(" |") == std::string_view::npos) {
            header = i + 1;
            break;
        }
    }
    std::vector<std::string> kept;
    const auto budget = static_cast<std::size_t>(std::max(rows, 1));
    if (lines.size() <= budget) {
        kept = lines;
    } else {
        if (header + 2 > budget) {
            header = 0;  // too few rows for the header: the latest arrows matter more
        }
        std::size_t tail = budget - header - 1;
        kept.assign(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(header));
        kept.push_back(fmt::format("      ... {} earlier lines ...", lines.size() - header - tail));
        kept.insert(kept.end(), lines.end() - static_cast<std::ptrdiff_t>(tail), lines.end());
    }
    std::string out;
    for (const std::string& l : kept) {
        out += clip(l, width);
        out += '\n';
    }
    return out;
}

std::string wrap_text(std::string_view text, int width, std::string_view indent) {
    std::string out;
    std::string para;     // the words of the paragraph being filled
    std::string hanging;  // the indent of its continuation lines
    auto flush = [&] {
        if (para.empty()) {
            return;
        }
        std::string line(indent);
        bool first_word = true;
        std::size_t start = 0;
        while (start < para.size()) {
            std::size_t end = para.find(' ', start);
            if (end == std::string::npos) {
                end = para.size();
            }
            std::string word = para.substr(start, end - start);
            start = end + 1;
            if (word.empty()) {
                continue;
            }
            if (!first_word && static_cast<int>(line.size() + 1 + word.size()) > width) {
                out += line + "\n";
                line = std::string(indent) + hanging;
                first_word = true;
            }
            if (!first_word) {
                line += ' ';
            }
            line += word;
            first_word = false;
        }
        out += line + "\n";
        para.clear();
    };
    for (const std::string& raw : split_lines(text)) {
        std::string_view l = raw;
        if (trim(l).empty()) {
            flush();
            out += "\n";
            continue;
        }
        if (l.starts_with("    ")) {
            // Preformatted: kept as written.
            flush();
            out += clip(std::string(indent) + raw, width) + "\n";
            continue;
        }
        if (l.starts_with("- ") || l.starts_with("* ")) {
            flush();
            hanging = "  ";
        } else if (para.empty()) {
            hanging.clear();
        }
        if (!para.empty()) {
            para += ' ';
        }
        para += std::string(trim(l));
    }
    flush();
    // One trailing newline, however the text ended.
    while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') {
        out.pop_back();
    }
    return out;
}

}  // namespace tornado::walkthrough
