// tornado.ioloop: the event loop (PollIOLoop) and PeriodicCallback.
//
// The poller (epoll, poll or select, as Tornado's EPollIOLoop, PollIOLoop
// and SelectIOLoop) is chosen when a loop is made: IOLoop::configure sets
// the process default, and a constructor takes one explicitly.
//
// One iteration of IOLoop::start, in the order PollIOLoop.start runs it:
//   1. take the callbacks queued so far (later ones wait for the next pass);
//   2. pop the timeouts that are due;
//   3. run those callbacks, then those timeouts;
//   4. poll: no wait if callbacks are queued, else until the next timeout
//      (at most an hour);
//   5. dispatch each ready fd to its handler, skipping fds whose handler
//      was removed during this dispatch.
// Exceptions escaping a callback or handler are logged and the loop goes on.
// A due timeout that a callback (or an earlier timeout) of the same pass
// removes does not run. add_callback and stop may be called from any thread.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/callback.h"
#include "tornado/concurrent.h"
#include "tornado/trace.h"

namespace tornado {

/// Mirrors tornado.util.TimeoutError (also gen.TimeoutError and
/// ioloop.TimeoutError in Tornado 4.5.2).
class TimeoutError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace tornado

namespace tornado::ioloop {

using tornado::TimeoutError;

/// The system call an IOLoop waits with. Tornado 4.5.2 picks one per
/// platform (IOLoop.configurable_default); here all three are there on Linux.
enum class Poller {
    epoll,   ///< tornado/platform/epoll.py EPollIOLoop (the default)
    poll,    ///< tornado/ioloop.py PollIOLoop with select.poll
    select,  ///< tornado/platform/select.py SelectIOLoop: fds below FD_SETSIZE only
};

/// "epoll", "poll" or "select".
const char* poller_name(Poller poller);
/// The Poller named `name` ("epoll", "poll" or "select"), or nullopt.
std::optional<Poller> parse_poller(std::string_view name);

namespace detail {
class PollerImpl;
}

/// A handle to a scheduled timeout, for remove_timeout. Default: no timeout.
struct Timeout {
    std::uint32_t index = UINT32_MAX;
    std::uint32_t generation = 0;
    explicit operator bool() const noexcept { return index != UINT32_MAX; }
};

/// Mirrors tornado.ioloop.PollIOLoop, on the poller chosen when it is made.
class IOLoop : public trace::Traced {
  public:
    // Tornado: tornado/ioloop.py:72 IOLoop (the event constants)
    static constexpr std::uint32_t NONE = 0;
    static constexpr std::uint32_t READ = EPOLLIN;               // 0x001
    static constexpr std::uint32_t WRITE = EPOLLOUT;             // 0x004
    static constexpr std::uint32_t ERROR = EPOLLERR | EPOLLHUP;  // 0x018

    /// An fd handler: called with the fd and the events that are ready.
    using Handler = UniqueFunction<void(int fd, std::uint32_t events)>;

    /// Creates a loop on the configured() poller; with make_current, it
    /// becomes this thread's current loop (throws std::runtime_error if the
    /// thread already has one).
    explicit IOLoop(bool make_current = true);
    /// Creates a loop on `poller`, whatever configure() said.
    explicit IOLoop(Poller poller, bool make_current = true);
    virtual ~IOLoop();
    IOLoop(const IOLoop&) = delete;
    IOLoop& operator=(const IOLoop&) = delete;

    /// The current thread's loop; one is created (and kept for the life of
    /// the thread) if there is none.
    static IOLoop* current();
    /// Tornado's current(instance): with `instance` false, nullptr when the
    /// thread has no current loop instead of making one.
    static IOLoop* current(bool instance);
    void make_current();
    static void clear_current();

