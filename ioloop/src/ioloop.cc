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

#include "poller.h"

namespace tornado::ioloop {

namespace {

constexpr trace::Module kTraceModule{"ioloop", "tornado/ioloop.py"};

thread_local IOLoop* t_current = nullptr;
thread_local std::unique_ptr<IOLoop> t_default_loop;

// IOLoop.configure's choice; constant-initialised, so a static initialiser
// elsewhere may already call configure().
constinit std::atomic<Poller> g_configured{Poller::epoll};

// IOLoop._instance and its lock; g_owned_instance holds the one that
// instance() made itself.
std::mutex g_instance_lock;
std::atomic<IOLoop*> g_instance{nullptr};
std::unique_ptr<IOLoop> g_owned_instance;

// Tornado sweeps cancelled timeouts out of the heap once there are more than
// 512 of them and they are over half the heap.
constexpr std::size_t kCancellationSweepThreshold = 512;
constexpr double kMaxPollSeconds = 3600.0;

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

IOLoop::IOLoop(bool make_current) : IOLoop(configured(), make_current) {}

// Tornado: tornado/ioloop.py:689 PollIOLoop.initialize
// C++: the impl is made from the Poller rather than passed in.
IOLoop::IOLoop(Poller poller, bool make_current) : Traced("IOLoop"), poller_kind_(poller) {
    poller_ = detail::make_poller(poller);
    waker_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (waker_fd_ < 0) {
        throw_errno("eventfd");
    }
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
            throw std::runtime_error("current IOLoop already exists");
        }
        this->make_current();
    }
}

IOLoop::~IOLoop() {
    if (g_instance.load() == this) {
        // A destroyed loop must not stay reachable through instance().
        std::lock_guard<std::mutex> lock(g_instance_lock);
        if (g_instance.load() == this) {
            g_instance.store(nullptr);
        }
    }
    destroy_contents();
    if (t_current == this) {
        t_current = nullptr;
    }
    if (waker_fd_ >= 0) {
        ::close(waker_fd_);
    }
}

void IOLoop::destroy_contents() {
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
    handler_count_ = 0;
}

// Tornado: tornado/ioloop.py:714 PollIOLoop.close
void IOLoop::close(bool all_fds) {
    if (running_.load()) {
        throw std::runtime_error("IOLoop.close: the loop is running; stop it first");
    }
    if (closed_.exchange(true)) {
        return;
    }
    remove_handler(waker_fd_);
    if (all_fds) {
        // Tornado: tornado/ioloop.py:661 IOLoop.close_fd
        for (std::size_t fd = 0; fd < handlers_.size(); ++fd) {
            if (handlers_[fd].active) {
                ::close(static_cast<int>(fd));
            }
        }
    }
    // The handlers go with everything else; the poller forgets their fds
    // when it is closed below.
    destroy_contents();
    poller_.reset();
    ::close(waker_fd_);
    waker_fd_ = -1;
}

// Tornado: tornado/util.py:325 Configurable.configure
void IOLoop::configure(Poller poller) {
    g_configured.store(poller);
}

Poller IOLoop::configured() {
    return g_configured.load();
}

// Tornado: tornado/ioloop.py:150 IOLoop.instance
IOLoop* IOLoop::instance() {
    if (IOLoop* loop = g_instance.load()) {
        return loop;
    }
    std::lock_guard<std::mutex> lock(g_instance_lock);
    if (g_instance.load() == nullptr) {
        // As Tornado's IOLoop() with make_current=None: current only if this
        // thread has none.
        g_owned_instance = std::make_unique<IOLoop>(t_current == nullptr);
        g_instance.store(g_owned_instance.get());
    }
    return g_instance.load();
}

// Tornado: tornado/ioloop.py:166 IOLoop.initialized
bool IOLoop::initialized() {
    return g_instance.load() != nullptr;
}

// Tornado: tornado/ioloop.py:170 IOLoop.install
void IOLoop::install() {
    std::lock_guard<std::mutex> lock(g_instance_lock);
    if (g_instance.load() != nullptr) {
        throw std::logic_error("IOLoop.install: an instance is already installed");
    }
    g_instance.store(this);
}

