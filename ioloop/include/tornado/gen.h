// tornado.gen: the coroutine helpers. The coroutine machinery itself (what
// @gen.coroutine and gen.Runner do) is in concurrent.h.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "tornado/concurrent.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado::gen {

using tornado::TimeoutError;

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

}  // namespace tornado::gen
