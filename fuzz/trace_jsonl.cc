// Fuzz target: the JSON Lines trace reader behind `tornado-walk render FILE`
// (and `step FILE`), walkthrough::read_jsonl, and the renderers it feeds.
//
// Feeds: arbitrary bytes as the content of a .jsonl trace file.
// Asserts, beyond "no crash":
//  - read_jsonl either returns events or throws std::runtime_error whose
//    message starts with "line N: " (no other exception escapes);
//  - what it accepts, written back with trace::to_json one event per line,
//    reads back to the same events (compared by their JSON form), and that
//    form is stable (a second round trip gives the same text);
//  - a short accepted trace renders in every format without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"

#include "fuzz_check.h"

namespace {

using tornado::trace::Event;

std::string write_jsonl(const std::vector<Event>& events) {
    std::string out;
    for (const Event& e : events) {
        out += tornado::trace::to_json(e);
        out += '\n';
    }
    return out;
}

std::vector<Event> read(const std::string& text) {
    std::istringstream in(text);
    return tornado::walkthrough::read_jsonl(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<Event> events;
    try {
        events = read(text);
    } catch (const std::runtime_error& ex) {
        FUZZ_CHECK(std::string(ex.what()).starts_with("line "));
        return 0;
    }
    std::string once = write_jsonl(events);
    std::vector<Event> again;
    try {
        again = read(once);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "re-reading what read_jsonl accepted failed: %s\n", ex.what());
        std::abort();
    }
    FUZZ_CHECK(again.size() == events.size());
    // Written, read and written again: the same bytes (bytes past ASCII
    // included: read_jsonl maps \u0080-\u00ff back to the bytes to_json wrote).
    FUZZ_CHECK(write_jsonl(again) == once);

    if (!events.empty() && events.size() <= 64) {
        using tornado::walkthrough::Format;
        for (Format f : {Format::Ascii, Format::Mermaid, Format::PlantUml, Format::Dot,
                         Format::Chrome, Format::Chain, Format::Jsonl}) {
            try {
                (void)tornado::walkthrough::render(events, f);
            } catch (const std::exception& ex) {
                std::fprintf(stderr, "render of an accepted trace threw: %s\n", ex.what());
                std::abort();
            }
        }
        tornado::walkthrough::RenderOptions narrow;
        narrow.width = 60;
        (void)tornado::walkthrough::render(events, Format::Ascii, narrow);
    }
    return 0;
}
