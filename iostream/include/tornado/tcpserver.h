// tornado.tcpserver: a non-blocking TCP server that hands each accepted
// connection, wrapped in an IOStream, to handle_stream.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"

namespace tornado::tcpserver {

/// Options given to each connection's IOStream (0: the stream default).
struct TCPServerOptions {
    std::size_t max_buffer_size = 0;
    std::size_t read_chunk_size = 0;
    bool batch_pipelined_writes = false;  // IOStream::Options
    /// Set: every connection is an SSLIOStream (server side) with a context
    /// built from these by the constructor.
    std::optional<netutil::SSLOptions> ssl_options;
};

// Tornado: tornado/tcpserver.py:39 TCPServer
class TCPServer : public trace::Traced {
  public:
    using Options = TCPServerOptions;

    /// Throws std::invalid_argument when ssl_options name a missing or
    /// unloadable certfile or keyfile (Tornado checks the files exist here;
    /// C++ also loads them, so that a bad file fails now, not per connection).
    explicit TCPServer(ioloop::IOLoop* io_loop = nullptr, Options options = {},
                       const char* trace_class = "TCPServer");
    virtual ~TCPServer();
    TCPServer(const TCPServer&) = delete;
    TCPServer& operator=(const TCPServer&) = delete;

    /// Binds `port` on `address` and starts accepting on this IOLoop.
    void listen(int port, const std::string& address = "");

    // ---- bind + start, pre-forked processes (tornado issue 8) ----
    /// Binds sockets as netutil::bind_sockets does; before start() they wait
    /// (unwatched) for it, after start() they are added at once. May be
    /// called several times before start() for several ports or addresses.
    void bind(int port, const std::string& address = "", int family = AF_UNSPEC,
              int backlog = netutil::detail::DEFAULT_BACKLOG, bool reuse_port = false);
    /// Starts accepting on the sockets bind() made. With num_processes != 1
    /// it first forks (process::fork_processes; <= 0: one per CPU), and each
    /// child adds the sockets to its own IOLoop::current(), so no IOLoop
    /// may exist before (pass none to the constructor). Call it once.
    void start(int num_processes = 1, int max_restarts = 100);
    // ---- end of bind + start ----
    /// Starts accepting on sockets made by netutil::bind_sockets; the server
    /// takes ownership of them.
    void add_sockets(const std::vector<int>& sockets);
    void add_socket(int socket);
    /// Stops accepting and closes the listening sockets. Connections already
    /// accepted go on. May be called more than once.
    void stop();

    /// Called for each new connection. May return a pending Future (a
    /// coroutine); its exception, if any, is logged.
    virtual Future<void> handle_stream(std::shared_ptr<iostream::IOStream> stream,
                                       const netutil::Address& address) = 0;

    /// The listening fds (for tests and tools), including those bind()
    /// made that wait for start().
    std::vector<int> sockets() const;
    /// The loop given to the constructor, or (when none was) the current
    /// one from the first add_sockets on; null before that.
    ioloop::IOLoop* io_loop() const { return io_loop_; }
    /// The TLS context of the connections, or null without ssl_options.
    const std::shared_ptr<const netutil::SSLContext>& ssl_context() const { return ssl_context_; }

  protected:
    void _handle_connection(int connection, const netutil::Address& address);

    ioloop::IOLoop* io_loop_;
    Options options_;
    std::shared_ptr<const netutil::SSLContext> ssl_context_;

  private:
    // Tornado 6.2: tornado/tcpserver.py TCPServer._handlers
    // (Tornado 5.0: each listening fd and the function that stops accepting on it)
    std::map<int, std::function<void()>> handlers_;
    // Tornado: tornado/tcpserver.py:111 TCPServer._pending_sockets, _started
    std::vector<int> pending_sockets_;
    bool started_ = false;
};

}  // namespace tornado::tcpserver
