#include "tornado/walkthrough/diagram.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace tornado::walkthrough {

namespace {

using trace::Event;
using trace::Phase;

// One arrow or note of the diagram, whatever the output format.
struct Message {
    enum Kind { Call, Return, Self, Note, Resume };
    Kind kind;
    std::uint64_t seq;
    std::size_t from;
    std::size_t to;
    std::string text;
};

struct Model {
    std::vector<std::string> participants;
    std::vector<Message> messages;
};

std::string method_of(const std::string& step) {
    auto dot = step.rfind('.');
    return dot == std::string::npos ? step : step.substr(dot + 1);
}

std::string format_args(const Event& e) {
    std::string out;
    for (const auto& [key, value] : e.args) {
        if (key == "awaiting") {
            continue;
        }
        out += out.empty() ? "(" : ", ";
        out += key;
        out += "=";
        if (const auto* i = std::get_if<std::int64_t>(&value)) {
            out += std::to_string(*i);
        } else {
            std::string s = std::get<std::string>(value);
            out += s.size() > 40 ? s.substr(0, 37) + "..." : s;
        }
    }
    return out.empty() ? out : out + ")";
}

// The participant an event belongs to.
std::string participant_of(const Event& e) {
    if (e.role == "client") {
        return "Client";
    }
    if (e.obj.starts_with("IOLoop")) {
        return "IOLoop";
    }
    return e.obj.empty() ? e.cls : e.obj;
}

Model build(const std::vector<Event>& events, const RenderOptions& options) {
    Model m;
    std::map<std::string, std::size_t> index;
    auto add = [&](const std::string& name) {
        auto it = index.find(name);
        if (it != index.end()) {
            return it->second;
        }
        index.emplace(name, m.participants.size());
        m.participants.push_back(name);
        return m.participants.size() - 1;
    };
    bool has_client = std::any_of(events.begin(), events.end(),
                                  [](const Event& e) { return e.role == "client"; });
    if (has_client) {
        add("Client");
    }
    std::size_t loop = add("IOLoop");
    for (const Event& e : events) {
        add(participant_of(e));
    }
    // "HTTPServer#1" reads as "HTTPServer" when there is only one of it.
    std::map<std::string, int> per_class;
    for (const auto& name : m.participants) {
        ++per_class[name.substr(0, name.find('#'))];
    }
    for (auto& name : m.participants) {
        std::string cls = name.substr(0, name.find('#'));
        if (per_class[cls] == 1) {
            name = cls;
        }
    }

    std::map<std::uint64_t, std::size_t> owner;   // span -> participant
    std::map<std::uint64_t, std::size_t> caller;  // span -> who called it
    auto from_parent = [&](std::uint64_t parent) {
        auto it = owner.find(parent);
        return parent != 0 && it != owner.end() ? it->second : loop;
    };
    for (const Event& e : events) {
        std::size_t p = index.at(participant_of(e));
        std::string method = method_of(e.step);
        switch (e.ph) {
            case Phase::Begin: {
                std::size_t from = from_parent(e.parent);
                owner[e.id] = p;
                caller[e.id] = from;
                m.messages.push_back({from == p ? Message::Self : Message::Call, e.seq, from, p,
                                      method + format_args(e)});
                break;
            }
            case Phase::End: {
                auto it = caller.find(e.id);
                if (options.show_returns && it != caller.end() && it->second != p) {
                    m.messages.push_back({Message::Return, e.seq, p, it->second, ""});
                }
                break;
            }
            case Phase::Suspend: {
                std::string text = "suspends in " + method;
                if (const auto* a = e.arg("awaiting")) {
                    text += " (awaiting " + std::get<std::string>(*a) + ")";
                }
                m.messages.push_back({Message::Note, e.seq, p, p, text});
                break;
            }
            case Phase::Resume:
                m.messages.push_back(
                    {Message::Resume, e.seq, from_parent(e.parent), p, "resume " + method});
                break;
            case Phase::Instant:
                if (p == loop && !options.show_loop_events) {
                    break;
                }
                m.messages.push_back({Message::Note, e.seq, p, p, method + format_args(e)});
                break;
        }
    }
    return m;
}

// --- ASCII -----------------------------------------------------------------

// The header name of a participant on at most two lines, split where a
// new word starts ("HTTP1Server" / "Connection").
std::vector<std::string> header_lines(const std::string& name, std::size_t max_line) {
    if (name.size() <= max_line) {
        return {name};
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i < name.size() && i <= max_line; ++i) {
        auto prev = static_cast<unsigned char>(name[i - 1]);
        bool boundary = (std::isupper(static_cast<unsigned char>(name[i])) != 0 &&
                         (std::islower(prev) != 0 || std::isdigit(prev) != 0)) ||
                        name[i] == '#' || name[i] == '_';
        if (boundary) {
            best = i;
        }
    }
    if (best == 0) {
        best = max_line;
    }
    std::string second = name.substr(best);
    if (second.size() > max_line) {
        second = second.substr(0, max_line - 1) + "~";
    }
    return {name.substr(0, best), second};
}

std::string render_ascii(const Model& m) {
    constexpr std::size_t kMargin = 6;  // the sequence number column
    constexpr std::size_t kMaxName = 15;
    std::vector<std::vector<std::string>> names;
    std::vector<std::size_t> centre;
    std::size_t line_width = kMargin;
    for (const auto& p : m.participants) {
        names.push_back(header_lines(p, kMaxName));
        std::size_t w = 9;
        for (const auto& l : names.back()) {
            w = std::max(w, l.size() + 3);
        }
        centre.push_back(line_width + w / 2);
        line_width += w;
    }
    auto x = [&](std::size_t i) { return centre[i]; };

    auto blank = [&]() {
        std::string line(line_width, ' ');
        for (std::size_t i = 0; i < m.participants.size(); ++i) {
            line[x(i)] = '|';
        }
        return line;
    };
    // Writes `text` at `col`, growing the line if it runs past the end.
    auto put = [](std::string& line, std::size_t col, const std::string& text) {
        if (line.size() < col + text.size()) {
            line.resize(col + text.size(), ' ');
        }
        line.replace(col, text.size(), text);
    };
    auto trim = [](std::string s) {
        while (!s.empty() && s.back() == ' ') {
            s.pop_back();
        }
        return s + "\n";
    };

    std::string out;
    // Header: each name centred on its lifeline, on one or two lines.
    for (std::size_t row = 0; row < 2; ++row) {
        std::string header(line_width, ' ');
        bool any = false;
        for (std::size_t i = 0; i < m.participants.size(); ++i) {
            if (row < names[i].size()) {
                const std::string& name = names[i][row];
                put(header, x(i) - std::min(x(i), name.size() / 2), name);
                any = true;
            }
        }
        if (any) {
            out += trim(header);
        }
    }
    out += trim(blank());

    for (const Message& msg : m.messages) {
        std::string seq = std::to_string(msg.seq);
        std::string line = blank();
        put(line, 0, std::string(kMargin - 1 - std::min(seq.size(), kMargin - 1), ' ') + seq);
        std::size_t a = x(msg.from);
        std::size_t b = x(msg.to);
        switch (msg.kind) {
            case Message::Call:
            case Message::Resume:
            case Message::Return: {
                std::size_t lo = std::min(a, b);
                std::size_t hi = std::max(a, b);
                bool dashed = msg.kind == Message::Return;
                for (std::size_t c = lo + 1; c < hi; ++c) {
                    line[c] = dashed && (c - lo) % 2 == 0 ? ' ' : '-';
                }
                if (b > a) {
                    line[hi - 1] = '>';
                } else {
                    line[lo + 1] = '<';
                }
                std::string label = msg.text.empty() ? "" : " " + msg.text + " ";
                if (!label.empty()) {
                    if (label.size() + 4 <= hi - lo) {
                        put(line, lo + 3, label);  // on the arrow
                    } else {
                        // Too long for the arrow: on a line of its own above it.
                        std::string above = blank();
                        put(above, lo + 2, label);
                        out += trim(above);
                    }
                }
                break;
            }
            case Message::Self:
                put(line, a, "+-- " + msg.text);
                break;
            case Message::Note:
                put(line, a + 1, " : " + msg.text);
                break;
        }
        out += trim(line);
    }
    return out;
}

// --- Mermaid and PlantUML ----------------------------------------------------

std::string mermaid_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == ';') {
            out += "#59;";
        } else if (c == '#') {
            out += "#35;";
        } else if (c == '\n') {
            out += ' ';
        } else {
            out.push_back(c);
        }
    }
    // The bare word "end" ends a block in Mermaid.
    std::string result;
    std::size_t i = 0;
    while (i < out.size()) {
        bool word_start = i == 0 || !std::isalnum(static_cast<unsigned char>(out[i - 1]));
        bool word_end =
            i + 3 >= out.size() || !std::isalnum(static_cast<unsigned char>(out[i + 3]));
        if (word_start && word_end && out.compare(i, 3, "end") == 0) {
            result += "(end)";
            i += 3;
        } else {
            result.push_back(out[i++]);
        }
    }
    return result;
}

