#include "tornado/re.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <algorithm>
#include <stdexcept>

#include <pcre2.h>

namespace tornado::re {

namespace {

// A pattern is literal when no character has a regex meaning.
bool is_plain_text(std::string_view p) {
    return p.find_first_of("\\^$.|?*+()[]{}") == std::string_view::npos;
}

// Match data for the groups of one match, reused across calls on this
// thread so that matching does not allocate.
pcre2_match_data* thread_match_data(const pcre2_code* code, int groups) {
    constexpr int kCachedPairs = 32;
    thread_local struct Cache {
        pcre2_match_data* data = pcre2_match_data_create(kCachedPairs, nullptr);
        ~Cache() { pcre2_match_data_free(data); }
    } cache;
    if (groups + 1 <= kCachedPairs) {
        return cache.data;
    }
    (void)code;
    return nullptr;
}

// JIT is an optimisation: without it (unsupported CPU) matching still works.
// The partial mode is compiled separately (search_resumable); where it cannot
// be, pcre2_match falls back to the interpreter for partial matches only.
void jit_compile(pcre2_code* code) {
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) != 0) {
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }
}

}  // namespace

Pattern::Pattern(std::string pattern, unsigned flags)
    : pattern_(std::move(pattern)), flags_(flags) {
    if (is_plain_text(pattern_)) {
        literal_ = pattern_;
        return;
    }
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    uint32_t options = (flags_ & ANCHORED) != 0 ? PCRE2_ANCHORED : 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                                     options, &error_code, &error_offset, nullptr);
    if (code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof message);
        throw std::invalid_argument("invalid regex '" + pattern_ + "' at offset " +
                                    std::to_string(error_offset) + ": " +
                                    reinterpret_cast<const char*>(message));
    }
    jit_compile(code);
    code_ = code;
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    group_count_ = static_cast<int>(count);
    group_names_.assign(static_cast<std::size_t>(group_count_) + 1, std::string());
    uint32_t name_count = 0;
    uint32_t entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &name_count);
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < name_count; ++i) {
        PCRE2_SPTR entry = table + static_cast<std::size_t>(i) * entry_size;
        auto group = static_cast<std::size_t>((entry[0] << 8) | entry[1]);
        group_names_[group] = reinterpret_cast<const char*>(entry + 2);
    }
}

Pattern::~Pattern() {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
}

Pattern::Pattern(Pattern&& other) noexcept
    : pattern_(std::move(other.pattern_)),
      flags_(other.flags_),
      code_(std::exchange(other.code_, nullptr)),
      group_count_(other.group_count_),
      group_names_(std::move(other.group_names_)),
      literal_(std::move(other.literal_)) {}

Pattern::Pattern(const Pattern& other)
    : pattern_(other.pattern_),
      flags_(other.flags_),
      group_count_(other.group_count_),
      group_names_(other.group_names_),
      literal_(other.literal_) {
    if (other.code_ != nullptr) {
        pcre2_code* code = pcre2_code_copy(static_cast<const pcre2_code*>(other.code_));
        if (code == nullptr) {
            throw std::bad_alloc();
        }
        jit_compile(code);
        code_ = code;
    }
}

Pattern& Pattern::operator=(const Pattern& other) {
    if (this != &other) {
        Pattern copy(other);
        *this = std::move(copy);
    }
    return *this;
}

Pattern& Pattern::operator=(Pattern&& other) noexcept {
    if (this != &other) {
        pcre2_code_free(static_cast<pcre2_code*>(code_));
        pattern_ = std::move(other.pattern_);
        flags_ = other.flags_;
        code_ = std::exchange(other.code_, nullptr);
        group_count_ = other.group_count_;
        group_names_ = std::move(other.group_names_);
        literal_ = std::move(other.literal_);
    }
    return *this;
}

