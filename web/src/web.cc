#include "tornado/web.h"

#include <cxxabi.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "tornado/autoreload.h"
#include "tornado/escape.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"

namespace tornado::web {

namespace {

constexpr trace::Module kTraceModule{"web", "tornado/web.py"};

// The Date header changes once a second: format it once a second.
const std::string& http_date_now() {
    thread_local std::time_t cached_second = 0;
    thread_local std::string cached;
    std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        cached_second = now;
        cached = httputil::format_timestamp(now);
    }
    return cached;
}

constexpr const char* kServerHeader = "TornadoServer/4.5.2 (tornado-cpp)";

// C++: Tornado hashes each body with hashlib.sha1. OpenSSL 3's EVP_sha1()
// makes EVP_Digest look the algorithm up in the provider store on every
// call (a lock and a search, more than the hash of a short body costs), so
// the algorithm is fetched once and one context per thread is reused.
std::string sha1_hex(std::string_view data) {
    static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (sha1 == nullptr || ctx == nullptr || EVP_DigestInit_ex(ctx.get(), sha1, nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
        throw std::runtime_error("SHA-1 is not available from OpenSSL");
    }
    std::string out;
    out.reserve(static_cast<std::size_t>(len) * 2);
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kHex[digest[i] >> 4U]);
        out.push_back(kHex[digest[i] & 0xfU]);
    }
    return out;
}

// The values of If-None-Match: "*" or quoted tags, optionally weak (W/).
std::vector<std::string_view> find_etags(std::string_view header) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < header.size()) {
        if (header[i] == '*') {
            out.push_back(header.substr(i, 1));
            ++i;
            continue;
        }
        std::size_t start = i;
        std::size_t q = i;
        if (header.substr(i, 3) == "W/\"") {
            q = i + 2;
        }
        if (header[q] == '"') {
            std::size_t close = header.find('"', q + 1);
            if (close != std::string_view::npos) {
                out.push_back(header.substr(start, close + 1 - start));
                i = close + 1;
                continue;
            }
        }
        ++i;
    }
    return out;
}

// The C++ spelling of a type's name ("std::runtime_error").
std::string demangle(const std::type_info& type) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    std::string name = status == 0 && demangled != nullptr ? demangled : type.name();
    std::free(demangled);
    return name;
}

// "std::runtime_error" for the exception in `exc` (the last line of a
// Python traceback names the class the same way).
std::string exception_type_name(const std::exception_ptr& exc) {
    try {
        std::rethrow_exception(exc);
    } catch (...) {
        const std::type_info* type = abi::__cxa_current_exception_type();
        if (type == nullptr) {
            return "unknown exception";
        }
        return demangle(*type);
    }
}

std::string_view strip_weak(std::string_view tag) {
    return tag.starts_with("W/") ? tag.substr(2) : tag;
}

}  // namespace

// ---------------------------------------------------------------------------
// Errors

// Tornado: tornado/web.py:2136 HTTPError
HTTPError::HTTPError(int status_code, std::string log_message, std::string reason)
    : std::runtime_error(fmt::format("HTTP {}: {}{}", status_code,
                                     reason.empty() ? httputil::responses(status_code) : reason,
                                     log_message.empty() ? "" : " (" + log_message + ")")),
      status_code_(status_code),
      log_message_(std::move(log_message)),
      reason_(std::move(reason)) {}

// ---------------------------------------------------------------------------
// GZipContentEncoding

struct GZipContentEncoding::ZStream {
    z_stream z{};
    bool initialised = false;
    ~ZStream() {
        if (initialised) {
            deflateEnd(&z);
        }
    }
    // Compresses `in`; with `finishing`, ends the gzip stream.
    std::string compress(std::string_view in, bool finishing) {
        std::string out;
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        int flush = finishing ? Z_FINISH : Z_SYNC_FLUSH;
        do {
            char buf[16384];
            z.next_out = reinterpret_cast<Bytef*>(buf);
            z.avail_out = sizeof buf;
            deflate(&z, flush);
            out.append(buf, sizeof buf - z.avail_out);
        } while (z.avail_out == 0);
        return out;
    }
};

// Tornado: tornado/web.py:2823 GZipContentEncoding.__init__
GZipContentEncoding::GZipContentEncoding(const HTTPServerRequest& request)
    : Traced("GZipContentEncoding"),
      gzipping_(request.headers->get("Accept-Encoding", "").find("gzip") !=
                std::string_view::npos) {
    set_trace_ids(request.trace_conn(), request.trace_req());
}

GZipContentEncoding::~GZipContentEncoding() = default;

// Tornado: tornado/web.py:2826 GZipContentEncoding._compressible_type
bool GZipContentEncoding::_compressible_type(std::string_view ctype) {
    static constexpr std::string_view kTypes[] = {
        "application/javascript", "application/x-javascript", "application/xml",
        "application/atom+xml",   "application/json",         "application/xhtml+xml",
        "image/svg+xml"};
    if (ctype.starts_with("text/")) {
        return true;
    }
    for (std::string_view t : kTypes) {
        if (ctype == t) {
            return true;
        }
    }
    return false;
}

