// Fuzz target: the percent-decoding of path arguments in routing.
//
// Feeds: arbitrary bytes as a request path, matched by PathMatches (Tornado's
// routing.PathMatches.match) against a positional and a named pattern, and
// given to url_unescape with and without "+" decoding.
// Asserts, beyond "no crash":
//  - url_unescape agrees with an independent decoder written here (Python's
//    urllib.parse.unquote_to_bytes: %XX with two hex digits is a byte, any
//    other "%" stays; "+" is a space only for query strings);
//  - url_escape then url_unescape gives the original bytes back;
//  - each argument PathMatches returns is exactly the decoded group.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tornado/escape.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/routing.h"

#include "fuzz_check.h"

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// The reference: scan left to right, decoding what is decodable.
std::string reference_unquote(std::string_view s, bool plus) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '%' && s.size() - i >= 3 && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 3;
        } else {
            out.push_back(plus && s[i] == '+' ? ' ' : s[i]);
            i += 1;
        }
    }
    return out;
}

// Python's "$", which Tornado's PathMatches appends, also matches before a
// newline that ends the string; so does the C++ pattern.
std::string_view before_final_newline(std::string_view s) {
    return s.ends_with('\n') ? s.substr(0, s.size() - 1) : s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static tornado::ioloop::IOLoop* loop = tornado::ioloop::IOLoop::current();  // for time()
    (void)loop;
    static const tornado::routing::PathMatches positional("/([^/]*)/(.*)");
    static const tornado::routing::PathMatches named("/(?P<first>[^/]+)(?:/(?P<rest>.*))?");
    std::string text(reinterpret_cast<const char*>(data), size);

    for (bool plus : {false, true}) {
        std::string decoded = tornado::escape::url_unescape(text, plus);
        FUZZ_CHECK(decoded == reference_unquote(text, plus));
        FUZZ_CHECK(decoded.size() <= text.size());
        FUZZ_CHECK(tornado::escape::url_unescape(tornado::escape::url_escape(text, plus), plus) ==
                   text);
    }

    // The path is the URI up to "?"; a NUL or newline cannot reach here from
    // the wire, but the matcher must not mind them.
    auto headers = std::make_shared<tornado::httputil::HTTPHeaders>();
    tornado::httputil::RequestStartLine start{"GET", "/" + text, "HTTP/1.1"};
    tornado::httputil::HTTPServerRequest request(nullptr, start, headers);
    std::string_view path = request.path;
    if (auto m = positional.match(request)) {
        FUZZ_CHECK(m->args.size() == 2 && m->kwargs.empty());
        // The first group is everything up to the second "/".
        std::size_t slash = path.find('/', 1);
        FUZZ_CHECK(slash != std::string_view::npos);
        FUZZ_CHECK(m->args[0] == reference_unquote(path.substr(1, slash - 1), false));
        FUZZ_CHECK(m->args[1] ==
                   reference_unquote(before_final_newline(path.substr(slash + 1)), false));
    }
    if (auto m = named.match(request)) {
        FUZZ_CHECK(m->args.empty());
        std::size_t slash = path.find('/', 1);
        std::string_view first =
            path.substr(1, slash == std::string_view::npos ? slash : slash - 1);
        FUZZ_CHECK(m->kwargs.at("first") == reference_unquote(first, false));
        std::string rest =
            slash == std::string_view::npos
                ? std::string()
                : reference_unquote(before_final_newline(path.substr(slash + 1)), false);
        FUZZ_CHECK(m->kwargs.at("rest") == rest);
    }
    return 0;
}