    /// The process-wide loop (Tornado's IOLoop.instance()): created on first
    /// use on the configured() poller, and made current if the calling
    /// thread has no current loop. Safe to call from any thread.
    static IOLoop* instance();
    /// True once instance() made a loop or install() installed one.
    static bool initialized();
    /// Makes this loop the instance(). Throws std::logic_error if one is
    /// already there (Tornado asserts). The caller keeps ownership and must
    /// call clear_instance() before destroying it.
    void install();
    /// Forgets the instance. C++: a loop that instance() itself made is
    /// destroyed here (nothing else owns it), so pointers to it must not
    /// be used afterwards; an install()ed one is left to its owner.
    static void clear_instance();

    /// Sets the poller of the loops made from now on without an explicit
    /// Poller (Tornado's IOLoop.configure("tornado.platform.select.SelectIOLoop")).
    /// Loops that exist keep theirs.
    static void configure(Poller poller);
    /// The poller configure() set (epoll until it is called).
    static Poller configured();
    /// The poller this loop waits with.
    Poller poller() const { return poller_kind_; }

    /// Closes the loop (Tornado's IOLoop.close): removes every handler
    /// (closing their fds too with `all_fds`, the waker's aside), drops the
    /// queued callbacks and timeouts unrun, and closes the poller and the
    /// waker. The loop must not be running (std::runtime_error). A closed
    /// loop refuses start() and add_handler() (std::runtime_error) and
    /// ignores add_callback(), as Tornado's does; close() again is a no-op.
    void close(bool all_fds = false);
    bool closed() const { return closed_.load(); }

    /// Registers `handler` for `events` (READ, WRITE, ERROR) on `fd`.
    void add_handler(int fd, Handler handler, std::uint32_t events);
    /// Changes the events `fd` listens for.
    void update_handler(int fd, std::uint32_t events);
    /// Stops listening on `fd`; pending events for it in this iteration are
    /// dropped. Removing an fd that has no handler is allowed.
    void remove_handler(int fd);

    /// Queues `callback` for the next iteration. Safe to call from any
    /// thread: from another thread it wakes the loop.
    void add_callback(Callback callback);
    /// C++ only: runs `callback` once, on the loop's thread, at the end of
    /// the current iteration, just before the loop polls (a callback added
    /// by one runs at the end of the next). IOStream uses it to push the
    /// answers it sent as a batch (IOStream::write_to_fd), serve --trace
    /// FILE to write out what the iteration recorded.
    void add_before_poll(Callback callback) { before_poll_.push_back(std::move(callback)); }
    /// In a before-poll callback: true when no callback is queued, so the
    /// poll that follows may wait for I/O or a timeout.
    bool poll_will_wait() const noexcept { return poll_will_wait_; }
    /// The loop's iterations so far: code that must tell this iteration
    /// from an earlier one compares two readings.
    std::uint64_t iteration() const noexcept { return iteration_; }

    /// Same as add_callback (Tornado's spawn_callback drops stack contexts).
    void spawn_callback(Callback callback) { add_callback(std::move(callback)); }

    /// The largest callable add_callback_from_signal takes, in bytes.
    static constexpr std::size_t kSignalCallbackSize = 32;
    /// How many signal callbacks may wait for the loop at once.
    static constexpr std::size_t kSignalSlots = 32;

    /// Queues `callback` from a signal handler (or any thread), to run on
    /// the loop's next iteration, after the callbacks add_callback queued
    /// for it. Async-signal-safe: no lock and no allocation; the callable is
    /// copied byte for byte into one of kSignalSlots preallocated slots and
    /// the waker's eventfd is written. So `callback` must be trivially
    /// copyable and at most kSignalCallbackSize bytes (a lambda capturing a
    /// few pointers or integers; no std::string, shared_ptr or
    /// std::function), which is checked at compile time; it runs on the
    /// loop's thread, where it may do anything. Returns false (and queues
    /// nothing) if every slot is taken or the loop is closed. C++: Tornado's
    /// version is add_callback with stack contexts dropped.
    template <class F>
    bool add_callback_from_signal(F callback) noexcept {
        static_assert(std::is_trivially_copyable_v<F>,
                      "add_callback_from_signal copies the callable bytewise: it must be "
                      "trivially copyable");
        static_assert(sizeof(F) <= kSignalCallbackSize && alignof(F) <= alignof(std::max_align_t),
                      "add_callback_from_signal: the callable is larger than "
                      "kSignalCallbackSize");
        static_assert(std::is_invocable_v<F&>, "add_callback_from_signal: callable()");
        return post_from_signal([](void* p) { (*std::launder(static_cast<F*>(p)))(); }, &callback,
                                sizeof(F));
    }

