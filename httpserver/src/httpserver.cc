#include "tornado/httpserver.h"

#include <vector>

#include "tornado/log.h"

namespace tornado::httpserver {

namespace {

constexpr trace::Module kTraceModule{"httpserver", "tornado/httpserver.py"};

tcpserver::TCPServerOptions stream_options(const HTTPServerSettings& s) {
    tcpserver::TCPServerOptions o;
    o.max_buffer_size = s.max_buffer_size.value_or(0);
    o.read_chunk_size = s.chunk_size.value_or(0);
    return o;
}

}  // namespace

// Tornado: tornado/httpserver.py:135 HTTPServer.initialize
HTTPServer::HTTPServer(std::shared_ptr<httputil::HTTPServerConnectionDelegate> request_callback,
                       Settings settings, ioloop::IOLoop* io_loop)
    : TCPServer(io_loop, stream_options(settings), "HTTPServer"),
      request_callback_(std::move(request_callback)),
      xheaders_(settings.xheaders),
      protocol_(settings.protocol) {
    conn_params_.decompress = settings.decompress_request;
    conn_params_.chunk_size = settings.chunk_size.value_or(65536);
    conn_params_.max_header_size = settings.max_header_size.value_or(65536);
    conn_params_.header_timeout = settings.idle_connection_timeout.value_or(3600);
    conn_params_.max_body_size = settings.max_body_size;
    conn_params_.body_timeout = settings.body_timeout;
    conn_params_.no_keep_alive = settings.no_keep_alive;
}

HTTPServer::~HTTPServer() {
    stop();
    // The connections may outlive this server (their coroutines finish on a
    // later loop iteration): make sure they no longer call back into it.
    for (auto& [raw, conn] : connections_) {
        conn->forget_delegate();
        conn->stream()->close();
    }
    connections_.clear();
}

// Tornado: tornado/httpserver.py:160 HTTPServer.close_all_connections
Future<void> HTTPServer::close_all_connections() {
    while (!connections_.empty()) {
        // on_close removes the connection from the map as its loop ends.
        std::shared_ptr<http1connection::HTTP1ServerConnection> conn =
            connections_.begin()->second;
        connections_.erase(connections_.begin());
        co_await conn->close();
    }
}

// Tornado: tornado/httpserver.py:164 HTTPServer.handle_stream
Future<void> HTTPServer::handle_stream(std::shared_ptr<iostream::IOStream> stream,
                                       const netutil::Address& address) {
    TRACE_SPAN("HTTPServer.handle_stream", {"fd", stream->fileno()});
    auto context = std::make_shared<httputil::HTTPRequestContext>();
    context->address = address;
    if (address.family() == AF_INET || address.family() == AF_INET6) {
        context->remote_ip = address.host();
    } else {
        context->remote_ip = "0.0.0.0";  // Unix sockets have no peer address
    }
    context->protocol = protocol_.empty() ? "http" : protocol_;
    context->orig_remote_ip = context->remote_ip;
    context->orig_protocol = context->protocol;
    auto conn = std::make_shared<http1connection::HTTP1ServerConnection>(std::move(stream),
                                                                         conn_params_, context);
    connections_.emplace(conn.get(), conn);
    conn->start_serving(this);
    return {};
}

// Tornado: tornado/httpserver.py:171 HTTPServer.start_request
std::shared_ptr<httputil::HTTPMessageDelegate> HTTPServer::start_request(
    http1connection::HTTP1ServerConnection* server_conn,
    std::shared_ptr<httputil::HTTPConnection> request_conn) {
    TRACE_SPAN("HTTPServer.start_request");
    // (xheaders wraps the delegate in _ProxyAdapter.)
    return request_callback_->start_request(server_conn, std::move(request_conn));
}

// Tornado: tornado/httpserver.py:182 HTTPServer.on_close
void HTTPServer::on_close(http1connection::HTTP1ServerConnection* server_conn) {
    TRACE_EVENT("HTTPServer.on_close");
    connections_.erase(server_conn);
}

}  // namespace tornado::httpserver