std::string render_mermaid(const Model& m) {
    std::string out = "sequenceDiagram\n";
    for (std::size_t i = 0; i < m.participants.size(); ++i) {
        out += "    participant P" + std::to_string(i) + " as " + mermaid_text(m.participants[i]) +
               "\n";
    }
    for (const Message& msg : m.messages) {
        std::string a = "P" + std::to_string(msg.from);
        std::string b = "P" + std::to_string(msg.to);
        std::string label = std::to_string(msg.seq) + " " + mermaid_text(msg.text);
        switch (msg.kind) {
            case Message::Call:
            case Message::Self:
            case Message::Resume:
                out += "    " + a + "->>" + b + ": " + label + "\n";
                break;
            case Message::Return:
                out += "    " + a + "-->>" + b + ": " + std::to_string(msg.seq) + "\n";
                break;
            case Message::Note:
                out += "    Note over " + a + ": " + label + "\n";
                break;
        }
    }
    return out;
}

std::string render_plantuml(const Model& m) {
    std::string out = "@startuml\nhide footbox\n";
    for (std::size_t i = 0; i < m.participants.size(); ++i) {
        out += "participant \"" + m.participants[i] + "\" as P" + std::to_string(i) + "\n";
    }
    for (const Message& msg : m.messages) {
        std::string a = "P" + std::to_string(msg.from);
        std::string b = "P" + std::to_string(msg.to);
        std::string label = std::to_string(msg.seq) + " " + msg.text;
        switch (msg.kind) {
            case Message::Call:
            case Message::Self:
            case Message::Resume:
                out += a + " -> " + b + " : " + label + "\n";
                break;
            case Message::Return:
                out += a + " --> " + b + "\n";
                break;
            case Message::Note:
                out += "note over " + a + " : " + label + "\n";
                break;
        }
    }
    return out + "@enduml\n";
}

