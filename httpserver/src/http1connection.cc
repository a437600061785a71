#include "tornado/http1connection.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "tornado/gen.h"
#include "tornado/log.h"

namespace tornado::http1connection {

using iostream::StreamClosedError;
using iostream::UnsatisfiableReadError;

namespace {

constexpr trace::Module kTraceModule{"httpserver", "tornado/http1connection.py"};

// The end of a header block: a blank line, with CRLF or bare LF endings.
const re::Pattern& header_end_regex() {
    static const re::Pattern pattern("\r?\n\r?\n");
    return pattern;
}

// The longest chunk-size line, CRLF included: Tornado 6.2 and 6.5 read it
// with read_until(b"\r\n", max_bytes=64).
constexpr std::size_t kMaxChunkSizeLine = 64;

// A chunk-size line: everything up to the first CRLF if it ends within
// kMaxChunkSizeLine bytes, else the first kMaxChunkSizeLine bytes (a line
// too long, which then does not end with CRLF). Anchored, so each search
// examines at most kMaxChunkSizeLine buffered bytes.
// C++: Tornado's max_bytes makes the stream close itself, silently; this
// bound lets the connection answer 400 first, as for other refused framing.
const re::Pattern& chunk_size_line_regex() {
    static const re::Pattern pattern(fmt::format("[\\s\\S]{{0,{}}}?\r\n|[\\s\\S]{{{}}}",
                                                 kMaxChunkSizeLine - 2, kMaxChunkSizeLine),
                                     re::Pattern::ANCHORED);
    return pattern;
}

// 1*DIGIT (base 10) or 1*HEXDIG (base 16) and nothing else: no sign, no
// "0x", no "_", no whitespace. Unsigned arithmetic; a value past UINT64_MAX
// saturates there (it exceeds every size limit anyway). std::nullopt when
// `s` is not all digits.
// C++: Tornado 6.2 used Python's int(), which also takes "+3", "-1", "0_3"
// and (base 16) "0x3" and surrounding whitespace; Tornado 6.3.3 made the
// same fix (http1connection.parse_int / parse_hex_int). RFC 9110 8.6 and
// RFC 9112 7.1.
std::optional<std::uint64_t> parse_digits(std::string_view s, unsigned base) {
    if (s.empty()) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : s) {
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = static_cast<unsigned>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
        if (value > (UINT64_MAX - digit) / base) {
            value = UINT64_MAX;
        } else {
            value = value * base + digit;
        }
    }
    return value;
}

// RFC 9110 5.6.4 quoted-string (DQUOTE *( qdtext / quoted-pair ) DQUOTE) at
// the start of `s`; returns its length, or 0 if there is none.
std::size_t quoted_string_length(std::string_view s) {
    if (s.empty() || s.front() != '"') {
        return 0;
    }
    for (std::size_t i = 1; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
            return i + 1;
        }
        if (c == '\\') {
            ++i;
            if (i >= s.size()) {
                return 0;
            }
            c = static_cast<unsigned char>(s[i]);
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 0;
        }
    }
    return 0;
}

// A chunk-size line without its CRLF: chunk-size [ chunk-ext ] (RFC 9112
// 7.1, 7.1.1), where chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS
// ext-val ] ) and ext-val is a token or a quoted-string. Returns the size;
// the extensions are checked and ignored. Throws HTTPInputError otherwise.
// C++: Tornado (6.2 and later) refuses any extension: int() fails on ";".
std::uint64_t parse_chunk_size_line(std::string_view line) {
    std::size_t end = 0;
    while (end < line.size() && std::isxdigit(static_cast<unsigned char>(line[end])) != 0) {
        ++end;
    }
    std::optional<std::uint64_t> size = parse_digits(line.substr(0, end), 16);
    if (!size) {
        throw httputil::HTTPInputError("invalid chunk size");
    }
    std::string_view rest = line.substr(end);
    auto skip_ows = [&rest] {
        while (!rest.empty() && httputil::is_ows(static_cast<unsigned char>(rest.front()))) {
            rest.remove_prefix(1);
        }
    };
    auto take_token = [&rest] {
        std::size_t n = 0;
        while (n < rest.size() && httputil::is_tchar(static_cast<unsigned char>(rest[n]))) {
            ++n;
        }
        rest.remove_prefix(n);
        return n;
    };
    while (true) {
        if (rest.empty()) {
            return *size;
        }
        skip_ows();
        if (rest.empty() || rest.front() != ';') {
            throw httputil::HTTPInputError("invalid chunk size");
        }
        rest.remove_prefix(1);
        skip_ows();
        if (take_token() == 0) {
            throw httputil::HTTPInputError("invalid chunk extension");
        }
        skip_ows();
        if (!rest.empty() && rest.front() == '=') {
            rest.remove_prefix(1);
            skip_ows();
            std::size_t quoted = quoted_string_length(rest);
            if (quoted > 0) {
                rest.remove_prefix(quoted);
            } else if (take_token() == 0) {
                throw httputil::HTTPInputError("invalid chunk extension");
            }
        }
    }
}