// Tornado: tornado/web.py:2829 GZipContentEncoding.transform_first_chunk
void GZipContentEncoding::transform_first_chunk(int& /*status_code*/, HTTPHeaders& headers,
                                                std::string& chunk, bool finishing) {
    TRACE_SPAN_AS(span, "GZipContentEncoding.transform_first_chunk", {"bytes", chunk.size()},
                  {"finishing", finishing});
    if (auto vary = headers.get("Vary")) {
        headers.set("Vary", std::string(*vary) + ", Accept-Encoding");
    } else {
        headers.set("Vary", "Accept-Encoding");
    }
    if (gzipping_) {
        std::string_view ctype = headers.get("Content-Type", "");
        ctype = ctype.substr(0, ctype.find(';'));
        gzipping_ = _compressible_type(ctype) && (!finishing || chunk.size() >= MIN_LENGTH) &&
                    !headers.contains("Content-Encoding");
    }
    if (gzipping_) {
        headers.set("Content-Encoding", "gzip");
        zstream_ = std::make_unique<ZStream>();
        // windowBits 16+15: a gzip header and trailer, as Python's GzipFile.
        if (deflateInit2(&zstream_->z, GZIP_LEVEL, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
            throw std::runtime_error("deflateInit2 failed");
        }
        zstream_->initialised = true;
        transform_chunk(chunk, finishing);
        if (headers.contains("Content-Length")) {
            // The length changed: set it if this is the only chunk, else drop
            // it and let the response be chunked.
            if (finishing) {
                headers.set("Content-Length", std::to_string(chunk.size()));
            } else {
                headers.erase("Content-Length");
            }
        }
    }
    span.end({{"gzipping", gzipping_}, {"bytes", chunk.size()}});
}

// Tornado: tornado/web.py:2858 GZipContentEncoding.transform_chunk
void GZipContentEncoding::transform_chunk(std::string& chunk, bool finishing) {
    TRACE_SPAN_AS(span, "GZipContentEncoding.transform_chunk", {"bytes", chunk.size()},
                  {"finishing", finishing});
    if (gzipping_) {
        chunk = zstream_->compress(chunk, finishing);
    }
    span.end({{"bytes", chunk.size()}});
}

// ---------------------------------------------------------------------------
// RequestHandler

// Tornado: tornado/web.py:167 RequestHandler.__init__
RequestHandler::RequestHandler(std::shared_ptr<Application> app,
                               std::shared_ptr<HTTPServerRequest> req)
    : Traced("RequestHandler"), application(std::move(app)), request(std::move(req)) {
    set_trace_ids(request->trace_conn(), request->trace_req());
    clear();
    if (request->connection) {
        // The client may go away while the handler runs (long polling). A
        // raw `this` is enough: the _HandlerDelegate that owns this handler
        // lives until the connection has dropped the callback (at finish(),
        // at its close, or when it is done with the message).
        request->connection->set_close_callback([this]() { on_connection_close(); });
    }
}

RequestHandler::~RequestHandler() = default;

namespace {
[[noreturn]] void unimplemented() {
    throw HTTPError(405);
}
}  // namespace

// Tornado 6.2: tornado/web.py RequestHandler._unimplemented_method (4.5.2: get, head, post,
// delete, patch, put and options each raise HTTPError(405))
Future<void> RequestHandler::get() {
    unimplemented();
}
Future<void> RequestHandler::head() {
    unimplemented();
}
Future<void> RequestHandler::post() {
    unimplemented();
}
Future<void> RequestHandler::delete_() {
    unimplemented();
}
Future<void> RequestHandler::patch() {
    unimplemented();
}
Future<void> RequestHandler::put() {
    unimplemented();
}
Future<void> RequestHandler::options() {
    unimplemented();
}

// Tornado: tornado/web.py:1526 RequestHandler.data_received
Future<void> RequestHandler::data_received(std::string /*chunk*/) {
    throw std::logic_error("data_received is not implemented");
}

// Tornado: tornado/web.py:287 RequestHandler.clear
void RequestHandler::clear() {
    headers_ = HTTPHeaders();
    headers_.set("Server", kServerHeader);
    headers_.set("Content-Type", "text/html; charset=UTF-8");
    headers_.set("Date", http_date_now());
    set_default_headers();
    write_buffer_.clear();
    status_code_ = 200;
    reason_ = "OK";
}

// Tornado: tornado/web.py:309 RequestHandler.set_status
// C++: as in Tornado 6.2, a code with no standard phrase is "Unknown". A
// reason with CR or LF would end the status line early and let its text
// become headers (RFC 9112 4): it is refused with HTTPOutputError. Tornado
// 6.2 passes it on; 6.5.3 replaces such a phrase with "Unknown".
void RequestHandler::set_status(int status_code, std::string reason) {
    if (reason.find_first_of("\r\n") != std::string::npos) {
        throw httputil::HTTPOutputError("Illegal characters (CR or LF) in reason phrase");
    }
    status_code_ = status_code;
    reason_ = reason.empty() ? std::string(httputil::responses(status_code)) : std::move(reason);
}

namespace {
// Tornado: tornado/web.py:361 RequestHandler._convert_header_value
// C++: Tornado 6.2 raises ValueError for a control character (\x00-\x1f);
// here it is HTTPOutputError, and a name with CR or LF is refused too.
std::string checked_header_value(std::string_view name, std::string value) {
    // Control characters could end the header and start another one.
    for (char c : value) {
        if (static_cast<unsigned char>(c) < 0x20) {
            throw httputil::HTTPOutputError("Unsafe header value: " + value);
        }
    }
    if (name.find_first_of("\r\n") != std::string_view::npos) {
        throw httputil::HTTPOutputError("Unsafe header name: " + std::string(name));
    }
    return value;
}
}  // namespace

// Tornado: tornado/web.py:331 RequestHandler.set_header
void RequestHandler::set_header(std::string_view name, std::string value) {
    headers_.set(name, checked_header_value(name, std::move(value)));
}

void RequestHandler::set_header(std::string_view name, std::int64_t value) {
    headers_.set(name, checked_header_value(name, std::to_string(value)));
}

// Tornado: tornado/web.py:341 RequestHandler.add_header
void RequestHandler::add_header(std::string_view name, std::string value) {
    headers_.add(name, checked_header_value(name, std::move(value)));
}

// Tornado: tornado/web.py:350 RequestHandler.clear_header
void RequestHandler::clear_header(std::string_view name) {
    headers_.erase(name);
}

// Tornado: tornado/web.py:393 RequestHandler.get_argument
std::string RequestHandler::get_argument(std::string_view name,
                                         std::optional<std::string> default_value,
                                         bool strip) const {
    return _get_argument(name, std::move(default_value), request->arguments, strip);
}

// Tornado: tornado/web.py:406 RequestHandler.get_arguments
std::vector<std::string> RequestHandler::get_arguments(std::string_view name, bool strip) const {
    return _get_arguments(name, request->arguments, strip);
}

// Tornado: tornado/web.py:421 RequestHandler.get_body_argument
std::string RequestHandler::get_body_argument(std::string_view name,
                                              std::optional<std::string> default_value,
                                              bool strip) const {
    return _get_argument(name, std::move(default_value), request->body_arguments, strip);
}

// Tornado: tornado/web.py:438 RequestHandler.get_body_arguments
std::vector<std::string> RequestHandler::get_body_arguments(std::string_view name,
                                                            bool strip) const {
    return _get_arguments(name, request->body_arguments, strip);
}

// Tornado: tornado/web.py:449 RequestHandler.get_query_argument
std::string RequestHandler::get_query_argument(std::string_view name,
                                               std::optional<std::string> default_value,
                                               bool strip) const {
    return _get_argument(name, std::move(default_value), request->query_arguments, strip);
}

// Tornado: tornado/web.py:466 RequestHandler.get_query_arguments
std::vector<std::string> RequestHandler::get_query_arguments(std::string_view name,
                                                             bool strip) const {
    return _get_arguments(name, request->query_arguments, strip);
}

// Tornado: tornado/web.py:477 RequestHandler._get_argument
std::string RequestHandler::_get_argument(std::string_view name,
                                          std::optional<std::string> default_value,
                                          const httputil::Arguments& source, bool strip) const {
    std::vector<std::string> values = _get_arguments(name, source, strip);
    if (values.empty()) {
        if (!default_value) {
            throw MissingArgumentError(std::string(name));
        }
        return std::move(*default_value);
    }
    // The last value wins when an argument is repeated.
    return std::move(values.back());
}

// Tornado: tornado/web.py:485 RequestHandler._get_arguments
std::vector<std::string> RequestHandler::_get_arguments(std::string_view name,
                                                        const httputil::Arguments& source,
                                                        bool strip) const {
    std::vector<std::string> out;
    auto it = source.find(name);
    if (it == source.end()) {
        return out;
    }
    for (const std::string& raw : it->second) {
        std::string v = decode_argument(raw, name);
        // Control characters (not \t\n\v\f\r) become spaces: _remove_control_chars_regex.
        for (char& c : v) {
            auto u = static_cast<unsigned char>(c);
            if (u <= 0x08 || (u >= 0x0e && u <= 0x1f)) {
                c = ' ';
            }
        }
        // Python's str.strip(): Unicode whitespace, U+3000 and the like too.
        out.emplace_back(strip ? httputil::py_unicode_strip(v) : std::string_view(v));
    }
    return out;
}

namespace {

// Python's repr() of bytes, as Tornado's "%r" of value[:40] prints it.
std::string bytes_repr(std::string_view b) {
    bool squote = b.find('\'') != std::string_view::npos && b.find('"') == std::string_view::npos;
    char q = squote ? '"' : '\'';
    std::string out = "b";
    out.push_back(q);
    for (char c : b) {
        auto u = static_cast<unsigned char>(c);
        if (c == q || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (u < 0x20 || u >= 0x7f) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out.push_back(c);
        }
    }
    out.push_back(q);
    return out;
}

}  // namespace

// Tornado: tornado/web.py:498 RequestHandler.decode_argument
std::string RequestHandler::decode_argument(std::string value, std::string_view name) const {
    if (!httputil::is_utf8(value)) {
        throw HTTPError(400, fmt::format("Invalid unicode in {}: {}",
                                         name.empty() ? "url" : name,
                                         bytes_repr(std::string_view(value).substr(0, 40))));
    }
    return value;
}

// Tornado: tornado/web.py:691 RequestHandler.write
// C++: bytes and str are both std::string; write(dict) is write_json in
// the demo application.
void RequestHandler::write(std::string_view chunk) {
    if (finished_) {
        throw std::runtime_error("Cannot write() after finish()");
    }
    write_buffer_.append(chunk);
}

// Tornado: tornado/web.py:691 RequestHandler.write (its dict branch)
void RequestHandler::_write_json(const nlohmann::ordered_json& chunk) {
    if (!chunk.is_object()) {
        // A top-level JSON array can be read by another site's <script>.
        throw std::invalid_argument("write() only accepts JSON objects, not " +
                                    std::string(chunk.type_name()));
    }
    std::string text = escape::json_encode(chunk);
    set_header("Content-Type", "application/json; charset=UTF-8");
    write(std::string_view(text));
}

// Tornado: tornado/web.py:911 RequestHandler.flush
Future<void> RequestHandler::flush(bool include_footers) {
    TRACE_SPAN("RequestHandler.flush", {"bytes", write_buffer_.size()},
               {"include_footers", include_footers});
    std::string chunk = std::move(write_buffer_);
    write_buffer_.clear();
    if (!headers_written_) {
        headers_written_ = true;
        for (auto& transform : transforms_) {
            transform->transform_first_chunk(status_code_, headers_, chunk, include_footers);
        }
        // A HEAD response has the headers of the GET, without the body.
        if (request->method == "HEAD") {
            chunk.clear();
        }
        // Cookies are kept aside until now, so that a later set_cookie of
        // the same name could still replace an earlier one.
        for (auto& [name, header] : new_cookies_) {
            add_header("Set-Cookie", std::move(header));
        }
        new_cookies_.clear();
        httputil::ResponseStartLine start_line{"", status_code_, reason_};
        return request->connection->write_headers(start_line, headers_, std::move(chunk));
    }
    for (auto& transform : transforms_) {
        transform->transform_chunk(chunk, include_footers);
    }
    if (request->method != "HEAD") {
        return request->connection->write(std::move(chunk));
    }
    Future<void> done = Future<void>::make();
    done.set_result();
    return done;
}

// Tornado: tornado/web.py:959 RequestHandler.finish
Future<void> RequestHandler::finish(std::string_view chunk) {
    TRACE_SPAN("RequestHandler.finish", {"status", status_code_});
    if (finished_) {
        throw std::runtime_error("finish() called twice");
    }
    if (!chunk.empty()) {
        write(chunk);
    }
    // Etag and Content-Length are only possible while nothing has been sent.
    if (!headers_written_) {
        if (status_code_ == 200 && (request->method == "GET" || request->method == "HEAD") &&
            !headers_.contains("Etag")) {
            set_etag_header();
            if (check_etag_header()) {
                write_buffer_.clear();
                set_status(304);
            }
        }
        if (status_code_ == 204 || status_code_ == 304 ||
            (status_code_ >= 100 && status_code_ < 200)) {
            if (!write_buffer_.empty()) {
                throw std::logic_error(fmt::format("Cannot send body with {}", status_code_));
            }
            _clear_representation_headers();
        } else if (!headers_.contains("Content-Length")) {
            set_header("Content-Length", static_cast<std::int64_t>(write_buffer_.size()));
        }
    }
    // Drop the close callback: the handler is done with the connection.
    request->connection->set_close_callback(nullptr);
    Future<void> future = flush(true);
    request->finish();
    _log();
    finished_ = true;
    on_finish();
    return future;
}

// Tornado: tornado/web.py:1003 RequestHandler.send_error
void RequestHandler::send_error(int status_code, const std::exception_ptr& exc) {
    TRACE_SPAN("RequestHandler.send_error", {"status", status_code});
    if (headers_written_) {
        log::gen_log.error("Cannot send error response after headers written");
        if (!finished_) {
            // Probably a Content-Length mismatch now, but it frees the socket.
            try {
                finish().quiet();
            } catch (...) {
                log::gen_log.error("Failed to flush partial response: {}",
                                   log::describe(std::current_exception()));
            }
        }
        return;
    }
    clear();
    // C++: Tornado 6.2 never answers HTTPError(204) or a 1xx code: the error
    // page makes finish() refuse ("Cannot send body with 204") twice and the
    // request hangs until the client gives up. A 204 goes out without a
    // body, as a 304 does; a 1xx cannot be a final answer (RFC 9110 15.2),
    // so it becomes a 500.
    if (status_code >= 100 && status_code < 200) {
        log::app_log.error("HTTP {} is not a final status; answering 500", status_code);
        status_code = 500;
    }
    std::string reason;
    if (exc && status_code != 500) {
        try {
            std::rethrow_exception(exc);
        } catch (const HTTPError& e) {
            reason = e.reason();
        } catch (...) {
        }
    }
    try {
        set_status(status_code, reason);
    } catch (const httputil::HTTPOutputError& e) {
        // C++: an HTTPError whose reason has CR or LF; the standard phrase
        // goes out instead.
        log::app_log.error("{}", e.what());
        set_status(status_code);
    }
    try {
        // Tornado 6.2: a 304 carries no body, so it gets no error page
        // (nor, here, a 204).
        if (status_code != 304 && status_code != 204) {
            write_error(status_code, exc);
        }
    } catch (...) {
        log::app_log.error("Uncaught exception in write_error: {}",
                           log::describe(std::current_exception()));
    }
    if (!finished_) {
        finish().quiet();
    }
}

// Tornado: tornado/web.py:1042 RequestHandler.write_error
// C++: the reason is HTML-escaped, as Tornado 6.2 does. With serve_traceback
// the "traceback" is the exception's type and message (C++ has no stack).
void RequestHandler::write_error(int status_code, const std::exception_ptr& exc) {
    TRACE_SPAN("RequestHandler.write_error", {"status", status_code});
    if (exc && application->settings().serve_traceback.value_or(false)) {
        set_header("Content-Type", "text/plain");
        finish(exception_type_name(exc) + ": " + log::describe(exc) + "\n").quiet();
        return;
    }
    std::string message = escape::xhtml_escape(reason_);
    finish(fmt::format("<html><title>{0}: {1}</title><body>{0}: {1}</body></html>", status_code,
                       message))
        .quiet();
}

// Tornado: tornado/web.py:1396 RequestHandler.compute_etag
std::optional<std::string> RequestHandler::compute_etag() {
    return "\"" + sha1_hex(write_buffer_) + "\"";
}

// Tornado: tornado/web.py:1351 RequestHandler.static_url
std::string RequestHandler::static_url(const std::string& path, bool include_host) const {
    // Tornado: tornado/web.py:1386 RequestHandler.require_setting
    if (application->settings().static_path.empty()) {
        throw std::runtime_error(
            "You must define the 'static_path' setting in your application to use static_url");
    }
    std::string base = include_host ? request->protocol + "://" + request->host : "";
    return base +
           application->static_handler_class().make_static_url(application->settings(), path, true);
}

// Tornado: tornado/web.py:1409 RequestHandler.set_etag_header
void RequestHandler::set_etag_header() {
    if (auto etag = compute_etag()) {
        set_header("Etag", std::move(*etag));
    }
}

// Tornado: tornado/web.py:1420 RequestHandler.check_etag_header
bool RequestHandler::check_etag_header() const {
    std::string_view computed = headers_.get("Etag", "");
    std::vector<std::string_view> etags = find_etags(request->headers->get("If-None-Match", ""));
    if (computed.empty() || etags.empty()) {
        return false;
    }
    if (etags.front() == "*") {
        return true;
    }
    // A weak comparison: W/"x" matches "x".
    for (std::string_view etag : etags) {
        if (strip_weak(etag) == strip_weak(computed)) {
            return true;
        }
    }
    return false;
}

// Tornado: tornado/web.py:1473 RequestHandler._execute
Future<void> RequestHandler::_execute(std::vector<std::unique_ptr<OutputTransform>> transforms,
                                      routing::PathArguments arguments) {
    TRACE_SPAN("RequestHandler._execute", {"method", request->method});
    auto self = shared_from_this();
    transforms_ = std::move(transforms);
    std::exception_ptr error;
    try {
        bool supported = false;
        for (std::string_view m : SUPPORTED_METHODS) {
            supported = supported || m == request->method;
        }
        if (!supported) {
            throw HTTPError(405);
        }
        if (_body_error) {
            // C++: Tornado 6.2 parses the body here, in _execute, and turns
            // its HTTPInputError into this 400; we parse it in
            // _HandlerDelegate.finish as 4.5.2 does and raise it here.
            throw HTTPError(400, "Invalid body: " + *_body_error);
        }
        for (std::string& arg : arguments.args) {
            arg = decode_argument(std::move(arg));
        }
        for (auto& [name, value] : arguments.kwargs) {
            value = decode_argument(std::move(value), name);
        }
        path_args = std::move(arguments.args);
        path_kwargs = std::move(arguments.kwargs);
        // With xsrf_cookies on, a form submission must carry the token.
        if (request->method != "GET" && request->method != "HEAD" && request->method != "OPTIONS" &&
            application->settings().xsrf_cookies) {
            check_xsrf_cookie();
        }

        // Awaited as temporaries, so that this frame does not own what it
        // waits for: if a method waits on a Future that is then dropped, its
        // frame and this one are destroyed instead of keeping each other.
        co_await prepare();  // no suspension if it is already done
        if (_prepared_future.valid() && !_prepared_future.done()) {
            // Tell the connection it may now deliver the body.
            _prepared_future.set_result();
        }
        if (finished_) {
            co_return;
        }
        if (_body_future.valid()) {
            // A streaming handler's method runs once the body is complete.
            bool closed = false;
            try {
                co_await _body_future;
            } catch (const iostream::StreamClosedError&) {
                closed = true;
            }
            if (closed) {
                co_return;
            }
        }
        co_await call_method();  // no suspension if it is already done
        if (_auto_finish && !finished_) {
            finish().quiet();
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        try {
            _handle_request_exception(error);
        } catch (...) {
            log::app_log.error("Exception in exception handler: {}",
                               log::describe(std::current_exception()));
        }
        if (_prepared_future.valid() && !_prepared_future.done()) {
            _prepared_future.set_result();
        }
    }
}

// C++ only: Tornado's getattr(self, self.request.method.lower()).
Future<void> RequestHandler::call_method() {
    const std::string& m = request->method;
    if (m == "GET") {
        // Tornado: tornado/web.py:223 RequestHandler.get (the subclass's method)
        TRACE_SPAN("RequestHandler.get");
        return get();
    }
    if (m == "HEAD") {
        // Tornado: tornado/web.py:220 RequestHandler.head (the subclass's method)
        TRACE_SPAN("RequestHandler.head");
        return head();
    }
    if (m == "POST") {
        // Tornado: tornado/web.py:226 RequestHandler.post (the subclass's method)
        TRACE_SPAN("RequestHandler.post");
        return post();
    }
    if (m == "DELETE") {
        // Tornado: tornado/web.py:229 RequestHandler.delete (the subclass's method)
        TRACE_SPAN("RequestHandler.delete");
        return delete_();
    }
    if (m == "PATCH") {
        // Tornado: tornado/web.py:232 RequestHandler.patch (the subclass's method)
        TRACE_SPAN("RequestHandler.patch");
        return patch();
    }
    if (m == "PUT") {
        // Tornado: tornado/web.py:235 RequestHandler.put (the subclass's method)
        TRACE_SPAN("RequestHandler.put");
        return put();
    }
    // Tornado: tornado/web.py:238 RequestHandler.options (the subclass's method)
    TRACE_SPAN("RequestHandler.options");
    return options();
}

// Tornado: tornado/web.py:1533 RequestHandler._log
void RequestHandler::_log() {
    application->log_request(*this);
}

// Tornado: tornado/web.py:1542 RequestHandler._request_summary
std::string RequestHandler::_request_summary() const {
    return fmt::format("{} {} ({})", request->method, request->uri, request->remote_ip);
}

// Tornado: tornado/web.py:1546 RequestHandler._handle_request_exception
// C++: as in Tornado 6.2, an HTTPError with an unknown code keeps its code
// (reason "Unknown") instead of becoming a 500.
void RequestHandler::_handle_request_exception(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const Finish&) {
        // Not an error: send what there is.
        if (!finished_) {
            finish().quiet();
        }
        return;
    } catch (...) {
    }
    try {
        log_exception(e);
    } catch (...) {
        log::app_log.error("Error in exception logger");
    }
    if (finished_) {
        // Nothing more can be sent for this request.
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const HTTPError& http_error) {
        send_error(http_error.status_code(), e);
    } catch (...) {
        send_error(500, e);
    }
}

// Tornado: tornado/web.py:1572 RequestHandler.log_exception
void RequestHandler::log_exception(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const HTTPError& http_error) {
        if (!http_error.log_message().empty()) {
            log::gen_log.warning("{} {}: {}", http_error.status_code(), _request_summary(),
                                 http_error.log_message());
        }
    } catch (...) {
        log::app_log.error("Uncaught exception {}: {}", _request_summary(), log::describe(e));
    }
}

