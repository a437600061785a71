// tornado.web, the cookie part: plain cookies (set_cookie writes what
// Python's http.cookies.SimpleCookie writes), signed ("secure") cookies, the
// current user and the XSRF token. Split from web.cc as STYLE.md allows; the
// functions follow tornado/web.py's order: the RequestHandler methods first,
// then the module functions create_signed_value and decode_signed_value.
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <stdexcept>

#include "tornado/escape.h"
#include "tornado/log.h"
#include "tornado/web.h"

namespace tornado::web {

namespace {

constexpr trace::Module kTraceModule{"web", "tornado/web.py"};

// Tornado: tornado/web.py:137 DEFAULT_SIGNED_VALUE_VERSION
constexpr int DEFAULT_SIGNED_VALUE_VERSION = 2;
// Tornado: tornado/web.py:145 DEFAULT_SIGNED_VALUE_MIN_VERSION
constexpr int DEFAULT_SIGNED_VALUE_MIN_VERSION = 1;

double now_seconds() {
    return static_cast<double>(std::time(nullptr));
}

// The characters SimpleCookie writes unquoted (http.cookies._LegalChars).
bool legal_cookie_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~:").find(static_cast<char>(c)) !=
               std::string_view::npos;
}

// Decodes the (valid) UTF-8 sequence at `i`, advancing `i` past it.
long next_code_point(const std::string& s, std::size_t& i) {
    auto lead = static_cast<unsigned char>(s[i]);
    int extra = lead < 0x80 ? 0 : (lead >> 5U) == 0x6 ? 1 : (lead >> 4U) == 0xe ? 2 : 3;
    long cp = extra == 0 ? lead : lead & (0x3fU >> static_cast<unsigned>(extra));
    for (int k = 1; k <= extra; ++k) {
        cp = cp * 64 + (static_cast<unsigned char>(s[i + k]) & 0x3fU);
    }
    i += static_cast<std::size_t>(extra) + 1;
    return cp;
}

// Python's http.cookies._quote on the str Tornado makes of the value: a legal
// value as it is; otherwise quoted, with '"' and '\\' backslash-escaped and
// each other special character below U+0100 written as \ooo (so "a;b" is
// "a\073b"). An empty value is written "".
std::string quote_cookie_value(const std::string& value) {
    if (!value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
            return legal_cookie_char(static_cast<unsigned char>(c));
        })) {
        return value;
    }
    if (!escape::is_valid_utf8(value)) {
        // Tornado's native_str would raise UnicodeDecodeError.
        throw std::invalid_argument("Invalid cookie value (not UTF-8): " + value);
    }
    std::string out = "\"";
    for (std::size_t i = 0; i < value.size();) {
        std::size_t start = i;
        long cp = next_code_point(value, i);
        if (cp == '"' || cp == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(cp));
        } else if (cp >= 0x100) {
            out.append(value, start, i - start);  // outside the translation table
        } else if (legal_cookie_char(static_cast<unsigned char>(cp)) ||
                   std::string_view(" ()/<=>?@[]{}").find(static_cast<char>(cp)) !=
                       std::string_view::npos) {
            out.push_back(static_cast<char>(cp));
        } else {
            out += fmt::format("\\{:03o}", cp);
        }
    }
    return out + "\"";
}

// C++: a cookie attribute with a control character or ';' would end the
// Set-Cookie header or add attributes. Tornado 6.2 fails later, at flush
// (or lets ';' through); here set_cookie refuses it at once.
void check_cookie_attribute(std::string_view what, std::string_view value) {
    for (char c : value) {
        if (static_cast<unsigned char>(c) < 0x20 || c == ';' || c == '\x7f') {
            throw std::invalid_argument("Invalid cookie " + std::string(what) + ": " +
                                        std::string(value));
        }
    }
}

// Python's str(int(x)) for a float timestamp.
std::string int_string(double seconds) {
    return std::to_string(static_cast<std::int64_t>(std::floor(seconds)));
}

