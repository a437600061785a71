// Shared pieces of the iostream-layer tests: a fixture that owns an IOLoop
// and the streams a test makes, and RAII captures for log records and
// trace events.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/trace.h"

#include "common/loop_steps.h"

namespace tornado::iostream_test {

using ioloop::IOLoop;
using iostream::BaseIOStream;
using iostream::IOStream;
using iostream::StreamClosedError;

/// Gives the IOLoop `n` iterations (each with a poll) before resolving.
inline Future<void> moments(int n) {
    for (int i = 0; i < n; ++i) {
        co_await gen::moment;
    }
}

/// Resolves once `*flag` is true, checking once per loop iteration; the
/// caller's run_sync timeout bounds the wait.
inline Future<void> wait_for(const bool* flag) {
    while (!*flag) {
        co_await gen::moment;
    }
}

/// Resolves once `*counter` has reached `target`.
inline Future<void> wait_for_count(const int* counter, int target) {
    while (*counter < target) {
        co_await gen::moment;
    }
}

/// Runs `fn` and returns the exception it throws (null if none): for
/// checking the type and content of what a co_await rethrew.
template <class F>
std::exception_ptr capture_exception(F&& fn) {
    try {
        std::forward<F>(fn)();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

/// Collects log records (at `level` and above) while alive; restores the
/// stderr handler and the previous level afterwards.
class LogCapture {
  public:
    struct Record {
        std::string logger;
        log::Level level;
        std::string message;
    };

    explicit LogCapture(log::Level level = log::Level::Info) : saved_level_(log::level()) {
        log::set_level(level);
        log::set_handler([this](std::string_view logger, log::Level lvl, std::string_view msg) {
            records_.push_back({std::string(logger), lvl, std::string(msg)});
        });
    }
    ~LogCapture() {
        log::set_handler({});
        log::set_level(saved_level_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    const std::vector<Record>& records() const { return records_; }

    /// How many records of `logger` at `level` contain `text`.
    int count(std::string_view logger, log::Level level, std::string_view text) const {
        int n = 0;
        for (const Record& r : records_) {
            if (r.logger == logger && r.level == level &&
                r.message.find(text) != std::string::npos) {
                ++n;
            }
        }
        return n;
    }

    std::string dump() const {
        std::string out;
        for (const Record& r : records_) {
            out += r.logger + ": " + r.message + "\n";
        }
        return out;
    }

  private:
    log::Level saved_level_;
    std::vector<Record> records_;
};

/// Records every trace event while alive (tracing on, a fresh trace).
class TraceCapture {
  public:
    explicit TraceCapture(std::size_t capacity = std::size_t{1} << 20)
        : sink_(std::make_shared<trace::RingSink>(capacity)) {
        trace::reset();
        trace::add_sink(sink_);
        trace::enable(true);
    }
    ~TraceCapture() {
        trace::enable(false);
        trace::remove_sink(sink_);
    }
    TraceCapture(const TraceCapture&) = delete;
    TraceCapture& operator=(const TraceCapture&) = delete;

    std::vector<trace::Event> events() const { return sink_->events(); }
    std::size_t dropped() const { return sink_->dropped(); }

  private:
    std::shared_ptr<trace::RingSink> sink_;
};

/// The integer argument `key` of `e`, or `fallback`.
inline std::int64_t int_arg(const trace::Event& e, std::string_view key,
                            std::int64_t fallback = -1) {
    const trace::ArgValue* v = e.arg(key);
    if (v == nullptr) {
        return fallback;
    }
    if (const auto* i = std::get_if<std::int64_t>(v)) {
        return *i;
    }
    return fallback;
}

/// A TCP socket for a client IOStream to connect.
inline int tcp_socket() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    return fd;
}

/// Owns an IOLoop (the current one) and every stream made through it; in
/// TearDown the streams are closed and the loop runs a few iterations so
/// that coroutines waiting on them finish, then streams and loop go.
class LoopTest : public ::testing::Test {
  protected:
    void SetUp() override { loop_ = std::make_unique<IOLoop>(true); }

    void TearDown() override {
        close_streams();
        loop_.reset();
    }

    void close_streams() {
        for (auto& s : streams_) {
            if (!s->closed()) {
                s->close();
            }
        }
        // After a timed-out run, coroutines may still be suspended with
        // pointers to the test body's (now gone) locals: do not resume them.
        // Destroying the loop destroys their frames instead.
        if (!timed_out_) {
            settle();
        }
        streams_.clear();
        if (!timed_out_) {
            settle();
        }
    }

    /// Runs `n` loop iterations so that pending coroutines finish.
    void settle(int n = 5) { tornado::testing::run_iterations(*loop_, n); }

    /// loop_->run_sync with a bound: throws TimeoutError instead of hanging.
    template <class F>
    auto run(F&& fn, double timeout_seconds = 10) {
        try {
            return loop_->run_sync(std::forward<F>(fn), timeout_seconds);
        } catch (const TimeoutError&) {
            timed_out_ = true;
            throw;
        }
    }

    /// Wraps `fd` in an IOStream owned by the fixture.
    std::shared_ptr<IOStream> adopt(int fd, BaseIOStream::Options options = {}) {
        auto stream = std::make_shared<IOStream>(fd, loop_.get(), options);
        streams_.push_back(stream);
        return stream;
    }

    /// Keeps a stream made elsewhere (e.g. by a TCPServer) for TearDown.
    void keep(std::shared_ptr<IOStream> stream) { streams_.push_back(std::move(stream)); }

    /// Two connected streams over socketpair(AF_UNIX, SOCK_STREAM).
    std::pair<std::shared_ptr<IOStream>, std::shared_ptr<IOStream>> stream_pair(
        BaseIOStream::Options first = {}, BaseIOStream::Options second = {}) {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
            throw std::system_error(errno, std::generic_category(), "socketpair");
        }
        return {adopt(fds[0], first), adopt(fds[1], second)};
    }

    std::unique_ptr<IOLoop> loop_;
    std::vector<std::shared_ptr<IOStream>> streams_;
    bool timed_out_ = false;
};

}  // namespace tornado::iostream_test
