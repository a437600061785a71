// Going through a trace one event at a time: the state and the commands of
// `tornado-walk step`, turned into screens of text. C++ only; Tornado has no
// such module.
//
// A StepSession knows nothing about terminals: the command line feeds it one
// command at a time (a key, or a line from a pipe) and prints the screens it
// returns, so a test drives it exactly as a student does.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"

namespace tornado::walkthrough {

/// How a screen is laid out and where the C++ source is read from.
struct StepOptions {
    int width = 100;          // columns of a screen
    int height = 40;          // rows of a screen; the diagram gets what the rest leaves
    std::string source_root;  // the tree the events' "src" paths are relative to ("" = none)
    int lines_before = 3;     // source lines shown above the event's line
    int lines_after = 2;      // and below it
    Lifelines lifelines = Lifelines::Objects;  // the diagram's lifelines (Layers for --view layers)
};

/// What one command did.
struct StepOutcome {
    bool quit = false;    // q (the caller also quits at the end of its input)
    bool moved = false;   // the current step changed: show screen()
    std::string message;  // one line for the user, e.g. "step 31/31 is the last step"
};

/// The keys, as one line for the bottom of a screen and for hints.
inline constexpr std::string_view kStepKeys =
    "keys: Enter/n next  b back  r request  s suspend/resume  g first  e last  N Enter jump  q "
    "quit";

class StepSession {
  public:
    /// Steps through `events`, the events a view and filter kept
    /// (select_events), starting at the first.
    StepSession(std::vector<trace::Event> events, StepOptions options);

    /// The number of steps, and the current one (1-based; 0 when empty).
    std::size_t size() const { return events_.size(); }
    std::size_t current() const { return events_.empty() ? 0 : pos_ + 1; }
    const trace::Event& event() const { return events_.at(pos_); }

    /// Applies one command, its surrounding blanks ignored: "" (Enter), " "
    /// or "n" next, "b" back, "r" the next request's first event, "s" the
    /// next suspend or resume, "g" first, "e" last, a number that step, "q"
    /// quit. Anything else leaves the step where it is and says which keys
    /// work; so does a move past either end.
    StepOutcome command(std::string_view input);

    /// The screen of the current step: a line "step N/M ...", the tail of
    /// the diagram so far, the event, its C++ location with source lines,
    /// the Tornado method it mirrors and its explanation (docs/steps.md);
    /// `message`, when given, goes above the keys line.
    std::string screen(std::string_view message = {}) const;

    /// A new screen size (a terminal was resized).
    void resize(int width, int height);

  private:
    std::string diagram_so_far(int rows) const;
    std::string source_block() const;
    const std::vector<std::string>* source_lines() const;
    std::string explanation_block() const;
    StepOutcome go(std::size_t pos);

    std::vector<trace::Event> events_;
    StepOptions options_;
    std::size_t pos_ = 0;
    // Source files already read, by path: a session shows many lines of few files.
    mutable std::map<std::string, std::vector<std::string>> files_;
};

/// What an event of phase `ph` means, in a student's words ("call: the
/// method begins").
const char* phase_meaning(trace::Phase ph);

/// The Tornado method an event mirrors as the docs write it
/// ("tornado/iostream.py BaseIOStream.read_until_regex"), or "none..." for
/// the scenario's client and our own steps.
std::string tornado_location(const trace::Event& e);

/// The citation of `step` among a source file's `lines` ("// Tornado:
/// tornado/iostream.py:696 BaseIOStream._try_inline_read", STYLE.md) as
/// "tornado/iostream.py:696 BaseIOStream._try_inline_read", or "" when the
/// file has none with a 4.5.2 line.
std::string cited_tornado(const std::vector<std::string>& lines, std::string_view step);

/// Where the C++ mirror of `step` is defined under `source_root`: the
/// "file:line" of the code under its citation comment ("// Tornado:
/// tornado/iostream.py BaseIOStream.write", STYLE.md), searched in the
/// layers' src/ and include/ folders; "" when there is none or no tree.
/// `citation`, when given, receives what the comment cites after "// Tornado: "
/// ("tornado/iostream.py:820 BaseIOStream.write").
std::string cited_definition(const std::string& source_root, std::string_view step,
                             std::string_view py_file, std::string* citation = nullptr);

/// Keeps a rendered ASCII diagram within `width` columns and `rows` lines:
/// its participant header, then its last lines (an elision line says how
/// many were left out). Lines longer than `width` are cut.
std::string fit_diagram(std::string_view diagram, int width, int rows);

/// `text` wrapped to `width` columns, paragraph by paragraph (blank lines
/// kept); lines that start with blanks or "- " keep their own line breaks.
std::string wrap_text(std::string_view text, int width, std::string_view indent = {});

}  // namespace tornado::walkthrough
