// tornado.concurrent: Future<T>, and the C++20 coroutine support that plays
// the part of @gen.coroutine and gen.Runner.
//
// How a coroutine runs (the rules the trace order depends on):
//   * A function returning Future<T> whose body uses co_await/co_return is a
//     coroutine. It starts eagerly: the call runs the body synchronously up
//     to the first co_await of a Future that is not done yet.
//   * co_await of a Future that is already done does not suspend.
//   * co_await of a pending Future suspends. When that Future completes, the
//     coroutine is queued on the IOLoop that was current when it suspended
//     and resumed on the loop's next iteration (as gen.Runner does through
//     IOLoop.add_future), never inline inside set_result.
//   * An exception escaping the body fails the coroutine's Future; co_await
//     of a failed Future rethrows in the awaiting coroutine.
//   * A suspended coroutine is owned by the Future it waits for. If that
//     Future is dropped without completing (or the IOLoop is destroyed with
//     the resumption still queued), the coroutine frame is destroyed, so
//     nothing leaks; its Future then never completes. `co_await f()` hands
//     the temporary's state to the awaiter, so the frame does not hold it;
//     if nothing else does either, the frame is destroyed on the loop's
//     next iteration (never inside the co_await itself). (A coroutine that
//     keeps the awaited Future in a local or parameter of its own holds it
//     too: that cycle only ends when the producer completes the Future,
//     which is what IOStream.close does for every pending operation.)
//   * An exception thrown by a done-callback is logged; the other callbacks
//     still run.
//   * result() on a Future with no state (default-constructed, moved-from)
//     of a non-void type, or on one that is not done, throws
//     InvalidStateError.
#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/callback.h"
#include "tornado/trace.h"

namespace tornado::ioloop {
class IOLoop;
}

namespace tornado::concurrent {

template <class T>
class Future;

// C++: the error Python's asyncio.Future raises (InvalidStateError) when a
// result is asked of a Future that has none; Tornado 4.5.2's own Future
// raises a bare Exception from _check_done.
/// Thrown by result() and set_result() on a Future that cannot give or take
/// one (no state, or not done yet).
class InvalidStateError : public std::logic_error {
  public:
    using std::logic_error::logic_error;
};

namespace detail {

class FutureStateBase;
using DoneCallback = UniqueFunction<void(FutureStateBase&)>;

// The shared state behind a Future: done flag, exception, callbacks.
class FutureStateBase : public std::enable_shared_from_this<FutureStateBase> {
  public:
    FutureStateBase() = default;
    FutureStateBase(const FutureStateBase&) = delete;
    FutureStateBase& operator=(const FutureStateBase&) = delete;
    virtual ~FutureStateBase();

    bool done() const noexcept { return done_; }

    void add_callback(DoneCallback cb) {
        if (done_) {
            cb(*this);
        } else if (!first_) {
            first_ = std::move(cb);
        } else {
            rest_.push_back(std::move(cb));
        }
    }

    void set_exception(std::exception_ptr e) {
        assert(!done_ && "set_exception on a Future that is done");
        exception_ = std::move(e);
        mark_done();
    }

    std::exception_ptr exception() noexcept {
        exception_retrieved_ = true;
        return exception_;
    }

    /// Marks the exception as seen, so that dropping the state does not log
    /// it (Tornado: `future.add_done_callback(lambda f: f.exception())`).
    void mark_exception_retrieved() noexcept { exception_retrieved_ = true; }

    void rethrow_if_failed() {
        exception_retrieved_ = true;
        if (exception_) {
            std::rethrow_exception(exception_);
        }
    }

    /// The step that produced this Future ("BaseIOStream.read_until_regex"):
    /// shown in the trace when a coroutine suspends on it.
    const char* origin = nullptr;

  protected:
    void mark_done() {
        done_ = true;
        // Callbacks may add callbacks or drop the last reference to this
        // state, so move them out first and keep the state alive.
        auto keep = shared_from_this();
        DoneCallback first = std::move(first_);
        std::vector<DoneCallback> rest = std::move(rest_);
        if (first) {
            run_callback(first);
        }
        for (auto& cb : rest) {
            run_callback(cb);
        }
    }

