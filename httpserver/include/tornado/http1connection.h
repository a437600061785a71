// tornado.http1connection: HTTP/1.x on top of an IOStream.
//
// HTTP1ServerConnection runs the request loop of one TCP connection; each
// request gets its own HTTP1Connection, which reads the message
// (_read_message) and writes the response (write_headers, write, finish).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tornado/concurrent.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/trace.h"

namespace tornado::http1connection {

using httputil::HTTPConnection;
using httputil::HTTPHeaders;
using httputil::HTTPMessageDelegate;

namespace detail {
// Tornado: tornado/http1connection.py:36 _QuietException
/// Already logged; ends the request loop without logging again.
class QuietException : public std::runtime_error {
  public:
    QuietException() : std::runtime_error("quiet") {}
};
}  // namespace detail

// Tornado: tornado/http1connection.py:58 HTTP1ConnectionParameters
/// Settings shared by every connection of a server.
struct HTTP1ConnectionParameters {
    bool no_keep_alive = false;
    std::size_t chunk_size = 65536;
    std::size_t max_header_size = 65536;
    /// Seconds to wait for a complete header block (also the idle time
    /// between keep-alive requests); none = wait forever.
    std::optional<double> header_timeout;
    /// Largest body accepted; none = the stream's max_buffer_size.
    std::optional<std::size_t> max_body_size;
    /// Seconds to wait for the whole body; none = forever.
    std::optional<double> body_timeout;
    bool decompress = false;
};

// Tornado: tornado/http1connection.py:84 HTTP1Connection
/// One HTTP/1.x request/response exchange on a stream.
class HTTP1Connection : public HTTPConnection,
                        public std::enable_shared_from_this<HTTP1Connection>,
                        public trace::Traced {
  public:
    HTTP1Connection(std::shared_ptr<iostream::IOStream> stream, bool is_client,
                    HTTP1ConnectionParameters params,
                    std::shared_ptr<httputil::HTTPRequestContext> context);

    /// Reads one message and hands it to `delegate`. Resolves with true if
    /// the connection can be used for another request.
    Future<bool> read_response(std::shared_ptr<HTTPMessageDelegate> delegate);

    void set_close_callback(Callback callback) override;
    /// Closes the stream and ends this exchange.
    void close();
    /// Per-request overrides (from a handler's prepare()).
    void set_body_timeout(double timeout) override { body_timeout_ = timeout; }
    void set_max_body_size(std::size_t max_body_size) override { max_body_size_ = max_body_size; }

    Future<void> write_headers(const httputil::ResponseStartLine& start_line, HTTPHeaders& headers,
                               std::string chunk = {}) override;
    Future<void> write(std::string chunk) override;
    void finish() override;
    const std::shared_ptr<httputil::HTTPRequestContext>& context() const override {
        return context_;
    }
    const std::shared_ptr<iostream::IOStream>& stream() const { return stream_; }

  private:
    Future<bool> _read_message(std::shared_ptr<HTTPMessageDelegate> delegate);
    void _clear_callbacks();
    void _on_connection_close();
    std::string _format_chunk(std::string chunk);
    Future<void> _start_write();
    void _send(std::string data);
    void _on_write_complete(const Future<void>& future);
    bool _can_keep_alive(const httputil::RequestStartLine& start_line,
                         const HTTPHeaders& headers) const;
    void _finish_request();
    std::pair<std::string, HTTPHeaders> _parse_headers(const std::string& data);
    Future<void> _read_body(HTTPHeaders& headers, std::shared_ptr<HTTPMessageDelegate> delegate);
    Future<void> _read_fixed_body(std::int64_t content_length,
                                  std::shared_ptr<HTTPMessageDelegate> delegate);
    Future<void> _read_chunked_body(std::shared_ptr<HTTPMessageDelegate> delegate);
    /// Reads and checks the trailer section after the last chunk, whose
    /// first two bytes are `start`; the fields are ignored.
    Future<void> _read_trailers(std::string start);
    /// Checks Content-Length and Transfer-Encoding (RFC 9112 6): sets the
    /// body's framing, or throws HTTPInputError for a message to refuse.
    void _check_framing(const httputil::RequestStartLine& start_line, HTTPHeaders& headers);
    Future<void> _deliver(HTTPMessageDelegate& delegate, std::string chunk);

    bool is_client_;
    std::shared_ptr<iostream::IOStream> stream_;
    HTTP1ConnectionParameters params_;
    std::shared_ptr<httputil::HTTPRequestContext> context_;
    bool no_keep_alive_;
    std::size_t max_body_size_;
    std::optional<double> body_timeout_;
    bool write_finished_ = false;
    bool read_finished_ = false;
    Future<void> finish_future_;
    bool disconnect_on_finish_ = false;
    Callback close_callback_;
    Future<void> write_future_;
    std::optional<httputil::RequestStartLine> request_start_line_;
    std::shared_ptr<HTTPHeaders> request_headers_;
    bool chunking_output_ = false;
    std::optional<std::int64_t> expected_content_remaining_;
    Future<void> pending_write_;
    // The request body's framing, as _check_framing found it.
    std::optional<std::uint64_t> body_content_length_;
    bool body_chunked_ = false;
};

class HTTP1ServerConnection;

// Tornado: tornado/http1connection.py:673 HTTP1ServerConnection
/// Serves HTTP/1.x requests on one stream, one after the other.
class HTTP1ServerConnection : public std::enable_shared_from_this<HTTP1ServerConnection>,
                              public trace::Traced {
  public:
    HTTP1ServerConnection(std::shared_ptr<iostream::IOStream> stream,
                          HTTP1ConnectionParameters params,
                          std::shared_ptr<httputil::HTTPRequestContext> context);

    /// Starts the request loop; each request goes to `delegate`, which must
    /// stay alive until it receives on_close (or forget_delegate is called).
    void start_serving(httputil::HTTPServerConnectionDelegate* delegate);
    /// Closes the stream; resolves when the request loop has ended.
    Future<void> close();
    /// The delegate is going away: do not call on_close on it.
    void forget_delegate() { delegate_ = nullptr; }
    const std::shared_ptr<iostream::IOStream>& stream() const { return stream_; }

  private:
    Future<void> _server_request_loop();

    std::shared_ptr<iostream::IOStream> stream_;
    HTTP1ConnectionParameters params_;
    std::shared_ptr<httputil::HTTPRequestContext> context_;
    httputil::HTTPServerConnectionDelegate* delegate_ = nullptr;
    Future<void> serving_future_;
};

}  // namespace tornado::http1connection
