// The renderers' shared model: participants and messages (arrows and
// notes) built once from the events, then written out by each format.
// Private to tornado_walkthrough.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"

namespace tornado::walkthrough::detail {

/// One arrow or note of a sequence diagram, whatever the output format.
struct Message {
    enum Kind { Call, Return, Self, Note, Suspend, Resume };
    Kind kind;
    std::uint64_t seq;
    std::size_t from;
    std::size_t to;
    std::string text;    // the label: "read_until_regex(max_bytes=8192)"
    std::string method;  // the label without arguments: "read_until_regex"
};

struct Model {
    std::vector<std::string> participants;
    std::vector<Message> messages;
};

/// True for the kinds drawn as arrows (calls, returns, self calls, resumes).
bool is_arrow(Message::Kind kind);

Model build_model(const std::vector<trace::Event>& events, const RenderOptions& options);

/// "(fd=7, bytes=244)", or "" when the event has no arguments worth showing.
std::string format_args(const trace::Event& e);

/// "read_until_regex" for "BaseIOStream.read_until_regex".
std::string method_of(const std::string& step);

std::string render_ascii(const Model& m, const RenderOptions& options);
/// True when the lifelines of `m` fit `width` columns, however narrow.
bool ascii_fits(const Model& m, std::size_t width);
std::string render_mermaid(const Model& m, const RenderOptions& options);
std::size_t mermaid_part_count(const Model& m);
std::string render_plantuml(const Model& m);
std::string render_dot(const Model& m);
std::string render_chrome(const std::vector<trace::Event>& events);

}  // namespace tornado::walkthrough::detail
