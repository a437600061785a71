// tornado.gen: the coroutine helpers. The coroutine machinery itself (what
// @gen.coroutine and gen.Runner do) is in concurrent.h.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado::gen {

using tornado::TimeoutError;

// Tornado: tornado/gen.py:958 moment
/// Mirrors tornado.gen.moment: `co_await gen::moment;` gives the IOLoop one
/// iteration before the coroutine goes on (it always suspends).
struct Moment {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) const {
        static_assert(std::is_base_of_v<concurrent::detail::PromiseBase, P>,
                      "co_await gen::moment only inside a Future-returning coroutine");
        h.promise().trace.on_suspend("gen.moment");
        concurrent::detail::post_resume(ioloop::IOLoop::current(),
                                        concurrent::detail::Resumption(h, &h.promise()));
    }
    void await_resume() const noexcept {}
};
inline constexpr Moment moment{};

/// Mirrors tornado.gen.sleep: a Future that resolves after `duration`
/// seconds, without blocking the loop.
Future<void> sleep(double duration);

namespace detail {
/// The trace event of a with_timeout whose deadline passed first.
void trace_with_timeout_expired();
}  // namespace detail

/// Mirrors tornado.gen.with_timeout: a Future that follows `future`, or
/// fails with TimeoutError if `future` is not done by `deadline` (in
/// IOLoop::time() units). `future` itself is not cancelled; an exception it
/// raises after the timeout is logged unless it is a `Quiet` exception.
template <class Quiet = void, class T>
Future<T> with_timeout(double deadline, Future<T> future) {
    if (future.done()) {
        return future;
    }
    ioloop::IOLoop* loop = ioloop::IOLoop::current();
    Future<T> result = Future<T>::make();
    result.set_origin("gen.with_timeout");
    // Shared between the timeout and the completion callback; the one that
    // runs first wins.
    struct Race {
        ioloop::Timeout handle;
        bool finished = false;
    };
    auto race = std::make_shared<Race>();
    race->handle = loop->add_timeout(
        deadline,
        [result, race, future]() {
            if (race->finished) {
                return;
            }
            race->finished = true;
            detail::trace_with_timeout_expired();
            // Tornado: error_callback logs what the abandoned future raises later.
            future.add_done_callback([](const Future<T>& f) {
                std::exception_ptr e = f.exception();
                if (!e) {
                    return;
                }
                if constexpr (!std::is_void_v<Quiet>) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const Quiet&) {
                        return;
                    } catch (...) {
                    }
                }
                log::app_log.error("Exception in Future after timeout: {}", log::describe(e));
            });
            result.set_exception(std::make_exception_ptr(TimeoutError("Timeout")));
        },
        "gen.with_timeout");
    future.add_done_callback([result, race, loop](const Future<T>& f) {
        if (race->finished) {
            return;
        }
        race->finished = true;
        loop->remove_timeout(race->handle);
        if (std::exception_ptr e = f.exception()) {
            result.set_exception(e);
        } else if constexpr (std::is_void_v<T>) {
            result.set_result();
        } else {
            result.set_result(f.result());
        }
    });
    return result;
}

namespace detail {
/// The log line of an exception multi() drops because an earlier child
/// failed too (Tornado: "Multiple exceptions in yield list").
void log_multiple_exceptions(std::exception_ptr e);

// Copies `from`'s outcome into `to` (Tornado: concurrent.chain_future).
template <class T>
void chain_result(const Future<T>& from, const Future<T>& to) {
    if (std::exception_ptr e = from.exception()) {
        to.set_exception(e);
    } else if constexpr (std::is_void_v<T>) {
        to.set_result();
    } else {
        to.set_result(from.result());
    }
}

// What multi's children share: the result Future and how many are left.
template <class R, class T>
struct MultiState {
    Future<R> result = Future<R>::make();
    std::vector<Future<T>> children;
    std::size_t unfinished = 0;