// Python's int() on a decimal field, strictly: digits only, with an optional
// leading '-' (what %d writes). nullopt when it does not parse.
std::optional<std::int64_t> parse_int(std::string_view s) {
    bool negative = s.starts_with('-');
    std::string_view digits = negative ? s.substr(1) : s;
    if (digits.empty() || digits.size() > 18) {
        return std::nullopt;
    }
    std::int64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        n = n * 10 + (c - '0');
    }
    return negative ? -n : n;
}

constexpr char kHexDigits[] = "0123456789abcdef";

// binascii.b2a_hex
std::string b2a_hex(std::string_view data) {
    std::string out;
    out.reserve(data.size() * 2);
    for (char c : data) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(kHexDigits[u >> 4U]);
        out.push_back(kHexDigits[u & 0xfU]);
    }
    return out;
}

// binascii.a2b_hex: nullopt for an odd length or a non-hex digit.
std::optional<std::string> a2b_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = httputil::hex_digit(hex[i]);
        int lo = httputil::hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// base64.b64encode (the standard alphabet, with padding).
std::string b64encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < data.size(); i += 3) {
        std::uint32_t n = static_cast<unsigned char>(data[i]) << 16U;
        if (i + 1 < data.size()) {
            n |= static_cast<unsigned char>(data[i + 1]) << 8U;
        }
        if (i + 2 < data.size()) {
            n |= static_cast<unsigned char>(data[i + 2]);
        }
        out.push_back(kBase64[(n >> 18U) & 63U]);
        out.push_back(kBase64[(n >> 12U) & 63U]);
        out.push_back(i + 1 < data.size() ? kBase64[(n >> 6U) & 63U] : '=');
        out.push_back(i + 2 < data.size() ? kBase64[n & 63U] : '=');
    }
    return out;
}

// base64.b64decode without validate: characters outside the alphabet are
// skipped; the data must be padded to a multiple of 4. nullopt when it is
// not (Python raises binascii.Error, which Tornado turns into None).
std::optional<std::string> b64decode(std::string_view text) {
    std::string out;
    std::uint32_t acc = 0;
    int have = 0;
    int pads = 0;
    for (char c : text) {
        if (c == '=') {
            ++pads;
            continue;
        }
        const char* p = std::char_traits<char>::find(kBase64, 64, c);
        if (p == nullptr) {
            continue;
        }
        if (pads > 0) {
            return std::nullopt;  // data after padding
        }
        acc = (acc << 6U) | static_cast<std::uint32_t>(p - kBase64);
        if (++have == 4) {
            out.push_back(static_cast<char>((acc >> 16U) & 0xffU));
            out.push_back(static_cast<char>((acc >> 8U) & 0xffU));
            out.push_back(static_cast<char>(acc & 0xffU));
            acc = 0;
            have = 0;
        }
    }
    if (have == 1 || (have > 0 && have + pads < 4)) {
        return std::nullopt;
    }
    if (have == 2) {
        out.push_back(static_cast<char>((acc >> 4U) & 0xffU));
    } else if (have == 3) {
        out.push_back(static_cast<char>((acc >> 10U) & 0xffU));
        out.push_back(static_cast<char>((acc >> 2U) & 0xffU));
    }
    return out;
}

// hmac.new(secret, digestmod).hexdigest() over `data`.
std::string hmac_hex(const EVP_MD* md, std::string_view secret, std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &len);
    return b2a_hex(std::string_view(reinterpret_cast<const char*>(digest), len));
}

// hmac.compare_digest: constant time for equal lengths.
bool compare_digest(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// tornado.util._websocket_mask: XOR `data` with the 4-byte `mask`, repeated.
std::string websocket_mask(std::string_view mask, std::string_view data) {
    std::string out(data);
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<char>(out[i] ^ mask[i % 4]);
    }
    return out;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return out;
}

// Tornado: tornado/web.py:3271 _create_signature_v1
std::string _create_signature_v1(std::string_view secret, std::string_view name,
                                 std::string_view value, std::string_view timestamp) {
    std::string parts = std::string(name) + std::string(value) + std::string(timestamp);
    return hmac_hex(EVP_sha1(), secret, parts);
}