// Tornado: tornado/ioloop.py:185 IOLoop.clear_instance
void IOLoop::clear_instance() {
    std::unique_ptr<IOLoop> owned;
    {
        std::lock_guard<std::mutex> lock(g_instance_lock);
        g_instance.store(nullptr);
        owned = std::move(g_owned_instance);
    }
    // Destroyed outside the lock: its destructor looks at the instance.
}

// Tornado: tornado/ioloop.py:194 IOLoop.current
IOLoop* IOLoop::current() {
    if (t_current == nullptr) {
        // Tornado falls back to the global instance(); ours lives as long as
        // the thread.
        t_default_loop = std::make_unique<IOLoop>(true);
    }
    return t_current;
}

IOLoop* IOLoop::current(bool instance) {
    return instance ? current() : t_current;
}

// Tornado: tornado/ioloop.py:217 IOLoop.make_current
void IOLoop::make_current() {
    t_current = this;
}

// Tornado: tornado/ioloop.py:233 IOLoop.clear_current
void IOLoop::clear_current() {
    t_current = nullptr;
}

// Tornado: tornado/ioloop.py:725 PollIOLoop.add_handler
void IOLoop::add_handler(int fd, Handler handler, std::uint32_t events) {
    if (fd != waker_fd_) {
        TRACE_EVENT("PollIOLoop.add_handler", {"fd", fd}, {"events", events});
    }
    if (fd < 0) {
        throw std::invalid_argument("add_handler: negative fd");
    }
    if (closed_.load()) {
        throw std::runtime_error("add_handler: the IOLoop is closed");
    }
    if (static_cast<std::size_t>(fd) >= handlers_.size()) {
        handlers_.resize(static_cast<std::size_t>(fd) + 1);
    }
    HandlerSlot& slot = handlers_[static_cast<std::size_t>(fd)];
    if (slot.active) {
        throw std::invalid_argument("add_handler: fd " + std::to_string(fd) +
                                    " already registered");
    }
    poller_->register_fd(fd, events | ERROR);
    slot.handler = std::make_unique<Handler>(std::move(handler));
    slot.events = events | ERROR;
    slot.active = true;
    ++handler_count_;
}

// Tornado: tornado/ioloop.py:730 PollIOLoop.update_handler
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
    poller_->modify(fd, events | ERROR);
    slot.events = events | ERROR;
}

// Tornado: tornado/ioloop.py:734 PollIOLoop.remove_handler
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
    if (poller_ && !poller_->unregister(fd) && errno != EBADF && errno != ENOENT) {
        log::gen_log.debug("Error deleting fd from IOLoop: {}", std::strerror(errno));
    }
}