  private:
    // Runs one done-callback; an exception is logged (concurrent.cc).
    void run_callback(DoneCallback& cb) noexcept;

    bool done_ = false;
    bool exception_retrieved_ = false;
    std::exception_ptr exception_;
    DoneCallback first_;
    std::vector<DoneCallback> rest_;
};

template <class T>
class FutureState final : public FutureStateBase {
  public:
    void set_result(T value) {
        assert(!done() && "set_result on a Future that is done");
        value_.emplace(std::move(value));
        mark_done();
    }
    T& value() {
        rethrow_if_failed();
        return *value_;
    }

  private:
    std::optional<T> value_;
};

template <>
class FutureState<void> final : public FutureStateBase {
  public:
    void set_result() {
        assert(!done() && "set_result on a Future that is done");
        mark_done();
    }
    void value() { rethrow_if_failed(); }
};

// Throws InvalidStateError for `what` ("result") on a Future with no state
// (out of line, so the compiler sees the null state go no further).
[[noreturn]] void throw_no_state(const char* what);

// Posts a resumption to `loop` (defined in ioloop.cc, which knows IOLoop).
void post_resume(ioloop::IOLoop* loop, Callback cb);
// The IOLoop that is current on this thread (created on first use).
ioloop::IOLoop* current_loop();

struct PromiseBase {
    trace::CoroutineTrace trace;
};

// Owns a suspended coroutine frame until it has been resumed: destroying
// an unfired Resumption destroys the frame (see the header comment).
class Resumption {
  public:
    Resumption(std::coroutine_handle<> h, PromiseBase* p) noexcept : h_(h), p_(p) {}
    Resumption(Resumption&& o) noexcept : h_(std::exchange(o.h_, {})), p_(o.p_) {}
    Resumption& operator=(Resumption&&) = delete;
    ~Resumption() {
        if (h_) {
            h_.destroy();
        }
    }
    void operator()() {
        auto h = std::exchange(h_, {});
        p_->trace.on_resume();
        h.resume();
    }

  private:
    std::coroutine_handle<> h_;
    PromiseBase* p_;
};

template <class T>
struct Promise;

}  // namespace detail

/// Mirrors tornado.concurrent.Future: the result of an asynchronous
/// operation, completed once with set_result or set_exception.
///
/// A default-constructed Future has no state and stands for Python's
/// "returned None": awaiting it does not suspend. Future::make() creates a
/// pending one.
template <class T>
class [[nodiscard]] Future {
  public:
    using promise_type = detail::Promise<T>;
    using State = detail::FutureState<T>;

    Future() = default;
    explicit Future(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}

    /// A new pending Future.
    static Future make() { return Future(std::make_shared<State>()); }

    /// A Future that is already done with `value`.
    template <class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
    static Future ready(U value) {
        Future f = make();
        f.set_result(std::move(value));
        return f;
    }

    /// A Future that already failed with `e`.
    static Future failed(std::exception_ptr e) {
        Future f = make();
        f.set_exception(std::move(e));
        return f;
    }

    bool valid() const noexcept { return static_cast<bool>(state_); }
    /// True once set_result or set_exception was called (or for a stateless
    /// "None" Future).
    bool done() const noexcept { return !state_ || state_->done(); }

    /// The result; rethrows the exception the Future failed with.
    /// Must only be called when done().
    /// Throws InvalidStateError if it is not done, or (for a non-void T)
    /// if it has no state.
    decltype(auto) result() const {
        if constexpr (std::is_void_v<T>) {
            if (state_) {
                check_done();
                state_->value();
            }
        } else {
            check_state("result");
            check_done();
            return static_cast<const T&>(state_->value());
        }
    }

    /// The exception the Future failed with, or null.
    std::exception_ptr exception() const { return state_ ? state_->exception() : nullptr; }

    template <class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
    void set_result(U value) const {
        check_state("set_result");
        state_->set_result(std::move(value));
    }
    template <class U = T, class = std::enable_if_t<std::is_void_v<U>>>
    void set_result() const {
        check_state("set_result");
        state_->set_result();
    }
    void set_exception(std::exception_ptr e) const {
        check_state("set_exception");
        state_->set_exception(std::move(e));
    }