// Tornado: tornado/web.py:1605 RequestHandler._clear_headers_for_304
// C++: Tornado 6.2's _clear_representation_headers, which the wire follows.
void RequestHandler::_clear_representation_headers() {
    for (const char* name : {"Content-Encoding", "Content-Language", "Content-Type"}) {
        headers_.erase(name);
    }
}

// Tornado: tornado/web.py:673 RequestHandler.redirect
void RequestHandler::redirect(const std::string& url, bool permanent, int status) {
    TRACE_SPAN("RequestHandler.redirect", {"url", url}, {"permanent", permanent});
    if (headers_written_) {
        throw std::runtime_error("Cannot redirect after headers have been written");
    }
    if (status == 0) {
        status = permanent ? 301 : 302;
    } else if (status < 300 || status > 399) {
        throw std::invalid_argument("redirect status must be 3xx");
    }
    set_status(status);
    set_header("Location", url);
    finish().quiet();
}

// Tornado: tornado/web.py:1392 RequestHandler.reverse_url
std::string RequestHandler::reverse_url(const std::string& name,
                                        const std::vector<std::string>& args) const {
    return application->reverse_url(name, args);
}

// Tornado: tornado/web.py:720 RequestHandler.render
// C++: no UI modules, so none of Tornado's embedded JS/CSS/html_head parts.
Future<void> RequestHandler::render(const std::string& template_name,
                                    const nlohmann::json& kwargs) {
    TRACE_SPAN("RequestHandler.render", {"template", template_name});
    if (finished_) {
        throw std::logic_error("Cannot render() after finish()");
    }
    std::string html = render_string(template_name, kwargs);
    return finish(html);
}

