// A sequence diagram as SVG, laid out here rather than by a tool: one column
// per lifeline, one row per message, so that the browser viewer
// (viewer.cc) can reveal the rows one by one. Every message is a <g
// class="msg"> with id "m<row>" and data-seq, whatever its kind.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "tornado/escape.h"

#include "diagram_model.h"

namespace tornado::walkthrough::detail {

const char* kind_name(Message::Kind kind) {
    switch (kind) {
        case Message::Call:
            return "call";
        case Message::Return:
            return "return";
        case Message::Self:
            return "self";
        case Message::Note:
            return "note";
        case Message::Suspend:
            return "suspend";
        case Message::Resume:
            return "resume";
    }
    return "note";
}

std::string xml_text(std::string_view s) {
    // Control characters (XML 1.0 forbids most of them) become blanks; the
    // rest is what xhtml_escape does.
    std::string text(s);
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20) {
            c = ' ';
        }
    }
    return escape::xhtml_escape(text);
}

namespace {

// The layout, in pixels. Text widths are estimated from the number of
// characters (monospace labels, 7.2 px per character at 12 px).
constexpr double kCharWidth = 7.2;
constexpr double kGutter = 44;  // the step numbers on the left
constexpr double kMargin = 16;
constexpr double kHeadHeight = 34;  // a participant's box
constexpr double kLaneTitle = 22;   // above the boxes, when there are lanes
constexpr double kRowHeight = 30;
constexpr double kMinGap = 130;  // between two lifelines
constexpr double kMaxGap = 460;
constexpr double kSelfWidth = 26;  // the loop of a self call

// Visible characters of UTF-8 text (continuation bytes take no room).
double text_width(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return static_cast<double>(n) * kCharWidth;
}

// The drawing's own style, so that the file reads alone (an image in the
// docs); the viewer's page styles the same classes for stepping.
constexpr const char* kStyle =
    "<style>"
    "svg.sequence{font-family:'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12px;"
    "background:#fff}"
    ".participant rect{fill:#eef3fb;stroke:#5a6f94}"
    ".participant text{font-family:'DejaVu Sans','Liberation Sans',sans-serif;font-size:13px;"
    "fill:#1d2b45}"
    ".lifeline{stroke:#9aa6bb;stroke-dasharray:4 4}"
    ".lane rect{fill:#f7f7f2;stroke:#c9c9b8}"
    ".lane text{font-family:'DejaVu Sans','Liberation Sans',sans-serif;font-size:12px;"
    "fill:#6b6b55}"
    ".band{fill:transparent}"
    ".num{fill:#9aa6bb;font-size:11px}"
    ".arrow{stroke:#222;stroke-width:1.3}"
    ".head{fill:#222;stroke:#222}"
    ".return .arrow{stroke:#777;stroke-dasharray:5 3}"
    ".return .head{stroke:#777}"
    ".resume .arrow{stroke:#1f7a3a}"
    ".label{fill:#222}"
    ".resume .label{fill:#1f7a3a}"
    ".note .box{fill:#f2f2f2;stroke:#aaa}"
    ".suspend .box{fill:#fff1dc;stroke:#d98a1c}"
    ".suspend .label{fill:#8a4d00}"
    "</style>\n";

std::string label_of(const Message& msg) {
    return msg.kind == Message::Return ? std::string() : msg.text;
}

}  // namespace

