// A first cut of the views (kept simple until the full implementation lands):
// chain and layers keep the notes' steps and suspend/resume; full keeps all.
#include "tornado/walkthrough/view.h"

#include <stdexcept>

#include "tornado/walkthrough/steps.h"

namespace tornado::walkthrough {

View parse_view(std::string_view name) {
    if (name == "chain") {
        return View::Chain;
    }
    if (name == "layers") {
        return View::Layers;
    }
    if (name == "full") {
        return View::Full;
    }
    throw std::invalid_argument("unknown view '" + std::string(name) +
                                "' (known: chain, layers, full)");
}

std::vector<trace::Event> select_events(const std::vector<trace::Event>& events, View view,
                                        const Filter& filter) {
    (void)filter;
    if (view == View::Full) {
        return events;
    }
    std::vector<trace::Event> out;
    for (const auto& e : events) {
        if (is_notes_step(e.step)) {
            out.push_back(e);
        }
    }
    return out;
}

}  // namespace tornado::walkthrough
