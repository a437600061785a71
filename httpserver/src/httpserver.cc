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
    o.batch_pipelined_writes = s.batch_pipelined_writes;
    o.ssl_options = s.ssl_options;
    return o;
}

// Tornado: tornado/httpserver.py:301 _ProxyAdapter
// Applies the proxy headers to the connection's context for one request.
class ProxyAdapter : public httputil::HTTPMessageDelegate {
  public:
    ProxyAdapter(std::shared_ptr<httputil::HTTPMessageDelegate> delegate,
                 std::shared_ptr<httputil::HTTPConnection> request_conn)
        : delegate_(std::move(delegate)), connection_(std::move(request_conn)) {}

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<httputil::HTTPHeaders> headers) override {
        connection_->context()->_apply_xheaders(*headers);
        return delegate_->headers_received(start_line, std::move(headers));
    }
    Future<void> data_received(std::string chunk) override {
        return delegate_->data_received(std::move(chunk));
    }
    void finish() override {
        delegate_->finish();
        connection_->context()->_unapply_xheaders();
    }
    void on_connection_close() override {
        delegate_->on_connection_close();
        connection_->context()->_unapply_xheaders();
    }

  private:
    std::shared_ptr<httputil::HTTPMessageDelegate> delegate_;
    std::shared_ptr<httputil::HTTPConnection> connection_;
};

}  // namespace

// Tornado: tornado/httpserver.py:146 HTTPServer.initialize
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

// Tornado: tornado/httpserver.py:180 HTTPServer.close_all_connections
Future<void> HTTPServer::close_all_connections() {
    while (!connections_.empty()) {
        // on_close removes the connection from the map as its loop ends.
        std::shared_ptr<http1connection::HTTP1ServerConnection> conn = connections_.begin()->second;
        connections_.erase(connections_.begin());
        co_await conn->close();
    }
}

// Tornado: tornado/httpserver.py:186 HTTPServer.handle_stream
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
    // Tornado: _HTTPRequestContext: the protocol given, else "https" over an
    // SSLIOStream, else "http".
    if (!protocol_.empty()) {
        context->protocol = protocol_;
    } else if (dynamic_cast<const iostream::SSLIOStream*>(stream.get()) != nullptr) {
        context->protocol = "https";
    } else {
        context->protocol = "http";
    }
    context->orig_remote_ip = context->remote_ip;
    context->orig_protocol = context->protocol;
    auto conn = std::make_shared<http1connection::HTTP1ServerConnection>(std::move(stream),
                                                                         conn_params_, context);
    connections_.emplace(conn.get(), conn);
    conn->start_serving(this);
    return {};
}

// Tornado: tornado/httpserver.py:195 HTTPServer.start_request
std::shared_ptr<httputil::HTTPMessageDelegate> HTTPServer::start_request(
    http1connection::HTTP1ServerConnection* server_conn,
    std::shared_ptr<httputil::HTTPConnection> request_conn) {
    TRACE_SPAN("HTTPServer.start_request");
    auto delegate = request_callback_->start_request(server_conn, request_conn);
    if (xheaders_) {
        delegate = std::make_shared<ProxyAdapter>(std::move(delegate), std::move(request_conn));
    }
    return delegate;
}

// Tornado: tornado/httpserver.py:206 HTTPServer.on_close
void HTTPServer::on_close(http1connection::HTTP1ServerConnection* server_conn) {
    TRACE_EVENT("HTTPServer.on_close");
    connections_.erase(server_conn);
}

}  // namespace tornado::httpserver

namespace tornado::httputil {

// Tornado: tornado/httpserver.py:273 _HTTPRequestContext._apply_xheaders
// C++: as Tornado 6.2, only the last X-Forwarded-Proto entry counts.
void HTTPRequestContext::_apply_xheaders(const HTTPHeaders& headers) {
    // Squid uses X-Forwarded-For, others X-Real-Ip; the last hop that is not
    // a trusted proxy is the client.
    std::string_view forwarded = headers.get("X-Forwarded-For", remote_ip);
    std::string ip;
    std::string_view rest = forwarded;
    while (true) {
        std::size_t comma = rest.rfind(',');
        std::string_view candidate =
            httputil::py_strip(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        ip = std::string(candidate);
        bool trusted = false;
        for (const std::string& t : trusted_downstream) {
            trusted = trusted || t == ip;
        }
        if (!trusted || comma == std::string_view::npos) {
            break;
        }
        rest = rest.substr(0, comma);
    }
    if (auto real_ip = headers.get("X-Real-Ip")) {
        ip = std::string(*real_ip);
    }
    if (netutil::is_valid_ip(ip)) {
        remote_ip = ip;
    }
    // AWS uses X-Forwarded-Proto.
    std::string_view proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", protocol));
    if (!proto.empty()) {
        std::size_t comma = proto.rfind(',');
        proto =
            httputil::py_strip(comma == std::string_view::npos ? proto : proto.substr(comma + 1));
    }
    if (proto == "http" || proto == "https") {
        protocol = std::string(proto);
    }
}

// Tornado: tornado/httpserver.py:291 _HTTPRequestContext._unapply_xheaders
void HTTPRequestContext::_unapply_xheaders() {
    remote_ip = orig_remote_ip;
    protocol = orig_protocol;
}

}  // namespace tornado::httputil