// Tornado: tornado/web.py:842 RequestHandler.render_string
std::string RequestHandler::render_string(const std::string& template_name,
                                          const nlohmann::json& kwargs) {
    std::string template_path = get_template_path();
    if (template_path.empty()) {
        // C++: Tornado falls back to the calling file's directory; a
        // compiled program has none.
        throw std::logic_error("render_string needs the template_path setting");
    }
    std::shared_ptr<template_::BaseLoader> loader;
    {
        std::lock_guard lock(application->_template_loader_lock);
        auto it = application->_template_loaders.find(template_path);
        if (it == application->_template_loaders.end()) {
            loader = create_template_loader(template_path);
            application->_template_loaders.emplace(template_path, loader);
        } else {
            loader = it->second;
        }
    }
    std::shared_ptr<template_::Template> t = loader->load(template_name);
    template_::Namespace ns = get_template_namespace();
    ns.update(template_::Namespace::from_json(kwargs));
    return t->generate(ns);
}

// Tornado: tornado/web.py:867 RequestHandler.get_template_namespace
// C++: Tornado also offers handler, request, current_user, locale and the
// UI modules; no template of ours uses them.
template_::Namespace RequestHandler::get_template_namespace() {
    // A template's arguments as text: strings as they are, numbers as
    // Python's str() prints them.
    auto text = [](const nlohmann::json& value) {
        return value.is_string() ? value.get<std::string>() : value.dump();
    };
    template_::Namespace ns;
    ns.set_function("static_url", [this, text](const std::vector<nlohmann::json>& args) {
        if (args.size() != 1) {
            throw std::invalid_argument("static_url() takes one path");
        }
        return static_url(text(args[0]));
    });
    ns.set_function("reverse_url", [this, text](const std::vector<nlohmann::json>& args) {
        if (args.empty()) {
            throw std::invalid_argument("reverse_url() needs a name");
        }
        std::vector<std::string> groups;
        for (std::size_t i = 1; i < args.size(); ++i) {
            groups.push_back(text(args[i]));
        }
        return reverse_url(text(args[0]), groups);
    });
    // Both a function and the module of `{% module xsrf_form_html() %}`.
    auto xsrf = [this](const std::vector<nlohmann::json>& /*args*/) { return xsrf_form_html(); };
    ns.set_function("xsrf_form_html", xsrf);
    ns.set_module("xsrf_form_html", xsrf);
    return ns;
}

