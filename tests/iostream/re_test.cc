// re::Pattern: the literal fast path, search offsets, anchored matches with
// positional and named groups, errors and copies.
#include "tornado/re.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tornado::re {
namespace {

using Span = std::optional<std::pair<std::size_t, std::size_t>>;

Span at(std::size_t start, std::size_t end) {
    return std::make_pair(start, end);
}

TEST(PatternTest, PlainDelimiterUsesLiteralFastPath) {
    const Pattern p("\r\n\r\n");
    EXPECT_TRUE(p.is_literal());
    EXPECT_EQ(p.pattern(), "\r\n\r\n");
    EXPECT_EQ(p.groups(), 0);
    const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
    EXPECT_EQ(p.search(head), at(23, 27));
    EXPECT_EQ(p.search(head, 23), at(23, 27));
    EXPECT_EQ(p.search(head, 24), std::nullopt);
    EXPECT_EQ(p.search("GET / HTTP/1.1\r\nHost: x\r\n\r"), std::nullopt);
    EXPECT_EQ(p.search(head, head.size() + 1), std::nullopt);
}

TEST(PatternTest, RegexSyntaxIsNotLiteral) {
    EXPECT_FALSE(Pattern(R"(\r\n\r\n)").is_literal());
    EXPECT_FALSE(Pattern("a.c").is_literal());
    EXPECT_FALSE(Pattern("(a)").is_literal());
    EXPECT_FALSE(Pattern("a+").is_literal());
    EXPECT_FALSE(Pattern("^a").is_literal());
    // The escaped form finds the same delimiter as the literal one.
    const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
    EXPECT_EQ(Pattern(R"(\r\n\r\n)").search(head), Pattern("\r\n\r\n").search(head));
}

TEST(PatternTest, SearchReturnsOffsetsOfFirstMatchAtOrAfterOffset) {
    const Pattern p("b+");
    EXPECT_FALSE(p.is_literal());
    const std::string s = "aabbbcbb";
    EXPECT_EQ(p.search(s), at(2, 5));
    EXPECT_EQ(p.search(s, 3), at(3, 5));
    EXPECT_EQ(p.search(s, 5), at(6, 8));
    EXPECT_EQ(p.search(s, 8), std::nullopt);
    EXPECT_EQ(p.search(s, 9), std::nullopt);
    EXPECT_EQ(p.search("xyz"), std::nullopt);
    // A match may be empty.
    EXPECT_EQ(Pattern("x*").search("abc", 1), at(1, 1));
}

TEST(PatternTest, AnchoredSearchMatchesOnlyAtOffset) {
    const Pattern regex("b+", Pattern::ANCHORED);
    EXPECT_EQ(regex.search("abb"), std::nullopt);
    EXPECT_EQ(regex.search("abb", 1), at(1, 3));
    const Pattern literal("bc", Pattern::ANCHORED);
    ASSERT_TRUE(literal.is_literal());
    EXPECT_EQ(literal.search("abc"), std::nullopt);
    EXPECT_EQ(literal.search("abc", 1), at(1, 3));
}

TEST(PatternTest, AnchoredMatchFillsPositionalAndNamedGroups) {
    const Pattern p(R"(/(\w+)/(?P<id>\d+))", Pattern::ANCHORED);
    ASSERT_FALSE(p.is_literal());
    EXPECT_EQ(p.groups(), 2);
    EXPECT_EQ(p.group_names(), (std::vector<std::string>{"", "", "id"}));

    Match m;
    ASSERT_TRUE(p.match("/users/42", m));
    ASSERT_EQ(m.groups.size(), 3U);
    EXPECT_EQ(m.groups[0], std::optional<std::string_view>("/users/42"));
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("users"));
    EXPECT_EQ(m.groups[2], std::optional<std::string_view>("42"));

    // Python's re.match: anchored at the start, not at the end.
    ASSERT_TRUE(p.match("/users/42/edit", m));
    EXPECT_EQ(m.groups[0], std::optional<std::string_view>("/users/42"));

