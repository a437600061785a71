#include "tornado/ioloop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <system_error>

#include "tornado/log.h"

namespace tornado::ioloop {

namespace {

constexpr trace::Module kTraceModule{"ioloop", "tornado/ioloop.py"};

thread_local IOLoop* t_current = nullptr;
thread_local std::unique_ptr<IOLoop> t_default_loop;

// Tornado sweeps cancelled timeouts out of the heap once there are more than
// 512 of them and they are over half the heap.
constexpr std::size_t kCancellationSweepThreshold = 512;
constexpr double kMaxPollSeconds = 3600.0;

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

// Tornado: tornado/ioloop.py PollIOLoop.initialize
IOLoop::IOLoop(bool make_current) : Traced("IOLoop") {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
        throw_errno("epoll_create1");
    }
    waker_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (waker_fd_ < 0) {
        ::close(epoll_fd_);
        throw_errno("eventfd");
    }
    poll_events_.resize(256);
    // The waker: a write from another thread ends the poll at once.
    add_handler(
        waker_fd_,
        [](int fd, std::uint32_t) {
            std::uint64_t value = 0;
            while (::read(fd, &value, sizeof value) > 0) {
            }
        },
        READ);
    if (make_current) {
        if (t_current != nullptr) {
            remove_handler(waker_fd_);
            ::close(waker_fd_);
            ::close(epoll_fd_);
            throw std::runtime_error("current IOLoop already exists");
        }
        this->make_current();
    }
}

IOLoop::~IOLoop() {
    // Queued callbacks, timeouts and handlers are destroyed, not run; a
    // queued coroutine resumption destroys its frame (see concurrent.h).
    // Destroying one may queue, schedule or remove others on this loop, so
    // each container is moved out before its contents go, until none is
    // left.
    while (true) {
        std::vector<Callback> pending;
        {
            std::lock_guard<std::mutex> lock(callback_lock_);
            pending.swap(callbacks_);
        }
        std::vector<TimeoutSlot> slots;
        slots.swap(timeout_slots_);
        timeout_heap_.clear();
        free_timeout_slots_.clear();
        due_timeouts_.clear();
        std::vector<HandlerSlot> handlers;
        handlers.swap(handlers_);
        std::vector<std::unique_ptr<Handler>> removed;
        removed.swap(removed_handlers_);
        if (pending.empty() && slots.empty() && handlers.empty() && removed.empty()) {
            break;
        }
    }
    if (t_current == this) {
        t_current = nullptr;
    }
    ::close(waker_fd_);
    ::close(epoll_fd_);
}

// Tornado: tornado/ioloop.py IOLoop.current
IOLoop* IOLoop::current() {
    if (t_current == nullptr) {
        // Tornado falls back to the global instance(); ours lives as long as
        // the thread.
        t_default_loop = std::make_unique<IOLoop>(true);
    }
    return t_current;
}

// Tornado: tornado/ioloop.py IOLoop.make_current
void IOLoop::make_current() {
    t_current = this;
}

// Tornado: tornado/ioloop.py IOLoop.clear_current
void IOLoop::clear_current() {
    t_current = nullptr;
}

// Tornado: tornado/ioloop.py PollIOLoop.add_handler
void IOLoop::add_handler(int fd, Handler handler, std::uint32_t events) {
    if (fd != waker_fd_) {
        TRACE_EVENT("PollIOLoop.add_handler", {"fd", fd}, {"events", events});
    }
    if (fd < 0) {
        throw std::invalid_argument("add_handler: negative fd");
    }
    if (static_cast<std::size_t>(fd) >= handlers_.size()) {
        handlers_.resize(static_cast<std::size_t>(fd) + 1);
    }
    HandlerSlot& slot = handlers_[static_cast<std::size_t>(fd)];
    if (slot.active) {
        throw std::invalid_argument("add_handler: fd " + std::to_string(fd) +
                                    " already registered");
    }
    epoll_event ev{};
    ev.events = events | ERROR;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        throw_errno("epoll_ctl(ADD)");
    }
    slot.handler = std::make_unique<Handler>(std::move(handler));
    slot.events = events | ERROR;
    slot.active = true;
    ++handler_count_;
}

