#include "tornado/escape.h"

#include <cmath>
#include <cstdint>

#include "tornado/httputil.h"

namespace tornado::escape {

// Tornado: tornado/escape.py:51 xhtml_escape
std::string xhtml_escape(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

// Tornado: tornado/escape.py:95 url_escape
std::string url_escape(std::string_view value, bool plus) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        bool safe = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                    c == '_' || c == '.' || c == '-' || c == '~' || (!plus && c == '/');
        if (safe) {
            out.push_back(c);
        } else if (plus && c == ' ') {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4U]);
            out.push_back(kHex[u & 0xfU]);
        }
    }
    return out;
}

// Tornado: tornado/escape.py:139 url_unescape
std::string url_unescape(std::string_view value, bool plus) {
    return httputil::url_unescape(value, plus);
}

namespace {

void append_code_point(std::string& out, std::uint32_t cp) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto u4 = [&](std::uint32_t v) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) {
            out.push_back(kHex[(v >> static_cast<unsigned>(shift)) & 0xfU]);
        }
    };
    switch (cp) {
        case '"':
            out += "\\\"";
            return;
        case '\\':
            out += "\\\\";
            return;
        case '\n':
            out += "\\n";
            return;
        case '\r':
            out += "\\r";
            return;
        case '\t':
            out += "\\t";
            return;
        case '\b':
            out += "\\b";
            return;
        case '\f':
            out += "\\f";
            return;
        default:
            break;
    }
    if (cp < 0x20 || (cp >= 0x7f && cp < 0x10000)) {
        u4(cp);
    } else if (cp >= 0x10000) {
        cp -= 0x10000;
        u4(0xD800 + (cp >> 10U));
        u4(0xDC00 + (cp & 0x3ffU));
    } else {
        out.push_back(static_cast<char>(cp));
    }
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid.
std::size_t decode_utf8(std::string_view s, std::size_t i, std::uint32_t& cp) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    std::size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0) {
        len = 3;
        cp = c & 0x0FU;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07U;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0U) != 0x80) {
            return 0;
        }
        cp = (cp << 6U) | (cc & 0x3FU);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF) {
        return 0;
    }
    return len;
}

}  // namespace

// Tornado: tornado/escape.py:74 json_encode
std::string json_string(std::string_view value, bool utf8) {
    // Python's errors="replace": one U+FFFD per maximal invalid subpart.
    std::string replaced = utf8 ? httputil::utf8_decode_replace(value) : std::string();
    if (utf8) {
        value = replaced;
    }
    std::string out = "\"";
    std::size_t i = 0;
    while (i < value.size()) {
        std::uint32_t cp = 0;
        std::size_t len = 1;
        if (utf8) {
            len = decode_utf8(value, i, cp);
            if (len == 0) {
                cp = 0xFFFD;  // not reached: replaced above
                len = 1;
            }
        } else {
            cp = static_cast<unsigned char>(value[i]);
        }
        if (cp == '/' && i > 0 && value[i - 1] == '<') {
            out += "\\/";
        } else {
            append_code_point(out, cp);
        }
        i += len;
    }
    out += "\"";
    return out;
}

bool is_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        std::uint32_t cp;
        if ((c & 0xE0U) == 0xC0) {
            len = 2;
            cp = c & 0x1FU;
        } else if ((c & 0xF0U) == 0xE0) {
            len = 3;
            cp = c & 0x0FU;
        } else if ((c & 0xF8U) == 0xF0) {
            len = 4;
            cp = c & 0x07U;
        } else {
            return false;
        }
        if (i + len > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0U) != 0x80) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return false;
        }
        i += len;
    }
    return true;
}

namespace {
void append_json(std::string& out, const nlohmann::ordered_json& value) {
    switch (value.type()) {
        case nlohmann::ordered_json::value_t::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& [key, item] : value.items()) {
                out += first ? "" : ", ";
                first = false;
                out += json_string(key);
                out += ": ";
                append_json(out, item);
            }
            out.push_back('}');
            return;
        }
        case nlohmann::ordered_json::value_t::array: {
            out.push_back('[');
            for (std::size_t i = 0; i < value.size(); ++i) {
                out += i > 0 ? ", " : "";
                append_json(out, value[i]);
            }
            out.push_back(']');
            return;
        }
        case nlohmann::ordered_json::value_t::string:
            out += json_string(value.get_ref<const std::string&>());
            return;
        case nlohmann::ordered_json::value_t::number_float: {
            double d = value.get<double>();
            if (std::isnan(d)) {
                out += "NaN";
            } else if (std::isinf(d)) {
                out += d > 0 ? "Infinity" : "-Infinity";
            } else {
                out += value.dump();  // shortest round trip, as Python's repr
            }
            return;
        }
        default:
            out += value.dump();  // null, true, false, integers
    }
}
}  // namespace

// Tornado: tornado/escape.py:74 json_encode
std::string json_encode(const nlohmann::ordered_json& value) {
    std::string out;
    append_json(out, value);
    return out;
}

}  // namespace tornado::escape
