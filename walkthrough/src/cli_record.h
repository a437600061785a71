// serve's flight-recorder pieces (cli_record.cc).
#pragma once

#include <cstdint>
#include <cstdio>

#include "tornado/ioloop.h"
#include "tornado/trace.h"

namespace tornado::walkthrough::cli {

/// A listening socket on 127.0.0.1 answering GET /record.jsonl[?requests=N]
/// with the recorder's last requests as JSON Lines. Its own connections are
/// not traced: they are read and answered outside the mirrored stack.
class AdminEndpoint {
  public:
    AdminEndpoint(ioloop::IOLoop& loop, const trace::Recorder& recorder,
                  std::size_t default_requests, int port);
    ~AdminEndpoint();
    AdminEndpoint(const AdminEndpoint&) = delete;
    AdminEndpoint& operator=(const AdminEndpoint&) = delete;
    int port() const { return port_; }

  private:
    void on_accept();

    ioloop::IOLoop& loop_;
    const trace::Recorder& recorder_;
    std::size_t default_requests_;
    int fd_ = -1;
    int port_ = 0;
};

/// serve --trace FILE: writes what the recorder holds beyond what it has
/// already written, as JSON Lines; serve calls it before each poll.
class TraceStreamer {
  public:
    TraceStreamer(const trace::Recorder& recorder, std::FILE* out);
    void write_out();

  private:
    const trace::Recorder& recorder_;
    std::FILE* out_;
    std::uint64_t read_;
};

}  // namespace tornado::walkthrough::cli