    /// Runs `callback` at `deadline` (in time() units). Returns a handle.
    /// C++: `origin` names who asked (e.g. "gen.sleep"); the trace shows it
    /// when the timeout is added, removed and run. It must be a literal.
    Timeout add_timeout(double deadline, Callback callback, const char* origin = "");
    Timeout call_at(double when, Callback callback, const char* origin = "") {
        return add_timeout(when, std::move(callback), origin);
    }
    Timeout call_later(double delay, Callback callback, const char* origin = "") {
        return add_timeout(time() + delay, std::move(callback), origin);
    }
    /// Cancels a timeout; a handle that already fired is ignored. A timeout
    /// that is due in the current pass but has not run yet does not run.
    void remove_timeout(Timeout timeout);

    /// Schedules `callback(future)` on this loop once `future` is done.
    template <class T, class F>
    void add_future(const Future<T>& future, F callback) {
        future.add_done_callback([this, cb = std::move(callback)](const Future<T>& f) mutable {
            add_callback([cb = std::move(cb), f]() mutable { cb(f); });
        });
    }

    /// Runs until stop(). Throws std::runtime_error if already running.
    void start();
    /// Makes start() return after the current iteration. Safe to call from
    /// any thread.
    void stop();
    /// Seconds on a monotonic clock, the clock of every deadline.
    double time() const;
    bool running() const { return running_.load(); }

    /// Starts the loop, calls `func` (which returns a Future), and stops the
    /// loop when that Future is done; returns its result or rethrows its
    /// exception (also one `func` throws before returning a Future). With a
    /// `timeout` in seconds (> 0), throws TimeoutError if the Future is not
    /// done by then.
    template <class F>
    auto run_sync(F&& func, double timeout = 0) {
        using FutureT = std::invoke_result_t<F&>;
        FutureT result;
        bool timed_out = false;
        Timeout timeout_handle;
        // After a timeout the Future may still complete later: its stop()
        // must not end a later start().
        auto active = std::make_shared<bool>(true);
        add_callback([&, active]() {
            try {
                result = func();
            } catch (...) {
                // As Tornado's run_sync: the exception becomes the result.
                result = FutureT::failed(std::current_exception());
            }
            add_future(result, [this, active](const FutureT&) {
                if (*active) {
                    stop();
                }
            });
        });
        if (timeout > 0) {
            timeout_handle = add_timeout(
                time() + timeout,
                [&]() {
                    if (!result.done()) {
                        timed_out = true;
                        stop();
                    }
                },
                "IOLoop.run_sync");
        }
        start();
        *active = false;
        if (timeout_handle) {
            remove_timeout(timeout_handle);
        }
        if (timed_out) {
            throw TimeoutError("Operation timed out after " + std::to_string(timeout) + " seconds");
        }
        return result.result();
    }

    /// Number of fd handlers registered (the waker's included; 0 once closed).
    std::size_t handler_count() const { return handler_count_; }
    /// Number of callbacks waiting for the next iteration.
    std::size_t pending_callbacks() const;

    /// Called with the exception that escaped a callback, a timeout or an
    /// fd handler (`where` is "callback" or "I/O handler for fd N"); the
    /// loop goes on afterwards. The default logs it to app_log as
    /// "Exception in <where>: <what>". Tornado: IOLoop.handle_callback_exception.
    virtual void handle_callback_exception(std::exception_ptr exception, std::string_view where);

