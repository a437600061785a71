#include "tornado/httputil.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iterator>

#include "tornado/ioloop.h"

namespace tornado::httputil {

bool py_isspace(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
           c == 0xa0;
}

std::string_view py_lstrip(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && py_isspace(static_cast<unsigned char>(s[i]))) {
        ++i;
    }
    return s.substr(i);
}

std::string_view py_strip(std::string_view s) {
    s = py_lstrip(s);
    std::size_t n = s.size();
    while (n > 0 && py_isspace(static_cast<unsigned char>(s[n - 1]))) {
        --n;
    }
    return s.substr(0, n);
}

bool py_unicode_isspace(std::uint32_t cp) {
    if (cp < 0x100) {
        return py_isspace(static_cast<unsigned char>(cp));
    }
    return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int hex_digit(char c) {
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

namespace {

// Decodes one well-formed UTF-8 sequence at s[i] into `cp`; returns its
// length, or 0 when the bytes there are not one (what Python rejects:
// overlong forms, surrogates, values past U+10FFFF, truncation).
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fU;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fU;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07U;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        if (i + k >= s.size()) {
            return 0;
        }
        auto cc = static_cast<unsigned char>(s[i + k]);
        // Only the second byte has a narrower range (E0, ED, F0, F4).
        if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xbf)) {
            return 0;
        }
        cp = (cp << 6U) | (cc & 0x3fU);
    }
    return len;
}

// How many bytes at s[i] CPython's decoder replaces with one U+FFFD: the
// start byte and the continuation bytes that could still have completed it.
std::size_t utf8_invalid_run(std::string_view s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                      : c >= 0xe0 && c <= 0xef ? 3
                      : c >= 0xf0 && c <= 0xf4 ? 4
                                               : 0;
    if (len == 0) {
        return 1;
    }
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    std::size_t k = 1;
    while (k < len && i + k < s.size()) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xbf)) {
            break;
        }
        ++k;
    }
    return k;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xc0U | (cp >> 6U)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xe0U | (cp >> 12U)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3fU)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    } else {
        out.push_back(static_cast<char>(0xf0U | (cp >> 18U)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 12U) & 0x3fU)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3fU)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    }
}

// The code point that ends at s[n - 1] (s is well-formed UTF-8) and where it starts.
std::size_t utf8_last_start(std::string_view s, std::size_t n) {
    std::size_t i = n - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xc0U) == 0x80) {
        --i;
    }
    return i;
}

}  // namespace

std::string utf8_decode_replace(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(s, i, cp);
        if (len == 0) {
            out += "\xef\xbf\xbd";
            i += utf8_invalid_run(s, i);
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(s, i, cp);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

std::string_view py_unicode_lstrip(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(s, i, cp);
        if (len == 0 || !py_unicode_isspace(cp)) {
            break;
        }
        i += len;
    }
    return s.substr(i);
}

std::string_view py_unicode_strip(std::string_view s) {
    s = py_unicode_lstrip(s);
    std::size_t n = s.size();
    while (n > 0) {
        std::size_t start = utf8_last_start(s, n);
        std::uint32_t cp = 0;
        if (utf8_sequence(s, start, cp) != n - start || !py_unicode_isspace(cp)) {
            break;
        }
        n = start;
    }
    return s.substr(0, n);
}

bool is_ows(unsigned char c) {
    return c == ' ' || c == '\t';
}

std::string_view strip_ows(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && is_ows(static_cast<unsigned char>(s[i]))) {
        ++i;
    }
    std::size_t n = s.size();
    while (n > i && is_ows(static_cast<unsigned char>(s[n - 1]))) {
        --n;
    }
    return s.substr(i, n - i);
}

bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!is_tchar(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

namespace {

char lower_char(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
char upper_char(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = lower_char(c);
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower_char(a[i]) != lower_char(b[i])) {
            return false;
        }
    }
    return true;
}

// Tornado: tornado/httputil.py:74 _NormalizedHeaderCache
// C++: no cache; normalising a short name is cheaper than a lookup.
std::string _normalize_header(std::string_view name) {
    std::string out(name);
    bool word_start = true;
    for (char& c : out) {
        if (c == '-') {
            word_start = true;
            continue;
        }
        c = word_start ? upper_char(c) : lower_char(c);
        word_start = false;
    }
    return out;
}

std::size_t HTTPHeaders::NameHash::operator()(std::string_view name) const noexcept {
    // FNV-1a over the lowered bytes.
    std::size_t h = 14695981039346656037ULL;
    for (char c : name) {
        h ^= static_cast<unsigned char>(lower_char(c));
        h *= 1099511628211ULL;
    }
    return h;
}

bool HTTPHeaders::NameEqual::operator()(std::string_view a, std::string_view b) const noexcept {
    return iequals(a, b);
}

const HTTPHeaders::Entry* HTTPHeaders::find(std::string_view name) const {
    if (!index_.empty()) {
        auto it = index_.find(name);
        return it == index_.end() ? nullptr : &entries_[it->second];
    }
    for (const Entry& e : entries_) {
        if (iequals(e.name, name)) {
            return &e;
        }
    }
    return nullptr;
}

// A new name at the end, indexed once there are enough names to need it.
void HTTPHeaders::push_entry(std::string_view name, std::string value) {
    entries_.push_back(Entry{_normalize_header(name), std::move(value), {}});
    if (!index_.empty()) {
        index_.emplace(entries_.back().name, entries_.size() - 1);
    } else if (entries_.size() > kIndexFrom) {
        rebuild_index();
    }
}

void HTTPHeaders::rebuild_index() {
    index_.clear();
    if (entries_.size() <= kIndexFrom) {
        return;
    }
    index_.reserve(entries_.size() * 2);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        index_.emplace(entries_[i].name, i);
    }
}

HTTPHeaders::Entry* HTTPHeaders::find(std::string_view name) {
    return const_cast<Entry*>(static_cast<const HTTPHeaders*>(this)->find(name));
}

