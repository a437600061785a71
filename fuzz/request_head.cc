// Fuzz target: the request head, as HTTP1Connection._parse_headers splits it.
//
// Feeds: arbitrary bytes as a request head. Leading CR/LF are skipped, the
// first line goes to parse_request_start_line and the rest to
// HTTPHeaders::parse (both tornado/httputil.py).
// Asserts, beyond "no crash":
//  - an accepted start line has three parts without SP, CR, LF or NUL, an
//    "HTTP/1." version, and re-joined with single spaces parses the same;
//  - accepted headers have token names in normalised form, values without
//    CR, LF or NUL, get() equal to the values joined with ",", lookups that
//    ignore case, and re-serialised as "Name: value\r\n" lines they parse
//    to the same (name, value) list.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tornado/httputil.h"

#include "fuzz_check.h"

namespace {

using tornado::httputil::HTTPHeaders;
using tornado::httputil::HTTPInputError;

bool has_forbidden(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void check_start_line(std::string_view line) {
    tornado::httputil::RequestStartLine sl;
    try {
        sl = tornado::httputil::parse_request_start_line(line);
    } catch (const HTTPInputError&) {
        return;
    }
    for (const std::string* part : {&sl.method, &sl.path, &sl.version}) {
        FUZZ_CHECK(!has_forbidden(*part));
        FUZZ_CHECK(part->find(' ') == std::string::npos);
    }
    FUZZ_CHECK(sl.version.starts_with("HTTP/1."));
    auto again =
        tornado::httputil::parse_request_start_line(sl.method + " " + sl.path + " " + sl.version);
    FUZZ_CHECK(again.method == sl.method && again.path == sl.path && again.version == sl.version);
}

void check_headers(std::string_view block) {
    HTTPHeaders h;
    try {
        h = HTTPHeaders::parse(block);
    } catch (const HTTPInputError&) {
        return;
    }
    auto all = h.get_all();
    std::string serialised;
    for (const auto& [name, value] : all) {
        FUZZ_CHECK(tornado::httputil::is_token(name));
        FUZZ_CHECK(tornado::httputil::_normalize_header(name) == name);
        FUZZ_CHECK(!has_forbidden(value));
        FUZZ_CHECK(h.contains(name));
        FUZZ_CHECK(h.contains(tornado::httputil::ascii_lower(name)));
        serialised += name + ": " + value + "\r\n";
    }
    std::size_t values = 0;
    for (const std::string& name : h.keys()) {
        auto list = h.get_list(name);
        FUZZ_CHECK(!list.empty());
        values += list.size();
        std::string joined;
        for (std::size_t i = 0; i < list.size(); ++i) {
            joined += (i ? "," : "") + list[i];
        }
        auto got = h.get(name);
        FUZZ_CHECK(got && *got == joined);
    }
    FUZZ_CHECK(values == all.size());
    FUZZ_CHECK(h.keys().size() == h.size());

    HTTPHeaders again = HTTPHeaders::parse(serialised);
    auto all_again = again.get_all();
    FUZZ_CHECK(all_again.size() == all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        FUZZ_CHECK(all_again[i].first == all[i].first);
        // Values are trimmed of SP/HTAB when parsed; a continuation line of
        // only whitespace leaves a trailing " " (Tornado's parse_line appends
        // " " + the stripped line), which the re-parse trims.
        FUZZ_CHECK(all_again[i].second == tornado::httputil::strip_ows(all[i].second));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::size_t first = text.find_first_not_of("\r\n");
    text = first == std::string_view::npos ? std::string_view() : text.substr(first);
    std::size_t eol = text.find('\n');
    std::string_view start_line = text.substr(0, eol);
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : text.substr(eol);
    while (!start_line.empty() && start_line.back() == '\r') {
        start_line.remove_suffix(1);
    }
    check_start_line(start_line);
    check_headers(rest);
    return 0;
}
