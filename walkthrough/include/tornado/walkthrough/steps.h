// The mirrored steps the notes name in their call listings, each with its
// explanation in our own words. One table for `--view chain`, `explain`,
// `step` and the docs. C++ only; Tornado has no such module.
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
    std::string explanation;  // a few sentences, plain text
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

}  // namespace tornado::walkthrough