// Tornado: tornado/httputil.py:149 HTTPHeaders.add
void HTTPHeaders::add(std::string_view name, std::string value) {
    if (Entry* e = find(name)) {
        if (e->list.empty()) {
            e->list.push_back(e->value);
        }
        e->list.push_back(value);
        e->value.push_back(',');
        e->value += value;
        last_index_ = static_cast<std::size_t>(e - entries_.data());
        return;
    }
    push_entry(name, std::move(value));
    last_index_ = entries_.size() - 1;
}

std::optional<std::string_view> HTTPHeaders::get(std::string_view name) const {
    if (const Entry* e = find(name)) {
        return std::string_view(e->value);
    }
    return std::nullopt;
}

std::string_view HTTPHeaders::get(std::string_view name, std::string_view default_value) const {
    auto v = get(name);
    return v ? *v : default_value;
}

// Tornado: tornado/httputil.py:161 HTTPHeaders.get_list
std::vector<std::string> HTTPHeaders::get_list(std::string_view name) const {
    const Entry* e = find(name);
    if (e == nullptr) {
        return {};
    }
    if (e->list.empty()) {
        return {e->value};
    }
    return e->list;
}

// Tornado: tornado/httputil.py:166 HTTPHeaders.get_all
std::vector<std::pair<std::string, std::string>> HTTPHeaders::get_all() const {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_) {
        if (e.list.empty()) {
            out.emplace_back(e.name, e.value);
        } else {
            for (const std::string& v : e.list) {
                out.emplace_back(e.name, v);
            }
        }
    }
    return out;
}

// Tornado: tornado/httputil.py:210 HTTPHeaders.__setitem__
void HTTPHeaders::set(std::string_view name, std::string value) {
    if (Entry* e = find(name)) {
        e->value = std::move(value);
        e->list.clear();
        return;
    }
    push_entry(name, std::move(value));
}

// Tornado: tornado/httputil.py:219 HTTPHeaders.__delitem__
bool HTTPHeaders::erase(std::string_view name) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (iequals(it->name, name)) {
            entries_.erase(it);
            last_index_ = entries_.size();
            // Positions after it moved down; erasing is rare, so re-index.
            rebuild_index();
            return true;
        }
    }
    return false;
}

std::vector<std::string> HTTPHeaders::keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_) {
        out.push_back(e.name);
    }
    return out;
}

// Tornado: tornado/httputil.py:177 HTTPHeaders.parse_line
// C++: stricter than Tornado 6.2, as RFC 9112 / RFC 9110 ask:
// - only SP and HTAB are whitespace (RFC 9110 5.6.3, RFC 9112 5.1): 6.2
//   strips with str.strip(), which also takes \v, \f, \x1c-\x1f, \x85 and
//   \xa0, so "chunked\x85" was read as "chunked" (Tornado 6.4.1 strips only
//   " \t"); a line starting with other whitespace is no continuation but a
//   bad field name (Tornado 6.5);
// - a field name is a token, so no space before the colon (RFC 9112 5.1,
//   RFC 9110 5.1; Tornado 6.5);
// - a field value is VCHAR / obs-text / SP / HTAB (RFC 9110 5.5), so any
//   other control character (a CR, bare since the line's own CRLF is gone,
//   NUL, 0x01-0x1F but HTAB, DEL) in a line is refused (RFC 9112 2.2 for
//   the bare CR); Tornado 6.2 kept them in the value, Tornado 6.5 refuses
//   them (_ABNF.field_value in parse_line).
// Continuation lines (obs-fold) still join with one space, as in Tornado;
// their trailing SP / HTAB is dropped too (RFC 9112 5.2; Tornado 6.5).
void HTTPHeaders::parse_line(std::string_view line) {
    if (line.empty()) {
        return;
    }
    for (char ch : line) {
        auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            throw HTTPInputError("control character in header line");
        }
    }
    if (is_ows(static_cast<unsigned char>(line[0]))) {
        // A continuation (obs-fold) line extends the previous value.
        if (last_index_ >= entries_.size()) {
            throw HTTPInputError("first header line cannot start with whitespace");
        }
        Entry& e = entries_[last_index_];
        std::string new_part = " ";
        new_part += strip_ows(line);
        if (!e.list.empty()) {
            e.list.back() += new_part;
        }
        e.value += new_part;
        return;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        throw HTTPInputError("no colon in header line");
    }
    std::string_view name = line.substr(0, colon);
    if (!is_token(name)) {
        throw HTTPInputError("invalid header name");
    }
    add(name, std::string(strip_ows(line.substr(colon + 1))));
}

// Tornado: tornado/httputil.py:195 HTTPHeaders.parse
HTTPHeaders HTTPHeaders::parse(std::string_view headers) {
    HTTPHeaders h;
    h.last_index_ = SIZE_MAX;
    std::size_t start = 0;
    while (start <= headers.size()) {
        std::size_t nl = headers.find('\n', start);
        std::string_view line = headers.substr(
            start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            h.parse_line(line);
        }
        if (nl == std::string_view::npos) {
            break;
        }
        start = nl + 1;
    }
    return h;
}

// Tornado: tornado/httputil.py:821 parse_request_start_line
// C++: a CR or NUL inside the line is refused (RFC 9112 2.2: a bare CR is
// invalid; Tornado 6.5 matches the line against the RFC grammar). The
// method is not checked, as in Tornado 6.2: "" or "G@T" reaches the
// application, which answers 405 (a clear answer, nothing smuggled).
RequestStartLine parse_request_start_line(std::string_view line) {
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
        throw HTTPInputError("Malformed HTTP request line");
    }
    // Exactly three parts separated by single spaces (Python's split(" ")).
    std::size_t a = line.find(' ');
    std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (a == std::string_view::npos || b == std::string_view::npos ||
        line.find(' ', b + 1) != std::string_view::npos) {
        throw HTTPInputError("Malformed HTTP request line");
    }
    std::string_view version = line.substr(b + 1);
    // ^HTTP/1\.[0-9]$
    if (version.size() != 8 || !version.starts_with("HTTP/1.") || version[7] < '0' ||
        version[7] > '9') {
        // Quoted with escapes, as Tornado's %r, so no control byte reaches the log raw.
        throw HTTPInputError(
            fmt::format("Malformed HTTP version in HTTP Request-Line: {:?}", version));
    }
    return RequestStartLine{std::string(line.substr(0, a)),
                            std::string(line.substr(a + 1, b - a - 1)), std::string(version)};
}

