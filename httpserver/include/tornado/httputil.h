// tornado.httputil: HTTP utilities shared by the server and the web layer:
// headers, start lines, the request object and the delegate interfaces
// through which the layers talk.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"

namespace tornado::http1connection {
class HTTP1ServerConnection;
}

namespace tornado::httputil {

// Tornado: tornado/httputil.py:474 HTTPInputError
/// Malformed input from the peer (start line, headers, framing).
class HTTPInputError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Tornado: tornado/httputil.py:483 HTTPOutputError
/// The application misused the connection (e.g. wrote past Content-Length).
class HTTPOutputError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Python's str.isspace for one latin-1 character (headers are decoded as
/// latin-1, so \x85 and \xa0 count too).
bool py_isspace(unsigned char c);
/// Python's str.strip() / lstrip() on a latin-1 string.
std::string_view py_strip(std::string_view s);

/// The value of a hexadecimal digit (either case), or -1 for any other character.
int hex_digit(char c);
std::string_view py_lstrip(std::string_view s);
/// RFC 9110 5.6.3 whitespace (OWS): only SP and HTAB. Field values are
/// trimmed with these, not with Python's str.strip() set (see parse_line).
bool is_ows(unsigned char c);
/// Removes leading and trailing SP / HTAB.
std::string_view strip_ows(std::string_view s);
/// Python's str.isspace for one code point, and str.strip() / lstrip() on
/// UTF-8 text (multipart part headers and decoded arguments are Unicode text
/// in Tornado, so U+00A0, U+2028, U+3000... count as whitespace there).
bool py_unicode_isspace(std::uint32_t cp);
std::string_view py_unicode_strip(std::string_view utf8);
std::string_view py_unicode_lstrip(std::string_view utf8);
/// Python's bytes.decode("utf-8", "replace"): each maximal invalid subpart
/// becomes one U+FFFD, as CPython's decoder does.
std::string utf8_decode_replace(std::string_view s);
/// True if `s` is well-formed UTF-8 (what Python's decode("utf-8") accepts).
bool is_utf8(std::string_view s);
/// RFC 9110 5.6.2 tchar / token: the characters of a field name.
bool is_tchar(unsigned char c);
bool is_token(std::string_view s);
/// ASCII lower-casing (Python's lower() on the characters headers use).
std::string ascii_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Tornado: tornado/httputil.py:74 _NormalizedHeaderCache
/// "content-type" -> "Content-Type": each dash-separated word capitalised.
std::string _normalize_header(std::string_view name);

// Tornado: tornado/httputil.py:106 HTTPHeaders
/// A case-insensitive, insertion-ordered multimap of header names to values.
/// Repeated headers are kept as a list (get_list) and read joined with ","
/// (get). Names are stored normalised ("Content-Type").
class HTTPHeaders {
  public:
    HTTPHeaders() = default;

    /// Adds a value, keeping earlier values of the same name.
    void add(std::string_view name, std::string value);
    /// The value (joined with "," when repeated), if present.
    std::optional<std::string_view> get(std::string_view name) const;
    /// get() or `default_value`.
    std::string_view get(std::string_view name, std::string_view default_value) const;
    /// Every value of `name`, in order.
    std::vector<std::string> get_list(std::string_view name) const;
    /// Every (name, value) pair, repeated names once per value, in order.
    std::vector<std::pair<std::string, std::string>> get_all() const;
    /// Sets a single value, replacing any (Python's headers[name] = value; an
    /// existing name keeps its position).
    void set(std::string_view name, std::string value);
    /// Removes `name`; returns whether it was there.
    bool erase(std::string_view name);
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    /// The names, normalised, in insertion order.
    std::vector<std::string> keys() const;

    /// Parses one header line (a continuation line extends the last value).
    /// Throws HTTPInputError for a line without a colon, a name that is not
    /// a token, a CR or NUL in the line, or a continuation with nothing to
    /// continue.
    void parse_line(std::string_view line);
    /// Parses a header block (lines ending in CRLF or LF).
    static HTTPHeaders parse(std::string_view headers);

