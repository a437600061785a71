// The ASCII sequence diagram: one column per lifeline, one line per message,
// fitted to a width by narrowing the columns and abbreviating names and
// labels (never an arrow).
#include <algorithm>
#include <cctype>

#include "diagram_model.h"

namespace tornado::walkthrough::detail {

namespace {

constexpr std::size_t kMargin = 6;  // the sequence number column
constexpr std::size_t kMaxName = 15;
constexpr std::size_t kMinColumn = 7;

// The header name of a participant on at most two lines, split where a
// new word starts ("HTTP1Server" / "Connection"), "~" marking a cut.
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

// `full` if it fits in `room` columns, else the label without its
// arguments, else that label cut with a "~".
std::string abbreviate(const std::string& full, const std::string& shorter, std::size_t room) {
    if (full.size() <= room) {
        return full;
    }
    if (!shorter.empty() && shorter.size() <= room) {
        return shorter;
    }
    const std::string& base = shorter.empty() ? full : shorter;
    if (room < 2) {
        return "";
    }
    return base.substr(0, room - 1) + "~";
}

const char* colour_of(Message::Kind kind) {
    switch (kind) {
        case Message::Call:
        case Message::Self:
            return "\x1b[36m";  // cyan
        case Message::Return:
            return "\x1b[2m";  // dim
        case Message::Resume:
            return "\x1b[32m";  // green
        case Message::Suspend:
            return "\x1b[33m";  // yellow
        case Message::Note:
            return "\x1b[2m";
    }
    return "";
}

}  // namespace

bool ascii_fits(const Model& m, std::size_t width) {
    return kMargin + m.participants.size() * kMinColumn <= width;
}

std::string render_ascii(const Model& m, const RenderOptions& options) {
    const std::size_t limit = options.width;
    const std::size_t n = m.participants.size();
    std::vector<std::size_t> widths;
    std::size_t max_name = kMaxName;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t w = 9;
        for (const auto& l : header_lines(short_name(m, i), kMaxName)) {
            w = std::max(w, l.size() + 3);
        }
        widths.push_back(w);
    }
    std::size_t natural = kMargin;
    for (std::size_t w : widths) {
        natural += w;
    }
    if (limit > 0 && natural > limit && n > 0) {
        // Too wide: every column gets an equal share of what there is.
        std::size_t column = std::max(kMinColumn, (limit > kMargin ? limit - kMargin : 0) / n);
        std::fill(widths.begin(), widths.end(), column);
        max_name = column - 1;
    }
    std::vector<std::vector<std::string>> names;
    std::vector<std::size_t> centre;
    std::vector<std::size_t> column_start;
    std::size_t line_width = kMargin;
    for (std::size_t i = 0; i < n; ++i) {
        // With several processes, the group row above names the process.
        names.push_back(header_lines(short_name(m, i), max_name));
        column_start.push_back(line_width);
        centre.push_back(line_width + widths[i] / 2);
        line_width += widths[i];
    }
    // The widest a line may get: the limit, or (no limit) anything.
    const std::size_t right = limit > 0 ? std::max(limit, line_width) : std::string::npos;
    auto x = [&](std::size_t i) { return centre[i]; };

    auto blank = [&]() {
        std::string line(line_width, ' ');
        for (std::size_t i = 0; i < n; ++i) {
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
        return s;
    };
    std::string out;
    auto emit = [&](const std::string& line, const char* colour, bool with_seq) {
        std::string s = trim(line);
        if (!options.color || s.empty()) {
            out += s + "\n";
            return;
        }
        std::size_t split = with_seq ? std::min(kMargin, s.size()) : 0;
        if (split > 0) {
            out += "\x1b[2m" + s.substr(0, split) + "\x1b[0m";
        }
        out += std::string(colour) + s.substr(split) + "\x1b[0m\n";
    };
    // A label that does not fit where it belongs goes on a line of its own
    // above the message, starting at `col` or moved left to end by the limit.
    auto label_above = [&](const Message& msg, std::size_t col) {
        std::size_t room = right == std::string::npos ? msg.text.size() : right - kMargin;
        std::string label = abbreviate(msg.text, msg.method, room);
        if (right != std::string::npos && col + label.size() > right) {
            col = right - label.size();
        }
        std::string above = blank();
        put(above, col, label);
        emit(above, colour_of(msg.kind), false);
    };

    // Several processes: a row naming each one above its lifelines,
    // "+---- task 0 ----+" across their columns.
    if (!m.groups.empty()) {
        std::string row(line_width, ' ');
        for (const ProcessGroup& g : m.groups) {
            if (g.count == 0) {
                continue;
            }
            std::size_t from = column_start[g.first];
            std::size_t to = column_start[g.first + g.count - 1] + widths[g.first + g.count - 1];
            std::string label = " " + g.name + " ";
            std::size_t span = to - from - 1;  // a blank column between groups
            if (span < label.size() + 2) {
                put(row, from, g.name.substr(0, span));
                continue;
            }
            std::string bar = "+" + std::string(span - 2, '-') + "+";
            bar.replace((span - label.size()) / 2, label.size(), label);
            put(row, from, bar);
        }
        emit(row, "\x1b[1m", false);
    }
    // Header: each name centred on its lifeline, on one or two lines.
    for (std::size_t row = 0; row < 2; ++row) {
        std::string header(line_width, ' ');
        bool any = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (row < names[i].size()) {
                const std::string& name = names[i][row];
                put(header, x(i) - std::min(x(i) - (i == 0 ? kMargin : 0), name.size() / 2), name);
                any = true;
            }
        }
        if (any) {
            emit(header, "\x1b[1m", false);
        }
    }
    emit(blank(), "", false);

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
                if (!msg.text.empty()) {
                    std::string label = " " + msg.text + " ";
                    std::string shorter = " " + msg.method + " ";
                    if (label.size() + 4 <= hi - lo) {
                        put(line, lo + 3, label);  // on the arrow
                    } else if (shorter.size() + 4 <= hi - lo && right != std::string::npos) {
                        put(line, lo + 3, shorter);
                    } else {
                        label_above(msg, lo + 2);
                    }
                }
                break;
            }
            case Message::Self:
            case Message::Note:
            case Message::Suspend: {
                std::string lead = msg.kind == Message::Self ? "+-- " : " : ";
                std::size_t col = msg.kind == Message::Self ? a : a + 1;
                std::size_t room = std::string::npos;
                if (right != std::string::npos) {
                    room = right > col + lead.size() ? right - col - lead.size() : 0;
                }
                if (right != std::string::npos && room < 12 &&
                    std::min(msg.text.size(), msg.method.size()) > room) {
                    // Too close to the right edge: the label goes above.
                    label_above(msg, col + lead.size());
                    put(line, col, lead.substr(0, lead.find_last_not_of(' ') + 1));
                } else {
                    std::string text = room == std::string::npos
                                           ? msg.text
                                           : abbreviate(msg.text, msg.method, room);
                    put(line, col, lead + text);
                }
                break;
            }
        }
        emit(line, colour_of(msg.kind), true);
    }
    return out;
}

}  // namespace tornado::walkthrough::detail
