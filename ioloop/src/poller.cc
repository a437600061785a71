#include "poller.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tornado::ioloop {

// Tornado: tornado/ioloop.py:241 IOLoop.configurable_default (the names)
const char* poller_name(Poller poller) {
    switch (poller) {
        case Poller::epoll:
            return "epoll";
        case Poller::poll:
            return "poll";
        case Poller::select:
            return "select";
    }
    return "?";
}

std::optional<Poller> parse_poller(std::string_view name) {
    for (Poller p : {Poller::epoll, Poller::poll, Poller::select}) {
        if (name == poller_name(p)) {
            return p;
        }
    }
    return std::nullopt;
}

}  // namespace tornado::ioloop

namespace tornado::ioloop::detail {

namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// Tornado: tornado/platform/epoll.py:24 EPollIOLoop (impl = select.epoll())
// C++: the IOLoop's constants are epoll's own bits, so nothing is translated.
class EpollPoller final : public PollerImpl {
  public:
    EpollPoller() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (epoll_fd_ < 0) {
            throw_errno("epoll_create1");
        }
        events_.resize(256);
    }
    ~EpollPoller() override { ::close(epoll_fd_); }

    void register_fd(int fd, std::uint32_t events) override {
        ctl(EPOLL_CTL_ADD, fd, events, "epoll_ctl(ADD)");
    }
    void modify(int fd, std::uint32_t events) override {
        ctl(EPOLL_CTL_MOD, fd, events, "epoll_ctl(MOD)");
    }
    bool unregister(int fd) override {
        return ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) == 0;
    }
    int poll(int timeout_ms, std::vector<ReadyEvent>& out) override {
        int n =
            ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
        if (n < 0) {
            return -1;
        }
        for (int i = 0; i < n; ++i) {
            const epoll_event& ev = events_[static_cast<std::size_t>(i)];
            out.emplace_back(ev.data.fd, ev.events);
        }
        // A full buffer may have left fds out: take more next time.
        if (static_cast<std::size_t>(n) == events_.size()) {
            events_.resize(events_.size() * 2);
        }
        return n;
    }

  private:
    void ctl(int op, int fd, std::uint32_t events, const char* what) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_fd_, op, fd, &ev) < 0) {
            throw_errno(what);
        }
    }

    int epoll_fd_;
    std::vector<epoll_event> events_;
};

// Tornado: tornado/ioloop.py:682 PollIOLoop (impl = select.poll())
// C++: an array of pollfd with a map from fd to its place in it; removing
// one moves the last entry into the hole. POLLHUP, POLLERR and POLLNVAL
// become ERROR.
class PollPoller final : public PollerImpl {
  public:
    void register_fd(int fd, std::uint32_t events) override {
        if (fd < 0) {
            throw std::invalid_argument("poll: negative fd");
        }
        if (index_of(fd) >= 0) {
            errno = EEXIST;
            throw_errno("poll register");
        }
        if (static_cast<std::size_t>(fd) >= index_.size()) {
            index_.resize(static_cast<std::size_t>(fd) + 1, -1);
        }
        index_[static_cast<std::size_t>(fd)] = static_cast<int>(fds_.size());
        fds_.push_back(pollfd{fd, to_poll(events), 0});
    }
    void modify(int fd, std::uint32_t events) override {
        int i = index_of(fd);
        if (i < 0) {
            errno = ENOENT;
            throw_errno("poll modify");
        }
        fds_[static_cast<std::size_t>(i)].events = to_poll(events);
    }
    bool unregister(int fd) override {
        int i = index_of(fd);
        if (i < 0) {
            errno = ENOENT;
            return false;
        }
        const pollfd& last = fds_.back();
        fds_[static_cast<std::size_t>(i)] = last;
        index_[static_cast<std::size_t>(last.fd)] = i;
        index_[static_cast<std::size_t>(fd)] = -1;
        fds_.pop_back();
        return true;
    }
    int poll(int timeout_ms, std::vector<ReadyEvent>& out) override {
        int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
        if (n < 0) {
            return -1;
        }
        int found = 0;
        for (const pollfd& p : fds_) {
            if (found == n) {
                break;
            }
            if (p.revents == 0) {
                continue;
            }
            ++found;
            std::uint32_t events = 0;
            if ((p.revents & POLLIN) != 0) {
                events |= IOLoop::READ;
            }
            if ((p.revents & POLLOUT) != 0) {
                events |= IOLoop::WRITE;
            }
            if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
                events |= IOLoop::ERROR;
            }
            out.emplace_back(p.fd, events);
        }
        return found;
    }

  private:
    static short to_poll(std::uint32_t events) {
        short bits = 0;
        if ((events & IOLoop::READ) != 0) {
            bits |= POLLIN;
        }
        if ((events & IOLoop::WRITE) != 0) {
            bits |= POLLOUT;
        }
        // POLLERR and POLLHUP are reported whether asked for or not.
        return bits;
    }
    int index_of(int fd) const {
        if (fd < 0 || static_cast<std::size_t>(fd) >= index_.size()) {
            return -1;
        }
        return index_[static_cast<std::size_t>(fd)];
    }

    std::vector<pollfd> fds_;
    std::vector<int> index_;  // fd -> place in fds_, -1 when absent
};

