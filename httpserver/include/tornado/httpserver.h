// tornado.httpserver: a non-blocking HTTP server. It accepts connections
// (TCPServer), runs HTTP/1.x on each (HTTP1ServerConnection), and hands
// every request to an HTTPServerConnectionDelegate such as web::Application.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "tornado/http1connection.h"
#include "tornado/httputil.h"
#include "tornado/tcpserver.h"

namespace tornado::httpserver {

/// HTTPServer's keyword arguments (unset = Tornado's default).
struct HTTPServerSettings {
    bool no_keep_alive = false;
    bool xheaders = false;
    std::string protocol;
    bool decompress_request = false;
    std::optional<std::size_t> chunk_size;
    std::optional<std::size_t> max_header_size;
    /// Also the time allowed for each request's header block; default 3600 s.
    std::optional<double> idle_connection_timeout;
    std::optional<double> body_timeout;
    std::optional<std::size_t> max_body_size;
    std::optional<std::size_t> max_buffer_size;
    /// C++ only: send the answers to pipelined requests in batches
    /// (IOStream::Options::batch_pipelined_writes); serve turns it on.
    bool batch_pipelined_writes = false;
    /// Set: TLS on every connection (TCPServer's ssl_options); requests
    /// then say protocol "https" unless `protocol` is given.
    std::optional<netutil::SSLOptions> ssl_options;
};

// Tornado: tornado/httpserver.py:43 HTTPServer
class HTTPServer : public tcpserver::TCPServer, public httputil::HTTPServerConnectionDelegate {
  public:
    using Settings = HTTPServerSettings;

    // Tornado: tornado/httpserver.py:146 HTTPServer.initialize
    explicit HTTPServer(std::shared_ptr<httputil::HTTPServerConnectionDelegate> request_callback,
                        Settings settings = Settings{}, ioloop::IOLoop* io_loop = nullptr);
    /// Stops accepting and closes every open connection.
    ~HTTPServer() override;

    /// Closes every open connection; resolves when their loops have ended.
    Future<void> close_all_connections();

    Future<void> handle_stream(std::shared_ptr<iostream::IOStream> stream,
                               const netutil::Address& address) override;
    std::shared_ptr<httputil::HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* server_conn,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override;
    void on_close(http1connection::HTTP1ServerConnection* server_conn) override;

    const http1connection::HTTP1ConnectionParameters& conn_params() const { return conn_params_; }
    std::size_t connection_count() const { return connections_.size(); }

  private:
    std::shared_ptr<httputil::HTTPServerConnectionDelegate> request_callback_;
    http1connection::HTTP1ConnectionParameters conn_params_;
    bool xheaders_;
    std::string protocol_;
    std::unordered_map<http1connection::HTTP1ServerConnection*,
                       std::shared_ptr<http1connection::HTTP1ServerConnection>>
        connections_;
};

}  // namespace tornado::httpserver