// Tornado: tornado/ioloop.py PollIOLoop.update_handler
void IOLoop::update_handler(int fd, std::uint32_t events) {
    TRACE_EVENT("PollIOLoop.update_handler", {"fd", fd}, {"events", events});
    if (fd < 0 || static_cast<std::size_t>(fd) >= handlers_.size() ||
        !handlers_[static_cast<std::size_t>(fd)].active) {
        throw std::invalid_argument("update_handler: fd " + std::to_string(fd) +
                                    " is not registered");
    }
    HandlerSlot& slot = handlers_[static_cast<std::size_t>(fd)];
    if (slot.events == (events | ERROR)) {
        return;
    }
    epoll_event ev{};
    ev.events = events | ERROR;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) < 0) {
        throw_errno("epoll_ctl(MOD)");
    }
    slot.events = events | ERROR;
}

// Tornado: tornado/ioloop.py PollIOLoop.remove_handler
void IOLoop::remove_handler(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= handlers_.size() ||
        !handlers_[static_cast<std::size_t>(fd)].active) {
        return;
    }
    TRACE_EVENT("PollIOLoop.remove_handler", {"fd", fd});
    HandlerSlot& slot = handlers_[static_cast<std::size_t>(fd)];
    // The handler may be the one running right now: destroy it later.
    removed_handlers_.push_back(std::move(slot.handler));
    slot.active = false;
    slot.events = 0;
    --handler_count_;
    // Drop events already collected for this fd in this iteration.
    for (auto& pending : pending_events_) {
        if (pending.first == fd) {
            pending.second = 0;
        }
    }
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
        errno != ENOENT) {
        log::gen_log.debug("Error deleting fd from IOLoop: {}", std::strerror(errno));
    }
}

// Tornado: tornado/ioloop.py PollIOLoop.add_callback
void IOLoop::add_callback(Callback callback) {
    bool other_thread;
    {
        std::lock_guard<std::mutex> lock(callback_lock_);
        callbacks_.push_back(std::move(callback));
        other_thread = running_ && std::this_thread::get_id() != thread_id_;
    }
    // The loop thread is not polling while it queues a callback; any other
    // thread must wake it.
    if (other_thread) {
        wake();
    }
}

