#include "tornado/tcpserver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "tornado/log.h"
#include "tornado/process.h"

namespace tornado::tcpserver {

namespace {
constexpr trace::Module kTraceModule{"iostream", "tornado/tcpserver.py"};
}

// Tornado: tornado/tcpserver.py:106 TCPServer.__init__
TCPServer::TCPServer(ioloop::IOLoop* io_loop, Options options, const char* trace_class)
    : Traced(trace_class),
      io_loop_(io_loop),
      options_(std::move(options)) {
    if (options_.ssl_options) {
        const netutil::SSLOptions& ssl = *options_.ssl_options;
        // Tornado: the dict must name a certfile, and the files must exist.
        if (ssl.certfile.empty()) {
            throw std::invalid_argument("missing key \"certfile\" in ssl_options");
        }
        struct stat st{};
        if (::stat(ssl.certfile.c_str(), &st) != 0) {
            throw std::invalid_argument("certfile \"" + ssl.certfile + "\" does not exist");
        }
        if (!ssl.keyfile.empty() && ::stat(ssl.keyfile.c_str(), &st) != 0) {
            throw std::invalid_argument("keyfile \"" + ssl.keyfile + "\" does not exist");
        }
        ssl_context_ = netutil::ssl_options_to_context(ssl);
    }
}

TCPServer::~TCPServer() {
    stop();
    for (int sock : pending_sockets_) {
        ::close(sock);
    }
}

// Tornado: tornado/tcpserver.py:134 TCPServer.listen
void TCPServer::listen(int port, const std::string& address) {
    add_sockets(netutil::bind_sockets(port, address));
}

// ---- bind + start, pre-forked processes (tornado issue 8) ----

// Tornado: tornado/tcpserver.py:166 TCPServer.bind
void TCPServer::bind(int port, const std::string& address, int family, int backlog,
                     bool reuse_port) {
    std::vector<int> sockets = netutil::bind_sockets(port, address, family, backlog, reuse_port);
    if (started_) {
        add_sockets(sockets);
    } else {
        pending_sockets_.insert(pending_sockets_.end(), sockets.begin(), sockets.end());
    }
}

// Tornado: tornado/tcpserver.py:198 TCPServer.start
// C++: max_restarts is passed on to fork_processes (Tornado 4.5.2 always
// uses its default; 6.2 added the argument).
void TCPServer::start(int num_processes, int max_restarts) {
    if (started_) {
        throw std::logic_error("TCPServer.start called twice");
    }
    started_ = true;
    if (num_processes != 1) {
        process::fork_processes(num_processes, max_restarts);
    }
    std::vector<int> sockets = std::move(pending_sockets_);
    pending_sockets_.clear();
    add_sockets(sockets);
}

// ---- end of bind + start ----

// Tornado: tornado/tcpserver.py:145 TCPServer.add_sockets
// C++: as Tornado 4.5.2, a server made without a loop takes the current one
// here, so that a server may be made (and bound) before fork_processes.
void TCPServer::add_sockets(const std::vector<int>& sockets) {
    if (io_loop_ == nullptr) {
        io_loop_ = ioloop::IOLoop::current();
    }
    for (int sock : sockets) {
        handlers_[sock] = netutil::add_accept_handler(
            sock,
            [this](int connection, const netutil::Address& address) {
                _handle_connection(connection, address);
            },
            io_loop_);
    }
}

// Tornado: tornado/tcpserver.py:162 TCPServer.add_socket
void TCPServer::add_socket(int socket) {
    add_sockets({socket});
}

// Tornado: tornado/tcpserver.py:226 TCPServer.stop
void TCPServer::stop() {
    // As Tornado 5.0: each socket's remove function (which also cancels an
    // accept back-off), then close.
    for (auto& [fd, remove] : handlers_) {
        remove();
        ::close(fd);
    }
    handlers_.clear();
}

std::vector<int> TCPServer::sockets() const {
    std::vector<int> out = pending_sockets_;
    for (const auto& [fd, remove] : handlers_) {
        out.push_back(fd);
    }
    return out;
}

// Tornado: tornado/tcpserver.py:257 TCPServer._handle_connection
void TCPServer::_handle_connection(int connection, const netutil::Address& address) {
    std::uint64_t conn_id = trace::next_conn_id();
    set_trace_ids(conn_id, 0);
    TRACE_SPAN("TCPServer._handle_connection", {"fd", connection});
    try {
        iostream::BaseIOStream::Options stream_options;
        if (options_.max_buffer_size != 0) {
            stream_options.max_buffer_size = options_.max_buffer_size;
        }
        if (options_.read_chunk_size != 0) {
            stream_options.read_chunk_size = options_.read_chunk_size;
        }
        stream_options.batch_pipelined_writes = options_.batch_pipelined_writes;
        std::shared_ptr<iostream::IOStream> stream;
        if (ssl_context_) {
            // Tornado: ssl_wrap_socket(server_side=True,
            // do_handshake_on_connect=False); the handshake starts on the
            // stream's first events.
            stream = std::make_shared<iostream::SSLIOStream>(connection, ssl_context_, true,
                                                             io_loop_, stream_options);
        } else {
            stream = std::make_shared<iostream::IOStream>(connection, io_loop_, stream_options);
        }
        stream->set_trace_ids(conn_id, 0);
        Future<void> future = handle_stream(std::move(stream), address);
        if (!future.done()) {
            // Tornado: io_loop.add_future(future, lambda f: f.result())
            io_loop_->add_future(future, [](const Future<void>& f) {
                try {
                    f.result();
                } catch (...) {
                    log::app_log.error("Error in connection callback: {}",
                                       log::describe(std::current_exception()));
                }
            });
        } else {
            future.result();
        }
    } catch (...) {
        log::app_log.error("Error in connection callback: {}",
                           log::describe(std::current_exception()));
    }
    set_trace_ids(0, 0);
}

}  // namespace tornado::tcpserver
