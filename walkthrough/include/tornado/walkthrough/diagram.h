// Drawing a trace: ASCII sequence diagrams for the terminal, Mermaid and
// PlantUML for documents, a Graphviz digraph, SVG laid out by us (the
// browser viewer's drawing), Trace Event JSON for Perfetto
// and chrome://tracing, the notes' "chain" listing, and JSON Lines.
//
// Participants are the traced objects (IOStream#2, HTTP1Connection#1, ...),
// in order of first appearance, with the client first and the IOLoop second;
// with Lifelines::Layers they are the layers instead (client, IOLoop,
// iostream, httpserver, web). A begin event is a call from the span that was
// running (or from the IOLoop) to the event's object; an end event is the
// return; S and R show a coroutine suspending at co_await and the IOLoop
// resuming it.
//
// The renderers draw what they are given: choose the events first with
// select_events (view.h). They work on decoded trace::Event values only.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"

namespace tornado::walkthrough {

enum class Format { Ascii, Mermaid, PlantUml, Dot, Svg, Chrome, Chain, Jsonl };

/// "ascii", "mermaid", "plantuml", "dot", "svg", "chrome", "chain" or "jsonl";
/// throws std::invalid_argument naming the bad value and the valid ones.
Format parse_format(std::string_view name);

/// True for the formats that draw a sequence diagram (ascii, mermaid,
/// plantuml, dot, svg): the ones whose default view is the chain.
bool is_diagram_format(Format format);

/// Reads the JSON Lines trace format; throws std::runtime_error("line N: ...")
/// for a line that is not a JSON object or lacks seq, step or ph, and for a
/// last line cut short (no newline and not a complete object).
std::vector<trace::Event> read_jsonl(std::istream& in);

/// What the lifelines of a diagram are.
enum class Lifelines {
    Objects,  // one per traced object
    Classes,  // one per class: the objects of a class share one
    Layers,   // one per layer: client, IOLoop, iostream, httpserver, web
};

/// Mermaid's default limits (mermaid.initialize's maxTextSize and maxEdges):
/// a larger diagram is refused by the renderer.
inline constexpr std::size_t kMermaidMaxTextSize = 50000;
inline constexpr std::size_t kMermaidMaxArrows = 500;

/// PlantUML (Debian's 1.2020.2) crops an image past 4096 pixels
/// (PLANTUML_LIMIT_SIZE) without a word: a page of a sequence diagram holds at
/// most this many messages before `newpage` starts the next one.
inline constexpr std::size_t kPlantUmlMessagesPerPage = 100;

struct RenderOptions {
    /// Draw return arrows for calls between participants.
    bool show_returns = true;
    /// Keep the IOLoop's own events (add_handler, poll results...).
    bool show_loop_events = true;
    Lifelines lifelines = Lifelines::Objects;
    /// ASCII: fit lines into this many columns, abbreviating names and
    /// labels (0: no limit). When the lifelines cannot fit even so, objects
    /// of a class share one (then layers do), and a first line says so.
    std::size_t width = 0;
    /// ASCII: ANSI colours.
    bool color = false;
    /// Mermaid: which part to draw (1-based) when the diagram is split to
    /// stay within Mermaid's limits; 0 draws the first. Every part of a split
    /// diagram says so in a note, with the number of parts.
    std::size_t part = 0;
};

std::string render(const std::vector<trace::Event>& events, Format format,
                   const RenderOptions& options = {});

/// How many parts the Mermaid diagram of `events` is split into (1 when it
/// fits Mermaid's limits).
std::size_t mermaid_parts(const std::vector<trace::Event>& events,
                          const RenderOptions& options = {});

}  // namespace tornado::walkthrough