// Tornado: tornado/web.py:890 RequestHandler.create_template_loader
std::shared_ptr<template_::BaseLoader> RequestHandler::create_template_loader(
    const std::string& template_path) {
    const ApplicationSettings& settings = application->settings();
    return std::make_shared<template_::Loader>(
        template_path, template_::LoaderOptions{.autoescape = settings.autoescape,
                                                .namespace_ = {},
                                                .whitespace = settings.template_whitespace});
}

// Tornado: tornado/web.py:1179 RequestHandler.get_template_path
std::string RequestHandler::get_template_path() {
    return application->settings().template_path;
}

// Tornado: tornado/web.py:2222 ErrorHandler.prepare
Future<void> ErrorHandler::prepare() {
    TRACE_SPAN("ErrorHandler.prepare", {"status", get_status()});
    throw HTTPError(get_status());
}

// Tornado: tornado/web.py:2264 RedirectHandler.get
// C++: "{0}", "{1}"... take the positional path groups (str.format).
Future<void> RedirectHandler::get() {
    std::string target = url_;
    for (std::size_t i = 0; i < path_args.size(); ++i) {
        // Appended piece by piece: GCC 12 at -O3 takes "{" + std::string&& for a
        // memcpy that may overlap itself and warns (-Wrestrict, a false positive).
        std::string placeholder = "{";
        placeholder += std::to_string(i);
        placeholder += '}';
        for (std::size_t pos = target.find(placeholder); pos != std::string::npos;
             pos = target.find(placeholder, pos + path_args[i].size())) {
            target.replace(pos, placeholder.size(), path_args[i]);
        }
    }
    // Tornado 6.2 carries the query string over to the new location.
    if (!request->query.empty()) {
        target += (target.find('?') == std::string::npos ? "?" : "&") + request->query;
    }
    redirect(target, permanent_);
    return {};
}