// True if `s` holds a CR or an LF. C++: a plain loop, because libstdc++'s
// find_first_of("\r\n") calls memchr once per character of `s`, and
// write_headers checks every header of every response.
bool has_cr_or_lf(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; });
}

// Runs a function when the scope ends, however it ends (Python's finally).
template <class F>
struct Finally {
    F fn;
    ~Finally() {
        try {
            fn();
        } catch (...) {
            log::app_log.error("Exception in cleanup: {}", log::describe(std::current_exception()));
        }
    }
};
template <class F>
Finally(F) -> Finally<F>;

// Tornado: tornado/http1connection.py:621 _GzipMessageDelegate
// Inflates a gzip request body before the application sees it.
// C++: the inflated body is held to max_body_size (Tornado does not limit
// it, so a small "gzip bomb" could make it buffer gigabytes): past it the
// request is malformed (400).
class GzipMessageDelegate : public HTTPMessageDelegate {
  public:
    GzipMessageDelegate(std::shared_ptr<HTTPMessageDelegate> delegate, std::size_t chunk_size,
                        std::size_t max_body_size)
        : delegate_(std::move(delegate)), chunk_size_(chunk_size), max_body_size_(max_body_size) {}

    ~GzipMessageDelegate() override {
        if (inflating_) {
            inflateEnd(&z_);
        }
    }

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> headers) override {
        // Tornado 6.2 compares case-insensitively (4.5.2 wanted "gzip").
        if (auto encoding = headers->get("Content-Encoding");
            encoding && httputil::ascii_lower(*encoding) == "gzip") {
            if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
                throw std::runtime_error("inflateInit2 failed");
            }
            inflating_ = true;
            // Downstream sees plain data: rename the header.
            headers->add("X-Consumed-Content-Encoding", std::string(*encoding));
            headers->erase("Content-Encoding");
        }
        return delegate_->headers_received(start_line, std::move(headers));
    }

    Future<void> data_received(std::string chunk) override {
        if (!inflating_) {
            return delegate_->data_received(std::move(chunk));
        }
        return inflate_chunk(std::move(chunk));
    }

    void finish() override {
        if (inflating_ && !stream_end_) {
            // Python's flush() raises for truncated input.
            throw std::runtime_error("truncated gzip request body");
        }
        delegate_->finish();
    }

    void on_connection_close() override { delegate_->on_connection_close(); }

  private:
    Future<void> inflate_chunk(std::string compressed) {
        z_.next_in = reinterpret_cast<Bytef*>(compressed.data());
        z_.avail_in = static_cast<uInt>(compressed.size());
        while (z_.avail_in > 0 && !stream_end_) {
            std::string out(chunk_size_, '\0');
            z_.next_out = reinterpret_cast<Bytef*>(out.data());
            z_.avail_out = static_cast<uInt>(out.size());
            int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                throw std::runtime_error("invalid gzip request body");
            }
            stream_end_ = rc == Z_STREAM_END;
            out.resize(out.size() - z_.avail_out);
            total_ += out.size();
            if (total_ > max_body_size_) {
                throw httputil::HTTPInputError("decompressed body too large");
            }
            if (!out.empty()) {
                // The input buffer must outlive the await: it is this frame's.
                Future<void> ret = delegate_->data_received(std::move(out));
                co_await ret;  // no suspension if it is already done
            }
        }
    }

    std::shared_ptr<HTTPMessageDelegate> delegate_;
    std::size_t chunk_size_;
    std::size_t max_body_size_;
    z_stream z_{};
    bool inflating_ = false;
    bool stream_end_ = false;
    std::size_t total_ = 0;
};

}  // namespace

