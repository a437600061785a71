// Views and filters: which events of a trace a diagram shows, and on which
// lifelines. C++ only; Tornado has no such module.
//
// A view chooses a level of detail (the notes' chain, one lifeline per
// layer, or every event); filters narrow any view to one request, one
// connection, some layers or a call depth. Selection works on decoded
// trace::Event values only, never on the trace hub's storage.
//
// Guarantees the step-through and the docs rely on:
// - select_events is idempotent: selecting again with the same view and
//   filter returns the same events;
// - it is prefix-stable: selecting a prefix of a trace gives a prefix of the
//   selection of the whole trace (a decision about an event never depends
//   on later events);
// - a kept event whose parent span was dropped gets as parent its nearest
//   kept ancestor (0 when none), so arrows start on the right lifeline.
//
// Each decision is taken at an event's begin and holds for its whole span:
// the end, suspend and resume events of a kept span are kept with it (the
// chain views' exceptions are below), so every selection is a balanced
// trace that every renderer, chrome included, can draw.
//
// The chain and layers views keep:
// - on the server side, the spans of notes_steps() and their suspend/resume
//   events; no instants; HTTP1Connection._format_chunk only when it frames
//   a chunk (its argument chunked=1), since otherwise it passes it through;
// - on the client side, only the client's own steps (layer "client",
//   Client.fetch), without its suspend/resume: its IOStream calls mirror
//   the server's and would double the picture;
// - nothing new of a connection once the server has closed its stream (no
//   begin or resume after BaseIOStream.close): what follows is the
//   unwinding of a closed connection.
// With --request or --conn, an event that does not name its connection or
// request takes them from its parent span (and a request's connection
// events with no request take the request the connection serves at that
// moment); the kept event carries them, so that selecting again agrees.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"

namespace tornado::walkthrough {

/// The level of detail of a diagram.
enum class View {
    Chain,   // only the steps the notes name (steps.h), suspend/resume shown
    Layers,  // the same steps, one lifeline per layer (client, IOLoop, iostream, ...)
    Full,    // every event, one lifeline per object
};

/// "chain", "layers" or "full"; throws std::invalid_argument naming the bad
/// value and the valid ones.
View parse_view(std::string_view name);

/// Narrows any view; the defaults keep everything.
struct Filter {
    std::uint64_t request = 0;        // only events of this request (0: all)
    std::uint64_t conn = 0;           // only events of this connection (0: all)
    std::vector<std::string> layers;  // only these layers ("iostream", "web", ...); empty: all
    int depth = 0;                    // only spans nested at most this deep among the kept
                                      // ones: 1 = roots only (0: any depth)
    bool hide_client = false;         // drop the scripted client's events
    bool hide_loop = false;           // drop the IOLoop's own events
};

/// The layer names --layer accepts: client, ioloop, iostream, httpserver, web.
const std::vector<std::string>& known_layers();

/// The events of `events` that `view` and `filter` keep, in order, with
/// parents re-linked to kept ancestors (see the guarantees above).
std::vector<trace::Event> select_events(const std::vector<trace::Event>& events, View view,
                                        const Filter& filter = {});

}  // namespace tornado::walkthrough
