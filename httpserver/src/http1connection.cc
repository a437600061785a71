#include "tornado/http1connection.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

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

// Python's int(s, base) for the strings HTTP framing carries: surrounding
// whitespace, an optional sign, "0x" for base 16, and single underscores
// between digits are accepted; anything else is std::nullopt. Values too
// large for int64 saturate (they exceed every size limit anyway).
std::optional<std::int64_t> py_int(std::string_view s, int base) {
    s = httputil::py_strip(s);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    bool prefixed = false;
    if (base == 16 && s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        prefixed = true;
    }
    std::int64_t value = 0;
    bool any_digit = false;
    bool last_underscore = prefixed;  // "0x_5" is valid, "_5" is not
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '_') {
            if (!any_digit && !prefixed) {
                return std::nullopt;
            }
            if (last_underscore && any_digit) {
                return std::nullopt;
            }
            last_underscore = true;
            continue;
        }
        int digit;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else {
            return std::nullopt;
        }
        if (digit >= base) {
            return std::nullopt;
        }
        any_digit = true;
        last_underscore = false;
        if (value > (INT64_MAX - digit) / base) {
            value = INT64_MAX;
        } else {
            value = value * base + digit;
        }
    }
    if (!any_digit || last_underscore) {
        return std::nullopt;
    }
    return negative ? -value : value;
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

// Tornado: tornado/http1connection.py _GzipMessageDelegate
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

// Tornado: tornado/http1connection.py HTTP1Connection.__init__
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

// Tornado: tornado/http1connection.py HTTP1Connection.read_response
Future<bool> HTTP1Connection::read_response(std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection.read_response");
    if (params_.decompress) {
        delegate = std::make_shared<GzipMessageDelegate>(std::move(delegate), params_.chunk_size,
                                                         max_body_size_);
    }
    return _read_message(std::move(delegate));
}

// Tornado: tornado/http1connection.py HTTP1Connection._read_message
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

// Tornado: tornado/http1connection.py HTTP1Connection._clear_callbacks
void HTTP1Connection::_clear_callbacks() {
    write_future_ = Future<void>();
    close_callback_ = nullptr;
    stream_->set_close_callback(nullptr);
}

// Tornado: tornado/http1connection.py HTTP1Connection.set_close_callback
void HTTP1Connection::set_close_callback(Callback callback) {
    close_callback_ = std::move(callback);
}

// Tornado: tornado/http1connection.py HTTP1Connection._on_connection_close
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

// Tornado: tornado/http1connection.py HTTP1Connection.close
void HTTP1Connection::close() {
    TRACE_SPAN("HTTP1Connection.close");
    stream_->close();
    _clear_callbacks();
    if (!finish_future_.done()) {
        finish_future_.set_result();
    }
}