std::string_view responses(int code) {
    // Python's http.HTTPStatus phrases (Python 3.11, the reference's).
    switch (code) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 102:
            return "Processing";
        case 103:
            return "Early Hints";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 203:
            return "Non-Authoritative Information";
        case 204:
            return "No Content";
        case 205:
            return "Reset Content";
        case 206:
            return "Partial Content";
        case 207:
            return "Multi-Status";
        case 208:
            return "Already Reported";
        case 226:
            return "IM Used";
        case 300:
            return "Multiple Choices";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 305:
            return "Use Proxy";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 402:
            return "Payment Required";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 407:
            return "Proxy Authentication Required";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Request Entity Too Large";
        case 414:
            return "Request-URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Requested Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 418:
            return "I'm a Teapot";
        case 421:
            return "Misdirected Request";
        case 422:
            return "Unprocessable Entity";
        case 423:
            return "Locked";
        case 424:
            return "Failed Dependency";
        case 425:
            return "Too Early";
        case 426:
            return "Upgrade Required";
        case 428:
            return "Precondition Required";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 451:
            return "Unavailable For Legal Reasons";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        case 506:
            return "Variant Also Negotiates";
        case 507:
            return "Insufficient Storage";
        case 508:
            return "Loop Detected";
        case 510:
            return "Not Extended";
        case 511:
            return "Network Authentication Required";
        default:
            return "Unknown";
    }
}

bool has_reason(int code) {
    return responses(code) != "Unknown";
}

// Tornado: tornado/httputil.py:796 format_timestamp
std::string format_timestamp(std::int64_t unix_seconds) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::string url_unescape(std::string_view s, bool plus) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
            i += 2;
        } else if (c == '+' && plus) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Tornado: tornado/escape.py:166 parse_qs_bytes
Arguments parse_qs_bytes(std::string_view qs) {
    // urllib.parse.parse_qs(keep_blank_values=True): pairs split on "&"
    // (and ";" in Python < 3.10, which the reference does not use).
    Arguments out;
    std::size_t start = 0;
    while (start <= qs.size()) {
        std::size_t amp = qs.find('&', start);
        std::string_view pair = qs.substr(start, amp == std::string_view::npos ? amp : amp - start);
        if (!pair.empty()) {
            std::size_t eq = pair.find('=');
            std::string_view name = pair.substr(0, eq);
            std::string_view value =
                eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
            out[url_unescape(name)].push_back(url_unescape(value));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        start = amp + 1;
    }
    return out;
}

namespace {
constexpr trace::Module kTraceModule{"httpserver", "tornado/httputil.py"};

// Tornado: tornado/httputil.py:948 _unquote_cookie
// Python's cookie unquoting: strip the quotes, then \ooo octal escapes and
// backslash-escaped characters.
std::string unquote_cookie(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') {
        return std::string(s);
    }
    s = s.substr(1, s.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out.push_back(s[i]);
            continue;
        }
        auto octal = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '3'; };
        auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
        if (octal(i + 1) && digit(i + 2) && digit(i + 3)) {
            out.push_back(
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i + 1]);
            ++i;
        }
    }
    return out;
}

// The names http.cookies.SimpleCookie accepts.
bool legal_cookie_name(std::string_view name) {
    static constexpr std::string_view kReserved[] = {"expires",  "path",    "comment",
                                                     "domain",   "max-age", "secure",
                                                     "httponly", "version", "samesite"};
    if (name.empty()) {
        return false;
    }
    for (std::string_view r : kReserved) {
        if (iequals(name, r)) {
            return false;
        }
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~:").find(c) != std::string_view::npos;
        if (!ok) {
            return false;
        }
    }
    return true;
}
}  // namespace

// Tornado: tornado/httputil.py:998 parse_cookie
std::map<std::string, std::string, std::less<>> parse_cookie(std::string_view cookie) {
    std::map<std::string, std::string, std::less<>> out;
    std::size_t start = 0;
    while (start <= cookie.size()) {
        std::size_t semi = cookie.find(';', start);
        std::string_view chunk =
            cookie.substr(start, semi == std::string_view::npos ? semi : semi - start);
        std::size_t eq = chunk.find('=');
        std::string_view key =
            eq == std::string_view::npos ? std::string_view() : chunk.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? chunk : chunk.substr(eq + 1);
        key = py_strip(key);
        val = py_strip(val);
        if (!key.empty() || !val.empty()) {
            out[std::string(key)] = unquote_cookie(val);
        }
        if (semi == std::string_view::npos) {
            break;
        }
        start = semi + 1;
    }
    return out;
}

// Tornado: tornado/httputil.py:380 HTTPServerRequest.cookies
const std::map<std::string, std::string, std::less<>>& HTTPServerRequest::cookies() {
    if (!cookies_) {
        cookies_.emplace();
        if (auto header = headers->get("Cookie")) {
            for (auto& [name, value] : parse_cookie(*header)) {
                if (legal_cookie_name(name)) {
                    cookies_->emplace(name, std::move(value));
                }
            }
        }
    }
    return *cookies_;
}

// Tornado: tornado/httputil.py:340 HTTPServerRequest.__init__
HTTPServerRequest::HTTPServerRequest(std::shared_ptr<HTTPConnection> conn,
                                     const RequestStartLine& start_line,
                                     std::shared_ptr<HTTPHeaders> hdrs)
    : Traced("HTTPServerRequest"),
      method(start_line.method),
      uri(start_line.path),
      version(start_line.version),
      headers(std::move(hdrs)),
      connection(std::move(conn)),
      start_time_(ioloop::IOLoop::current()->time()) {
    if (connection) {
        const auto& ctx = connection->context();
        if (ctx) {
            remote_ip = ctx->remote_ip;
            protocol = ctx->protocol;
        }
    }
    if (protocol.empty()) {
        protocol = "http";
    }
    host = std::string(headers->get("Host", "127.0.0.1"));
    // split_host_and_port, lower-cased: the name routing matches against.
    std::string_view hn = host;
    if (!hn.empty() && hn.front() == '[') {
        std::size_t close = hn.find(']');
        hn = close == std::string_view::npos ? hn : hn.substr(0, close + 1);
    } else if (auto colon = hn.rfind(':'); colon != std::string_view::npos) {
        hn = hn.substr(0, colon);
    }
    host_name = ascii_lower(hn);
    std::size_t q = uri.find('?');
    path = uri.substr(0, q);
    if (q != std::string::npos) {
        query = uri.substr(q + 1);
        query_arguments = parse_qs_bytes(query);
        arguments = query_arguments;
    }
}