    EXPECT_FALSE(p.match("x/users/42", m));
    EXPECT_FALSE(p.match("/users/", m));
}

TEST(PatternTest, UnanchoredMatchStillMatchesOnlyAtStart) {
    const Pattern p(R"((\d+)-(\d+))");
    Match m;
    EXPECT_FALSE(p.match("x12-34", m));
    ASSERT_TRUE(p.match("12-34x", m));
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("12"));
    EXPECT_EQ(m.groups[2], std::optional<std::string_view>("34"));
    const Pattern literal("abc");
    ASSERT_TRUE(literal.match("abcdef", m));
    ASSERT_EQ(m.groups.size(), 1U);
    EXPECT_EQ(m.groups[0], std::optional<std::string_view>("abc"));
    EXPECT_FALSE(literal.match("xabc", m));
}

TEST(PatternTest, NonParticipatingGroupIsNullopt) {
    Match m;
    // A skipped group before one that matched...
    const Pattern before(R"((a)?(b))", Pattern::ANCHORED);
    ASSERT_TRUE(before.match("b", m));
    ASSERT_EQ(m.groups.size(), 3U);
    EXPECT_EQ(m.groups[1], std::nullopt);
    EXPECT_EQ(m.groups[2], std::optional<std::string_view>("b"));
    // ...and a skipped group at the end.
    const Pattern after(R"((a)(?P<tail>b)?)", Pattern::ANCHORED);
    ASSERT_TRUE(after.match("a", m));
    ASSERT_EQ(m.groups.size(), 3U);
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("a"));
    EXPECT_EQ(m.groups[2], std::nullopt);
    // A group that matched the empty string is "", not nullopt.
    const Pattern empty(R"((a*)b)", Pattern::ANCHORED);
    ASSERT_TRUE(empty.match("b", m));
    ASSERT_TRUE(m.groups[1].has_value());
    EXPECT_EQ(*m.groups[1], "");
}

TEST(PatternTest, ManyGroupsAreAllReported) {
    // More groups than the cached match data holds.
    std::string pattern;
    std::string subject;
    for (int i = 0; i < 40; ++i) {
        pattern += "(.)";
        subject += static_cast<char>('A' + i % 26);
    }
    const Pattern p(pattern, Pattern::ANCHORED);
    EXPECT_EQ(p.groups(), 40);
    Match m;
    ASSERT_TRUE(p.match(subject, m));
    ASSERT_EQ(m.groups.size(), 41U);
    EXPECT_EQ(m.groups[0], std::optional<std::string_view>(subject));
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("A"));
    EXPECT_EQ(m.groups[40], std::optional<std::string_view>(subject.substr(39, 1)));
    EXPECT_EQ(p.search("xx" + subject), at(0, 40));
}

TEST(PatternTest, InvalidRegexThrowsInvalidArgument) {
    EXPECT_THROW(Pattern("(abc"), std::invalid_argument);
    EXPECT_THROW(Pattern("a[b"), std::invalid_argument);
    EXPECT_THROW(Pattern("(?P<id>a)(?P<id>b)"), std::invalid_argument);
    try {
        Pattern bad("x(");
        ADD_FAILURE() << "compiled an unbalanced pattern";
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("x("), std::string::npos) << what;
        EXPECT_NE(what.find("offset"), std::string::npos) << what;
    }
}

TEST(PatternTest, CopiesWorkIndependentlyOfTheOriginal) {
    auto original = std::make_unique<Pattern>(R"((\d+)-(?P<n>\d+))", Pattern::ANCHORED);
    Pattern copy(*original);
    Pattern assigned("unrelated");
    assigned = *original;
    original.reset();  // the copies own their compiled code

    Match m;
    ASSERT_TRUE(copy.match("12-34", m));
    EXPECT_EQ(m.groups[2], std::optional<std::string_view>("34"));
    EXPECT_EQ(copy.group_names(), (std::vector<std::string>{"", "", "n"}));
    EXPECT_FALSE(copy.is_literal());
    ASSERT_TRUE(assigned.match("5-6", m));
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("5"));
    EXPECT_EQ(assigned.pattern(), R"((\d+)-(?P<n>\d+))");
    EXPECT_FALSE(assigned.match("x5-6", m));  // still anchored

    // Moving leaves a working target.
    Pattern moved(std::move(copy));
    ASSERT_TRUE(moved.match("7-8", m));
    EXPECT_EQ(m.groups[1], std::optional<std::string_view>("7"));
    // A copy of a literal pattern stays literal.
    auto literal = std::make_unique<Pattern>("\r\n");
    Pattern literal_copy(*literal);
    literal.reset();
    EXPECT_TRUE(literal_copy.is_literal());
    EXPECT_EQ(literal_copy.search("a\r\nb"), at(1, 3));
}

}  // namespace
}  // namespace tornado::re

