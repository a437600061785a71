// tornado.escape: escaping and unescaping for HTML, URLs and JSON.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tornado::escape {

// Tornado: tornado/escape.py:51 xhtml_escape
/// Escapes <, >, &, " and ' for HTML.
std::string xhtml_escape(std::string_view value);

// Tornado: tornado/escape.py:95 url_escape
/// Percent-encodes `value`; with `plus`, spaces become "+" (query strings).
std::string url_escape(std::string_view value, bool plus = true);

// Tornado: tornado/escape.py:139 url_unescape
/// Decodes %XX escapes; with `plus`, "+" becomes a space.
std::string url_unescape(std::string_view value, bool plus = true);

// Tornado: tornado/escape.py:74 json_encode
/// A JSON string literal (with quotes) as Python's json.dumps writes it
/// (ensure_ascii: every non-ASCII character as \uXXXX), with "</" written
/// "<\/" as Tornado does. `utf8` says how to read the bytes: as UTF-8
/// (invalid sequences become U+FFFD, Python's errors="replace"), or as
/// latin-1 (what header values are).
std::string json_string(std::string_view value, bool utf8 = true);

// Tornado: tornado/escape.py:74 json_encode
/// `value` as Python's json.dumps writes it: ", " and ": " separators, keys in
/// their insertion order, strings as json_string, NaN and Infinity as Python
/// spells them.
std::string json_encode(const nlohmann::ordered_json& value);

/// True if `s` is well-formed UTF-8 (what Python's decode("utf-8") accepts).
bool is_valid_utf8(std::string_view s);

}  // namespace tornado::escape