// Tornado: tornado/httputil.py:400 HTTPServerRequest.write
Future<void> HTTPServerRequest::write(std::string chunk) {
    return connection->write(std::move(chunk));
}

// Tornado: tornado/httputil.py:412 HTTPServerRequest.finish
void HTTPServerRequest::finish() {
    connection->finish();
    finish_time_ = ioloop::IOLoop::current()->time();
}

// Tornado: tornado/httputil.py:422 HTTPServerRequest.full_url
std::string HTTPServerRequest::full_url() const {
    return protocol + "://" + host + uri;
}

// Tornado: tornado/httputil.py:426 HTTPServerRequest.request_time
double HTTPServerRequest::request_time() const {
    double end = finish_time_ != 0 ? finish_time_ : ioloop::IOLoop::current()->time();
    return end - start_time_;
}

// Tornado: tornado/httputil.py:458 HTTPServerRequest._parse_body
void HTTPServerRequest::_parse_body() {
    std::string_view content_type = headers->get("Content-Type", "");
    parse_body_arguments(content_type, body, body_arguments, files, headers.get());
    if (content_type.starts_with("application/x-www-form-urlencoded") ||
        content_type.starts_with("multipart/form-data")) {
        // Tornado: tornado/httputil.py:714 httputil.parse_body_arguments
        TRACE_EVENT("httputil.parse_body_arguments", {"content_type", content_type},
                    {"arguments", body_arguments.size()});
    }
    for (const auto& [name, values] : body_arguments) {
        auto& all = arguments[name];
        all.insert(all.end(), values.begin(), values.end());
    }
}

namespace {

// Knuth-Morris-Pratt search: linear in the haystack whatever the bytes, so
// a hostile body with a boundary like "aaa...ab" cannot make the multipart
// scan quadratic (std::string_view::find may compare O(n*m) bytes).
class SubstringSearch {
  public:
    explicit SubstringSearch(std::string needle) : needle_(std::move(needle)) {
        fail_.assign(needle_.size() + 1, 0);
        std::size_t k = 0;
        for (std::size_t i = 1; i < needle_.size(); ++i) {
            while (k > 0 && needle_[i] != needle_[k]) {
                k = fail_[k];
            }
            if (needle_[i] == needle_[k]) {
                ++k;
            }
            fail_[i + 1] = k;
        }
    }
    std::size_t size() const { return needle_.size(); }

    // The first occurrence at or after `from`, or npos.
    std::size_t find(std::string_view hay, std::size_t from) const {
        std::size_t k = 0;
        for (std::size_t i = from; i < hay.size(); ++i) {
            k = step(k, hay[i]);
            if (k == needle_.size()) {
                return i + 1 - k;
            }
        }
        return std::string_view::npos;
    }

    // The last occurrence (bytes.rfind), or npos.
    std::size_t rfind(std::string_view hay) const {
        std::size_t last = std::string_view::npos;
        std::size_t k = 0;
        for (std::size_t i = 0; i < hay.size(); ++i) {
            k = step(k, hay[i]);
            if (k == needle_.size()) {
                last = i + 1 - k;
                k = fail_[k];
            }
        }
        return last;
    }

  private:
    std::size_t step(std::size_t k, char c) const {
        while (k > 0 && c != needle_[k]) {
            k = fail_[k];
        }
        return c == needle_[k] ? k + 1 : 0;
    }

    std::string needle_;
    std::vector<std::size_t> fail_;
};

// A part's header block as Tornado's HTTPHeaders.parse reads it from UTF-8
// text: lines split at LF (one CR before it dropped), a line starting with
// whitespace continues the last value, names kept as written.
// C++: a small list instead of HTTPHeaders, whose parse_line follows RFC 9110
// for request heads; here the wire must match 6.2's looser reading.
class PartHeaders {
  public:
    explicit PartHeaders(std::string_view block) {
        std::size_t start = 0;
        while (start <= block.size()) {
            std::size_t lf = block.find('\n', start);
            std::string_view line =
                block.substr(start, lf == std::string_view::npos ? lf : lf - start);
            if (line.ends_with('\r')) {
                line.remove_suffix(1);
            }
            if (!line.empty()) {
                parse_line(line);
            }
            if (lf == std::string_view::npos) {
                break;
            }
            start = lf + 1;
        }
    }

    // The values of `name` joined with ",", or none.
    std::optional<std::string> get(std::string_view name) const {
        std::optional<std::string> out;
        for (const auto& [n, v] : entries_) {
            // Tornado compares normalised names; for the ASCII names looked
            // up here that is an ASCII case-insensitive comparison.
            if (!iequals(n, name)) {
                continue;
            }
            if (out) {
                *out += ',';
                *out += v;
            } else {
                out = v;
            }
        }
        return out;
    }

  private:
    void parse_line(std::string_view line) {
        std::uint32_t first = 0;
        if (utf8_sequence(line, 0, first) > 0 && py_unicode_isspace(first)) {
            if (entries_.empty()) {
                throw HTTPInputError("first header line cannot start with whitespace");
            }
            entries_.back().second += " ";
            entries_.back().second += py_unicode_lstrip(line);
            return;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            throw HTTPInputError("no colon in header line");
        }
        entries_.emplace_back(std::string(line.substr(0, colon)),
                              std::string(py_unicode_strip(line.substr(colon + 1))));
    }

    std::vector<std::pair<std::string, std::string>> entries_;
};

// Latin-1 text (a request header) as UTF-8: Tornado's utf8() of a str
// decoded from latin-1.
std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    for (char c : s) {
        append_utf8(out, static_cast<unsigned char>(c));
    }
    return out;
}

}  // namespace