// Tornado: tornado/http1connection.py:90 HTTP1Connection.__init__
HTTP1Connection::HTTP1Connection(std::shared_ptr<iostream::IOStream> stream, bool is_client,
                                 HTTP1ConnectionParameters params,
                                 std::shared_ptr<httputil::HTTPRequestContext> context)
    : Traced("HTTP1Connection"),
      is_client_(is_client),
      stream_(std::move(stream)),
      params_(params),
      context_(std::move(context)),
      no_keep_alive_(params.no_keep_alive),
      max_body_size_(params.max_body_size.value_or(stream_->max_buffer_size())),
      body_timeout_(params.body_timeout),
      finish_future_(Future<void>::make()) {
    // Each request gets its own HTTP1Connection, so its id is the request id.
    set_trace_ids(stream_->trace_conn(), is_client ? 0 : trace::next_req_id());
    finish_future_.set_origin("HTTP1Connection._finish_future");
}

// Tornado: tornado/http1connection.py:138 HTTP1Connection.read_response
Future<bool> HTTP1Connection::read_response(std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection.read_response");
    if (params_.decompress) {
        delegate = std::make_shared<GzipMessageDelegate>(std::move(delegate), params_.chunk_size,
                                                         max_body_size_);
    }
    return _read_message(std::move(delegate));
}

// Tornado: tornado/http1connection.py:154 HTTP1Connection._read_message
Future<bool> HTTP1Connection::_read_message(std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_message");
    auto self = shared_from_this();
    bool need_delegate_close = false;
    Finally cleanup{[&] {
        if (need_delegate_close) {
            delegate->on_connection_close();
        }
        _clear_callbacks();
    }};
    bool malformed = false;
    try {
        // The start line and headers end with a blank line.
        Future<std::string> header_future =
            stream_->read_until_regex(header_end_regex(), params_.max_header_size);
        std::string header_data;
        if (!params_.header_timeout) {
            header_data = co_await header_future;
        } else {
            bool timed_out = false;
            try {
                header_data = co_await gen::with_timeout<StreamClosedError>(
                    stream_->io_loop()->time() + *params_.header_timeout, header_future);
            } catch (const TimeoutError&) {
                timed_out = true;
            }
            if (timed_out) {
                close();
                co_return false;
            }
        }
        auto [start_line_text, parsed_headers] = _parse_headers(header_data);
        auto headers = std::make_shared<HTTPHeaders>(std::move(parsed_headers));
        httputil::RequestStartLine start_line = httputil::parse_request_start_line(start_line_text);
        request_start_line_ = start_line;
        request_headers_ = headers;
        disconnect_on_finish_ = !_can_keep_alive(start_line, *headers);
        // C++: the framing is checked before the application sees the
        // message (Tornado checks it in _read_body, after headers_received),
        // so a refused message never reaches a handler nor gets a
        // "100 Continue".
        _check_framing(start_line, *headers);
        need_delegate_close = true;

        Future<void> headers_done = delegate->headers_received(start_line, headers);
        co_await headers_done;  // no suspension if it is already done

        // The client may wait for "100 Continue" before sending the body.
        if (auto expect = headers->get("Expect");
            expect && *expect == "100-continue" && !write_finished_) {
            // The interim answer has no method of its own in Tornado either.
            TRACE_EVENT("HTTP1Connection._read_message", {"interim", "HTTP/1.1 100 (Continue)"});
            stream_->write("HTTP/1.1 100 (Continue)\r\n\r\n").quiet();
        }
        Future<void> body_future = _read_body(*headers, delegate);
        if (body_future.valid()) {
            if (!body_timeout_) {
                co_await body_future;
            } else {
                bool timed_out = false;
                try {
                    co_await gen::with_timeout<StreamClosedError>(
                        stream_->io_loop()->time() + *body_timeout_, body_future);
                } catch (const TimeoutError&) {
                    timed_out = true;
                }
                if (timed_out) {
                    log::gen_log.info("Timeout reading body from {}", context_->str());
                    stream_->close();
                    co_return false;
                }
            }
        }
        read_finished_ = true;
        if (!write_finished_ || is_client_) {
            need_delegate_close = false;
            delegate->finish();
        }
        // If the application answers asynchronously, wait for it, and watch
        // the stream for a client that goes away meanwhile.
        if (!finish_future_.done() && !stream_->closed()) {
            stream_->set_close_callback([weak = weak_from_this()]() {
                if (auto conn = weak.lock()) {
                    conn->_on_connection_close();
                }
            });
            co_await finish_future_;
        }
        if (is_client_ && disconnect_on_finish_) {
            close();
        }
        // Tornado returns False once close() has dropped the stream, so a
        // request pipelined behind one that closes the connection is
        // never started (its answer could not be sent anyway).
        if (stream_->closed()) {
            co_return false;
        }
    } catch (const httputil::HTTPInputError& e) {
        log::gen_log.info("Malformed HTTP message from {}: {}", context_->str(), e.what());
        malformed = true;
    }
    if (malformed) {
        // Tornado 6.2 answers a malformed request with a bare 400 before
        // closing (4.5.2 closed without a word).
        if (!is_client_ && !stream_->closed()) {
            try {
                co_await stream_->write("HTTP/1.1 400 Bad Request\r\n\r\n");
            } catch (const StreamClosedError&) {
            }
        }
        close();
        co_return false;
    }
    co_return true;
}

