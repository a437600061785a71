// Drawing a trace: ASCII sequence diagrams for the terminal, Mermaid and
// PlantUML for documents, the notes' "chain" listing, and JSON Lines.
//
// Participants are the traced objects (IOStream#2, HTTP1Connection#1, ...),
// in order of first appearance, with the client first and the IOLoop second.
// A begin event is a call from the span that was running (or from the
// IOLoop) to the event's object; an end event is the return; S and R show a
// coroutine suspending at co_await and the IOLoop resuming it.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"

namespace tornado::walkthrough {

enum class Format { Ascii, Mermaid, PlantUml, Chain, Jsonl };

/// "ascii", "mermaid", "plantuml", "chain" or "jsonl"; throws
/// std::invalid_argument naming the bad value and the valid ones.
Format parse_format(std::string_view name);

/// Reads the JSON Lines trace format; throws std::runtime_error("line N: ...")
/// for a line that is not a JSON object or lacks seq, step or ph.
std::vector<trace::Event> read_jsonl(std::istream& in);

struct RenderOptions {
    /// Draw return arrows for calls between participants.
    bool show_returns = true;
    /// Keep the IOLoop's own events (add_handler, poll results...).
    bool show_loop_events = true;
};

std::string render(const std::vector<trace::Event>& events, Format format,
                   const RenderOptions& options = {});

}  // namespace tornado::walkthrough
