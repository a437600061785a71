// serve's flight-recorder pieces (cli_record.cc).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "tornado/ioloop.h"
#include "tornado/trace.h"

namespace tornado::walkthrough::cli {

/// A listening socket on 127.0.0.1 answering GET /record.jsonl[?requests=N]
/// with the recorder's last requests as JSON Lines. With `ui` (serve --ui)
/// it also answers GET / (or /ui) [?requests=N] with the browser viewer's
/// page of the last requests (5 by default), whose C++ excerpts come from
/// `ui_source_root`, and GET /ui/newest with a number that changes when a
/// request arrives: the page polls it and reloads. Its own connections are
/// not traced: they are read and answered outside the mirrored stack.
class AdminEndpoint {
  public:
    AdminEndpoint(ioloop::IOLoop& loop, const trace::Recorder& recorder,
                  std::size_t default_requests, int port, std::string ui_source_root = {},
                  bool ui = false);
    ~AdminEndpoint();
    AdminEndpoint(const AdminEndpoint&) = delete;
    AdminEndpoint& operator=(const AdminEndpoint&) = delete;
    int port() const { return port_; }

  private:
    void on_accept();
    void on_readable(int fd);
    std::string answer(const std::string& head) const;
    std::uint64_t newest_request_mark() const;

    ioloop::IOLoop& loop_;
    const trace::Recorder& recorder_;
    std::size_t default_requests_;
    bool ui_;
    std::string source_root_;
    std::map<int, std::string> pending_;  // connections still sending their head
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