// Tornado: tornado/http1connection.py:264 HTTP1Connection._clear_callbacks
void HTTP1Connection::_clear_callbacks() {
    write_future_ = Future<void>();
    close_callback_ = nullptr;
    stream_->set_close_callback(nullptr);
}

// Tornado: tornado/http1connection.py:276 HTTP1Connection.set_close_callback
void HTTP1Connection::set_close_callback(Callback callback) {
    close_callback_ = std::move(callback);
}

// Tornado: tornado/http1connection.py:284 HTTP1Connection._on_connection_close
void HTTP1Connection::_on_connection_close() {
    TRACE_SPAN("HTTP1Connection._on_connection_close");
    // The client went away while the response was pending.
    if (close_callback_) {
        Callback cb = std::exchange(close_callback_, nullptr);
        cb();
    }
    if (!finish_future_.done()) {
        finish_future_.set_result();
    }
    _clear_callbacks();
}

// Tornado: tornado/http1connection.py:296 HTTP1Connection.close
void HTTP1Connection::close() {
    TRACE_SPAN("HTTP1Connection.close");
    stream_->close();
    _clear_callbacks();
    if (!finish_future_.done()) {
        finish_future_.set_result();
    }
}

// Tornado: tornado/http1connection.py:332 HTTP1Connection.write_headers
// C++: the wire follows Tornado 6.2 where it differs from 4.5.2: no chunking
// for HEAD or 1xx responses, and "Connection: close" for an HTTP/1.1 client
// whose connection will close.
Future<void> HTTP1Connection::write_headers(const httputil::ResponseStartLine& start_line,
                                            HTTPHeaders& headers, std::string chunk) {
    TRACE_SPAN("HTTP1Connection.write_headers", {"code", start_line.code},
               {"chunk_bytes", chunk.size()});
    const httputil::RequestStartLine& request = *request_start_line_;
    int code = start_line.code;
    chunking_output_ = request.version == "HTTP/1.1" && request.method != "HEAD" && code != 204 &&
                       code != 304 && (code < 100 || code >= 200) &&
                       !headers.contains("Content-Length") &&
                       !headers.contains("Transfer-Encoding");
    if (request.version == "HTTP/1.1" && disconnect_on_finish_) {
        headers.set("Connection", "close");
    }
    if (request.version == "HTTP/1.0" &&
        httputil::ascii_lower(request_headers_->get("Connection", "")) == "keep-alive") {
        headers.set("Connection", "Keep-Alive");
    }
    if (chunking_output_) {
        headers.set("Transfer-Encoding", "chunked");
    }
    if (request.method == "HEAD" || code == 304) {
        expected_content_remaining_ = 0;
    } else if (auto cl = headers.get("Content-Length")) {
        // Tornado 6.3.3 parses this with parse_int too (6.2: int()).
        std::optional<std::uint64_t> length = parse_digits(*cl, 10);
        if (!length) {
            throw httputil::HTTPOutputError("Invalid Content-Length: " + std::string(*cl));
        }
        expected_content_remaining_ =
            static_cast<std::int64_t>(std::min<std::uint64_t>(*length, INT64_MAX));
    } else {
        expected_content_remaining_.reset();
    }
    // C++: CR or LF in the reason phrase or in a header would let the
    // application (or whoever feeds it) end the head early and write
    // headers or a whole response of its own (RFC 9112 4 and 5, RFC 9110 5.5).
    // Tornado 6.4.1 refuses CR/LF in headers here with HTTPOutputError (6.2
    // only asserted on LF in headers); 6.5.3 guards the reason phrase too.
    if (has_cr_or_lf(start_line.reason)) {
        throw httputil::HTTPOutputError("Illegal characters (CR or LF) in reason phrase");
    }
    std::string data = fmt::format("HTTP/1.1 {} {}\r\n", code, start_line.reason);
    for (const auto& [name, value] : headers.get_all()) {
        if (has_cr_or_lf(name) || has_cr_or_lf(value)) {
            throw httputil::HTTPOutputError("Illegal characters (CR or LF) in header: " + name);
        }
        data += name;
        data += ": ";
        data += value;
        data += "\r\n";
    }
    data += "\r\n";
    Future<void> future = _start_write();
    if (future.done()) {
        return future;  // the stream is closed
    }
    if (!chunk.empty()) {
        data += _format_chunk(std::move(chunk));
    }
    _send(std::move(data));
    return future;
}

