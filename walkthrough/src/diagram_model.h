// The renderers' shared model: participants and messages (arrows and
// notes) built once from the events, then written out by each format.
// Private to tornado_walkthrough.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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

/// Between a process's name and a participant's in a trace of several
/// processes: "task 0 · IOStream#2" (a middle dot, in UTF-8).
inline constexpr const char* kProcessSeparator = " \xc2\xb7 ";

/// The lifelines of one process of a trace with several: participants
/// [first, first + count), all named "<name> · ...".
struct ProcessGroup {
    std::string name;  // "task 0": the processes numbered in order of first appearance
    std::size_t first;
    std::size_t count;
};

struct Model {
    std::vector<std::string> participants;
    std::vector<Message> messages;
    /// One per process when the events come from several (several pids);
    /// empty for one process, whose participants have no prefix.
    std::vector<ProcessGroup> groups;
};

/// Participant `i`'s name without its process's prefix ("IOStream#2").
std::string short_name(const Model& m, std::size_t i);

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

/// The kind as a word ("call", "return", "self", "note", "suspend",
/// "resume"): the SVG's class of a message and the viewer's step kind.
const char* kind_name(Message::Kind kind);

/// `s` as XML (and HTML) text or attribute value: & < > " ' escaped,
/// control characters as blanks.
std::string xml_text(std::string_view s);

/// How render_svg groups the lifelines into lanes.
struct SvgOptions {
    /// The lane of each participant ("" for none): the columns of a lane
    /// are drawn side by side in a box named after it, lanes in order of
    /// first appearance. A model with process groups has a lane per process.
    std::vector<std::string> lanes;
};
std::string render_svg(const Model& m, const SvgOptions& options = {});

}  // namespace tornado::walkthrough::detail