// --- The notes' chain listing -----------------------------------------------

std::string render_chain(const std::vector<Event>& events) {
    std::map<std::uint64_t, std::size_t> depth;
    std::string out;
    for (const Event& e : events) {
        if (e.ph != Phase::Begin) {
            continue;
        }
        auto parent = depth.find(e.parent);
        std::size_t d = parent == depth.end() ? 0 : parent->second + 1;
        depth[e.id] = d;
        std::string cls = e.role == "client" ? "(client) " + e.cls : e.cls;
        cls.resize(std::max<std::size_t>(cls.size() + 1, 28), ' ');
        out += cls + std::string(2 * d, ' ') + method_of(e.step) + "\n";
    }
    return out;
}

std::uint64_t id_or_zero(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? 0 : it->get<std::uint64_t>();
}

}  // namespace

Format parse_format(std::string_view name) {
    if (name == "ascii") {
        return Format::Ascii;
    }
    if (name == "mermaid") {
        return Format::Mermaid;
    }
    if (name == "plantuml") {
        return Format::PlantUml;
    }
    if (name == "chain") {
        return Format::Chain;
    }
    if (name == "jsonl") {
        return Format::Jsonl;
    }
    throw std::invalid_argument("unknown format '" + std::string(name) +
                                "' (use ascii, mermaid, plantuml, chain or jsonl)");
}

std::vector<Event> read_jsonl(std::istream& in) {
    std::vector<Event> events;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        try {
            nlohmann::json j = nlohmann::json::parse(line);
            if (!j.is_object()) {
                throw std::runtime_error("not a JSON object");
            }
            for (const char* key : {"seq", "step", "ph"}) {
                if (!j.contains(key)) {
                    throw std::runtime_error(std::string("missing \"") + key + "\"");
                }
            }
            Event e;
            e.seq = j.at("seq").get<std::uint64_t>();
            e.t_us = j.value("t_us", std::int64_t{0});
            e.pid = j.value("pid", 0);
            e.layer = j.value("layer", "");
            e.cls = j.value("cls", "");
            e.obj = j.contains("obj") && j["obj"].is_string() ? j["obj"].get<std::string>() : "";
            e.step = j.at("step").get<std::string>();
            std::string ph = j.at("ph").get<std::string>();
            if (ph.size() != 1 || std::string_view("BEiSR").find(ph[0]) == std::string_view::npos) {
                throw std::runtime_error("bad \"ph\": " + ph);
            }
            e.ph = static_cast<Phase>(ph[0]);
            e.conn = id_or_zero(j, "conn");
            e.req = id_or_zero(j, "req");
            e.id = id_or_zero(j, "id");
            e.parent = id_or_zero(j, "parent");
            e.src = j.value("src", "");
            e.py = j.value("py", "");
            e.role = j.value("role", "");
            if (auto args = j.find("args"); args != j.end() && args->is_object()) {
                for (const auto& [key, value] : args->items()) {
                    if (value.is_number_integer()) {
                        e.args.emplace_back(key, trace::ArgValue(value.get<std::int64_t>()));
                    } else if (value.is_string()) {
                        e.args.emplace_back(key, trace::ArgValue(value.get<std::string>()));
                    } else {
                        e.args.emplace_back(key, trace::ArgValue(value.dump()));
                    }
                }
            }
            events.push_back(std::move(e));
        } catch (const std::exception& ex) {
            throw std::runtime_error("line " + std::to_string(number) + ": " + ex.what());
        }
    }
    return events;
}

std::string render(const std::vector<Event>& events, Format format, const RenderOptions& options) {
    switch (format) {
        case Format::Ascii:
            return render_ascii(build(events, options));
        case Format::Mermaid:
            return render_mermaid(build(events, options));
        case Format::PlantUml:
            return render_plantuml(build(events, options));
        case Format::Chain:
            return render_chain(events);
        case Format::Jsonl: {
            std::string out;
            for (const Event& e : events) {
                out += trace::to_json(e);
                out += "\n";
            }
            return out;
        }
    }
    return {};
}

}  // namespace tornado::walkthrough