// C++ only: the start write_headers and write share. A new write Future,
// already failed if the stream is closed.
Future<void> HTTP1Connection::_start_write() {
    write_future_ = Future<void>::make();
    if (stream_->closed()) {
        write_future_.set_exception(std::make_exception_ptr(StreamClosedError()));
        write_future_.quiet();
    }
    return write_future_;
}

// C++ only: hands `data` to the stream; _on_write_complete runs once it is sent.
void HTTP1Connection::_send(std::string data) {
    pending_write_ = stream_->write(std::move(data));
    pending_write_.add_done_callback(
        [self = shared_from_this()](const Future<void>& f) { self->_on_write_complete(f); });
}

// Tornado: tornado/http1connection.py:404 HTTP1Connection._format_chunk
std::string HTTP1Connection::_format_chunk(std::string chunk) {
    TRACE_SPAN("HTTP1Connection._format_chunk", {"bytes", chunk.size()},
               {"chunked", chunking_output_});
    if (expected_content_remaining_) {
        *expected_content_remaining_ -= static_cast<std::int64_t>(chunk.size());
        if (*expected_content_remaining_ < 0) {
            // Close the stream now to stop further framing errors.
            stream_->close();
            throw httputil::HTTPOutputError("Tried to write more data than Content-Length");
        }
    }
    if (chunking_output_ && !chunk.empty()) {
        // Each chunk is "<hex length>\r\n<data>\r\n"; an empty one would end
        // the body, so it is not written at all.
        std::string framed = fmt::format("{:x}\r\n", chunk.size());
        framed += chunk;
        framed += "\r\n";
        return framed;
    }
    return chunk;
}

// Tornado: tornado/http1connection.py:419 HTTP1Connection.write
Future<void> HTTP1Connection::write(std::string chunk) {
    TRACE_SPAN("HTTP1Connection.write", {"bytes", chunk.size()});
    Future<void> future = _start_write();
    if (!future.done()) {
        _send(_format_chunk(std::move(chunk)));
    }
    return future;
}

// Tornado: tornado/http1connection.py:440 HTTP1Connection.finish
void HTTP1Connection::finish() {
    TRACE_SPAN("HTTP1Connection.finish");
    if (expected_content_remaining_ && *expected_content_remaining_ != 0 && !stream_->closed()) {
        stream_->close();
        throw httputil::HTTPOutputError(fmt::format(
            "Tried to write {} bytes less than Content-Length", *expected_content_remaining_));
    }
    if (chunking_output_ && !stream_->closed()) {
        _send("0\r\n\r\n");  // the last chunk
    }
    write_finished_ = true;
    // The application finished before the body was read: the rest of the
    // body is not read, so the connection cannot be reused.
    if (!read_finished_) {
        disconnect_on_finish_ = true;
    }
    // No more data is coming: send what is buffered without waiting.
    stream_->set_nodelay(true);
    if (!pending_write_.valid()) {
        _finish_request();
    } else {
        pending_write_.add_done_callback(
            [self = shared_from_this()](const Future<void>&) { self->_finish_request(); });
    }
}

// Tornado: tornado/http1connection.py:469 HTTP1Connection._on_write_complete
void HTTP1Connection::_on_write_complete(const Future<void>& future) {
    std::exception_ptr exc = future.exception();
    if (exc) {
        try {
            std::rethrow_exception(exc);
        } catch (const StreamClosedError&) {
        } catch (...) {
            log::app_log.error("Error writing response: {}", log::describe(exc));
        }
    }
    if (write_future_.valid()) {
        Future<void> f = std::exchange(write_future_, Future<void>());
        f.set_result();
    }
}

