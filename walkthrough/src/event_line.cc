#include "tornado/walkthrough/event_line.h"

#include <fmt/format.h>

namespace tornado::walkthrough {

const char* phase_word(trace::Phase ph) {
    switch (ph) {
        case trace::Phase::Begin:
            return "call";
        case trace::Phase::End:
            return "return";
        case trace::Phase::Instant:
            return "note";
        case trace::Phase::Suspend:
            return "suspend";
        case trace::Phase::Resume:
            return "resume";
    }
    return "?";
}

std::string event_args(const trace::Event& e) {
    std::string out;
    for (const auto& [key, value] : e.args) {
        if (!out.empty()) {
            out += ", ";
        }
        out += key;
        out += '=';
        if (const auto* i = std::get_if<std::int64_t>(&value)) {
            out += std::to_string(*i);
        } else {
            out += std::get<std::string>(value);
        }
    }
    return out;
}

std::string event_line(const trace::Event& e) {
    std::string who = e.obj.empty() ? e.cls : e.obj;
    if (e.role == "client") {
        who += " (client)";
    }
    std::string line = fmt::format("#{:<4} {:<7} {:<44} {}", e.seq, phase_word(e.ph), e.step, who);
    if (e.conn != 0) {
        line += fmt::format("  conn={}", e.conn);
    }
    if (e.req != 0) {
        line += fmt::format(" req={}", e.req);
    }
    std::string args = event_args(e);
    if (!args.empty()) {
        line += "  (" + args + ")";
    }
    return line;
}

}  // namespace tornado::walkthrough