// Tornado: tornado/platform/select.py:27 _Select
// C++: fd_set holds descriptors below FD_SETSIZE only; a larger one is
// refused when registered (FD_SET on it would write past the set).
class SelectPoller final : public PollerImpl {
  public:
    SelectPoller() {
        FD_ZERO(&read_fds_);
        FD_ZERO(&write_fds_);
        FD_ZERO(&error_fds_);
    }

    void register_fd(int fd, std::uint32_t events) override {
        if (fd < 0 || fd >= FD_SETSIZE) {
            throw std::invalid_argument("select: fd " + std::to_string(fd) +
                                        " is out of range for select() (FD_SETSIZE is " +
                                        std::to_string(FD_SETSIZE) +
                                        "); use the epoll or poll poller");
        }
        if (registered(fd)) {
            errno = EEXIST;
            throw_errno("select register");
        }
        set(fd, events);
        max_fd_ = std::max(max_fd_, fd);
    }
    void modify(int fd, std::uint32_t events) override {
        if (fd < 0 || fd >= FD_SETSIZE || !registered(fd)) {
            errno = ENOENT;
            throw_errno("select modify");
        }
        clear(fd);
        set(fd, events);
    }
    bool unregister(int fd) override {
        if (fd < 0 || fd >= FD_SETSIZE || !registered(fd)) {
            errno = ENOENT;
            return false;
        }
        clear(fd);
        while (max_fd_ >= 0 && !registered(max_fd_)) {
            --max_fd_;
        }
        return true;
    }
    int poll(int timeout_ms, std::vector<ReadyEvent>& out) override {
        fd_set readable = read_fds_;
        fd_set writable = write_fds_;
        fd_set errors = error_fds_;
        timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        int n = ::select(max_fd_ + 1, &readable, &writable, &errors, &tv);
        if (n < 0) {
            return -1;
        }
        int found = 0;
        for (int fd = 0; fd <= max_fd_ && n > 0; ++fd) {
            std::uint32_t events = 0;
            if (FD_ISSET(fd, &readable)) {
                events |= IOLoop::READ;
            }
            if (FD_ISSET(fd, &writable)) {
                events |= IOLoop::WRITE;
            }
            if (FD_ISSET(fd, &errors)) {
                events |= IOLoop::ERROR;
            }
            if (events != 0) {
                out.emplace_back(fd, events);
                ++found;
            }
        }
        return found;
    }

  private:
    void set(int fd, std::uint32_t events) {
        if ((events & IOLoop::READ) != 0) {
            FD_SET(fd, &read_fds_);
        }
        if ((events & IOLoop::WRITE) != 0) {
            FD_SET(fd, &write_fds_);
        }
        if ((events & IOLoop::ERROR) != 0) {
            FD_SET(fd, &error_fds_);
            // As _Select: select reports a closed peer as readable, not as
            // an error, so asking for errors means listening for reads too.
            FD_SET(fd, &read_fds_);
        }
        FD_SET(fd, &registered_);
    }
    void clear(int fd) {
        FD_CLR(fd, &read_fds_);
        FD_CLR(fd, &write_fds_);
        FD_CLR(fd, &error_fds_);
        FD_CLR(fd, &registered_);
    }
    bool registered(int fd) const { return FD_ISSET(fd, &registered_); }

    fd_set read_fds_;
    fd_set write_fds_;
    fd_set error_fds_;
    fd_set registered_{};
    int max_fd_ = -1;
};

}  // namespace

std::unique_ptr<PollerImpl> make_poller(Poller kind) {
    switch (kind) {
        case Poller::epoll:
            return std::make_unique<EpollPoller>();
        case Poller::poll:
            return std::make_unique<PollPoller>();
        case Poller::select:
            return std::make_unique<SelectPoller>();
    }
    throw std::invalid_argument("unknown poller");
}

}  // namespace tornado::ioloop::detail