// Tornado: tornado/httputil.py:714 parse_body_arguments
void parse_body_arguments(std::string_view content_type, std::string_view body,
                          Arguments& arguments, Files& files, const HTTPHeaders* headers) {
    bool urlencoded = content_type.starts_with("application/x-www-form-urlencoded");
    bool multipart = content_type.starts_with("multipart/form-data");
    if (!urlencoded && !multipart) {
        return;
    }
    // A compressed form body that decompress_request did not inflate
    // cannot be read (6.2 raises; 4.5.2 only logged).
    if (headers != nullptr) {
        if (auto encoding = headers->get("Content-Encoding")) {
            throw HTTPInputError("Unsupported Content-Encoding: " + std::string(*encoding));
        }
    }
    if (urlencoded) {
        // The values stay bytes: decoding happens in RequestHandler.decode_argument.
        for (auto& [name, values] : parse_qs_bytes(body)) {
            auto& all = arguments[name];
            all.insert(all.end(), std::make_move_iterator(values.begin()),
                       std::make_move_iterator(values.end()));
        }
        return;
    }
    try {
        std::size_t start = 0;
        while (start <= content_type.size()) {
            std::size_t semi = content_type.find(';', start);
            std::string_view field = py_strip(
                content_type.substr(start, semi == std::string_view::npos ? semi : semi - start));
            std::size_t eq = field.find('=');
            if (eq != std::string_view::npos && field.substr(0, eq) == "boundary" &&
                eq + 1 < field.size()) {
                parse_multipart_form_data(latin1_to_utf8(field.substr(eq + 1)), body, arguments,
                                          files);
                return;
            }
            if (semi == std::string_view::npos) {
                break;
            }
            start = semi + 1;
        }
        throw HTTPInputError("multipart boundary not found");
    } catch (const HTTPInputError& e) {
        throw HTTPInputError(std::string("Invalid multipart/form-data: ") + e.what());
    }
}

// Tornado: tornado/httputil.py:750 parse_multipart_form_data
void parse_multipart_form_data(std::string_view boundary, std::string_view data,
                               Arguments& arguments, Files& files) {
    if (!boundary.empty() && boundary.front() == '"' && boundary.back() == '"') {
        boundary = boundary.size() >= 2 ? boundary.substr(1, boundary.size() - 2) : "";
    }
    std::string dashed = "--" + std::string(boundary);
    std::size_t final_boundary_index = SubstringSearch(dashed + "--").rfind(data);
    if (final_boundary_index == std::string_view::npos) {
        throw HTTPInputError("Invalid multipart/form-data: no final boundary found");
    }
    // Split what precedes the final boundary at each "--boundary\r\n", as
    // bytes.split does (left to right, not overlapping).
    std::string_view head = data.substr(0, final_boundary_index);
    SubstringSearch separator(dashed + "\r\n");
    std::size_t pos = 0;
    while (pos <= head.size()) {
        std::size_t next = separator.find(head, pos);
        std::string_view part =
            head.substr(pos, next == std::string_view::npos ? next : next - pos);
        pos = next == std::string_view::npos ? head.size() + 1 : next + separator.size();
        if (part.empty()) {
            continue;
        }
        std::size_t eoh = part.find("\r\n\r\n");
        if (eoh == std::string_view::npos) {
            throw HTTPInputError("multipart/form-data missing headers");
        }
        std::string_view block = part.substr(0, eoh);
        if (!is_utf8(block)) {
            throw HTTPInputError("'utf-8' codec can't decode the part headers");
        }
        PartHeaders part_headers(block);
        auto [disposition, disp_params] =
            _parse_header(part_headers.get("Content-Disposition").value_or(""));
        if (disposition != "form-data" || !part.ends_with("\r\n")) {
            throw HTTPInputError("Invalid multipart/form-data");
        }
        // part[eoh + 4:-2]; empty when the CRLF that ends the head is the last.
        std::size_t value_start = eoh + 4;
        std::string_view value = value_start + 2 <= part.size()
                                     ? part.substr(value_start, part.size() - 2 - value_start)
                                     : std::string_view();
        auto name = disp_params.find("name");
        if (name == disp_params.end() || name->second.empty()) {
            throw HTTPInputError("multipart/form-data missing name");
        }
        auto filename = disp_params.find("filename");
        if (filename != disp_params.end() && !filename->second.empty()) {
            files[name->second].push_back(HTTPFile{
                .filename = filename->second,
                .body = std::string(value),
                .content_type = part_headers.get("Content-Type").value_or("application/unknown"),
            });
        } else {
            arguments[name->second].emplace_back(value);
        }
    }
}

