// The three pollers behind IOLoop (private to the ioloop library): what
// Tornado 4.5.2 passes to PollIOLoop.initialize as `impl` — select.epoll
// (EPollIOLoop), select.poll (PollIOLoop's default off Linux/BSD) and
// tornado/platform/select.py's _Select (SelectIOLoop).
//
// Every poller speaks the IOLoop's event constants (the epoll values:
// READ 0x001, WRITE 0x004, ERROR 0x018) in both directions and translates
// them to its own system call's bits.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"

namespace tornado::ioloop::detail {

/// One ready descriptor and its events (READ, WRITE, ERROR).
using ReadyEvent = std::pair<int, std::uint32_t>;

/// The interface of Tornado's `impl` objects (register, modify, unregister,
/// poll, close).
class PollerImpl {
  public:
    virtual ~PollerImpl() = default;
    /// Starts watching `fd` for `events`; throws on failure (the IOLoop's
    /// slot is not touched then).
    virtual void register_fd(int fd, std::uint32_t events) = 0;
    /// Changes the events of a registered fd; throws on failure.
    virtual void modify(int fd, std::uint32_t events) = 0;
    /// Stops watching `fd`. Returns false with errno set if the system said
    /// no (the IOLoop logs it at debug level, as Tornado does).
    virtual bool unregister(int fd) = 0;
    /// Waits up to `timeout_ms` and appends the ready fds to `out`. Returns
    /// the number appended, or -1 with errno set (EINTR included).
    virtual int poll(int timeout_ms, std::vector<ReadyEvent>& out) = 0;
};

/// A new poller of `kind`. Throws std::system_error if the kernel refuses.
std::unique_ptr<PollerImpl> make_poller(Poller kind);

}  // namespace tornado::ioloop::detail