// Tornado: tornado/ioloop.py:933 PollIOLoop.add_callback
void IOLoop::add_callback(Callback callback) {
    if (closed_.load()) {
        return;  // as Tornado: a closing loop drops it
    }
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

// Tornado: tornado/ioloop.py:949 PollIOLoop.add_callback_from_signal
// C++: only async-signal-safe steps here (atomics on preallocated slots and
// write(2)); start() moves the ready slots into the pass's callbacks.
bool IOLoop::post_from_signal(void (*invoke)(void*), const void* data, std::size_t size) noexcept {
    if (closed_.load()) {
        return false;
    }
    int saved_errno = errno;
    bool posted = false;
    for (SignalSlot& slot : signal_slots_) {
        int expected = SignalSlot::kFree;
        if (slot.state.compare_exchange_strong(expected, SignalSlot::kWriting,
                                               std::memory_order_acquire)) {
            slot.sequence = signal_sequence_.fetch_add(1, std::memory_order_relaxed);
            slot.invoke = invoke;
            std::memcpy(slot.storage, data, size);
            slot.state.store(SignalSlot::kReady, std::memory_order_release);
            posted = true;
            break;
        }
    }
    if (posted) {
        wake();
    }
    errno = saved_errno;
    return posted;
}

void IOLoop::take_signal_callbacks() {
    signal_call_count_ = 0;
    for (SignalSlot& slot : signal_slots_) {
        if (slot.state.load(std::memory_order_acquire) != SignalSlot::kReady) {
            continue;
        }
        SignalCall& call = signal_calls_[signal_call_count_++];
        call.sequence = slot.sequence;
        call.invoke = slot.invoke;
        std::memcpy(call.storage, slot.storage, kSignalCallbackSize);
        slot.state.store(SignalSlot::kFree, std::memory_order_release);
    }
    // In the order they were posted, whichever slots they landed in.
    std::sort(signal_calls_.begin(),
              signal_calls_.begin() + static_cast<std::ptrdiff_t>(signal_call_count_),
              [](const SignalCall& a, const SignalCall& b) { return a.sequence < b.sequence; });
}

void IOLoop::run_signal_callbacks() {
    for (std::size_t i = 0; i < signal_call_count_; ++i) {
        try {
            signal_calls_[i].invoke(signal_calls_[i].storage);
        } catch (...) {
            handle_callback_exception(std::current_exception(), "callback");
        }
    }
    signal_call_count_ = 0;
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

// Tornado: tornado/ioloop.py:475 PollIOLoop.add_timeout (IOLoop.add_timeout, which calls
// PollIOLoop.call_at; the trace step keeps this name)
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

// Tornado: tornado/ioloop.py:924 PollIOLoop.remove_timeout
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

// Tornado: tornado/ioloop.py:599 IOLoop._run_callback
void IOLoop::run_callback(Callback& callback) {
    try {
        callback();
    } catch (...) {
        handle_callback_exception(std::current_exception(), "callback");
    }
}

// Tornado: tornado/ioloop.py:628 IOLoop.handle_callback_exception
void IOLoop::handle_callback_exception(std::exception_ptr exception, std::string_view where) {
    log::app_log.error("Exception in {}: {}", where, log::describe(exception));
}

// Tornado: tornado/ioloop.py:753 PollIOLoop.start
void IOLoop::start() {
    if (running_) {
        throw std::runtime_error("IOLoop is already running");
    }
    if (closed_.load()) {
        throw std::runtime_error("IOLoop is closing");
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
        ++iteration_;
        // 1. The callbacks queued before this iteration began.
        {
            std::lock_guard<std::mutex> lock(callback_lock_);
            running_callbacks_.swap(callbacks_);
        }
        take_signal_callbacks();
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
        run_signal_callbacks();
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
        if (!before_poll_.empty()) {
            // C++ only: the end-of-iteration hooks (add_before_poll), told
            // whether the poll will wait; they may queue callbacks.
            poll_will_wait_ = !has_callbacks;
            running_before_poll_.swap(before_poll_);
            for (Callback& cb : running_before_poll_) {
                run_callback(cb);
            }
            running_before_poll_.clear();
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

        // 5. Dispatch. remove_handler clears entries of pending_events_, so
        // a handler that closes another fd also drops that fd's events.
        pending_events_.clear();
        int n = poller_->poll(poll_timeout_ms, pending_events_);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(poller_name(poller_kind_));
        }
        if (n > 0) {
            TRACE_EVENT("PollIOLoop.start", {"poll_events", n});
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
                handle_callback_exception(std::current_exception(),
                                          "I/O handler for fd " + std::to_string(fd));
            }
        }
        pending_events_.clear();
        removed_handlers_.clear();
    }

    stopped_ = false;
    {
        std::lock_guard<std::mutex> lock(callback_lock_);
        running_ = false;
    }
    t_current = old_current;
}

// Tornado: tornado/ioloop.py:908 PollIOLoop.stop
void IOLoop::stop() {
    stopped_.store(true);
    running_.store(false);
    wake();
}

// Tornado: tornado/ioloop.py:913 PollIOLoop.time
double IOLoop::time() const {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Tornado: tornado/ioloop.py:993 PeriodicCallback.__init__
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

// Tornado: tornado/ioloop.py:1002 PeriodicCallback.start
void PeriodicCallback::start() {
    running_ = true;
    next_timeout_ = io_loop_->time();
    _schedule_next();
}

// Tornado: tornado/ioloop.py:1008 PeriodicCallback.stop
void PeriodicCallback::stop() {
    running_ = false;
    if (timeout_) {
        io_loop_->remove_timeout(timeout_);
        timeout_ = Timeout{};
    }
}

// Tornado: tornado/ioloop.py:1022 PeriodicCallback._run
void PeriodicCallback::_run() {
    timeout_ = Timeout{};
    if (!running_) {
        return;
    }
    try {
        callback_();
    } catch (...) {
        io_loop_->handle_callback_exception(std::current_exception(), "callback");
    }
    _schedule_next();
}

// Tornado: tornado/ioloop.py:1032 PeriodicCallback._schedule_next
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