// Tornado: tornado/http1connection.py:482 HTTP1Connection._can_keep_alive
bool HTTP1Connection::_can_keep_alive(const httputil::RequestStartLine& start_line,
                                      const HTTPHeaders& headers) const {
    if (no_keep_alive_) {
        return false;
    }
    auto connection_header = headers.get("Connection");
    std::string connection = connection_header ? httputil::ascii_lower(*connection_header) : "";
    if (start_line.version == "HTTP/1.1") {
        return !connection_header || connection != "close";
    }
    if (headers.contains("Content-Length") ||
        httputil::ascii_lower(headers.get("Transfer-Encoding", "")) == "chunked" ||
        start_line.method == "HEAD" || start_line.method == "GET") {
        return connection_header && connection == "keep-alive";
    }
    return false;
}

// Tornado: tornado/http1connection.py:498 HTTP1Connection._finish_request
// C++: TCP_NODELAY stays on for the next request. Responses are written one
// buffer per flush, so Nagle has nothing to coalesce, and turning it off and
// on again would cost two system calls per request.
void HTTP1Connection::_finish_request() {
    TRACE_SPAN("HTTP1Connection._finish_request");
    _clear_callbacks();
    if (!is_client_ && disconnect_on_finish_) {
        close();
        return;
    }
    if (!finish_future_.done()) {
        finish_future_.set_result();
    }
}

// Tornado: tornado/http1connection.py:509 HTTP1Connection._parse_headers
std::pair<std::string, HTTPHeaders> HTTP1Connection::_parse_headers(const std::string& data) {
    TRACE_EVENT("HTTP1Connection._parse_headers", {"bytes", data.size()});
    // Blank lines before a request are ignored (RFC 7230 3.5): some clients
    // send an extra CRLF after a body.
    std::string_view text = data;
    std::size_t first = text.find_first_not_of("\r\n");
    text = first == std::string_view::npos ? std::string_view() : text.substr(first);
    std::size_t eol = text.find('\n');
    std::string_view start_line;
    std::string_view rest;
    if (eol == std::string_view::npos) {
        // Python's data[:-1] / data[-1:] when find() returns -1.
        start_line = text.empty() ? text : text.substr(0, text.size() - 1);
        rest = text.empty() ? text : text.substr(text.size() - 1);
    } else {
        start_line = text.substr(0, eol);
        rest = text.substr(eol);
    }
    while (!start_line.empty() && start_line.back() == '\r') {
        start_line.remove_suffix(1);
    }
    return {std::string(start_line), HTTPHeaders::parse(rest)};
}

