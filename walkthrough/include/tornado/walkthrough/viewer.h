// The browser viewer: one self-contained HTML page that steps through a
// trace's sequence diagram arrow by arrow, with the event, its C++ source,
// the Tornado method it mirrors and its explanation beside it. C++ only;
// Tornado has no such module.
//
// The page holds everything it shows: the diagrams (SVG drawn by
// render_svg, one per view and filter), the events, the source excerpts
// read at generation time and the explanations of docs/steps.md. It loads
// nothing, so it works from a file, a mail attachment or a projector with no
// network. `tornado-walk view` writes it; `serve --ui` serves it for the
// flight recorder, and then the page also asks the server whether requests
// arrived since, and reloads when they did.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tornado/trace.h"

namespace tornado::walkthrough {

struct ViewerOptions {
    std::string title;        // what the trace is: "hello", "trace.jsonl"
    std::string source_root;  // the tree the events' "src" paths are relative to ("" = none)
    int lines_before = 4;     // source lines shown above an event's line
    int lines_after = 4;      // and below it
    /// serve --ui: a path on the same server that answers the number of
    /// requests the recorder has seen; the page polls it and reloads when
    /// it is no longer `live_count`. "" for a static page.
    std::string live_url;
    std::uint64_t live_count = 0;
};

/// The page for `events` (a whole trace: the page selects its own views).
/// Views: chain, layers, full; filters: all, each request, each connection.
/// The initial one is the chain of everything, or what the URL names
/// (#step=N&view=V&filter=F).
std::string render_viewer(const std::vector<trace::Event>& events, const ViewerOptions& options);

}  // namespace tornado::walkthrough
