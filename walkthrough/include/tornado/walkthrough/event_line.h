// One trace event as one line a person reads: what `serve --trace -` prints
// and the event summary of `step`. C++ only; Tornado has no such module.
#pragma once

#include <string>

#include "tornado/trace.h"

namespace tornado::walkthrough {

/// "#42 B  BaseIOStream.read_until_regex  IOStream#2  conn=1 req=1  (max_bytes=65536)"
/// with the phase spelt as a short word: call, return, note, suspend, resume.
/// No newline; the same event always gives the same line.
std::string event_line(const trace::Event& e);

/// The event's arguments as "key=value, key=value" (strings as they are).
std::string event_args(const trace::Event& e);

/// "call", "return", "note", "suspend" or "resume".
const char* phase_word(trace::Phase ph);

}  // namespace tornado::walkthrough