// C++ only: the framing checks Tornado 4.5.2 makes in _read_body (and 6.4.1
// in is_transfer_encoding_chunked), gathered here and run before
// headers_received. Stricter than Tornado 6.2:
// - Content-Length is 1*DIGIT; a list (repeated headers are joined with
//   ",") is accepted only when every element is the same (RFC 9110 8.6;
//   Tornado 6.3.3 for the digits);
// - Transfer-Encoding must be exactly "chunked" (any case), once, in an
//   HTTP/1.1 request (RFC 9112 6.1, 6.3: a coding the server does not
//   understand, and Transfer-Encoding in HTTP/1.0, make the framing
//   faulty). Tornado 6.2 ignored any other value and read no body, so the
//   body became the next request; Tornado 6.4.1 refuses other codings and
//   lists (is_transfer_encoding_chunked), not HTTP/1.0;
// - both headers together are refused (RFC 9112 6.3; Tornado 6.2 too).
void HTTP1Connection::_check_framing(const httputil::RequestStartLine& start_line,
                                     HTTPHeaders& headers) {
    body_content_length_.reset();
    body_chunked_ = false;
    if (headers.contains("Transfer-Encoding")) {
        if (headers.contains("Content-Length")) {
            throw httputil::HTTPInputError(
                "Message with both Transfer-Encoding and Content-Length");
        }
        if (start_line.version != "HTTP/1.1") {
            throw httputil::HTTPInputError("Transfer-Encoding in an HTTP/1.0 message");
        }
        std::vector<std::string> values = headers.get_list("Transfer-Encoding");
        if (values.size() != 1 || !httputil::iequals(values.front(), "chunked")) {
            throw httputil::HTTPInputError("Unsupported Transfer-Encoding " +
                                           std::string(*headers.get("Transfer-Encoding")));
        }
        body_chunked_ = true;
        return;
    }
    auto cl = headers.get("Content-Length");
    if (!cl) {
        return;
    }
    std::string value(*cl);
    std::string_view first;
    std::string_view rest = value;
    while (true) {
        std::size_t comma = rest.find(',');
        std::string_view piece = httputil::strip_ows(rest.substr(0, comma));
        if (!parse_digits(piece, 10)) {
            throw httputil::HTTPInputError("Only integer Content-Length is allowed: " + value);
        }
        if (first.empty()) {
            first = piece;
        } else if (piece != first) {
            throw httputil::HTTPInputError("Multiple unequal Content-Lengths: " + value);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        rest = rest.substr(comma + 1);
    }
    std::uint64_t length = *parse_digits(first, 10);
    if (length > max_body_size_) {
        throw httputil::HTTPInputError("Content-Length too long");
    }
    if (first.size() != value.size()) {
        // Proxies sometimes repeat Content-Length; equal copies are fine.
        headers.set("Content-Length", std::string(first));
    }
    body_content_length_ = length;
}

// Tornado: tornado/http1connection.py:526 HTTP1Connection._read_body
// C++: the framing was checked by _check_framing.
Future<void> HTTP1Connection::_read_body(HTTPHeaders& /*headers*/,
                                         std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_body");
    if (body_content_length_) {
        return _read_fixed_body(static_cast<std::int64_t>(*body_content_length_),
                                std::move(delegate));
    }
    if (body_chunked_) {
        return _read_chunked_body(std::move(delegate));
    }
    return {};  // no body
}

// Tornado: tornado/http1connection.py:576 HTTP1Connection._read_fixed_body
Future<void> HTTP1Connection::_read_fixed_body(std::int64_t content_length,
                                               std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_fixed_body", {"content_length", content_length});
    auto self = shared_from_this();
    while (content_length > 0) {
        std::string body = co_await stream_->read_bytes(
            std::min<std::size_t>(params_.chunk_size, static_cast<std::size_t>(content_length)),
            true);
        content_length -= static_cast<std::int64_t>(body.size());
        co_await _deliver(*delegate, std::move(body));
    }
}

// C++ only: the step both body readers share. Once the response is
// finished, the rest of the body is read but not delivered.
Future<void> HTTP1Connection::_deliver(HTTPMessageDelegate& delegate, std::string chunk) {
    if (write_finished_ && !is_client_) {
        return {};
    }
    return delegate.data_received(std::move(chunk));
}

// Tornado: tornado/http1connection.py:588 HTTP1Connection._read_chunked_body
// C++: stricter and more complete than Tornado 6.2 (RFC 9112 7.1):
// - a chunk size is 1*HEXDIG (6.2's int(s, 16) took "+3", "0x3", "-1"; a
//   negative size even looped forever; Tornado 6.3.3 made the same fix),
//   and a bad one is answered 400 rather than a silent close;
// - each size is compared with what is left of max_body_size before it is
//   added to the running total, in unsigned arithmetic, so no size can wrap
//   the total (a size of 7fffffffffffffff made it overflow);
// - chunk extensions ("5;name=value", RFC 9112 7.1.1) are accepted and
//   ignored, and so are trailer fields after the last chunk (RFC 9112
//   7.1.2); Tornado refuses both;
// - a chunk-size line longer than 64 bytes with its CRLF (Tornado 6.2 and
//   6.5: read_until(b"\r\n", max_bytes=64)) is answered 400 too, where
//   Tornado's stream closes without a word (chunk_size_line_regex).
// The trailer section is held to max_header_size, and the connection
// closes after a message that has one.
Future<void> HTTP1Connection::_read_chunked_body(std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_chunked_body");
    auto self = shared_from_this();
    std::uint64_t total_size = 0;
    while (true) {
        std::string line = co_await stream_->read_until_regex(chunk_size_line_regex());
        if (!line.ends_with("\r\n")) {
            throw httputil::HTTPInputError("chunk size line too long");
        }
        std::uint64_t chunk_len =
            parse_chunk_size_line(std::string_view(line).substr(0, line.size() - 2));
        if (chunk_len == 0) {
            std::string crlf = co_await stream_->read_bytes(2);
            if (crlf != "\r\n") {
                co_await _read_trailers(std::move(crlf));
                // C++: the connection is not reused after a message with
                // trailers ("Connection: close" on the answer): Tornado 6.2
                // closes it there too (with a 400), and no peer is left
                // guessing where the next message starts.
                disconnect_on_finish_ = true;
            }
            co_return;
        }
        if (chunk_len > max_body_size_ - total_size) {
            throw httputil::HTTPInputError("chunked body too large");
        }
        total_size += chunk_len;
        std::uint64_t bytes_to_read = chunk_len;
        while (bytes_to_read > 0) {
            std::string chunk =
                co_await stream_->read_bytes(static_cast<std::size_t>(std::min<std::uint64_t>(
                                                 bytes_to_read, params_.chunk_size)),
                                             true);
            bytes_to_read -= chunk.size();
            co_await _deliver(*delegate, std::move(chunk));
        }
        // Each chunk ends with CRLF.
        std::string crlf = co_await stream_->read_bytes(2);
        if (crlf != "\r\n") {
            throw httputil::HTTPInputError("improperly terminated chunk");
        }
    }
}

// C++ only: the trailer section after the last chunk (RFC 9112 7.1.2),
// whose first two bytes `start` are already read: field lines ending with
// CRLF, then an empty line. Each line must be a valid field line; the
// fields are dropped (RFC 9110 6.5.1 lets a recipient ignore them).
Future<void> HTTP1Connection::_read_trailers(std::string start) {
    auto self = shared_from_this();
    // A field line has at least a name character and the colon, so the
    // two bytes read cannot hold part of the final CRLF CRLF.
    if (start.find_first_of("\r\n") != std::string::npos) {
        throw httputil::HTTPInputError("improperly terminated chunked request");
    }
    std::string section = start;
    section += co_await stream_->read_until("\r\n\r\n", params_.max_header_size);
    section.resize(section.size() - 4);
    HTTPHeaders trailers;
    std::string_view rest = section;
    while (true) {
        std::size_t eol = rest.find("\r\n");
        std::string_view field = rest.substr(0, eol);
        if (field.find('\n') != std::string_view::npos) {
            throw httputil::HTTPInputError("bare LF in trailer section");
        }
        trailers.parse_line(field);
        if (eol == std::string_view::npos) {
            break;
        }
        rest = rest.substr(eol + 2);
    }
}

// Tornado: tornado/http1connection.py:675 HTTP1ServerConnection.__init__
HTTP1ServerConnection::HTTP1ServerConnection(std::shared_ptr<iostream::IOStream> stream,
                                             HTTP1ConnectionParameters params,
                                             std::shared_ptr<httputil::HTTPRequestContext> context)
    : Traced("HTTP1ServerConnection"),
      stream_(std::move(stream)),
      params_(params),
      context_(std::move(context)) {
    set_trace_ids(stream_->trace_conn(), 0);
}

// Tornado: tornado/http1connection.py:690 HTTP1ServerConnection.close
Future<void> HTTP1ServerConnection::close() {
    auto self = shared_from_this();
    stream_->close();
    // Wait for the request loop to end; its errors were logged already.
    try {
        co_await serving_future_;
    } catch (...) {
    }
}

// Tornado: tornado/http1connection.py:703 HTTP1ServerConnection.start_serving
void HTTP1ServerConnection::start_serving(httputil::HTTPServerConnectionDelegate* delegate) {
    TRACE_SPAN("HTTP1ServerConnection.start_serving");
    delegate_ = delegate;
    serving_future_ = _server_request_loop();
    // Log what the loop raises.
    stream_->io_loop()->add_future(serving_future_, [](const Future<void>& f) {
        try {
            f.result();
        } catch (...) {
            log::gen_log.error("Uncaught exception in request loop: {}",
                               log::describe(std::current_exception()));
        }
    });
}

// Tornado: tornado/http1connection.py:715 HTTP1ServerConnection._server_request_loop
Future<void> HTTP1ServerConnection::_server_request_loop() {
    TRACE_SPAN("HTTP1ServerConnection._server_request_loop");
    auto self = shared_from_this();
    // Tornado's finally: the server forgets this connection.
    Finally on_close{[this] {
        if (delegate_ != nullptr) {
            delegate_->on_close(this);
        }
    }};
    while (delegate_ != nullptr) {
        auto conn = std::make_shared<HTTP1Connection>(stream_, false, params_, context_);
        std::shared_ptr<HTTPMessageDelegate> request_delegate =
            delegate_->start_request(this, conn);
        bool ret = false;
        try {
            ret = co_await conn->read_response(std::move(request_delegate));
        } catch (const StreamClosedError&) {
            co_return;
        } catch (const UnsatisfiableReadError&) {
            co_return;
        } catch (const detail::QuietException&) {
            conn->close();
            co_return;
        } catch (...) {
            log::gen_log.error("Uncaught exception: {}", log::describe(std::current_exception()));
            conn->close();
            co_return;
        }
        if (!ret) {
            co_return;
        }
        // Give other connections a turn before the next request.
        co_await gen::moment;
    }
}

}  // namespace tornado::http1connection