// Tornado: tornado/http1connection.py HTTP1Connection.write_headers
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
        expected_content_remaining_ = py_int(*cl, 10).value_or(0);
    } else {
        expected_content_remaining_.reset();
    }
    std::string data = fmt::format("HTTP/1.1 {} {}\r\n", code, start_line.reason);
    for (const auto& [name, value] : headers.get_all()) {
        if (name.find_first_of("\r\n") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
            throw std::invalid_argument("Illegal characters (CR or LF) in header: " + name);
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

// Tornado: tornado/http1connection.py HTTP1Connection._format_chunk
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

// Tornado: tornado/http1connection.py HTTP1Connection.write
Future<void> HTTP1Connection::write(std::string chunk) {
    TRACE_SPAN("HTTP1Connection.write", {"bytes", chunk.size()});
    Future<void> future = _start_write();
    if (!future.done()) {
        _send(_format_chunk(std::move(chunk)));
    }
    return future;
}

// Tornado: tornado/http1connection.py HTTP1Connection.finish
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

// Tornado: tornado/http1connection.py HTTP1Connection._on_write_complete
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

// Tornado: tornado/http1connection.py HTTP1Connection._can_keep_alive
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

// Tornado: tornado/http1connection.py HTTP1Connection._finish_request
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

// Tornado: tornado/http1connection.py HTTP1Connection._parse_headers
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

// Tornado: tornado/http1connection.py HTTP1Connection._read_body
Future<void> HTTP1Connection::_read_body(HTTPHeaders& headers,
                                         std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_body");
    std::optional<std::int64_t> content_length;
    if (auto cl = headers.get("Content-Length")) {
        if (headers.contains("Transfer-Encoding")) {
            // RFC 7230 3.3.3: both headers is a request smuggling attempt.
            throw httputil::HTTPInputError(
                "Response with both Transfer-Encoding and Content-Length");
        }
        std::string value(*cl);
        if (value.find(',') != std::string::npos) {
            // Proxies sometimes repeat Content-Length; equal copies are fine.
            std::vector<std::string_view> pieces;
            std::string_view rest = value;
            while (true) {
                std::size_t comma = rest.find(',');
                pieces.push_back(rest.substr(0, comma));
                if (comma == std::string_view::npos) {
                    break;
                }
                rest = httputil::py_lstrip(rest.substr(comma + 1));
            }
            for (std::string_view p : pieces) {
                if (p != pieces.front()) {
                    throw httputil::HTTPInputError("Multiple unequal Content-Lengths: " + value);
                }
            }
            value = std::string(pieces.front());
            headers.set("Content-Length", value);
        }
        content_length = py_int(value, 10);
        if (!content_length) {
            throw httputil::HTTPInputError("Only integer Content-Length is allowed: " + value);
        }
        if (*content_length > static_cast<std::int64_t>(max_body_size_)) {
            throw httputil::HTTPInputError("Content-Length too long");
        }
    }
    if (content_length) {
        return _read_fixed_body(*content_length, std::move(delegate));
    }
    if (httputil::ascii_lower(headers.get("Transfer-Encoding", "")) == "chunked") {
        return _read_chunked_body(std::move(delegate));
    }
    return {};  // no body
}

// Tornado: tornado/http1connection.py HTTP1Connection._read_fixed_body
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

// Tornado: tornado/http1connection.py HTTP1Connection._read_chunked_body
// C++: follows Tornado 6.2: the last chunk must be followed by CRLF (no
// trailers). A chunk size that does not parse, or a negative one (which
// sends Tornado into an endless loop), ends the connection without an answer.
Future<void> HTTP1Connection::_read_chunked_body(std::shared_ptr<HTTPMessageDelegate> delegate) {
    TRACE_SPAN("HTTP1Connection._read_chunked_body");
    auto self = shared_from_this();
    std::int64_t total_size = 0;
    while (true) {
        std::string line = co_await stream_->read_until("\r\n", 64);
        std::optional<std::int64_t> chunk_len =
            py_int(std::string_view(line).substr(0, line.size() - 2), 16);
        if (!chunk_len || *chunk_len < 0) {
            throw detail::QuietException();
        }
        if (*chunk_len == 0) {
            std::string crlf = co_await stream_->read_bytes(2);
            if (crlf != "\r\n") {
                throw httputil::HTTPInputError("improperly terminated chunked request");
            }
            co_return;
        }
        total_size += *chunk_len;
        if (total_size > static_cast<std::int64_t>(max_body_size_)) {
            throw httputil::HTTPInputError("chunked body too large");
        }
        std::int64_t bytes_to_read = *chunk_len;
        while (bytes_to_read > 0) {
            std::string chunk = co_await stream_->read_bytes(
                std::min<std::size_t>(static_cast<std::size_t>(bytes_to_read), params_.chunk_size),
                true);
            bytes_to_read -= static_cast<std::int64_t>(chunk.size());
            co_await _deliver(*delegate, std::move(chunk));
        }
        // Each chunk ends with CRLF.
        std::string crlf = co_await stream_->read_bytes(2);
        if (crlf != "\r\n") {
            throw detail::QuietException();
        }
    }
}

// Tornado: tornado/http1connection.py HTTP1ServerConnection.__init__
HTTP1ServerConnection::HTTP1ServerConnection(std::shared_ptr<iostream::IOStream> stream,
                                             HTTP1ConnectionParameters params,
                                             std::shared_ptr<httputil::HTTPRequestContext> context)
    : Traced("HTTP1ServerConnection"),
      stream_(std::move(stream)),
      params_(params),
      context_(std::move(context)) {
    set_trace_ids(stream_->trace_conn(), 0);
}

// Tornado: tornado/http1connection.py HTTP1ServerConnection.close
Future<void> HTTP1ServerConnection::close() {
    auto self = shared_from_this();
    stream_->close();
    // Wait for the request loop to end; its errors were logged already.
    try {
        co_await serving_future_;
    } catch (...) {
    }
}

// Tornado: tornado/http1connection.py HTTP1ServerConnection.start_serving
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

// Tornado: tornado/http1connection.py HTTP1ServerConnection._server_request_loop
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