  private:
    struct Entry {
        std::string name;               // normalised
        std::string value;              // all values joined with ","
        std::vector<std::string> list;  // only when there is more than one value
    };
    const Entry* find(std::string_view name) const;
    Entry* find(std::string_view name);
    void push_entry(std::string_view name, std::string value);
    void rebuild_index();

    // Names compared as HTTP does, ignoring ASCII case, without a lowered copy.
    struct NameHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view name) const noexcept;
    };
    struct NameEqual {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const noexcept;
    };
    // A short head is searched in order (cheaper than hashing); past this
    // many names an index keeps lookups and add() O(1) amortised, so a head
    // of many distinct names parses in linear time, not quadratic.
    static constexpr std::size_t kIndexFrom = 16;

    std::vector<Entry> entries_;
    std::unordered_map<std::string, std::size_t, NameHash, NameEqual> index_;  // name -> entries_
    std::size_t last_index_ = 0;  // the entry a continuation line extends
};

// Tornado: tornado/httputil.py:817 RequestStartLine
struct RequestStartLine {
    std::string method;
    std::string path;
    std::string version;
};

// Tornado: tornado/httputil.py:821 parse_request_start_line
/// "GET /foo HTTP/1.1" -> {method, path, version}; throws HTTPInputError
/// unless there are exactly three space-separated parts and the version is
/// HTTP/1.x.
RequestStartLine parse_request_start_line(std::string_view line);

// Tornado: tornado/httputil.py:839 ResponseStartLine
struct ResponseStartLine {
    std::string version;
    int code = 200;
    std::string reason;
};

/// What a message delegate is told first: a request line (server side) or a
/// status line (client side).
using StartLine = std::variant<RequestStartLine, ResponseStartLine>;

/// The reason phrase for a status code ("Not Found"), or "Unknown".
/// Mirrors Python's http.client.responses, which Tornado uses.
std::string_view responses(int code);
bool has_reason(int code);

// Tornado: tornado/httputil.py:796 format_timestamp
/// An HTTP date: "Sun, 27 Jan 2013 18:43:20 GMT".
std::string format_timestamp(std::int64_t unix_seconds);

/// Percent-decodes `s`; with `plus`, "+" becomes a space (query strings).
std::string url_unescape(std::string_view s, bool plus = true);

/// Arguments as Tornado keeps them: name -> values in order.
/// C++: names are bytes. Urlencoded names are their raw bytes (Tornado
/// decodes them as latin-1 text), multipart names their UTF-8 text.
using Arguments = std::map<std::string, std::vector<std::string>, std::less<>>;

// Tornado: tornado/httputil.py:630 HTTPFile
/// A file uploaded in a multipart/form-data body.
struct HTTPFile {
    std::string filename;      // UTF-8 text
    std::string body;          // the part's bytes
    std::string content_type;  // the part's Content-Type, default "application/unknown"
};

/// Uploaded files by field name, in the order they came.
using Files = std::map<std::string, std::vector<HTTPFile>, std::less<>>;

// Tornado: tornado/escape.py:166 parse_qs_bytes
/// Parses a query string, keeping blank values ("a=&b" -> a:[""], b:[""]).
Arguments parse_qs_bytes(std::string_view qs);

/// Content-Disposition style parameters: lower-cased name -> value.
using HeaderParams = std::map<std::string, std::string, std::less<>>;

// Tornado: tornado/httputil.py:714 parse_body_arguments
/// Parses an application/x-www-form-urlencoded or multipart/form-data body
/// into `arguments` and `files` (other content types are left alone).
/// Throws HTTPInputError for a body that cannot be parsed: a form body with
/// a Content-Encoding header, a multipart type without a boundary, or a
/// malformed multipart body (Tornado 6.2 with the CVE-2025-47287 fix).
void parse_body_arguments(std::string_view content_type, std::string_view body,
                          Arguments& arguments, Files& files,
                          const HTTPHeaders* headers = nullptr);