std::string handler_class_name(const std::type_info& type) {
    std::string name = demangle(type);
    // Only the class itself: "tornado::walkthrough::HelloHandler" -> "HelloHandler".
    std::size_t colon = name.rfind("::");
    return colon == std::string::npos ? name : name.substr(colon + 2);
}

// ---------------------------------------------------------------------------
// Application

std::shared_ptr<Application> Application::create(
    std::vector<routing::URLSpec> handlers, Settings settings,
    std::optional<std::vector<TransformFactory>> transforms) {
    return std::make_shared<Application>(std::move(handlers), std::move(settings),
                                         std::move(transforms));
}

namespace {
// Python's re.escape: a backslash before each regex special character.
std::string re_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("()[]{}?*+-|^$\\.&~# \t\n\r\v\f").find(c) != std::string_view::npos) {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out;
}
}  // namespace

// Tornado: tornado/web.py:1873 Application.__init__
Application::Application(std::vector<routing::URLSpec> handlers, Settings settings,
                         std::optional<std::vector<TransformFactory>> transforms)
    : Traced("Application"),
      settings_(std::move(settings)),
      static_handler_class_(
          settings_.static_handler_class.value_or(web::static_handler_class<StaticFileHandler>())),
      not_found_(url<ErrorHandler>(".*", 404)) {
    if (transforms) {
        transforms_ = std::move(*transforms);
    } else if (settings_.compress_response) {
        transforms_.push_back(transform_class<GZipContentEncoding>());
    }
    if (settings_.debug) {
        // Tornado's setdefault: what the caller set explicitly stays.
        settings_.autoreload = settings_.autoreload.value_or(true);
        settings_.serve_traceback = settings_.serve_traceback.value_or(true);
    }
    if (settings_.default_handler_class) {
        not_found_ = routing::URLSpec(".*", *settings_.default_handler_class);
    }
    if (!settings_.static_hash_cache) {
        settings_.static_hash_cache = !settings_.debug;
    }
    if (!settings_.static_path.empty()) {
        // Each is put in front of the user's handlers, so the last added
        // (robots.txt) is tried first.
        for (const std::string& pattern :
             {re_escape(settings_.static_url_prefix) + "(.*)", std::string(R"(/(favicon\.ico))"),
              std::string(R"(/(robots\.txt))")}) {
            handlers.insert(handlers.begin(),
                            routing::URLSpec(pattern,
                                             static_handler_class_.make_factory(
                                                 settings_.static_path,
                                                 settings_.static_handler_args.default_filename),
                                             static_handler_class_.name));
        }
    }
    if (settings_.debug && !settings_.compiled_template_cache) {
        settings_.compiled_template_cache = false;
    }
    rules_.push_back(HostRules{std::nullopt, std::move(handlers)});
    if (settings_.autoreload.value_or(false)) {
        // Automatically re-execute when the program changes on disk.
        autoreload::start();
    }
}