std::string render_svg(const Model& m, const SvgOptions& options) {
    const std::size_t n = m.participants.size();
    // Columns: lifelines of one lane side by side, lanes in order of first
    // appearance, participants without a lane first.
    std::vector<std::string> lane(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i < options.lanes.size()) {
            lane[i] = options.lanes[i];
        }
    }
    for (const ProcessGroup& g : m.groups) {
        for (std::size_t i = g.first; i < g.first + g.count && i < n; ++i) {
            lane[i] = g.name;
        }
    }
    std::map<std::string, std::size_t> lane_rank;
    for (std::size_t i = 0; i < n; ++i) {
        lane_rank.try_emplace(lane[i], lane[i].empty() ? 0 : lane_rank.size() + 1);
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return lane_rank[lane[a]] < lane_rank[lane[b]];
    });
    std::vector<std::size_t> column(n);
    for (std::size_t c = 0; c < n; ++c) {
        column[order[c]] = c;
    }
    std::vector<std::string> names(n);
    for (std::size_t i = 0; i < n; ++i) {
        names[i] = short_name(m, i);
    }

    // Each message's label, as drawn: "19 _try_inline_read(buffered=0)".
    std::vector<std::string> labels;
    labels.reserve(m.messages.size());
    for (const Message& msg : m.messages) {
        labels.push_back(fmt::format("{} {}", msg.seq, label_of(msg)));
    }
    // The gap after each column: wide enough for the boxes on either side,
    // for the labels of the arrows that cross it (shared by the gaps they
    // span) and for the labels of self calls and notes on its left.
    std::vector<double> gap(n, kMinGap);
    for (std::size_t c = 0; c + 1 < n; ++c) {
        double boxes = (text_width(names[order[c]]) + text_width(names[order[c + 1]])) / 2 + 40;
        gap[c] = std::max(gap[c], boxes);
    }
    for (std::size_t r = 0; r < m.messages.size(); ++r) {
        const Message& msg = m.messages[r];
        std::size_t a = column[msg.from];
        std::size_t b = column[msg.to];
        double label = text_width(labels[r]) + 24;
        if (a == b) {
            if (a + 1 < n) {
                gap[a] = std::max(gap[a], std::min(label + kSelfWidth, kMaxGap));
            }
        } else {
            std::size_t lo = std::min(a, b);
            std::size_t hi = std::max(a, b);
            double share = label / static_cast<double>(hi - lo);
            for (std::size_t c = lo; c < hi; ++c) {
                gap[c] = std::max(gap[c], std::min(share, kMaxGap));
            }
        }
    }
    std::vector<double> x(n);
    double at = kGutter + kMargin + (n > 0 ? text_width(names[order[0]]) / 2 + 12 : 0);
    for (std::size_t c = 0; c < n; ++c) {
        x[c] = at;
        at += gap[c];
    }
    // The last column's labels may run past its lifeline.
    double tail = 0;
    for (std::size_t r = 0; r < m.messages.size(); ++r) {
        const Message& msg = m.messages[r];
        if (n > 0 && column[msg.from] == n - 1 && column[msg.to] == n - 1) {
            tail = std::max(tail, text_width(labels[r]) + kSelfWidth + 16);
        }
    }
    const bool lanes =
        std::any_of(lane.begin(), lane.end(), [](const auto& l) { return !l.empty(); });
    const double top = kMargin + (lanes ? kLaneTitle : 0);
    const double first_row = top + kHeadHeight + 22;
    const double width =
        (n > 0 ? x[n - 1] + std::max(text_width(names[order[n - 1]]) / 2 + 12, tail) : kGutter) +
        kMargin;
    const double height = first_row + static_cast<double>(m.messages.size()) * kRowHeight + kMargin;

    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sequence\" width=\"{0:.0f}\" "
        "height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" role=\"img\" "
        "aria-roledescription=\"sequence\" data-head=\"{2:.0f}\">\n",
        width, height, top + kHeadHeight + 6);
    out +=
        "<defs>"
        "<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" "
        "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path "
        "d=\"M0,0 L10,5 L0,10 z\" "
        "class=\"head\"/></marker>"
        "<marker id=\"open\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" "
        "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path "
        "d=\"M0,0 L10,5 L0,10\" "
        "class=\"head open\" fill=\"none\"/></marker>"
        "</defs>\n";
    out += kStyle;
    // Lanes: a box behind each run of columns of one lane.
    for (std::size_t c = 0; c < n;) {
        std::size_t end = c;
        while (end + 1 < n && lane[order[end + 1]] == lane[order[c]]) {
            ++end;
        }
        if (!lane[order[c]].empty()) {
            double left = x[c] - std::max(text_width(names[order[c]]) / 2 + 10, 40.0);
            double right = x[end] + std::max(text_width(names[order[end]]) / 2 + 10, 40.0);
            out += fmt::format(
                "<g class=\"lane\"><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                "height=\"{:.1f}\" rx=\"8\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text></g>\n",
                left, kMargin / 2, right - left, height - kMargin, left + 8, kMargin / 2 + 15,
                xml_text(lane[order[c]]));
        }
        c = end + 1;
    }
    // Lifelines and the participants' boxes.
    for (std::size_t c = 0; c < n; ++c) {
        const std::string& name = names[order[c]];
        double w = text_width(name) + 20;
        out += fmt::format(
            "<g class=\"participant\" data-name=\"{0}\"><line class=\"lifeline\" x1=\"{1:.1f}\" "
            "y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{3:.1f}\"/><rect x=\"{4:.1f}\" y=\"{5:.1f}\" "
            "width=\"{6:.1f}\" height=\"{7:.1f}\" rx=\"4\"/><text x=\"{1:.1f}\" y=\"{8:.1f}\" "
            "text-anchor=\"middle\">{0}</text></g>\n",
            xml_text(name), x[c], top + kHeadHeight, height - kMargin, x[c] - w / 2, top, w,
            kHeadHeight, top + kHeadHeight / 2 + 5);
    }
    // The messages, one row each.
    for (std::size_t r = 0; r < m.messages.size(); ++r) {
        const Message& msg = m.messages[r];
        const double y = first_row + static_cast<double>(r) * kRowHeight;
        const double xa = x[column[msg.from]];
        const double xb = x[column[msg.to]];
        const std::string& label = labels[r];
        out += fmt::format("<g class=\"msg {}\" id=\"m{}\" data-row=\"{}\" data-seq=\"{}\">",
                           kind_name(msg.kind), r, r, msg.seq);
        out += fmt::format(
            "<rect class=\"band\" x=\"0\" y=\"{:.1f}\" width=\"{:.0f}\" "
            "height=\"{:.0f}\"/>",
            y - kRowHeight + 8, width, kRowHeight);
        out += fmt::format(
            "<text class=\"num\" x=\"{:.1f}\" y=\"{:.1f}\" "
            "text-anchor=\"end\">{}</text>",
            kGutter, y, r + 1);
        switch (msg.kind) {
            case Message::Call:
            case Message::Return:
            case Message::Resume: {
                double dir = xb >= xa ? 1 : -1;
                out += fmt::format(
                    "<line class=\"arrow\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                    "marker-end=\"url(#{})\"/>",
                    xa, y, xb - dir * 2, y, msg.kind == Message::Return ? "open" : "arrow");
                double lx = std::min(xa, xb) + 8;
                out += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", lx,
                                   y - 6, xml_text(label));
                break;
            }
            case Message::Self:
                out += fmt::format(
                    "<path class=\"arrow\" d=\"M{0:.1f},{1:.1f} h{2:.0f} v12 h-{2:.0f}\" "
                    "fill=\"none\" marker-end=\"url(#arrow)\"/>",
                    xa, y - 8, kSelfWidth);
                out += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>",
                                   xa + kSelfWidth + 6, y - 2, xml_text(label));
                break;
            case Message::Note:
            case Message::Suspend: {
                double w = text_width(label) + 14;
                out += fmt::format(
                    "<rect class=\"box\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"20\" "
                    "rx=\"3\"/><text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>",
                    xa + 6, y - 18, w, xa + 13, y - 4, xml_text(label));
                break;
            }
        }
        out += "</g>\n";
    }
    return out + "</svg>\n";
}

}  // namespace tornado::walkthrough::detail