namespace {

// email.utils.unquote: drops "..." (then unescapes \\ and \", in two
// passes as Python's two str.replace calls do) or <...>.
std::string email_unquote(std::string_view s) {
    if (s.size() > 1 && s.front() == '"' && s.back() == '"') {
        std::string_view inner = s.substr(1, s.size() - 2);
        std::string once;
        for (std::size_t i = 0; i < inner.size(); ++i) {
            if (inner[i] == '\\' && i + 1 < inner.size() && inner[i + 1] == '\\') {
                once.push_back('\\');
                ++i;
            } else {
                once.push_back(inner[i]);
            }
        }
        std::string out;
        for (std::size_t i = 0; i < once.size(); ++i) {
            if (once[i] == '\\' && i + 1 < once.size() && once[i + 1] == '"') {
                out.push_back('"');
                ++i;
            } else {
                out.push_back(once[i]);
            }
        }
        return out;
    }
    if (s.size() > 1 && s.front() == '<' && s.back() == '>') {
        return std::string(s.substr(1, s.size() - 2));
    }
    return std::string(s);
}

// email.utils.quote: backslashes doubled, quotes escaped.
std::string email_quote(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out;
}

// Tornado's _parseparam: the ";"-separated pieces of a header value, a ";"
// inside an unescaped quote not separating, each piece stripped. One pass.
std::vector<std::string_view> parse_params(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    bool first = true;  // the first piece has a ";" in front only in Python's copy
    while (first || (start < line.size() && line[start] == ';')) {
        start += first ? 0 : 1;
        first = false;
        bool quoted = false;
        std::size_t end = start;
        for (; end < line.size(); ++end) {
            char c = line[end];
            if (c == ';' && !quoted) {
                break;
            }
            if (c == '"' && !(end > start && line[end - 1] == '\\')) {
                quoted = !quoted;
            }
        }
        out.push_back(py_unicode_strip(line.substr(start, end - start)));
        start = end;
    }
    return out;
}

// One piece of an RFC 2231 parameter: name*N*=value.
struct Continuation {
    std::optional<std::string> num;  // decimal digits, no leading zeros
    std::string value;
    bool encoded = false;
};

// Python compares (num, value, encoded) tuples; num as an integer.
bool continuation_less(const Continuation& a, const Continuation& b) {
    if (*a.num != *b.num) {
        return a.num->size() != b.num->size() ? a.num->size() < b.num->size() : *a.num < *b.num;
    }
    if (a.value != b.value) {
        return a.value < b.value;  // UTF-8 byte order is code point order
    }
    return a.encoded < b.encoded;
}

// email.utils' rfc2231_continuation, ^(\w+)\*(([0-9]+)\*?)?$ with re.ASCII:
// sets the base name and the number's digits; false when it does not match.
bool match_continuation(std::string_view name, std::string& base,
                        std::optional<std::string>& digits) {
    std::size_t star = name.find('*');
    if (star == 0 || star == std::string_view::npos) {
        return false;
    }
    for (char c : name.substr(0, star)) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_')) {
            return false;
        }
    }
    std::string_view rest = name.substr(star + 1);
    base = std::string(name.substr(0, star));
    digits.reset();
    if (rest.empty()) {
        return true;
    }
    if (rest.ends_with('*')) {
        rest.remove_suffix(1);
    }
    if (rest.empty() || rest.find_first_not_of("0123456789") != std::string_view::npos) {
        return false;
    }
    // Python 3.11's int() refuses strings of more than 4300 digits.
    if (rest.size() > 4300) {
        throw HTTPInputError("Exceeds the limit (4300 digits) for integer string conversion");
    }
    std::size_t nz = rest.find_first_not_of('0');
    digits = nz == std::string_view::npos ? std::string("0") : std::string(rest.substr(nz));
    return true;
}

// urllib.parse.unquote(s, encoding="latin-1"): each valid %XX becomes the
// character U+00XX (written here as UTF-8).
std::string percent_decode_latin1(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
            hex_digit(s[i + 2]) >= 0) {
            append_utf8(out,
                        static_cast<std::uint32_t>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// The charsets an RFC 2231 value may name that this port decodes, by
// Python's normalised codec names and aliases.
enum class Charset { kUnknown, kUtf8, kLatin1, kAscii };

Charset lookup_charset(std::string_view name) {
    // encodings.normalize_encoding: lower case, runs of other characters
    // than letters, digits and "." become "_", none at either end.
    std::string norm;
    bool pending = false;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '.') {
            if (pending && !norm.empty()) {
                norm.push_back('_');
            }
            pending = false;
            norm.push_back(static_cast<char>(std::tolower(u)));
        } else {
            pending = true;
        }
    }
    static constexpr std::string_view kUtf8[] = {"utf_8",     "utf8",      "u8",     "utf",
                                                 "utf8_ucs2", "utf8_ucs4", "cp65001"};
    static constexpr std::string_view kLatin1[] = {
        "latin_1", "latin1", "iso8859_1",       "iso_8859_1",  "8859",   "cp819",  "iso_ir_100",
        "l1",      "latin",  "iso_8859_1_1987", "csisolatin1", "ibm819", "iso8859"};
    static constexpr std::string_view kAscii[] = {
        "ascii",          "us_ascii",         "us",      "646",     "ansi_x3.4_1968",
        "ansi_x3_4_1968", "ansi_x3.4_1986",   "cp367",   "csascii", "ibm367",
        "iso646_us",      "iso_646.irv_1991", "iso_ir_6"};
    auto in = [&](auto& list) {
        return std::find(std::begin(list), std::end(list), norm) != std::end(list);
    };
    if (in(kUtf8)) {
        return Charset::kUtf8;
    }
    if (in(kLatin1)) {
        return Charset::kLatin1;
    }
    if (in(kAscii)) {
        return Charset::kAscii;
    }
    return Charset::kUnknown;
}

// email.utils.collapse_rfc2231_value for a (charset, language, text) value:
// the text's characters, as raw-unicode-escape bytes, decoded in `charset`
// with errors="replace"; an unknown charset gives unquote(text).
// C++: only UTF-8, latin-1 and ASCII (and their aliases) are known here;
// Python knows every codec it ships (cp1252, shift_jis...).
std::string collapse_rfc2231_value(std::optional<std::string_view> charset, std::string_view text) {
    Charset cs = charset ? lookup_charset(*charset) : Charset::kAscii;
    if (cs == Charset::kUnknown) {
        return email_unquote(text);
    }
    std::string raw;
    std::size_t i = 0;
    while (i < text.size()) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(text, i, cp);
        i += len == 0 ? 1 : len;
        if (cp < 0x100) {
            raw.push_back(static_cast<char>(cp));
        } else {
            raw += cp <= 0xffff ? fmt::format("\\u{:04x}", cp) : fmt::format("\\U{:08x}", cp);
        }
    }
    std::string out;
    if (cs == Charset::kUtf8) {
        return utf8_decode_replace(raw);
    }
    for (char c : raw) {
        auto u = static_cast<unsigned char>(c);
        if (cs == Charset::kAscii && u >= 0x80) {
            out += "\xef\xbf\xbd";
        } else {
            append_utf8(out, u);
        }
    }
    return out;
}

