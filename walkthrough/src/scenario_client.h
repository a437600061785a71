// The scripted side of a scenario: a small HTTP client built on our own
// IOStream, and a recorder that lets a script wait for a server step.
// C++ only: none of this mirrors Tornado (the client plays the browser).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"

namespace tornado::walkthrough::detail {

/// Records every event of a scenario in order, and lets a script wait until
/// the server has reached a step (so that the script is sequenced on what
/// happened, never on wall time).
class Recorder : public trace::Sink {
  public:
    void on_event(const trace::Event& event) override { events_.push_back(event); }
    const std::vector<trace::Event>& events() const { return events_; }
    std::vector<trace::Event> take() { return std::move(events_); }

  private:
    std::vector<trace::Event> events_;
};

/// Resolves once `recorder` holds an event for which `match` is true (one
/// recorded before the call counts too). Yields one loop iteration at a time
/// and emits no events of its own; throws std::runtime_error if the event
/// does not come within a bounded number of iterations.
Future<void> wait_for(const Recorder* recorder, std::function<bool(const trace::Event&)> match);

/// A server-side event with this step and phase (and request, if not 0).
std::function<bool(const trace::Event&)> server_step(std::string step, trace::Phase ph,
                                                     std::uint64_t req = 0);

/// Yields loop iterations until `server_connections()` is 0, then a few
/// more so that callbacks the last close queued have run.
Future<void> drain(std::function<std::size_t()> server_connections);

/// The scripted client of the notes' simple example: connect, write the
/// request, read the header block, then the body (by Content-Length, chunked
/// framing, or until the server closes).
class Client : public trace::Traced, public std::enable_shared_from_this<Client> {
  public:
    /// `rcvbuf` > 0 sets SO_RCVBUF on the socket before it connects.
    explicit Client(int rcvbuf = 0);
    /// Speak TLS (an SSLIOStream with `context`) on the next connection,
    /// sending `server_hostname` as SNI.
    void use_tls(std::shared_ptr<const netutil::SSLContext> context, std::string server_hostname);

    /// One request on a new connection, answer read, connection closed.
    Future<std::string> fetch(int port, std::string request);

    /// The steps of a longer conversation on one connection.
    Future<void> connect(int port);
    Future<void> send(std::string data);
    /// One response: its head, and its body unless the status is 1xx.
    Future<std::string> read_response();
    /// Everything until the server closes the connection.
    Future<std::string> read_until_close();
    void close();

  private:
    std::shared_ptr<iostream::IOStream> open_stream();
    Future<std::string> read_chunked_body();

    Future<void> connect_stream(int port);

    int rcvbuf_;
    std::shared_ptr<const netutil::SSLContext> tls_;
    std::string server_hostname_;
    std::shared_ptr<iostream::IOStream> stream_;
};

}  // namespace tornado::walkthrough::detail