std::optional<std::pair<std::size_t, std::size_t>> Pattern::search(std::string_view subject,
                                                                   std::size_t offset) const {
    if (offset > subject.size()) {
        return std::nullopt;
    }
    if (literal_) {
        if ((flags_ & ANCHORED) != 0) {
            if (subject.substr(offset).starts_with(*literal_)) {
                return std::make_pair(offset, offset + literal_->size());
            }
            return std::nullopt;
        }
        std::size_t pos = subject.find(*literal_, offset);
        if (pos == std::string_view::npos) {
            return std::nullopt;
        }
        return std::make_pair(pos, pos + literal_->size());
    }
    auto* code = static_cast<pcre2_code*>(code_);
    pcre2_match_data* md = thread_match_data(code, 0);
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), offset,
                         0, md, nullptr);
    if (rc < 0) {
        return std::nullopt;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    return std::make_pair(static_cast<std::size_t>(ov[0]), static_cast<std::size_t>(ov[1]));
}

Pattern::Resumable Pattern::search_resumable(std::string_view subject, std::size_t offset) const {
    Resumable r;
    r.resume = offset;
    if (offset > subject.size()) {
        return r;
    }
    if (literal_) {
        r.match = search(subject, offset);
        if (r.match) {
            r.examined = r.match->second - offset;
        } else {
            r.examined = subject.size() - offset;
            if (!anchored() && !literal_->empty()) {
                // A match still to come overlaps at most the last size-1 bytes.
                r.resume = std::max(
                    offset, subject.size() - std::min(subject.size(), literal_->size() - 1));
            }
        }
        return r;
    }
    auto* code = static_cast<pcre2_code*>(code_);
    pcre2_match_data* md = thread_match_data(code, 0);
    auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
    // Hard partial matching stops at the first start position whose attempt
    // reaches the end of the subject. Every earlier start failed before the
    // end, so it fails in any longer subject too and, having never seen the
    // end, fails the same way in a complete match ($, \b at the end).
    int rc = pcre2_match(code, data, subject.size(), offset, PCRE2_PARTIAL_HARD, md, nullptr);
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (rc >= 0) {
        // Found before any attempt reached the end: what search() finds.
        r.match = std::make_pair(static_cast<std::size_t>(ov[0]), static_cast<std::size_t>(ov[1]));
        r.examined = r.match->second - offset;
        return r;
    }
    r.examined = subject.size() - offset;
    if (rc == PCRE2_ERROR_NOMATCH) {
        // No start position in the subject can lead to a match.
        if (!anchored()) {
            r.resume = subject.size();
        }
        return r;
    }
    if (rc != PCRE2_ERROR_PARTIAL) {
        return r;  // a matching error (limits): search again from `offset`
    }
    std::size_t start = std::max(offset, static_cast<std::size_t>(ov[0]));
    // A partial match may hide a complete one that more data could only
    // lengthen (/a+/ on "aa", /dog(sbody)?/ on "dog"): the complete search
    // from there answers as search() does.
    r.match = search(subject, start);
    r.examined += (r.match ? r.match->second : subject.size()) - start;
    if (!r.match && !anchored()) {
        r.resume = start;
    }
    return r;
}

bool Pattern::match(std::string_view subject, Match& m) const {
    m.groups.clear();
    if (literal_) {
        auto found = search(subject, 0);
        if (!found || found->first != 0) {
            return false;
        }
        m.groups.emplace_back(subject.substr(0, found->second));
        return true;
    }
    auto* code = static_cast<pcre2_code*>(code_);
    pcre2_match_data* md = thread_match_data(code, group_count_);
    pcre2_match_data* owned = nullptr;
    if (md == nullptr) {
        md = owned = pcre2_match_data_create_from_pattern(code, nullptr);
    }
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                         md, nullptr);
    bool ok = rc >= 0 && (((flags_ & ANCHORED) != 0) || pcre2_get_ovector_pointer(md)[0] == 0);
    if (ok) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        for (int g = 0; g <= group_count_; ++g) {
            PCRE2_SIZE start = ov[2 * g];
            PCRE2_SIZE end = ov[2 * g + 1];
            if (g >= rc || start == PCRE2_UNSET) {
                m.groups.emplace_back(std::nullopt);
            } else {
                m.groups.emplace_back(subject.substr(start, end - start));
            }
        }
    }
    if (owned != nullptr) {
        pcre2_match_data_free(owned);
    }
    return ok;
}

}  // namespace tornado::re