    // Tornado: tornado/gen.py:822 multi_future.callback
    // C++: once the last child is done, results are gathered in list order;
    // the first failure in that order wins, later ones are logged.
    void child_done() {
        if (--unfinished != 0) {
            return;
        }
        std::exception_ptr first;
        for (const Future<T>& f : children) {
            if (std::exception_ptr e = f.exception()) {
                if (first) {
                    log_multiple_exceptions(e);
                } else {
                    first = e;
                }
            }
        }
        if (first) {
            result.set_exception(first);
        } else if constexpr (std::is_void_v<T>) {
            result.set_result();
        } else {
            std::vector<T> values;
            values.reserve(children.size());
            for (const Future<T>& f : children) {
                values.push_back(f.result());
            }
            result.set_result(std::move(values));
        }
        children.clear();
    }
};

template <class R, class T>
Future<R> multi_impl(std::vector<Future<T>> children) {
    auto state = std::make_shared<MultiState<R, T>>();
    state->children = std::move(children);
    state->unfinished = state->children.size();
    Future<R> result = state->result;
    result.set_origin("gen.multi");
    if (state->unfinished == 0) {
        ++state->unfinished;
        state->child_done();
        return result;
    }
    // A copy: child_done clears state->children once all are done.
    std::vector<Future<T>> watch = state->children;
    for (const Future<T>& f : watch) {
        f.add_done_callback([state](const Future<T>&) { state->child_done(); });
    }
    return result;
}
}  // namespace detail

/// Mirrors tornado.gen.multi (multi_future) over a list: a Future of every
/// child's result, in the children's order, done once all of them are.
/// If children fail, it fails with the first failure in list order and
/// logs the others ("Multiple exceptions in yield list"). An empty list
/// gives a Future that is already done.
template <class T>
requires(!std::is_void_v<T>) Future<std::vector<T>> multi(std::vector<Future<T>> children) {
    return detail::multi_impl<std::vector<T>>(std::move(children));
}

/// gen.multi over Futures without a result: done once all are.
inline Future<void> multi(std::vector<Future<void>> children) {
    return detail::multi_impl<void>(std::move(children));
}

/// Mirrors tornado.gen.WaitIterator: hands out the given Futures' outcomes
/// in the order they finish.
///
///     gen::WaitIterator<int> it(futures);
///     while (!it.done()) {
///         int r = co_await it.next();   // rethrows that Future's exception
///         use(r, *it.current_index());
///     }
///
/// next() must not be called again before the Future it returned is done.
/// C++: the iterator may be destroyed with Futures still pending; their
/// callbacks then only touch the shared state.
template <class T>
class WaitIterator {
  public:
    // Tornado: tornado/gen.py:430 WaitIterator.__init__
    explicit WaitIterator(std::vector<Future<T>> futures) : state_(std::make_shared<State>()) {
        state_->unfinished = futures.size();
        for (std::size_t i = 0; i < futures.size(); ++i) {
            futures[i].add_done_callback(
                [state = state_, i](const Future<T>& done) { state->_done_callback(done, i); });
        }
    }

    // Tornado: tornado/gen.py:449 WaitIterator.done
    /// True once every Future's outcome has been handed out by next().
    bool done() {
        if (!state_->finished.empty() || state_->unfinished != 0) {
            return false;
        }
        state_->current_index.reset();
        state_->current_future = Future<T>();
        return true;
    }

    // Tornado: tornado/gen.py:457 WaitIterator.next
    /// A Future that follows the next Future to finish.
    Future<T> next() {
        state_->running = Future<T>::make();
        state_->running.set_origin("gen.WaitIterator.next");
        if (!state_->finished.empty()) {
            auto [f, i] = state_->finished.front();
            state_->finished.pop_front();
            state_->_return_result(f, i);
        }
        return state_->running;
    }

    /// The index (in the list given) of the Future whose outcome next()
    /// handed out last; nullopt before that and once done().
    std::optional<std::size_t> current_index() const { return state_->current_index; }
    /// That Future itself (no state before the first and once done()).
    Future<T> current_future() const { return state_->current_future; }

  private:
    struct State {
        std::size_t unfinished = 0;
        std::deque<std::pair<Future<T>, std::size_t>> finished;
        Future<T> running;
        std::optional<std::size_t> current_index;
        Future<T> current_future;

        // Tornado: tornado/gen.py:470 WaitIterator._done_callback
        void _done_callback(const Future<T>& done, std::size_t index) {
            if (running.valid() && !running.done()) {
                _return_result(done, index);
            } else {
                finished.emplace_back(done, index);
            }
        }

        // Tornado: tornado/gen.py:476 WaitIterator._return_result
        void _return_result(const Future<T>& done, std::size_t index) {
            current_future = done;
            current_index = index;
            --unfinished;
            // Last: setting the result may run callbacks that call next().
            Future<T> target = running;
            detail::chain_result(done, target);
        }
    };

    std::shared_ptr<State> state_;
};

}  // namespace tornado::gen