// Tornado: tornado/web.py:3278 _create_signature_v2
std::string _create_signature_v2(std::string_view secret, std::string_view s) {
    return hmac_hex(EVP_sha256(), secret, s);
}

// Tornado: tornado/web.py:3128 _signed_value_version_re
// "^([1-9][0-9]*)\|(.*)$" on the value: the leading version number, or
// nullopt. (`.` stops at a newline, so a value with one inside does not match.)
std::optional<std::string_view> signed_value_version_prefix(std::string_view value) {
    std::size_t bar = value.find('|');
    if (bar == std::string_view::npos || bar == 0 || value[0] == '0') {
        return std::nullopt;
    }
    std::string_view digits = value.substr(0, bar);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::string_view rest = value.substr(bar + 1);
    std::size_t nl = rest.find('\n');
    if (nl != std::string_view::npos && nl + 1 != rest.size()) {
        return std::nullopt;
    }
    return digits;
}

// Tornado: tornado/web.py:3131 _get_version
int _get_version(std::string_view value) {
    auto digits = signed_value_version_prefix(value);
    // Longer numbers can be the start of a v1 value's base64 (see Tornado).
    if (!digits || digits->size() > 3) {
        return 1;
    }
    return static_cast<int>(*parse_int(*digits));
}

struct FieldsV2 {
    int key_version = 0;
    std::string_view timestamp;
    std::string_view name;
    std::string_view value;
    std::string_view signature;
};

// Tornado: tornado/web.py:3210 _decode_fields_v2
// The four "<len>:<bytes>|" fields after "2|", then the signature; nullopt
// where Tornado raises ValueError.
std::optional<FieldsV2> _decode_fields_v2(std::string_view value) {
    std::string_view rest = value.size() >= 2 ? value.substr(2) : std::string_view();
    std::string_view fields[4];
    for (std::string_view& field : fields) {
        std::size_t colon = rest.find(':');
        auto n = parse_int(rest.substr(0, colon));
        if (colon == std::string_view::npos || !n || *n < 0) {
            return std::nullopt;
        }
        rest = rest.substr(colon + 1);
        auto len = static_cast<std::size_t>(*n);
        if (len >= rest.size() || rest[len] != '|') {
            return std::nullopt;  // "malformed v2 signed value field"
        }
        field = rest.substr(0, len);
        rest = rest.substr(len + 1);
    }
    auto key_version = parse_int(fields[0]);
    if (!key_version || *key_version > 1000000000 || *key_version < -1000000000) {
        return std::nullopt;
    }
    return FieldsV2{static_cast<int>(*key_version), fields[1], fields[2], fields[3], rest};
}