// Tornado: tornado/web.py:1963 Application.add_transform
void Application::add_transform(TransformFactory transform) {
    transforms_.push_back(std::move(transform));
}

// Tornado: tornado/web.py:1946 Application.add_handlers
// The new host's routes go in front of the wildcard list, after the hosts
// added before: the wildcard ".*$" must stay last, or it would answer for
// every host before a specific pattern had its turn.
void Application::add_handlers(const std::string& host_pattern,
                               std::vector<routing::URLSpec> handlers) {
    rules_.insert(rules_.end() - 1,
                  HostRules{routing::HostMatches(host_pattern), std::move(handlers)});
}

// Tornado 4.4: tornado/web.py Application._get_host_handlers
// C++: the 4.x method the notes walk through; 4.5.2 spreads the same rules
// over its routers (HostMatches, then the wildcard router with its
// DefaultHostMatches rules), which is the order kept here.
// C++: a cursor instead of a list, so that routing allocates nothing.
const std::vector<routing::URLSpec>* Application::_get_host_handlers(
    const HTTPServerRequest& request, std::size_t& cursor) const {
    const std::size_t n = rules_.size();
    // First pass: every host pattern the request's host matches, then the
    // wildcard list (always last in rules_).
    for (; cursor < n; ++cursor) {
        const HostRules& rules = rules_[cursor];
        if (!rules.host || rules.host->match(request)) {
            ++cursor;
            return &rules.specs;
        }
    }
    // Tornado: tornado/routing.py:483 DefaultHostMatches.match
    // Second pass: the lists whose pattern matches default_host, except
    // behind a load balancer (X-Real-Ip).
    if (!settings_.default_host || request.headers->contains("X-Real-Ip")) {
        return nullptr;
    }
    for (; cursor < 2 * n; ++cursor) {
        const HostRules& rules = rules_[cursor - n];
        if (rules.host && rules.host->match_host(*settings_.default_host)) {
            ++cursor;
            return &rules.specs;
        }
    }
    return nullptr;
}

// Tornado: tornado/web.py:2000 Application.find_handler
std::shared_ptr<httputil::HTTPMessageDelegate> Application::find_handler(
    std::shared_ptr<HTTPServerRequest> request) {
    set_trace_ids(request->trace_conn(), request->trace_req());
    TRACE_EVENT("Application.find_handler", {"host", request->host_name}, {"path", request->path});
    // Every matching host's routes are tried, in order, until one matches.
    std::size_t cursor = 0;
    while (const std::vector<routing::URLSpec>* specs = _get_host_handlers(*request, cursor)) {
        for (const routing::URLSpec& spec : *specs) {
            if (auto arguments = spec.matcher.match(*request)) {
                // Tornado: tornado/routing.py:508 PathMatches.match (its result)
                TRACE_EVENT("PathMatches.match", {"pattern", spec.matcher.pattern()},
                            {"handler", spec.handler_name});
                return get_handler_delegate(std::move(request), &spec, std::move(*arguments));
            }
        }
    }
    // default_handler_class, or ErrorHandler with 404.
    return get_handler_delegate(std::move(request), nullptr, {});
}