// Tornado: tornado/httputil.py:750 parse_multipart_form_data
/// Parses a multipart/form-data body with `boundary` (quotes around it are
/// dropped). Throws HTTPInputError when the final boundary is missing or a
/// part has no header block, no form-data disposition, no name, or does
/// not end in CRLF. Runs in time linear in the size of `data`.
void parse_multipart_form_data(std::string_view boundary, std::string_view data,
                               Arguments& arguments, Files& files);

// Tornado: tornado/httputil.py:878 _parse_header
/// Splits a Content-Disposition-like UTF-8 value into its first part and
/// its parameters (quoted values unescaped; RFC 2231 `name*=charset'lang'..`
/// and `name*0=` continuations joined and decoded). Throws HTTPInputError
/// where Python raises (a continuation number over 4300 digits; numbered
/// and unnumbered continuations of one name mixed).
std::pair<std::string, HeaderParams> _parse_header(std::string_view line);

// Tornado: tornado/httpserver.py:235 _HTTPRequestContext
// C++: declared here because both HTTP1Connection and HTTPServerRequest
// read it, and they live below httpserver.h.
struct HTTPRequestContext {
    netutil::Address address;
    /// The peer's IP for TCP ("0.0.0.0" for Unix sockets), or as set by
    /// xheaders for one request.
    std::string remote_ip;
    /// "http", "https" (SSL), or as given to HTTPServer.
    std::string protocol;
    std::string orig_remote_ip;
    std::string orig_protocol;
    /// Proxies whose addresses are skipped in X-Forwarded-For.
    std::vector<std::string> trusted_downstream;

    /// Takes remote_ip and protocol from X-Real-Ip / X-Forwarded-For and
    /// X-Scheme / X-Forwarded-Proto (defined in httpserver.cc).
    void _apply_xheaders(const HTTPHeaders& headers);
    /// Back to the peer's values, for the next request.
    void _unapply_xheaders();
    /// What Tornado's str(context) prints in logs: the remote IP.
    const std::string& str() const { return remote_ip; }
};

class HTTPConnection;
class HTTPMessageDelegate;

// Tornado: tornado/httputil.py:491 HTTPServerConnectionDelegate
/// Implemented by the server application: one delegate per request.
class HTTPServerConnectionDelegate {
  public:
    virtual ~HTTPServerConnectionDelegate() = default;
    /// A new request begins on `request_conn`; returns the delegate that
    /// will receive its headers and body.
    virtual std::shared_ptr<HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* server_conn,
        std::shared_ptr<HTTPConnection> request_conn) = 0;
    /// `server_conn` has closed.
    virtual void on_close(http1connection::HTTP1ServerConnection* server_conn) {
        (void)server_conn;
    }
};

// Tornado: tornado/httputil.py:517 HTTPMessageDelegate
/// Receives one HTTP message as it is read.
class HTTPMessageDelegate {
  public:
    virtual ~HTTPMessageDelegate() = default;
    /// The start line and headers arrived. A pending Future makes the
    /// connection wait for it before reading the body (flow control).
    virtual Future<void> headers_received(const StartLine& start_line,
                                          std::shared_ptr<HTTPHeaders> headers) = 0;
    /// A chunk of the body arrived; a pending Future delays the next read.
    virtual Future<void> data_received(std::string chunk) = 0;
    /// The whole message has been read.
    virtual void finish() = 0;
    /// The connection closed before the message was complete.
    virtual void on_connection_close() {}
};

// Tornado: tornado/httputil.py:557 HTTPConnection
/// The response side of a connection, used by applications.
class HTTPConnection {
  public:
    virtual ~HTTPConnection() = default;
    /// Writes the start line, headers and an optional first chunk. Resolves
    /// when the data has been handed to the kernel.
    virtual Future<void> write_headers(const ResponseStartLine& start_line, HTTPHeaders& headers,
                                       std::string chunk = {}) = 0;
    /// Writes a body chunk.
    virtual Future<void> write(std::string chunk) = 0;
    /// Marks the response complete.
    virtual void finish() = 0;
    /// Called once if the connection closes while the response is pending.
    virtual void set_close_callback(Callback callback) = 0;
    /// The connection's context (remote address and protocol).
    virtual const std::shared_ptr<HTTPRequestContext>& context() const = 0;
    /// Per-request limits a streaming handler may change in prepare().
    virtual void set_max_body_size(std::size_t max_body_size) = 0;
    virtual void set_body_timeout(double timeout) = 0;
};