// One RFC 2231 parameter's pieces put together (the rest of
// email.utils.decode_params and collapse_rfc2231_value).
std::string join_continuations(std::vector<Continuation>& pieces) {
    bool numbered = pieces.front().num.has_value();
    for (const Continuation& c : pieces) {
        if (c.num.has_value() != numbered) {
            // Python's sort compares None with an int and raises TypeError.
            throw HTTPInputError("'<' not supported between instances of 'int' and 'NoneType'");
        }
    }
    if (numbered) {
        std::stable_sort(pieces.begin(), pieces.end(), continuation_less);
    } else {
        std::stable_sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) {
            return a.value != b.value ? a.value < b.value : a.encoded < b.encoded;
        });
    }
    std::string joined;
    bool extended = false;
    for (const Continuation& c : pieces) {
        joined += c.encoded ? percent_decode_latin1(c.value) : c.value;
        extended = extended || c.encoded;
    }
    std::string value = email_quote(joined);
    if (!extended) {
        return email_unquote("\"" + value + "\"");
    }
    // decode_rfc2231: charset'language'text, or no charset without two ticks.
    std::size_t t1 = value.find('\'');
    std::size_t t2 = t1 == std::string::npos ? t1 : value.find('\'', t1 + 1);
    if (t2 == std::string::npos) {
        return collapse_rfc2231_value(std::nullopt, "\"" + value + "\"");
    }
    return collapse_rfc2231_value(std::string_view(value).substr(0, t1),
                                  "\"" + value.substr(t2 + 1) + "\"");
}

}  // namespace

// Tornado: tornado/httputil.py:878 _parse_header
std::pair<std::string, HeaderParams> _parse_header(std::string_view line) {
    std::vector<std::string_view> parts = parse_params(line);
    std::string key(parts.front());
    // email.utils.decode_params: plain parameters first, in order, then the
    // RFC 2231 ones by name in order of first appearance.
    std::vector<std::pair<std::string, std::string>> plain;
    std::vector<std::pair<std::string, std::vector<Continuation>>> extended;
    std::map<std::string, std::size_t, std::less<>> extended_index;  // name -> extended
    for (std::size_t k = 1; k < parts.size(); ++k) {
        std::string_view p = parts[k];
        std::size_t eq = p.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        // C++: ASCII lower-casing; Python's Unicode lower() differs only for
        // names that can never equal "name" or "filename".
        std::string name = ascii_lower(py_unicode_strip(p.substr(0, eq)));
        std::string value = email_unquote(py_unicode_strip(p.substr(eq + 1)));
        std::string base;
        std::optional<std::string> digits;
        if (match_continuation(name, base, digits)) {
            auto [it, added] = extended_index.try_emplace(base, extended.size());
            if (added) {
                extended.emplace_back(base, std::vector<Continuation>{});
            }
            extended[it->second].second.push_back(
                Continuation{digits, std::move(value), name.ends_with('*')});
        } else {
            plain.emplace_back(std::move(name), email_unquote("\"" + email_quote(value) + "\""));
        }
    }
    for (auto& [name, pieces] : extended) {
        plain.emplace_back(name, join_continuations(pieces));
    }
    HeaderParams pdict;
    for (auto& [name, value] : plain) {
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        pdict[name] = std::move(value);
    }
    return {std::move(key), std::move(pdict)};
}

}  // namespace tornado::httputil

// ---------------------------------------------------------------------------
// Range requests and HTTP dates (for web.StaticFileHandler)

namespace tornado::httputil {

namespace {

// Far beyond any file size, and far from overflowing when a size or 1 is
// added: Python's integers have no limit, ours are clamped here.
constexpr std::int64_t kClamp = std::int64_t{1} << 62;

// Python's int(s) for base 10 on a latin-1 string: surrounding whitespace,
// a sign, then digits with single underscores between them.
std::optional<std::int64_t> py_int(std::string_view s) {
    s = py_strip(s);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.front() == '_' || s.back() == '_') {
        return std::nullopt;
    }
    std::int64_t value = 0;
    char previous = 0;
    for (char c : s) {
        if (c == '_') {
            if (previous == '_') {
                return std::nullopt;
            }
        } else if (c >= '0' && c <= '9') {
            value = value >= kClamp / 10 ? kClamp : value * 10 + (c - '0');
        } else {
            return std::nullopt;
        }
        previous = c;
    }
    return negative ? -value : value;
}

// Tornado: tornado/httputil.py:707 _int_or_none
// C++: nullopt for "no number" (an empty part); the outer nullopt is the
// ValueError Python raises.
std::optional<std::optional<std::int64_t>> _int_or_none(std::string_view val) {
    if (py_strip(val).empty()) {
        return std::optional<std::int64_t>();
    }
    std::optional<std::int64_t> n = py_int(val);
    if (!n) {
        return std::nullopt;
    }
    return n;
}

// Python's str.partition(sep): (before, after); after is empty when sep is
// absent.
std::pair<std::string_view, std::string_view> partition(std::string_view s, char sep) {
    std::size_t at = s.find(sep);
    if (at == std::string_view::npos) {
        return {s, {}};
    }
    return {s.substr(0, at), s.substr(at + 1)};
}

// Python's str.split() with no argument: runs of whitespace separate words.
std::vector<std::string_view> py_split(std::string_view s) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && py_isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        }
        std::size_t start = i;
        while (i < s.size() && !py_isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        }
        if (i > start) {
            words.push_back(s.substr(start, i - start));
        }
    }
    return words;
}

// Python's str.isdigit for the first character of a latin-1 word: ASCII
// digits and the superscripts two, three and one.
bool py_isdigit(char c) {
    auto u = static_cast<unsigned char>(c);
    return (c >= '0' && c <= '9') || u == 0xb2 || u == 0xb3 || u == 0xb9;
}

// email._parseaddr's month names (24: short, then long); the index mod 12
// is the month.
int month_index(std::string_view word) {
    static constexpr std::string_view kMonths[] = {
        "jan", "feb",  "mar",  "apr",    "may",       "jun",      "jul",      "aug",
        "sep", "oct",  "nov",  "dec",    "january",   "february", "march",    "april",
        "may", "june", "july", "august", "september", "october",  "november", "december"};
    std::string lower = ascii_lower(word);
    for (std::size_t i = 0; i < sizeof kMonths / sizeof kMonths[0]; ++i) {
        if (lower == kMonths[i]) {
            return static_cast<int>(i % 12) + 1;
        }
    }
    return 0;
}

bool is_day_name(std::string_view word) {
    std::string lower = ascii_lower(word);
    for (std::string_view day : {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}) {
        if (lower == day) {
            return true;
        }
    }
    return false;
}

std::string_view drop_trailing_comma(std::string_view s) {
    return !s.empty() && s.back() == ',' ? s.substr(0, s.size() - 1) : s;
}