// Tornado: tornado/web.py:3180 _decode_signed_value_v1
std::optional<std::string> _decode_signed_value_v1(std::string_view secret, std::string_view name,
                                                   std::string_view value, double max_age_days,
                                                   double now) {
    std::size_t bar1 = value.find('|');
    std::size_t bar2 = bar1 == std::string_view::npos ? bar1 : value.find('|', bar1 + 1);
    if (bar2 == std::string_view::npos || value.find('|', bar2 + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view payload = value.substr(0, bar1);
    std::string_view timestamp_field = value.substr(bar1 + 1, bar2 - bar1 - 1);
    std::string signature = _create_signature_v1(secret, name, payload, timestamp_field);
    if (!compare_digest(value.substr(bar2 + 1), signature)) {
        log::gen_log.warning("Invalid cookie signature '{}'", value);
        return std::nullopt;
    }
    auto timestamp = parse_int(timestamp_field);
    if (!timestamp) {
        // C++: Tornado raises ValueError here (a 500); a bad value is None.
        return std::nullopt;
    }
    if (static_cast<double>(*timestamp) < now - max_age_days * 86400) {
        log::gen_log.warning("Expired cookie '{}'", value);
        return std::nullopt;
    }
    // v1 signs the fields without a delimiter: digits could move from the
    // payload to the timestamp without changing the signature.
    if (static_cast<double>(*timestamp) > now + 31 * 86400) {
        log::gen_log.warning("Cookie timestamp in future; possible tampering '{}'", value);
        return std::nullopt;
    }
    if (timestamp_field.starts_with('0')) {
        log::gen_log.warning("Tampered cookie '{}'", value);
        return std::nullopt;
    }
    return b64decode(payload);
}

// Tornado: tornado/web.py:3230 _decode_signed_value_v2
std::optional<std::string> _decode_signed_value_v2(const CookieSecret& secret,
                                                   std::string_view name, std::string_view value,
                                                   double max_age_days, double now) {
    auto fields = _decode_fields_v2(value);
    if (!fields) {
        return std::nullopt;
    }
    std::string_view signed_string = value.substr(0, value.size() - fields->signature.size());
    std::string key;
    if (const auto* keys = std::get_if<std::map<int, std::string>>(&secret)) {
        auto it = keys->find(fields->key_version);
        if (it == keys->end()) {
            return std::nullopt;
        }
        key = it->second;
    } else {
        key = std::get<std::string>(secret);
    }
    std::string expected = _create_signature_v2(key, signed_string);
    if (!compare_digest(fields->signature, expected)) {
        return std::nullopt;
    }
    if (fields->name != name) {
        return std::nullopt;
    }
    auto timestamp = parse_int(fields->timestamp);
    if (!timestamp) {
        // C++: Tornado raises ValueError here (a 500); a bad value is None.
        return std::nullopt;
    }
    if (static_cast<double>(*timestamp) < now - max_age_days * 86400) {
        return std::nullopt;  // expired
    }
    return b64decode(fields->value);
}

// Tornado: tornado/web.py:1386 RequestHandler.require_setting ("cookie_secret")
const CookieSecret& require_cookie_secret(const ApplicationSettings& settings) {
    bool empty = std::visit([](const auto& s) { return s.empty(); }, settings.cookie_secret);
    if (empty) {
        throw std::runtime_error(
            "You must define the 'cookie_secret' setting in your application to use secure "
            "cookies");
    }
    return settings.cookie_secret;
}

}  // namespace

// ---------------------------------------------------------------------------
// RequestHandler: cookies

// Tornado: tornado/web.py:523 RequestHandler.get_cookie
std::optional<std::string> RequestHandler::get_cookie(
    std::string_view name, std::optional<std::string> default_value) const {
    const auto& cookies = request->cookies();
    auto it = cookies.find(name);
    return it != cookies.end() ? std::optional<std::string>(it->second) : default_value;
}

// Tornado: tornado/web.py:529 RequestHandler.set_cookie
// C++: the Morsel is written at once: the attributes in SimpleCookie's
// order (sorted by key: domain, expires, httponly, max-age, path, samesite,
// secure) with its spellings.
void RequestHandler::set_cookie(const std::string& name, const std::string& value,
                                const CookieOptions& options) {
    for (char c : name + value) {
        if (static_cast<unsigned char>(c) <= 0x20) {
            // Don't let a cookie inject header text.
            throw std::invalid_argument("Invalid cookie " + name + ": " + value);
        }
    }
    check_cookie_attribute("domain", options.domain);
    check_cookie_attribute("path", options.path);
    check_cookie_attribute("samesite", options.samesite);
    std::optional<double> expires = options.expires;
    if (options.expires_days && !expires) {
        expires = now_seconds() + *options.expires_days * 86400;
    }
    std::string header = name + "=" + quote_cookie_value(value);
    if (!options.domain.empty()) {
        header += "; Domain=" + options.domain;
    }
    if (expires) {
        header += "; expires=" +
                  httputil::format_timestamp(static_cast<std::int64_t>(std::floor(*expires)));
    }
    if (options.httponly) {
        header += "; HttpOnly";
    }
    if (options.max_age) {
        header += "; Max-Age=" + std::to_string(*options.max_age);
    }
    if (!options.path.empty()) {
        header += "; Path=" + options.path;
    }
    if (!options.samesite.empty()) {
        header += "; SameSite=" + options.samesite;
    }
    if (options.secure) {
        header += "; Secure";
    }
    // A second cookie of the same name replaces the first, and goes last.
    std::erase_if(new_cookies_, [&](const auto& c) { return c.first == name; });
    new_cookies_.emplace_back(name, std::move(header));
}

// Tornado: tornado/web.py:570 RequestHandler.clear_cookie
void RequestHandler::clear_cookie(const std::string& name, const std::string& path,
                                  const std::string& domain) {
    set_cookie(name, "",
               {.domain = domain, .expires = now_seconds() - 365.0 * 86400, .path = path});
}

// Tornado: tornado/web.py:582 RequestHandler.clear_all_cookies
void RequestHandler::clear_all_cookies(const std::string& path, const std::string& domain) {
    std::vector<std::string> names;
    for (const auto& [name, value] : request->cookies()) {
        names.push_back(name);
    }
    for (const std::string& name : names) {
        clear_cookie(name, path, domain);
    }
}

// Tornado: tornado/web.py:595 RequestHandler.set_secure_cookie
void RequestHandler::set_secure_cookie(const std::string& name, std::string_view value,
                                       std::optional<double> expires_days,
                                       std::optional<int> version, CookieOptions options) {
    TRACE_EVENT("RequestHandler.set_secure_cookie", {"name", name});
    options.expires_days = expires_days;
    set_cookie(name, create_signed_value(name, value, version), options);
}

// Tornado: tornado/web.py:621 RequestHandler.create_signed_value
std::string RequestHandler::create_signed_value(std::string_view name, std::string_view value,
                                                std::optional<int> version) const {
    const ApplicationSettings& settings = application->settings();
    const CookieSecret& secret = require_cookie_secret(settings);
    std::optional<int> key_version;
    if (std::holds_alternative<std::map<int, std::string>>(secret)) {
        if (!settings.key_version) {
            throw std::runtime_error("key_version setting must be used for secret_key dicts");
        }
        key_version = settings.key_version;
    }
    return web::create_signed_value(secret, name, value,
                                    {.version = version, .key_version = key_version});
}

// Tornado: tornado/web.py:644 RequestHandler.get_secure_cookie
std::optional<std::string> RequestHandler::get_secure_cookie(std::string_view name,
                                                             std::optional<std::string> value,
                                                             double max_age_days,
                                                             std::optional<int> min_version) {
    const CookieSecret& secret = require_cookie_secret(application->settings());
    if (!value) {
        value = get_cookie(name);
    }
    std::optional<std::string> decoded;
    if (value) {
        decoded = decode_signed_value(secret, name, *value,
                                      {.max_age_days = max_age_days, .min_version = min_version});
    }
    TRACE_EVENT("RequestHandler.get_secure_cookie", {"name", name}, {"present", value.has_value()},
                {"valid", decoded.has_value()});
    return decoded;
}

// Tornado: tornado/web.py:663 RequestHandler.get_secure_cookie_key_version
std::optional<int> RequestHandler::get_secure_cookie_key_version(std::string_view name,
                                                                 std::optional<std::string> value) {
    require_cookie_secret(application->settings());
    if (!value) {
        value = get_cookie(name);
    }
    if (!value) {
        return std::nullopt;
    }
    return get_signature_key_version(*value);
}

// ---------------------------------------------------------------------------
// RequestHandler: the current user and XSRF

// Tornado: tornado/web.py:1125 RequestHandler.current_user
const std::optional<std::string>& RequestHandler::current_user() {
    if (!current_user_computed_) {
        current_user_ = get_current_user();
        current_user_computed_ = true;
    }
    return current_user_;
}

// Tornado: tornado/web.py:1188 RequestHandler.xsrf_token
// C++: a bad xsrf_cookie_version throws std::invalid_argument (ValueError).
const std::string& RequestHandler::xsrf_token() {
    if (!xsrf_token_) {
        const RawXsrfToken& raw = _get_raw_xsrf_token();
        const ApplicationSettings& settings = application->settings();
        CookieOptions cookie_kwargs = settings.xsrf_cookie_kwargs;
        if (settings.xsrf_cookie_version == 1) {
            xsrf_token_ = b2a_hex(raw.token);
        } else if (settings.xsrf_cookie_version == 2) {
            // A fresh mask per request: the token in a compressed page
            // never repeats (the BREACH attack).
            std::string mask = random_bytes(4);
            xsrf_token_ = "2|" + b2a_hex(mask) + "|" + b2a_hex(websocket_mask(mask, raw.token)) +
                          "|" + int_string(raw.timestamp);
        } else {
            throw std::invalid_argument(
                fmt::format("unknown xsrf cookie version {}", settings.xsrf_cookie_version));
        }
        if (!raw.version) {
            const auto& user = current_user();
            if (user && !user->empty() && !cookie_kwargs.expires_days) {
                cookie_kwargs.expires_days = 30;
            }
            set_cookie("_xsrf", *xsrf_token_, cookie_kwargs);
        }
        TRACE_EVENT("RequestHandler.xsrf_token", {"version", settings.xsrf_cookie_version},
                    {"new_cookie", !raw.version.has_value()});
    }
    return *xsrf_token_;
}

// Tornado: tornado/web.py:1238 RequestHandler._get_raw_xsrf_token
const RequestHandler::RawXsrfToken& RequestHandler::_get_raw_xsrf_token() {
    if (!raw_xsrf_token_) {
        DecodedXsrfToken decoded;
        std::optional<std::string> cookie = get_cookie("_xsrf");
        if (cookie && !cookie->empty()) {
            decoded = _decode_xsrf_token(*cookie);
        }
        if (decoded.token) {
            raw_xsrf_token_ = RawXsrfToken{decoded.version, std::move(*decoded.token),
                                           decoded.timestamp.value_or(now_seconds())};
        } else {
            // No usable cookie: a new random token, to be set as the cookie.
            raw_xsrf_token_ = RawXsrfToken{std::nullopt, random_bytes(16), now_seconds()};
        }
    }
    return *raw_xsrf_token_;
}

// Tornado: tornado/web.py:1262 RequestHandler._decode_xsrf_token
// C++: a v2 mask must be 4 bytes; Tornado 6.2's speedups reads past a
// shorter one, so such a token has no defined meaning there.
RequestHandler::DecodedXsrfToken RequestHandler::_decode_xsrf_token(std::string_view cookie) {
    if (auto digits = signed_value_version_prefix(cookie)) {
        if (*digits != "2") {
            return {};  // an unknown version counts as no token
        }
        std::vector<std::string_view> parts;
        for (std::size_t start = 0;;) {
            std::size_t bar = cookie.find('|', start);
            parts.push_back(cookie.substr(start, bar - start));
            if (bar == std::string_view::npos) {
                break;
            }
            start = bar + 1;
        }
        if (parts.size() != 4) {
            return {};
        }
        auto mask = a2b_hex(parts[1]);
        auto masked = a2b_hex(parts[2]);
        auto timestamp = parse_int(httputil::py_strip(parts[3]));
        if (!mask || mask->size() != 4 || !masked || !timestamp) {
            return {};
        }
        return {2, websocket_mask(*mask, *masked), static_cast<double>(*timestamp)};
    }
    // Version 1: the hex of the token, or (older still) the token itself.
    auto token = a2b_hex(cookie);
    return {1, token ? *token : std::string(cookie), now_seconds()};
}

// Tornado: tornado/web.py:1298 RequestHandler.check_xsrf_cookie
void RequestHandler::check_xsrf_cookie() {
    TRACE_SPAN_AS(span, "RequestHandler.check_xsrf_cookie");
    // The first non-empty of: the argument, X-Xsrftoken, X-Csrftoken.
    std::string token = get_argument("_xsrf", "");
    for (const char* header : {"X-Xsrftoken", "X-Csrftoken"}) {
        if (token.empty()) {
            token = std::string(request->headers->get(header, ""));
        }
    }
    if (token.empty()) {
        span.end({{"result", "missing"}});
        throw HTTPError(403, "'_xsrf' argument missing from POST");
    }
    std::optional<std::string> decoded = _decode_xsrf_token(token).token;
    const std::string& expected = _get_raw_xsrf_token().token;
    if (!decoded || decoded->empty()) {
        span.end({{"result", "invalid format"}});
        throw HTTPError(403, "'_xsrf' argument has invalid format");
    }
    if (!compare_digest(*decoded, expected)) {
        span.end({{"result", "mismatch"}});
        throw HTTPError(403, "XSRF cookie does not match POST argument");
    }
    span.end({{"result", "ok"}});
}

// Tornado: tornado/web.py:1335 RequestHandler.xsrf_form_html
std::string RequestHandler::xsrf_form_html() {
    return "<input type=\"hidden\" name=\"_xsrf\" value=\"" + escape::xhtml_escape(xsrf_token()) +
           "\"/>";
}

// ---------------------------------------------------------------------------
// Signed values (module functions)

// Tornado: tornado/web.py:3077 create_signed_value
std::string create_signed_value(const CookieSecret& secret, std::string_view name,
                                std::string_view value, const SignedValueOptions& options) {
    int version = options.version.value_or(DEFAULT_SIGNED_VALUE_VERSION);
    double now = options.clock ? options.clock() : now_seconds();
    std::string timestamp = int_string(now);
    std::string encoded = b64encode(value);
    if (version == 1) {
        const auto* key = std::get_if<std::string>(&secret);
        if (key == nullptr) {
            throw std::invalid_argument("version 1 signed values need a single secret");
        }
        std::string signature = _create_signature_v1(*key, name, encoded, timestamp);
        return encoded + "|" + timestamp + "|" + signature;
    }
    if (version != 2) {
        throw std::invalid_argument(fmt::format("Unsupported version {}", version));
    }
    // "2|" and length-prefixed fields, each followed by '|'; the signature
    // is the HMAC-SHA256 of all that, final '|' included.
    auto format_field = [](std::string_view s) { return fmt::format("{}:{}|", s.size(), s); };
    std::string to_sign = "2|" + format_field(std::to_string(options.key_version.value_or(0))) +
                          format_field(timestamp) + format_field(name) + format_field(encoded);
    std::string key;
    if (const auto* keys = std::get_if<std::map<int, std::string>>(&secret)) {
        auto it = options.key_version ? keys->find(*options.key_version) : keys->end();
        if (it == keys->end()) {
            throw std::invalid_argument("Key version must be set when sign key dict is used");
        }
        key = it->second;
    } else {
        key = std::get<std::string>(secret);
    }
    return to_sign + _create_signature_v2(key, to_sign);
}

// Tornado: tornado/web.py:3154 decode_signed_value
// C++: a v1 value read with a map secret is None (Tornado asserts).
std::optional<std::string> decode_signed_value(const CookieSecret& secret, std::string_view name,
                                               std::optional<std::string_view> value,
                                               const DecodeSignedValueOptions& options) {
    int min_version = options.min_version.value_or(DEFAULT_SIGNED_VALUE_MIN_VERSION);
    if (min_version > 2) {
        throw std::invalid_argument(fmt::format("Unsupported min_version {}", min_version));
    }
    if (!value || value->empty()) {
        return std::nullopt;
    }
    double now = options.clock ? options.clock() : now_seconds();
    int version = _get_version(*value);
    if (version < min_version) {
        return std::nullopt;
    }
    if (version == 1) {
        const auto* key = std::get_if<std::string>(&secret);
        if (key == nullptr) {
            return std::nullopt;
        }
        return _decode_signed_value_v1(*key, name, *value, options.max_age_days, now);
    }
    if (version == 2) {
        return _decode_signed_value_v2(secret, name, *value, options.max_age_days, now);
    }
    return std::nullopt;
}

// Tornado: tornado/web.py:3258 get_signature_key_version
std::optional<int> get_signature_key_version(std::string_view value) {
    if (_get_version(value) < 2) {
        return std::nullopt;
    }
    auto fields = _decode_fields_v2(value);
    if (!fields) {
        return std::nullopt;
    }
    return fields->key_version;
}

}  // namespace tornado::web
