// The mirrored steps the notes name in their call listings, each with its
// explanation in our own words. One table for `--view chain`, `explain`,
// `step` and the docs. C++ only; Tornado has no such module.
//
// The explanations are written in one place, docs/steps.md (one "## Step"
// section each), which the build embeds into the program: the docs link to
// it and `explain` and `step` print from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tornado::walkthrough {

/// One step the notes teach.
struct StepInfo {
    std::string step;         // the trace step: "BaseIOStream.read_until_regex"
    std::string layer;        // "iostream"
    std::string py;           // "tornado/iostream.py BaseIOStream.read_until_regex"
    std::string explanation;  // its section of docs/steps.md ("" when it has none)
};

/// Every step of the chain, in the order a request meets them.
const std::vector<StepInfo>& notes_steps();

/// The step named `step` ("BaseIOStream.read_until_regex"; the bare method
/// name "read_until_regex" also finds it when unambiguous), or nullptr.
const StepInfo* find_step(std::string_view step);

/// True when `step` is one of notes_steps().
bool is_notes_step(std::string_view step);

/// Up to `n` step names closest to `step` (edit distance), for an error
/// message that lists the nearest names.
std::vector<std::string> nearest_steps(std::string_view step, std::size_t n = 5);

/// Every step whose method name (after the last '.') is `method`, in
/// notes order: what an ambiguous bare name such as "finish" could mean.
std::vector<std::string> steps_with_method(std::string_view method);

/// The text of docs/steps.md as it was when the program was built.
std::string_view steps_document();

/// One "## Class.method" section of a steps document: the step it explains
/// and its text (Markdown; blank lines at either end removed).
struct StepSection {
    std::string step;
    std::string text;
};

/// The "## " sections of `markdown`, in order; text before the first
/// section (the document's introduction) is not a section.
std::vector<StepSection> parse_steps_document(std::string_view markdown);

}  // namespace tornado::walkthrough
