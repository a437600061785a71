// A sequence diagram as a Graphviz digraph: a grid of point nodes, one
// column per lifeline (kept straight by `group` and heavy dashed edges) and
// one row per message (rank=same, ordered by invisible edges), with each
// message an edge between two nodes of its row.
#include <fmt/format.h>

#include "diagram_model.h"

namespace tornado::walkthrough::detail {

namespace {

std::string dot_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string node(std::size_t row, std::size_t column) {
    return fmt::format("r{}_{}", row, column);
}

}  // namespace

std::string render_dot(const Model& m) {
    const std::size_t n = m.participants.size();
    std::string out =
        "digraph sequence {\n"
        // Few crossing-minimisation and ranking passes: the invisible edges
        // already fix the order, and a long trace would take minutes otherwise.
        "    graph [rankdir=TB, nodesep=0.5, ranksep=0.25, fontname=\"Helvetica\", "
        "splines=false, mclimit=0.01, nslimit=0.2, nslimit1=0.2];\n"
        "    node [shape=point, width=0.03, height=0.03, label=\"\", color=gray60];\n"
        "    edge [arrowhead=none, color=gray70, style=dashed, fontname=\"Helvetica\", "
        "fontsize=9];\n";
    // Row 0: the participants' boxes.
    out += "    { rank=same;";
    for (std::size_t i = 0; i < n; ++i) {
        // (fmt, not " " + node(...) + ...: GCC 12 at -O3 warns falsely,
        // -Wrestrict, on a literal + std::string&&.)
        out += fmt::format(
            " {} [shape=box, width=0, height=0, color=gray30, fontsize=11, group=g{}, "
            "label=\"{}\"];",
            node(0, i), i, dot_text(m.participants[i]));
    }
    out += " }\n";
    const std::size_t rows = m.messages.size();
    for (std::size_t r = 0; r <= rows; ++r) {
        if (r > 0) {
            out += "    { rank=same;";
            for (std::size_t i = 0; i < n; ++i) {
                out += fmt::format(" {} [group=g{}];", node(r, i), i);
            }
            out += " }\n";
        }
        if (n > 1) {
            // Keeps the columns in participant order on every row.
            out += "    ";
            for (std::size_t i = 0; i < n; ++i) {
                out += (i == 0 ? "" : " -> ") + node(r, i);
            }
            out += " [style=invis];\n";
        }
    }
    // Several processes: each one's columns in a cluster named after it.
    // (newrank, so that the rows' rank=same still holds across clusters.)
    for (std::size_t k = 0; k < m.groups.size(); ++k) {
        const ProcessGroup& g = m.groups[k];
        if (k == 0) {
            out += "    newrank=true;\n";
        }
        out += "    subgraph cluster_" + std::to_string(k) + " { label=\"" + dot_text(g.name) +
               "\"; style=rounded; color=gray50; fontsize=12;";
        for (std::size_t i = g.first; i < g.first + g.count; ++i) {
            for (std::size_t r = 0; r <= rows; ++r) {
                // Appends, not " " + std::string&&: g++ 12 -O3 warns falsely (-Wrestrict).
                out += ' ';
                out += node(r, i);
                out += ';';
            }
        }
        out += " }\n";
    }
    // The lifelines.
    for (std::size_t i = 0; i < n; ++i) {
        out += "    ";
        for (std::size_t r = 0; r <= rows; ++r) {
            out += (r == 0 ? "" : " -> ") + node(r, i);
        }
        out += rows == 0 ? ";\n" : " [weight=100];\n";
    }
    for (std::size_t r = 0; r < rows; ++r) {
        const Message& msg = m.messages[r];
        std::string a = node(r + 1, msg.from);
        std::string b = node(r + 1, msg.to);
        std::string label = std::to_string(msg.seq) + " " + dot_text(msg.text);
        switch (msg.kind) {
            case Message::Call:
            case Message::Resume:
                out += "    " + a + " -> " + b + " [constraint=false, style=solid, color=" +
                       (msg.kind == Message::Resume ? "darkgreen" : "black") +
                       ", arrowhead=normal, xlabel=\"" + label + "\"];\n";
                break;
            case Message::Return:
                out += "    " + a + " -> " + b +
                       " [constraint=false, style=dashed, color=gray40, arrowhead=open, "
                       "xlabel=\"" +
                       std::to_string(msg.seq) + "\"];\n";
                break;
            case Message::Self:
                out += "    " + a + " -> " + a +
                       " [style=solid, color=black, arrowhead=normal, label=\"" + label + "\"];\n";
                break;
            case Message::Note:
            case Message::Suspend:
                out += "    " + a + " -> " + a + " [style=dotted, color=" +
                       (msg.kind == Message::Suspend ? "darkorange" : "gray50") +
                       ", arrowhead=none, label=\"" + label + "\"];\n";
                break;
        }
    }
    return out + "}\n";
}

}  // namespace tornado::walkthrough::detail
