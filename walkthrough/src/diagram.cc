// The formats, the trace file reader and the model every diagram is drawn
// from; the chain listing and JSON Lines. The diagram formats live in
// render_ascii.cc, render_uml.cc (Mermaid, PlantUML), render_dot.cc,
// render_svg.cc and render_chrome.cc.
#include "tornado/walkthrough/diagram.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "diagram_model.h"

namespace tornado::walkthrough {

namespace detail {

using trace::Event;
using trace::Phase;

bool is_arrow(Message::Kind kind) {
    return kind == Message::Call || kind == Message::Return || kind == Message::Self ||
           kind == Message::Resume;
}

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

namespace {

// The lifeline an event is drawn on.
std::string participant_of(const Event& e, Lifelines lifelines) {
    if (e.role == "client") {
        return lifelines == Lifelines::Layers ? "client" : "Client";
    }
    if (e.layer == "ioloop" || e.obj.starts_with("IOLoop")) {
        return "IOLoop";
    }
    if (lifelines == Lifelines::Layers) {
        return e.layer.empty() ? "?" : e.layer;
    }
    if (lifelines == Lifelines::Classes && !e.obj.empty()) {
        return e.obj.substr(0, e.obj.find('#'));
    }
    return e.obj.empty() ? e.cls : e.obj;
}

// Layers are drawn in the order a request crosses them.
int layer_rank(const std::string& name) {
    static const char* const kOrder[] = {"client", "IOLoop", "iostream", "httpserver", "web"};
    for (int i = 0; i < 5; ++i) {
        if (name == kOrder[i]) {
            return i;
        }
    }
    return 5;
}

}  // namespace

std::string short_name(const Model& m, std::size_t i) {
    const std::string& name = m.participants[i];
    if (m.groups.empty()) {
        return name;
    }
    auto at = name.find(kProcessSeparator);
    return at == std::string::npos ? name : name.substr(at + std::strlen(kProcessSeparator));
}

Model build_model(const std::vector<Event>& events, const RenderOptions& options) {
    const bool layers = options.lifelines == Lifelines::Layers;
    Model m;
    // The processes, in order of first appearance: more than one, and each
    // gets a group of lifelines of its own (its own IOLoop...).
    std::map<int, std::size_t> process_of_pid;
    std::vector<std::size_t> process;  // per event
    for (const Event& e : events) {
        auto it = process_of_pid.try_emplace(e.pid, process_of_pid.size()).first;
        process.push_back(it->second);
    }
    const std::size_t processes = std::max<std::size_t>(process_of_pid.size(), 1);
    const bool grouped = processes > 1;
    auto prefix = [&](std::size_t g) {
        return grouped ? "task " + std::to_string(g) + kProcessSeparator : std::string();
    };
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
    std::vector<std::string> names;
    for (std::size_t i = 0; i < events.size(); ++i) {
        names.push_back(prefix(process.empty() ? 0 : process[i]) +
                        participant_of(events[i], options.lifelines));
    }
    std::vector<std::size_t> loops;  // per process
    for (std::size_t g = 0; g < processes; ++g) {
        std::size_t first = m.participants.size();
        bool has_client = false;
        std::vector<std::string> own;
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (process[i] == g) {
                has_client = has_client || events[i].role == "client";
                own.push_back(names[i]);
            }
        }
        if (has_client) {
            add(prefix(g) + (layers ? "client" : "Client"));
        }
        loops.push_back(add(prefix(g) + "IOLoop"));
        if (layers) {
            std::size_t skip = prefix(g).size();
            std::stable_sort(own.begin(), own.end(), [skip](const auto& a, const auto& b) {
                return layer_rank(a.substr(skip)) < layer_rank(b.substr(skip));
            });
        }
        for (const auto& n : own) {
            add(n);
        }
        if (grouped) {
            m.groups.push_back({"task " + std::to_string(g), first, m.participants.size() - first});
        }
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
    std::size_t loop = loops.front();
    auto from_parent = [&](std::uint64_t parent) {
        auto it = owner.find(parent);
        return parent != 0 && it != owner.end() ? it->second : loop;
    };
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Event& e = events[i];
        std::size_t p = index.at(names[i]);
        loop = loops[process[i]];
        // With one lifeline per layer, the class tells the steps of a layer apart.
        std::string method = layers ? e.step : method_of(e.step);
        switch (e.ph) {
            case Phase::Begin: {
                std::size_t from = from_parent(e.parent);
                owner[e.id] = p;
                caller[e.id] = from;
                if (e.role == "client" && e.layer == "client" && e.parent == 0) {
                    // The scenario's script starts the client (Client.fetch):
                    // nothing in the trace calls it, so no arrow comes in.
                    caller[e.id] = p;
                    m.messages.push_back(
                        {Message::Note, e.seq, p, p, "starts " + method + format_args(e), method});
                    break;
                }
                m.messages.push_back({from == p ? Message::Self : Message::Call, e.seq, from, p,
                                      method + format_args(e), method});
                break;
            }
            case Phase::End: {
                auto it = caller.find(e.id);
                if (options.show_returns && it != caller.end() && it->second != p) {
                    m.messages.push_back({Message::Return, e.seq, p, it->second, "", ""});
                }
                break;
            }
            case Phase::Suspend: {
                std::string text = "suspends in " + method;
                if (const auto* a = e.arg("awaiting")) {
                    text += " (awaiting " + std::get<std::string>(*a) + ")";
                }
                m.messages.push_back(
                    {Message::Suspend, e.seq, p, p, text, "suspends in " + method});
                break;
            }
            case Phase::Resume:
                m.messages.push_back({Message::Resume, e.seq, from_parent(e.parent), p,
                                      "resume " + method, "resume " + method});
                break;
            case Phase::Instant:
                if (p == loop && !options.show_loop_events) {
                    break;
                }
                m.messages.push_back({Message::Note, e.seq, p, p, method + format_args(e), method});
                break;
        }
    }
    return m;
}

}  // namespace detail