// Tornado: tornado/web.py:2014 Application.get_handler_delegate
std::shared_ptr<httputil::HTTPMessageDelegate> Application::get_handler_delegate(
    std::shared_ptr<HTTPServerRequest> request, const routing::URLSpec* spec,
    routing::PathArguments arguments) {
    return std::make_shared<detail::HandlerDelegate>(shared_from_this(), std::move(request),
                                                     spec != nullptr ? spec : &not_found_,
                                                     std::move(arguments));
}

// Tornado: tornado/web.py:2029 Application.reverse_url
std::string Application::reverse_url(const std::string& name,
                                     const std::vector<std::string>& args) const {
    // Tornado: tornado/routing.py:377 ReversibleRuleRouter.reverse_url
    // Host rules first, as Tornado's default router holds them. Within one
    // list a later route with the same name replaces an earlier one (Tornado
    // warns "Multiple handlers named ..."), so the search runs backwards.
    for (const HostRules& rules : rules_) {
        for (auto it = rules.specs.rbegin(); it != rules.specs.rend(); ++it) {
            if (it->name == name) {
                return it->reverse(args);
            }
        }
    }
    throw std::out_of_range(name + " not found in named urls");
}

// Tornado: tornado/web.py:2044 Application.log_request
void Application::log_request(const RequestHandler& handler) const {
    if (settings_.log_function) {
        settings_.log_function(handler);
        return;
    }
    if (!settings_.log_requests) {
        return;
    }
    int status = handler.get_status();
    log::Level level = status < 400   ? log::Level::Info
                       : status < 500 ? log::Level::Warning
                                      : log::Level::Error;
    if (!log::access_log.enabled_for(level)) {
        return;
    }
    double request_time = 1000.0 * handler.request->request_time();
    log::access_log.log(level, "{} {} {} ({}) {:.2f}ms", status, handler.request->method,
                        handler.request->uri, handler.request->remote_ip, request_time);
}

// ---------------------------------------------------------------------------
// _HandlerDelegate

// Tornado: tornado/web.py:2067 _HandlerDelegate.__init__
detail::HandlerDelegate::HandlerDelegate(std::shared_ptr<Application> application,
                                         std::shared_ptr<HTTPServerRequest> request,
                                         const routing::URLSpec* spec,
                                         routing::PathArguments arguments)
    : Traced("_HandlerDelegate"),
      application_(std::move(application)),
      request_(std::move(request)),
      spec_(spec),
      arguments_(std::move(arguments)) {
    set_trace_ids(request_->trace_conn(), request_->trace_req());
}

// Tornado: tornado/web.py:2079 _HandlerDelegate.headers_received
Future<void> detail::HandlerDelegate::headers_received(const httputil::StartLine& /*start_line*/,
                                                       std::shared_ptr<HTTPHeaders> /*headers*/) {
    TRACE_SPAN("_HandlerDelegate.headers_received",
               {"stream_request_body", spec_->stream_request_body});
    if (spec_->stream_request_body) {
        // A streaming handler starts now and receives the body as it comes.
        return execute();
    }
    return {};
}

// Tornado: tornado/web.py:2084 _HandlerDelegate.data_received
Future<void> detail::HandlerDelegate::data_received(std::string chunk) {
    TRACE_SPAN("_HandlerDelegate.data_received", {"bytes", chunk.size()});
    if (spec_->stream_request_body) {
        return handler_->data_received(std::move(chunk));
    }
    body_.append(chunk);
    return {};
}

// Tornado: tornado/web.py:2090 _HandlerDelegate.finish
void detail::HandlerDelegate::finish() {
    TRACE_SPAN("_HandlerDelegate.finish", {"body_bytes", body_.size()});
    if (spec_->stream_request_body) {
        // The handler has seen the body through data_received; now its
        // method may run.
        body_done_.set_result();
        return;
    }
    request_->body = std::move(body_);
    try {
        request_->_parse_body();
    } catch (const httputil::HTTPInputError& e) {
        // Answered by _execute, after the 405 check, as Tornado 6.2 does.
        body_error_ = e.what();
    }
    execute().quiet();
}

// Tornado: tornado/web.py:2098 _HandlerDelegate.on_connection_close
void detail::HandlerDelegate::on_connection_close() {
    if (spec_->stream_request_body && handler_) {
        if (body_done_.valid() && !body_done_.done()) {
            body_done_.set_exception(std::make_exception_ptr(iostream::StreamClosedError()));
        }
        handler_->on_connection_close();
    } else {
        body_.clear();
    }
}

// Tornado: tornado/web.py:2104 _HandlerDelegate.execute
Future<void> detail::HandlerDelegate::execute() {
    TRACE_SPAN("_HandlerDelegate.execute", {"handler", spec_->handler_name});
    if (!application_->settings().static_hash_cache.value_or(true)) {
        // Changed static files get new versions at once (debug mode).
        application_->static_handler_class().reset();
    }
    // Without the template cache (debug), every request parses templates anew.
    if (!application_->settings().compiled_template_cache.value_or(true)) {
        std::lock_guard lock(application_->_template_loader_lock);
        for (auto& [path, loader] : application_->_template_loaders) {
            loader->reset();
        }
    }
    handler_ = spec_->handler_factory(application_, request_);
    handler_->set_trace_class(spec_->handler_name.c_str());
    std::vector<std::unique_ptr<OutputTransform>> transforms;
    for (const TransformFactory& make_transform : application_->transforms()) {
        transforms.push_back(make_transform(*request_));
    }
    if (spec_->stream_request_body) {
        handler_->_prepared_future = Future<void>::make();
        body_done_ = Future<void>::make();
        handler_->_body_future = body_done_;
    }
    handler_->_body_error = std::move(body_error_);
    // _execute never lets an exception escape (it answers with an error
    // page), so its Future is not awaited here.
    handler_->_execute(std::move(transforms), std::move(arguments_)).quiet();
    // A streaming handler is "executed" once it is ready for the body.
    return handler_->_prepared_future;
}

}  // namespace tornado::web