    /// Runs `fn(future)` when the Future is done (at once if it already is).
    template <class F>
    void add_done_callback(F fn) const {
        if (!state_) {
            fn(*this);
            return;
        }
        state_->add_callback([fn = std::move(fn)](detail::FutureStateBase& s) mutable {
            fn(Future(std::static_pointer_cast<State>(s.shared_from_this())));
        });
    }

    /// Do not log this Future's exception if nobody retrieves it.
    const Future& quiet() const {
        if (state_) {
            state_->mark_exception_retrieved();
        }
        return *this;
    }

    /// Labels the step that produced this Future (shown when a coroutine
    /// suspends on it).
    const Future& set_origin(const char* step) const {
        if (state_) {
            state_->origin = step;
        }
        return *this;
    }

    struct Awaiter {
        std::shared_ptr<State> state;

        bool await_ready() const noexcept { return !state || state->done(); }

        template <class P>
        void await_suspend(std::coroutine_handle<P> h) {
            static_assert(std::is_base_of_v<detail::PromiseBase, P>,
                          "co_await a Future only inside a Future-returning coroutine");
            detail::PromiseBase* promise = &h.promise();
            promise->trace.on_suspend(state->origin);
            ioloop::IOLoop* loop = detail::current_loop();
            // While suspended, the frame is owned by the callback below and
            // does not own the state (no cycle). On completion the state is
            // handed back to this awaiter and the resumption queued.
            State* raw = state.get();
            std::shared_ptr<State> keep = std::move(state);
            raw->add_callback([this, loop, r = detail::Resumption(h, promise)](
                                  detail::FutureStateBase& s) mutable {
                state = std::static_pointer_cast<State>(s.shared_from_this());
                detail::post_resume(loop, std::move(r));
            });
            if (keep.use_count() == 1) {
                // Nobody else holds the Future, so it can never complete.
                // Dropping it here would destroy this frame while it is
                // still inside co_await; the loop drops it instead.
                detail::post_resume(loop, [orphan = std::move(keep)]() {});
            }
        }

        decltype(auto) await_resume() {
            if constexpr (std::is_void_v<T>) {
                if (state) {
                    state->value();
                }
            } else {
                if (!state) {
                    throw InvalidStateError(
                        "co_await of a Future with no state (default-constructed or "
                        "moved-from)");
                }
                // Sole owner: move the result out instead of copying it.
                if (state.use_count() == 1) {
                    return T(std::move(state->value()));
                }
                return T(state->value());
            }
        }
    };

    /// `co_await future;` shares the state with `future`.
    Awaiter operator co_await() const& noexcept { return Awaiter{state_}; }
    /// `co_await f();` takes the temporary's state, so that the coroutine
    /// frame (where the temporary lives) does not own what it waits for.
    Awaiter operator co_await() && noexcept { return Awaiter{std::move(state_)}; }

  private:
    void check_state(const char* what) const {
        if (!state_) {
            detail::throw_no_state(what);
        }
    }
    void check_done() const {
        if (!state_->done()) {
            throw InvalidStateError("result() on a Future that is not done");
        }
    }

    std::shared_ptr<State> state_;
};

namespace detail {

template <class T>
struct PromiseCommon : PromiseBase {
    std::shared_ptr<FutureState<T>> state = std::make_shared<FutureState<T>>();

    Future<T> get_return_object() { return Future<T>(state); }
    // Eager start, like @gen.coroutine.
    std::suspend_never initial_suspend() noexcept { return {}; }
    // The frame frees itself once the result is in the shared state.
    std::suspend_never final_suspend() noexcept { return {}; }
    void unhandled_exception() { state->set_exception(std::current_exception()); }
};

template <class T>
struct Promise : PromiseCommon<T> {
    void return_value(T value) { this->state->set_result(std::move(value)); }
};

template <>
struct Promise<void> : PromiseCommon<void> {
    void return_void() { this->state->set_result(); }
};

}  // namespace detail

}  // namespace tornado::concurrent

namespace tornado {
using concurrent::Future;
}
