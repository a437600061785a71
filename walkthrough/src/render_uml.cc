// Mermaid and PlantUML sequence diagrams. Both tools refuse or crop big
// diagrams: Mermaid past 50,000 characters or 500 arrows, PlantUML's image
// past 4096 pixels. So a big diagram is split, and says so: Mermaid into
// parts (RenderOptions::part picks one), PlantUML into pages (`newpage`).
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "diagram_model.h"

namespace tornado::walkthrough::detail {

namespace {

// The alias of participant `index` in both languages ("P0", "P1"...).
// (fmt rather than "P" + std::to_string: GCC 12 at -O3 warns falsely,
// -Wrestrict, on a literal + std::string&&.)
std::string alias(std::size_t index) {
    return fmt::format("P{}", index);
}

// Headroom under Mermaid's limits for the part notes and the header.
constexpr std::size_t kMermaidArrowBudget = kMermaidMaxArrows - 50;
constexpr std::size_t kMermaidTextBudget = kMermaidMaxTextSize - 5000;

std::string mermaid_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == ';') {
            out += "#59;";
        } else if (c == '#') {
            out += "#35;";
        } else if (c == '<') {
            out += "#lt;";
        } else if (c == '>') {
            out += "#gt;";
        } else if (c == '\n' || c == '\r' || c == '\t') {
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

std::string mermaid_line(const Message& msg) {
    std::string a = alias(msg.from);
    std::string b = alias(msg.to);
    std::string label = std::to_string(msg.seq) + " " + mermaid_text(msg.text);
    switch (msg.kind) {
        case Message::Call:
        case Message::Self:
        case Message::Resume:
            return "    " + a + "->>" + b + ": " + label + "\n";
        case Message::Return:
            return "    " + a + "-->>" + b + ": " + std::to_string(msg.seq) + "\n";
        case Message::Note:
        case Message::Suspend:
            return "    Note over " + a + ": " + label + "\n";
    }
    return "";
}

// The messages cut into parts that each stay within the budgets.
std::vector<std::pair<std::size_t, std::size_t>> mermaid_split(const Model& m,
                                                               std::size_t header_size) {
    std::vector<std::pair<std::size_t, std::size_t>> parts;
    std::size_t begin = 0;
    std::size_t arrows = 0;
    std::size_t text = header_size;
    for (std::size_t i = 0; i < m.messages.size(); ++i) {
        std::size_t size = mermaid_line(m.messages[i]).size();
        std::size_t arrow = is_arrow(m.messages[i].kind) ? 1 : 0;
        if (i > begin &&
            (arrows + arrow > kMermaidArrowBudget || text + size > kMermaidTextBudget)) {
            parts.emplace_back(begin, i);
            begin = i;
            arrows = 0;
            text = header_size;
        }
        arrows += arrow;
        text += size;
    }
    parts.emplace_back(begin, m.messages.size());
    return parts;
}

std::string mermaid_header(const Model& m) {
    std::string out = "sequenceDiagram\n";
    // Several processes: each one's lifelines in a box named after it.
    auto group_at = [&](std::size_t i) {
        return std::find_if(m.groups.begin(), m.groups.end(),
                            [i](const ProcessGroup& g) { return g.count > 0 && g.first == i; });
    };
    for (std::size_t i = 0; i < m.participants.size(); ++i) {
        auto g = group_at(i);
        if (g != m.groups.end()) {
            out += "    box " + mermaid_text(g->name) + "\n";
        }
        out += "    participant P" + std::to_string(i) + " as " + mermaid_text(m.participants[i]) +
               "\n";
        for (const ProcessGroup& group : m.groups) {
            if (group.count > 0 && group.first + group.count - 1 == i) {
                out += "    end\n";
            }
        }
    }
    return out;
}

std::string across(const Model& m) {
    return m.participants.size() > 1 ? "P0,P" + std::to_string(m.participants.size() - 1) : "P0";
}

// PlantUML reads creole markup and entities in labels: keep them literal.
std::string plantuml_text(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '<') {
            out += "\xe2\x80\xb9";  // a single angle quotation mark: no HTML tag
        } else if (c == '>') {
            out += "\xe2\x80\xba";
        } else if (c == '&' && i + 1 < s.size() && s[i + 1] == '#') {
            out += "& ";  // "&#92;" would be an entity PlantUML crashes on
        } else if (c == '~') {
            out += "~~";  // "~" escapes the next character
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::size_t mermaid_part_count(const Model& m) {
    return mermaid_split(m, mermaid_header(m).size()).size();
}

std::string render_mermaid(const Model& m, const RenderOptions& options) {
    std::string header = mermaid_header(m);
    auto parts = mermaid_split(m, header.size());
    std::size_t k = std::clamp<std::size_t>(options.part, 1, parts.size()) - 1;
    std::string out = header;
    auto [begin, end] = parts[k];
    if (parts.size() > 1) {
        auto first = begin < end ? m.messages[begin].seq : 0;
        auto last = begin < end ? m.messages[end - 1].seq : 0;
        out += "    Note over " + across(m) + ": part " + std::to_string(k + 1) + " of " +
               std::to_string(parts.size()) + " (events " + std::to_string(first) + " to " +
               std::to_string(last) +
               "): split to stay within Mermaid's limits (50000 characters, 500 arrows). "
               "--part N draws part N\n";
    }
    for (std::size_t i = begin; i < end; ++i) {
        out += mermaid_line(m.messages[i]);
    }
    if (k + 1 < parts.size()) {
        out += "    Note over " + across(m) + ": continued in part " + std::to_string(k + 2) +
               " (--part " + std::to_string(k + 2) + ")\n";
    }
    return out;
}

std::string render_plantuml(const Model& m) {
    std::string out = "@startuml\nhide footbox\n";
    for (std::size_t i = 0; i < m.participants.size(); ++i) {
        // Several processes: each one's lifelines in a box named after it.
        for (const ProcessGroup& g : m.groups) {
            if (g.count > 0 && g.first == i) {
                out += "box \"" + plantuml_text(g.name) + "\"\n";
            }
        }
        out += "participant \"" + plantuml_text(m.participants[i]) + "\" as P" + std::to_string(i) +
               "\n";
        for (const ProcessGroup& g : m.groups) {
            if (g.count > 0 && g.first + g.count - 1 == i) {
                out += "end box\n";
            }
        }
    }
    std::size_t pages = m.messages.empty() ? 1
                                           : (m.messages.size() + kPlantUmlMessagesPerPage - 1) /
                                                 kPlantUmlMessagesPerPage;
    for (std::size_t i = 0; i < m.messages.size(); ++i) {
        if (i % kPlantUmlMessagesPerPage == 0 && pages > 1) {
            std::size_t page = i / kPlantUmlMessagesPerPage + 1;
            if (page > 1) {
                out += "newpage\n";
            }
            out += "note over " + std::string(m.participants.size() > 1 ? "P0, P" : "P") +
                   (m.participants.size() > 1 ? std::to_string(m.participants.size() - 1) : "0") +
                   " : page " + std::to_string(page) + " of " + std::to_string(pages) +
                   ": split to stay within PlantUML's 4096-pixel image limit\n";
        }
        const Message& msg = m.messages[i];
        std::string a = alias(msg.from);
        std::string b = alias(msg.to);
        std::string label = std::to_string(msg.seq) + " " + plantuml_text(msg.text);
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
            case Message::Suspend:
                out += "note over " + a + " : " + label + "\n";
                break;
        }
    }
    if (m.messages.empty()) {
        // An empty diagram would render PlantUML's welcome page.
        out += "note over P0 : no events\n";
    }
    return out + "@enduml\n";
}

}  // namespace tornado::walkthrough::detail