namespace tornado::re {
namespace {

// search_resumable: where the next search of a growing subject may start.
TEST(PatternTest, SearchResumableResumesWhereAMatchCouldStillBegin) {
    const Pattern regex("\r?\n\r?\n");
    ASSERT_FALSE(regex.is_literal());
    EXPECT_EQ(regex.search_resumable("abc").resume, 3U);
    EXPECT_EQ(regex.search_resumable("abc\r").resume, 3U);
    EXPECT_EQ(regex.search_resumable("abc\r\n").resume, 3U);
    EXPECT_EQ(regex.search_resumable("abc\r\nx").resume, 6U);
    EXPECT_EQ(regex.search_resumable("abc\r\nx\n\r", 6).resume, 6U);
    Pattern::Resumable found = regex.search_resumable("abc\r\n\r\nz", 3);
    EXPECT_EQ(found.match, at(3, 7));
    EXPECT_EQ(found.examined, 4U);

    const Pattern literal("\r\n\r\n");
    ASSERT_TRUE(literal.is_literal());
    EXPECT_EQ(literal.search_resumable("abc\r\n").resume, 2U);
    EXPECT_EQ(literal.search_resumable("ab").resume, 0U);
    EXPECT_EQ(literal.search_resumable("abcdefgh", 6).resume, 6U);
    EXPECT_EQ(literal.search_resumable("x\r\n\r\n").match, at(1, 5));

    // An anchored pattern never moves on: it must match at the offset.
    EXPECT_EQ(Pattern("a.c", Pattern::ANCHORED).search_resumable("xyz").resume, 0U);
    EXPECT_EQ(Pattern("abc", Pattern::ANCHORED).search_resumable("xyz").resume, 0U);
}

// Searching each prefix of a subject from where the previous one said to
// resume finds, at the same prefix, the same match as searching the prefix
// from the start: resuming never skips nor changes a match.
TEST(PatternTest, SearchResumableOnGrowingSubjectAgreesWithSearch) {
    const std::vector<std::string> patterns = {
        "\r?\n\r?\n", "\r\n\r\n", "abab",           "ab+",   "dog(sbody)?", "a\\b", "x$",
        "(?<=a)b",    "ab[c]",    "BEGIN[0-9]+END", "a\\Bb", "(ab|b)c",
    };
    const std::vector<std::string> subjects = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest",
        "a\n\r\rb\r\n\nc",
        "xabaababab",
        "zzabbbbc",
        "hotdogsbody dog",
        "bab ax",
        "xyx",
        "cbab",
        "xabababc",
        "BEGIN12BEGIN345END",
        "aab",
        "abbc",
    };
    for (const std::string& source : patterns) {
        const Pattern p(source);
        for (const std::string& subject : subjects) {
            std::size_t resume = 0;
            for (std::size_t n = 0; n <= subject.size(); ++n) {
                std::string_view prefix(subject.data(), n);
                Span expected = p.search(prefix);
                Pattern::Resumable got = p.search_resumable(prefix, resume);
                ASSERT_EQ(got.match, expected)
                    << "pattern " << source << ", prefix of " << n << " of " << subject;
                if (expected) {
                    break;
                }
                ASSERT_GE(got.resume, resume);
                ASSERT_LE(got.resume, n);
                resume = got.resume;
            }
        }
    }
}

}  // namespace
}  // namespace tornado::re