namespace {

using trace::Event;
using trace::Phase;

// --- The notes' chain listing -----------------------------------------------

// One line per call: the class in a column, then the method indented by its
// depth among the calls shown; suspend and resume get a line of their own.
std::string render_chain(const std::vector<Event>& events) {
    std::map<std::uint64_t, std::size_t> depth;
    std::string out;
    auto line = [&](std::string cls, std::size_t d, const std::string& text) {
        cls.resize(std::max<std::size_t>(cls.size() + 1, 28), ' ');
        out += cls + std::string(2 * d, ' ') + text + "\n";
    };
    for (const Event& e : events) {
        std::string cls = e.role == "client" ? "(client) " + e.cls : e.cls;
        if (e.ph == Phase::Begin) {
            auto parent = depth.find(e.parent);
            std::size_t d = parent == depth.end() ? 0 : parent->second + 1;
            depth[e.id] = d;
            line(cls, d, detail::method_of(e.step));
        } else if (e.ph == Phase::Suspend || e.ph == Phase::Resume) {
            auto it = depth.find(e.id);
            std::size_t d = it == depth.end() ? 0 : it->second;
            line(cls, d,
                 std::string(e.ph == Phase::Suspend ? "... suspends in " : "... resumed: ") +
                     detail::method_of(e.step));
        }
    }
    return out;
}

// A field that must be a JSON integer within T's range. nlohmann's get<T>
// converts a double (1e300) or an out-of-range integer with a plain cast,
// which is undefined behaviour for a double and a silent wrap for a negative
// "seq": a trace file is user input, so such a line is refused instead.
template <typename T>
T integer_field(const nlohmann::ordered_json& j, const char* key, T fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return fallback;
    }
    if (it->is_number_unsigned()) {
        auto v = it->get<std::uint64_t>();
        if (v <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
            return static_cast<T>(v);
        }
    } else if (it->is_number_integer()) {
        auto v = it->get<std::int64_t>();
        if (std::in_range<T>(v)) {
            return static_cast<T>(v);
        }
    }
    throw std::runtime_error(std::string("\"") + key + "\" is not an integer in range: " +
                             it->dump());
}

std::uint64_t id_or_zero(const nlohmann::ordered_json& j, const char* key) {
    return integer_field<std::uint64_t>(j, key, 0);
}

// trace::to_json writes each byte past ASCII as the latin-1 code point
// \u00XX (as Tornado decodes header bytes); nlohmann hands such a string back
// as UTF-8. Map code points up to U+00FF back to their byte, so a trace read
// and written again is unchanged; a string with anything else (real UTF-8 a
// person typed, or a bad sequence) is kept as nlohmann gives it.
std::string bytes_of(const std::string& utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (std::size_t i = 0; i < utf8.size(); ++i) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size() &&
                   (static_cast<unsigned char>(utf8[i + 1]) & 0xC0) == 0x80) {
            auto next = static_cast<unsigned char>(utf8[i + 1]);
            out.push_back(static_cast<char>(((c & 0x03) << 6) | (next & 0x3F)));
            ++i;
        } else {
            return utf8;
        }
    }
    return out;
}

std::string string_field(const nlohmann::ordered_json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return {};
    }
    if (!it->is_string()) {
        throw std::runtime_error(std::string("\"") + key + "\" is not a string: " + it->dump());
    }
    return bytes_of(it->get<std::string>());
}