  private:
    // A signal callback's slot: free, being written by the signal handler,
    // or ready for the loop. Only `state` is shared; the writer owns the
    // rest between the claim and the release-store of kReady.
    struct SignalSlot {
        static constexpr int kFree = 0;
        static constexpr int kWriting = 1;
        static constexpr int kReady = 2;
        std::atomic<int> state{kFree};
        std::uint64_t sequence = 0;
        void (*invoke)(void*) = nullptr;
        alignas(std::max_align_t) unsigned char storage[kSignalCallbackSize];
    };
    struct SignalCall {
        std::uint64_t sequence;
        void (*invoke)(void*);
        alignas(std::max_align_t) unsigned char storage[kSignalCallbackSize];
    };
    bool post_from_signal(void (*invoke)(void*), const void* data, std::size_t size) noexcept;
    void take_signal_callbacks();
    void run_signal_callbacks();
    void destroy_contents();
    // Each handler lives in its own heap cell: a handler that registers a
    // new fd may grow handlers_ while it is itself running.
    struct HandlerSlot {
        std::unique_ptr<Handler> handler;
        std::uint32_t events = 0;
        bool active = false;
    };
    struct TimeoutSlot {
        Callback callback;
        std::uint32_t generation = 0;
        const char* origin = "";
        bool due = false;  // out of the heap, waiting to run in this pass
    };
    // A due timeout keeps its slot until it runs, so that remove_timeout
    // from an earlier callback of the same pass still cancels it.
    struct DueTimeout {
        std::uint32_t index;
        std::uint32_t generation;
    };
    struct HeapEntry {
        double deadline;
        std::uint64_t sequence;
        std::uint32_t index;
        std::uint32_t generation;
    };
    static bool heap_later(const HeapEntry& a, const HeapEntry& b) {
        return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
    }

    bool timeout_live(const HeapEntry& e) const;
    void release_timeout_slot(std::uint32_t index);
    void sweep_cancelled_timeouts();
    void run_callback(Callback& callback);
    void wake();

    Poller poller_kind_;
    std::unique_ptr<detail::PollerImpl> poller_;
    int waker_fd_ = -1;
    // Atomic: stop() may come from another thread, and a signal handler
    // reads closed_.
    std::atomic<bool> closed_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> stopped_{false};
    std::thread::id thread_id_;

    std::vector<HandlerSlot> handlers_;  // indexed by fd
    std::size_t handler_count_ = 0;
    std::vector<std::pair<int, std::uint32_t>> pending_events_;
    std::vector<std::unique_ptr<Handler>> removed_handlers_;  // destroyed after the dispatch

    mutable std::mutex callback_lock_;
    std::vector<Callback> callbacks_;
    std::vector<Callback> running_callbacks_;
    std::vector<Callback> before_poll_;
    std::vector<Callback> running_before_poll_;
    std::uint64_t iteration_ = 0;
    bool poll_will_wait_ = false;

    std::vector<TimeoutSlot> timeout_slots_;
    std::vector<std::uint32_t> free_timeout_slots_;
    std::vector<HeapEntry> timeout_heap_;
    std::uint64_t timeout_sequence_ = 0;
    std::size_t cancellations_ = 0;
    std::vector<DueTimeout> due_timeouts_;

    std::array<SignalSlot, kSignalSlots> signal_slots_;
    std::atomic<std::uint64_t> signal_sequence_{0};
    std::array<SignalCall, kSignalSlots> signal_calls_;  // taken in this pass
    std::size_t signal_call_count_ = 0;
};

/// Mirrors tornado.ioloop.PeriodicCallback: runs `callback` every
/// `callback_time_ms` milliseconds; runs missed while the loop was busy are
/// skipped, not bunched up.
class PeriodicCallback {
  public:
    PeriodicCallback(std::function<void()> callback, double callback_time_ms,
                     IOLoop* io_loop = nullptr);
    ~PeriodicCallback();
    PeriodicCallback(const PeriodicCallback&) = delete;
    PeriodicCallback& operator=(const PeriodicCallback&) = delete;

    void start();
    void stop();
    bool is_running() const { return running_; }

  private:
    void _run();
    void _schedule_next();

    std::function<void()> callback_;
    double callback_time_ms_;
    IOLoop* io_loop_;
    bool running_ = false;
    double next_timeout_ = 0;
    Timeout timeout_;
};

}  // namespace tornado::ioloop
