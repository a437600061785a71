// Compiled regular expressions for read_until_regex and URL routes.
//
// C++ only: Tornado uses Python's `re`. This wraps PCRE2 (JIT-compiled),
// which accepts Python's `(?P<name>...)` groups unchanged. A pattern with no
// regex syntax at all is matched with a plain substring search instead.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tornado::re {

/// The groups of one match: index 0 is the whole match; a group that did
/// not take part in the match is std::nullopt (Python's None).
struct Match {
    std::vector<std::optional<std::string_view>> groups;
};

class Pattern {
  public:
    enum Flags : unsigned { NONE = 0, ANCHORED = 1 };

    /// Compiles `pattern`; throws std::invalid_argument with PCRE2's message
    /// and offset if it is not a valid expression. ANCHORED makes every
    /// match start at the search offset (Python's re.match).
    explicit Pattern(std::string pattern, unsigned flags = NONE);
    ~Pattern();
    Pattern(Pattern&& other) noexcept;
    Pattern& operator=(Pattern&& other) noexcept;
    /// Copies share nothing: the compiled code is duplicated (and JIT-compiled again).
    Pattern(const Pattern& other);
    Pattern& operator=(const Pattern& other);

    /// The [start, end) offsets of the first match at or after `offset`
    /// (Python's pattern.search(subject, offset)).
    std::optional<std::pair<std::size_t, std::size_t>> search(std::string_view subject,
                                                              std::size_t offset = 0) const;

    /// What search_resumable() found.
    struct Resumable {
        /// The same match search(subject, offset) gives, if any.
        std::optional<std::pair<std::size_t, std::size_t>> match;
        /// Without a match: no match can start before this offset, whatever
        /// is appended to `subject` later, so the next search starts here.
        std::size_t resume = 0;
        /// Instrumentation for tests and benches: the bytes from the start
        /// offsets of the searches run to where each stopped, summed.
        std::size_t examined = 0;
    };
    /// search(), for a subject that is the start of a stream still being
    /// read. C++ only: PCRE2's hard partial matching (PCRE2_PARTIAL_HARD)
    /// reports where a match that needs more data would begin; a literal
    /// pattern resumes (size - 1) bytes before the end. An ANCHORED
    /// pattern always resumes at `offset`.
    Resumable search_resumable(std::string_view subject, std::size_t offset = 0) const;

    /// Matches at the start of `subject` (the pattern must have been
    /// compiled ANCHORED for Python's re.match), filling `m` with the groups.
    bool match(std::string_view subject, Match& m) const;

    const std::string& pattern() const { return pattern_; }
    /// Number of capturing groups.
    int groups() const { return group_count_; }
    /// The name of each group (index 1..groups()); empty for unnamed ones.
    const std::vector<std::string>& group_names() const { return group_names_; }
    /// True when the pattern is a fixed string matched without PCRE2.
    bool is_literal() const { return literal_.has_value(); }
    bool anchored() const { return (flags_ & ANCHORED) != 0; }

  private:
    std::string pattern_;
    unsigned flags_ = NONE;
    void* code_ = nullptr;  // pcre2_code_8*
    int group_count_ = 0;
    std::vector<std::string> group_names_;
    std::optional<std::string> literal_;
};

}  // namespace tornado::re