// Tornado: tornado/httputil.py:248 HTTPServerRequest
/// A single HTTP request, as the application sees it.
class HTTPServerRequest : public trace::Traced {
  public:
    HTTPServerRequest(std::shared_ptr<HTTPConnection> connection,
                      const RequestStartLine& start_line, std::shared_ptr<HTTPHeaders> headers);

    std::string method;
    std::string uri;
    std::string version;
    std::shared_ptr<HTTPHeaders> headers;
    std::string body;
    std::string remote_ip;
    std::string protocol;
    std::string host;
    std::string host_name;
    std::string path;
    std::string query;
    Arguments arguments;
    Arguments query_arguments;
    Arguments body_arguments;
    Files files;
    std::shared_ptr<HTTPConnection> connection;

    /// Writes to the connection (the legacy interface).
    Future<void> write(std::string chunk);
    /// Finishes the response on the connection.
    void finish();
    /// "http://host/path?query".
    std::string full_url() const;
    /// Seconds since the request started (until finish, then fixed).
    double request_time() const;
    /// Parses a form body (parse_body_arguments) into body_arguments and
    /// files, and adds the body arguments to arguments. Throws
    /// HTTPInputError for a form body that cannot be parsed.
    void _parse_body();
    /// The request's cookies (Tornado's SimpleCookie drops names it
    /// does not allow, such as "" or "path").
    const std::map<std::string, std::string, std::less<>>& cookies();

  private:
    std::optional<std::map<std::string, std::string, std::less<>>> cookies_;
    double start_time_;
    double finish_time_ = 0;
};

}  // namespace tornado::httputil

// --- Range requests and HTTP dates (for web.StaticFileHandler) ---------------

namespace tornado::httputil {

/// A parsed Range header as Python slice indexes: `start` may be negative
/// (a suffix, "bytes=-4" -> start -4) and `end` is exclusive; either may be
/// absent ("bytes=6-" -> {6, none}; "bytes=-0" -> {none, 0}).
struct RequestRange {
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;
};

// Tornado: tornado/httputil.py:643 _parse_request_range
/// Parses a single-range "bytes=first-last" header; nothing for another
/// unit, several ranges or numbers that do not parse (the header is then
/// ignored). Numbers past +-2^62 are clamped, which changes no outcome.
std::optional<RequestRange> _parse_request_range(std::string_view range_header);

// Tornado: tornado/httputil.py:692 _get_content_range
/// The Content-Range value for the slice [start, end) of `total` bytes:
/// "bytes 1-2/4".
std::string _get_content_range(std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                               std::int64_t total);

/// The fields of a date as written (no time zone applied), as the first six
/// items of Python's email.utils.parsedate tuple.
struct DateFields {
    std::int64_t year = 0;
    std::int64_t month = 0;
    std::int64_t day = 0;
    std::int64_t hour = 0;
    std::int64_t minute = 0;
    std::int64_t second = 0;
};

/// Python's email.utils.parsedate: the lenient RFC 2822 parser Tornado uses
/// for If-Modified-Since (day name optional, RFC 850 dashes, two-digit years
/// and a trailing zone accepted; the zone is not applied). Nothing if it does
/// not parse. The fields are not range-checked (Python's parsedate does not).
std::optional<DateFields> parsedate(std::string_view data);

/// Seconds since the epoch of `fields` read as UTC, as Python's
/// calendar.timegm(datetime(*fields).utctimetuple()); nothing when datetime()
/// would refuse the fields (a year outside 1-9999, day 31 of April, hour 24).
std::optional<std::int64_t> date_fields_to_timestamp(const DateFields& fields);

}  // namespace tornado::httputil
