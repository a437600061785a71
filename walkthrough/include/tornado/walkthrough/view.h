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
    std::uint64_t request = 0;         // only events of this request (0: all)
    std::uint64_t conn = 0;            // only events of this connection (0: all)
    std::vector<std::string> layers;   // only these layers ("iostream", "web", ...); empty: all
    int depth = 0;                     // only spans nested at most this deep (0: any depth)
    bool hide_client = false;          // drop the scripted client's events
    bool hide_loop = false;            // drop the IOLoop's own events
};

/// The events of `events` that `view` and `filter` keep, in order, with
/// parents re-linked to kept ancestors (see the guarantees above).
std::vector<trace::Event> select_events(const std::vector<trace::Event>& events, View view,
                                        const Filter& filter = {});

}  // namespace tornado::walkthrough