Event decode(const nlohmann::ordered_json& j) {
    if (!j.is_object()) {
        throw std::runtime_error("not a JSON object");
    }
    for (const char* key : {"seq", "step", "ph"}) {
        if (!j.contains(key)) {
            throw std::runtime_error(std::string("missing \"") + key + "\"");
        }
    }
    Event e;
    e.seq = integer_field<std::uint64_t>(j, "seq", 0);
    e.t_us = integer_field<std::int64_t>(j, "t_us", 0);
    e.pid = integer_field<decltype(e.pid)>(j, "pid", 0);
    e.layer = string_field(j, "layer");
    e.cls = string_field(j, "cls");
    e.obj = string_field(j, "obj");
    e.step = bytes_of(j.at("step").get<std::string>());
    std::string ph = j.at("ph").get<std::string>();
    if (ph.size() != 1 || std::string_view("BEiSR").find(ph[0]) == std::string_view::npos) {
        throw std::runtime_error("bad \"ph\": " + ph);
    }
    e.ph = static_cast<Phase>(ph[0]);
    e.conn = id_or_zero(j, "conn");
    e.req = id_or_zero(j, "req");
    e.id = id_or_zero(j, "id");
    e.parent = id_or_zero(j, "parent");
    e.src = string_field(j, "src");
    e.py = string_field(j, "py");
    e.role = string_field(j, "role");
    if (auto args = j.find("args"); args != j.end() && args->is_object()) {
        for (const auto& [key, value] : args->items()) {
            if (value.is_number_integer() &&
                (!value.is_number_unsigned() ||
                 value.get<std::uint64_t>() <=
                     static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
                e.args.emplace_back(bytes_of(key), trace::ArgValue(value.get<std::int64_t>()));
            } else if (value.is_string()) {
                e.args.emplace_back(bytes_of(key), trace::ArgValue(bytes_of(value.get<std::string>())));
            } else {
                e.args.emplace_back(bytes_of(key), trace::ArgValue(value.dump()));
            }
        }
    }
    return e;
}

}  // namespace

Format parse_format(std::string_view name) {
    static const std::pair<const char*, Format> kFormats[] = {
        {"ascii", Format::Ascii}, {"mermaid", Format::Mermaid}, {"plantuml", Format::PlantUml},
        {"dot", Format::Dot},     {"svg", Format::Svg},         {"chrome", Format::Chrome},
        {"chain", Format::Chain}, {"jsonl", Format::Jsonl},
    };
    for (const auto& [n, f] : kFormats) {
        if (name == n) {
            return f;
        }
    }
    throw std::invalid_argument(
        "unknown format '" + std::string(name) +
        "' (use ascii, mermaid, plantuml, dot, svg, chrome, chain or jsonl)");
}

bool is_diagram_format(Format format) {
    return format == Format::Ascii || format == Format::Mermaid || format == Format::PlantUml ||
           format == Format::Dot || format == Format::Svg;
}

std::vector<Event> read_jsonl(std::istream& in) {
    std::vector<Event> events;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        // getline sets eof when the last line had no newline: a file cut short.
        bool unterminated = in.eof();
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        nlohmann::ordered_json j;
        try {
            j = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::json::exception& ex) {
            // parse_error, and out_of_range for a number too large (51e3005).
            if (unterminated) {
                throw std::runtime_error("line " + std::to_string(number) +
                                         ": the file ends in the middle of this line (truncated "
                                         "trace?): " +
                                         ex.what());
            }
            throw std::runtime_error("line " + std::to_string(number) +
                                     ": not valid JSON: " + ex.what());
        }
        try {
            events.push_back(decode(j));
        } catch (const std::exception& ex) {
            throw std::runtime_error("line " + std::to_string(number) + ": " + ex.what());
        }
    }
    return events;
}

std::string render(const std::vector<Event>& events, Format format, const RenderOptions& options) {
    switch (format) {
        case Format::Ascii: {
            detail::Model m = detail::build_model(events, options);
            if (options.width == 0 || detail::ascii_fits(m, options.width)) {
                return detail::render_ascii(m, options);
            }
            // Too many lifelines for the width: share them by class, then by layer.
            RenderOptions narrower = options;
            std::string what = "class";
            if (options.lifelines == Lifelines::Objects) {
                narrower.lifelines = Lifelines::Classes;
                m = detail::build_model(events, narrower);
            }
            if (!detail::ascii_fits(m, options.width)) {
                narrower.lifelines = Lifelines::Layers;
                what = "layer";
                m = detail::build_model(events, narrower);
            }
            std::string note = "(one lifeline per " + what + ", to fit " +
                               std::to_string(options.width) + " columns)";
            if (note.size() > options.width) {
                note = "(per " + what + ")";
            }
            return note + "\n" + detail::render_ascii(m, narrower);
        }
        case Format::Mermaid:
            return detail::render_mermaid(detail::build_model(events, options), options);
        case Format::PlantUml:
            return detail::render_plantuml(detail::build_model(events, options));
        case Format::Dot:
            return detail::render_dot(detail::build_model(events, options));
        case Format::Svg:
            return detail::render_svg(detail::build_model(events, options));
        case Format::Chrome:
            return detail::render_chrome(events);
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

std::size_t mermaid_parts(const std::vector<Event>& events, const RenderOptions& options) {
    return detail::mermaid_part_count(detail::build_model(events, options));
}

}  // namespace tornado::walkthrough