// days_from_civil (H. Hinnant): days since 1970-01-01 of a proleptic
// Gregorian date, valid for negative years too.
std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

}  // namespace

// Tornado: tornado/httputil.py:643 _parse_request_range
std::optional<RequestRange> _parse_request_range(std::string_view range_header) {
    auto [unit, value] = partition(range_header, '=');
    if (py_strip(unit) != "bytes") {
        return std::nullopt;
    }
    auto [start_b, end_b] = partition(py_strip(value), '-');
    auto start = _int_or_none(start_b);
    auto end = _int_or_none(end_b);
    if (!start || !end) {
        return std::nullopt;
    }
    RequestRange range{*start, *end};
    if (range.end) {
        if (!range.start) {
            // "-N": the last N bytes; "-0" stays (none, 0), which is unsatisfiable.
            if (*range.end != 0) {
                range.start = -*range.end;
                range.end.reset();
            }
        } else {
            // HTTP's last byte is inclusive, a slice's end is not.
            *range.end += 1;
        }
    }
    return range;
}

// Tornado: tornado/httputil.py:692 _get_content_range
std::string _get_content_range(std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                               std::int64_t total) {
    // Python's `start or 0` and `end or total`: a 0 counts as absent.
    std::int64_t first = start.value_or(0);
    std::int64_t last = (end && *end != 0 ? *end : total) - 1;
    return fmt::format("bytes {}-{}/{}", first, last, total);
}

// C++: Python's email._parseaddr._parsedate_tz, step by step, without the
// time zone (parsedate drops it).
std::optional<DateFields> parsedate(std::string_view input) {
    std::vector<std::string_view> data = py_split(input);
    if (data.empty()) {
        return std::nullopt;
    }
    // A day name ("Sun," or "Sun") is skipped; "Sun,06" keeps what follows.
    if (data[0].ends_with(',') || is_day_name(data[0])) {
        data.erase(data.begin());
    } else if (std::size_t comma = data[0].rfind(','); comma != std::string_view::npos) {
        data[0] = data[0].substr(comma + 1);
    }
    if (data.size() == 3) {
        // RFC 850: "06-Nov-94 08:49:37 GMT".
        std::string_view first = data[0];
        std::size_t d1 = first.find('-');
        std::size_t d2 = d1 == std::string_view::npos ? d1 : first.find('-', d1 + 1);
        if (d2 != std::string_view::npos && first.find('-', d2 + 1) == std::string_view::npos) {
            data = {first.substr(0, d1), first.substr(d1 + 1, d2 - d1 - 1), first.substr(d2 + 1),
                    data[1], data[2]};
        }
    }
    if (data.size() == 4) {
        // The zone may be glued to the time: "08:49:37+0000".
        std::string_view s = data[3];
        std::size_t sign = s.find('+');
        if (sign == std::string_view::npos) {
            sign = s.find('-');
        }
        if (sign != std::string_view::npos && sign > 0) {
            data[3] = s.substr(0, sign);
            data.push_back(s.substr(sign));
        } else {
            data.push_back("");
        }
    }
    if (data.size() < 5) {
        return std::nullopt;
    }
    std::string_view dd = data[0];
    std::string_view mm = data[1];
    std::string_view yy = data[2];
    std::string_view tm = data[3];
    std::string_view tz = data[4];
    if (dd.empty() || mm.empty() || yy.empty()) {
        return std::nullopt;
    }
    int month = month_index(mm);
    if (month == 0) {
        // "Nov 06 1994": the month came first.
        std::swap(dd, mm);
        month = month_index(mm);
        if (month == 0) {
            return std::nullopt;
        }
    }
    dd = drop_trailing_comma(dd);
    if (std::size_t colon = yy.find(':'); colon != std::string_view::npos && colon > 0) {
        std::swap(yy, tm);  // asctime order: the time before the year
    }
    if (yy.back() == ',') {
        yy = drop_trailing_comma(yy);
        if (yy.empty()) {
            return std::nullopt;
        }
    }
    if (!py_isdigit(yy.front())) {
        std::swap(yy, tz);
    }
    tm = drop_trailing_comma(tm);
    // "08:49:37", "08:49", or the same with dots.
    std::vector<std::string_view> parts;
    auto split_on = [&parts](std::string_view s, char sep) {
        parts.clear();
        std::size_t from = 0;
        while (true) {
            std::size_t at = s.find(sep, from);
            parts.push_back(s.substr(from, at == std::string_view::npos ? at : at - from));
            if (at == std::string_view::npos) {
                break;
            }
            from = at + 1;
        }
    };
    split_on(tm, ':');
    if (parts.size() == 1 && tm.find('.') != std::string_view::npos) {
        split_on(tm, '.');
    }
    if (parts.size() == 2) {
        parts.push_back("0");
    }
    if (parts.size() != 3) {
        return std::nullopt;
    }
    auto year = py_int(yy);
    auto day = py_int(dd);
    auto hour = py_int(parts[0]);
    auto minute = py_int(parts[1]);
    auto second = py_int(parts[2]);
    if (!year || !day || !hour || !minute || !second) {
        return std::nullopt;
    }
    // Two-digit years as POSIX reads them: 69-99 -> 19xx, 00-68 -> 20xx.
    if (*year < 100) {
        *year += *year > 68 ? 1900 : 2000;
    }
    return DateFields{*year, month, *day, *hour, *minute, *second};
}

std::optional<std::int64_t> date_fields_to_timestamp(const DateFields& f) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (f.year < 1 || f.year > 9999 || f.month < 1 || f.month > 12) {
        return std::nullopt;
    }
    bool leap = (f.year % 4 == 0 && f.year % 100 != 0) || f.year % 400 == 0;
    int month_days = kDays[f.month - 1] + (f.month == 2 && leap ? 1 : 0);
    if (f.day < 1 || f.day > month_days || f.hour < 0 || f.hour > 23 || f.minute < 0 ||
        f.minute > 59 || f.second < 0 || f.second > 59) {
        return std::nullopt;
    }
    return days_from_civil(f.year, f.month, f.day) * 86400 + f.hour * 3600 + f.minute * 60 +
           f.second;
}

}  // namespace tornado::httputil
