// Fuzz target: urlencoded query and body arguments, and the Cookie header.
//
// Feeds: the same bytes as a query string (parse_qs_bytes, via
// HTTPServerRequest's constructor), as an application/x-www-form-urlencoded
// body (HTTPServerRequest._parse_body, Tornado's parse_body_arguments) and
// as a Cookie header (httputil.parse_cookie, HTTPServerRequest.cookies).
// Asserts, beyond "no crash":
//  - the arguments re-encoded with url_escape and joined with "&" parse to
//    the same arguments; arguments = query arguments + body arguments;
//  - cookie names are stripped, hold no ";" or "=", and the request's
//    cookies are the legal subset of parse_cookie's, with the same values.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tornado/escape.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"

#include "fuzz_check.h"

namespace tornado::httputil {
// Defined in httpserver/src/httputil.cc (Tornado's httputil.parse_cookie);
// not in the header because only HTTPServerRequest::cookies uses it.
std::map<std::string, std::string, std::less<>> parse_cookie(std::string_view cookie);
}  // namespace tornado::httputil

namespace {

using tornado::httputil::Arguments;

std::string encode(const Arguments& args) {
    std::string out;
    for (const auto& [name, values] : args) {
        for (const std::string& value : values) {
            if (!out.empty()) {
                out += '&';
            }
            out += tornado::escape::url_escape(name) + "=" + tornado::escape::url_escape(value);
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static tornado::ioloop::IOLoop* loop = tornado::ioloop::IOLoop::current();  // for time()
    (void)loop;
    std::string text(reinterpret_cast<const char*>(data), size);

    Arguments qs = tornado::httputil::parse_qs_bytes(text);
    FUZZ_CHECK(tornado::httputil::parse_qs_bytes(encode(qs)) == qs);

    auto headers = std::make_shared<tornado::httputil::HTTPHeaders>();
    headers->add("Content-Type", "application/x-www-form-urlencoded");
    // A Cookie value with CR, LF or NUL could not come from parse(); add() takes it anyway.
    headers->add("Cookie", text);
    tornado::httputil::RequestStartLine start{"POST", "/p?" + text, "HTTP/1.1"};
    tornado::httputil::HTTPServerRequest request(nullptr, start, headers);
    FUZZ_CHECK(request.query == text);
    FUZZ_CHECK(request.query_arguments == qs);
    request.body = text;
    request._parse_body();
    FUZZ_CHECK(request.body_arguments == qs);
    Arguments both = qs;
    for (auto& [name, values] : both) {
        auto copy = values;
        values.insert(values.end(), copy.begin(), copy.end());
    }
    FUZZ_CHECK(request.arguments == both);

    auto cookies = tornado::httputil::parse_cookie(text);
    for (const auto& [name, value] : cookies) {
        FUZZ_CHECK(name.find_first_of(";=") == std::string::npos);
        FUZZ_CHECK(tornado::httputil::py_strip(name) == name);
    }
    for (const auto& [name, value] : request.cookies()) {
        auto it = cookies.find(name);
        FUZZ_CHECK(it != cookies.end() && it->second == value);
        FUZZ_CHECK(!name.empty());
    }
    return 0;
}