void IOLoop::wake() {
    std::uint64_t one = 1;
    while (::write(waker_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

std::size_t IOLoop::pending_callbacks() const {
    std::lock_guard<std::mutex> lock(callback_lock_);
    return callbacks_.size();
}

// Tornado: tornado/ioloop.py PollIOLoop.add_timeout
// C++: timeouts live in reusable slots, so scheduling one does not allocate
// once the loop has warmed up.
Timeout IOLoop::add_timeout(double deadline, Callback callback, const char* origin) {
    // No delay in the event: it would differ from run to run.
    TRACE_EVENT("PollIOLoop.add_timeout", {"origin", origin});
    std::uint32_t index;
    if (!free_timeout_slots_.empty()) {
        index = free_timeout_slots_.back();
        free_timeout_slots_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(timeout_slots_.size());
        timeout_slots_.emplace_back();
    }
    TimeoutSlot& slot = timeout_slots_[index];
    slot.callback = std::move(callback);
    slot.origin = origin;
    timeout_heap_.push_back({deadline, ++timeout_sequence_, index, slot.generation});
    std::push_heap(timeout_heap_.begin(), timeout_heap_.end(), heap_later);
    return Timeout{index, slot.generation};
}

// Tornado: tornado/ioloop.py PollIOLoop.remove_timeout
void IOLoop::remove_timeout(Timeout timeout) {
    if (!timeout || timeout.index >= timeout_slots_.size()) {
        return;
    }
    TimeoutSlot& slot = timeout_slots_[timeout.index];
    if (slot.generation != timeout.generation) {
        return;  // already fired or removed
    }
    TRACE_EVENT("PollIOLoop.remove_timeout", {"origin", slot.origin});
    // A due one is already out of the heap: start() sees the new generation
    // and skips it (Tornado sets its callback to None).
    if (!slot.due) {
        ++cancellations_;
    }
    release_timeout_slot(timeout.index);
}

void IOLoop::release_timeout_slot(std::uint32_t index) {
    TimeoutSlot& slot = timeout_slots_[index];
    slot.callback.reset();
    slot.origin = "";
    slot.due = false;
    ++slot.generation;
    free_timeout_slots_.push_back(index);
}

bool IOLoop::timeout_live(const HeapEntry& e) const {
    return timeout_slots_[e.index].generation == e.generation;
}

void IOLoop::sweep_cancelled_timeouts() {
    std::erase_if(timeout_heap_, [this](const HeapEntry& e) { return !timeout_live(e); });
    std::make_heap(timeout_heap_.begin(), timeout_heap_.end(), heap_later);
    cancellations_ = 0;
}

// Tornado: tornado/ioloop.py IOLoop._run_callback
void IOLoop::run_callback(Callback& callback) {
    try {
        callback();
    } catch (...) {
        // Tornado: tornado/ioloop.py IOLoop.handle_callback_exception
        log::app_log.error("Exception in callback: {}", log::describe(std::current_exception()));
    }
}

// Tornado: tornado/ioloop.py PollIOLoop.start
void IOLoop::start() {
    if (running_) {
        throw std::runtime_error("IOLoop is already running");
    }
    if (stopped_.exchange(false)) {
        return;  // stop() came before start(): Tornado returns at once
    }
    IOLoop* old_current = t_current;
    t_current = this;
    {
        std::lock_guard<std::mutex> lock(callback_lock_);
        thread_id_ = std::this_thread::get_id();
        running_ = true;
    }

    while (true) {
        // 1. The callbacks queued before this iteration began.
        {
            std::lock_guard<std::mutex> lock(callback_lock_);
            running_callbacks_.swap(callbacks_);
        }
        // 2. The timeouts that are due now.
        if (!timeout_heap_.empty()) {
            double now = time();
            while (!timeout_heap_.empty()) {
                const HeapEntry& top = timeout_heap_.front();
                if (!timeout_live(top)) {
                    std::pop_heap(timeout_heap_.begin(), timeout_heap_.end(), heap_later);
                    timeout_heap_.pop_back();
                    if (cancellations_ > 0) {
                        --cancellations_;
                    }
                } else if (top.deadline <= now) {
                    DueTimeout due{top.index, top.generation};
                    std::pop_heap(timeout_heap_.begin(), timeout_heap_.end(), heap_later);
                    timeout_heap_.pop_back();
                    timeout_slots_[due.index].due = true;
                    due_timeouts_.push_back(due);
                } else {
                    break;
                }
            }
            if (cancellations_ > kCancellationSweepThreshold &&
                cancellations_ > (timeout_heap_.size() >> 1U)) {
                sweep_cancelled_timeouts();
            }
        }
        // 3. Run them: callbacks first, then timeouts.
        for (Callback& cb : running_callbacks_) {
            run_callback(cb);
        }
        // By index: a timeout may add timeouts, which may grow the slots.
        for (std::size_t i = 0; i < due_timeouts_.size(); ++i) {
            DueTimeout due = due_timeouts_[i];
            if (timeout_slots_[due.index].generation != due.generation) {
                continue;  // removed earlier in this pass
            }
            Callback callback = std::move(timeout_slots_[due.index].callback);
            const char* origin = timeout_slots_[due.index].origin;
            release_timeout_slot(due.index);
            // Only timeouts get a span here: every callback would drown the
            // trace, and a timeout firing is a step of the stories.
            TRACE_SPAN("IOLoop._run_callback", {"timeout", origin});
            run_callback(callback);
        }
        // Destroy them now, not at the next swap (they may hold resources).
        running_callbacks_.clear();
        due_timeouts_.clear();

        // 4. How long the poll may wait.
        int poll_timeout_ms;
        bool has_callbacks;
        {
            std::lock_guard<std::mutex> lock(callback_lock_);
            has_callbacks = !callbacks_.empty();
        }
        if (has_callbacks) {
            poll_timeout_ms = 0;
        } else if (!timeout_heap_.empty()) {
            double wait = std::clamp(timeout_heap_.front().deadline - time(), 0.0, kMaxPollSeconds);
            poll_timeout_ms = static_cast<int>(std::ceil(wait * 1000.0));
        } else {
            poll_timeout_ms = static_cast<int>(kMaxPollSeconds * 1000);
        }

        // stopped_, not running_: a stop() from another thread that lands
        // after the check at the top of start() still ends this loop.
        if (stopped_.load()) {
            break;
        }

        int n = ::epoll_wait(epoll_fd_, poll_events_.data(), static_cast<int>(poll_events_.size()),
                             poll_timeout_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("epoll_wait");
        }
        if (n > 0) {
            TRACE_EVENT("PollIOLoop.start", {"poll_events", n});
        }

        // 5. Dispatch. remove_handler clears entries of pending_events_, so
        // a handler that closes another fd also drops that fd's events.
        pending_events_.clear();
        for (int i = 0; i < n; ++i) {
            const epoll_event& ev = poll_events_[static_cast<std::size_t>(i)];
            int fd = ev.data.fd;
            std::uint32_t events = ev.events;
            pending_events_.emplace_back(fd, events);
        }
        for (std::size_t i = 0; i < pending_events_.size(); ++i) {
            auto [fd, events] = pending_events_[i];
            if (events == 0 || static_cast<std::size_t>(fd) >= handlers_.size()) {
                continue;
            }
            HandlerSlot& slot = handlers_[static_cast<std::size_t>(fd)];
            if (!slot.active) {
                continue;
            }
            // Not `slot`: it may move while the handler runs (see HandlerSlot).
            Handler* handler = slot.handler.get();
            try {
                (*handler)(fd, events);
            } catch (...) {
                log::app_log.error("Exception in I/O handler for fd {}: {}", fd,
                                   log::describe(std::current_exception()));
            }
        }
        pending_events_.clear();
        removed_handlers_.clear();
        if (static_cast<std::size_t>(n) == poll_events_.size()) {
            poll_events_.resize(poll_events_.size() * 2);
        }
    }

    stopped_ = false;
    {
        std::lock_guard<std::mutex> lock(callback_lock_);
        running_ = false;
    }
    t_current = old_current;
}

// Tornado: tornado/ioloop.py PollIOLoop.stop
void IOLoop::stop() {
    stopped_.store(true);
    running_.store(false);
    wake();
}

// Tornado: tornado/ioloop.py PollIOLoop.time
double IOLoop::time() const {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Tornado: tornado/ioloop.py PeriodicCallback.__init__
PeriodicCallback::PeriodicCallback(std::function<void()> callback, double callback_time_ms,
                                   IOLoop* io_loop)
    : callback_(std::move(callback)),
      callback_time_ms_(callback_time_ms),
      io_loop_(io_loop != nullptr ? io_loop : IOLoop::current()) {
    if (callback_time_ms <= 0) {
        throw std::invalid_argument("Periodic callback must have a positive callback_time");
    }
}

PeriodicCallback::~PeriodicCallback() {
    stop();
}

// Tornado: tornado/ioloop.py PeriodicCallback.start
void PeriodicCallback::start() {
    running_ = true;
    next_timeout_ = io_loop_->time();
    _schedule_next();
}

// Tornado: tornado/ioloop.py PeriodicCallback.stop
void PeriodicCallback::stop() {
    running_ = false;
    if (timeout_) {
        io_loop_->remove_timeout(timeout_);
        timeout_ = Timeout{};
    }
}

// Tornado: tornado/ioloop.py PeriodicCallback._run
void PeriodicCallback::_run() {
    timeout_ = Timeout{};
    if (!running_) {
        return;
    }
    try {
        callback_();
    } catch (...) {
        log::app_log.error("Exception in callback: {}", log::describe(std::current_exception()));
    }
    _schedule_next();
}

// Tornado: tornado/ioloop.py PeriodicCallback._schedule_next
void PeriodicCallback::_schedule_next() {
    if (!running_) {
        return;
    }
    double current_time = io_loop_->time();
    if (next_timeout_ <= current_time) {
        double callback_time_sec = callback_time_ms_ / 1000.0;
        next_timeout_ += (std::floor((current_time - next_timeout_) / callback_time_sec) + 1) *
                         callback_time_sec;
    }
    timeout_ = io_loop_->add_timeout(next_timeout_, [this]() { _run(); });
}

}  // namespace tornado::ioloop

namespace tornado::concurrent::detail {

void post_resume(ioloop::IOLoop* loop, Callback cb) {
    loop->add_callback(std::move(cb));
}

ioloop::IOLoop* current_loop() {
    return ioloop::IOLoop::current();
}

}  // namespace tornado::concurrent::detail
