#include "tornado/gen.h"

namespace tornado::gen {

namespace {

constexpr trace::Module kTraceModule{"ioloop", "tornado/gen.py"};

// Module-level functions have no object; their events carry only the step.
trace::Context trace_context() {
    return {};
}

}  // namespace

// Tornado: tornado/gen.py:871 gen.with_timeout
// C++: with_timeout itself is a template in gen.h; this is its timeout
// callback's trace event, the moment the TimeoutError is raised.
void detail::trace_with_timeout_expired() {
    TRACE_EVENT("gen.with_timeout", {"raised", "TimeoutError"});
}

// Tornado: tornado/gen.py:936 sleep
Future<void> sleep(double duration) {
    Future<void> f = Future<void>::make();
    f.set_origin("gen.sleep");
    ioloop::IOLoop::current()->call_later(
        duration, [f]() { f.set_result(); }, "gen.sleep");
    return f;
}

// Tornado: tornado/gen.py:793 multi_future
// C++: the template is in gen.h; this is its log line for an exception
// after the first.
void detail::log_multiple_exceptions(std::exception_ptr e) {
    log::app_log.error("Multiple exceptions in yield list: {}", log::describe(e));
}

}  // namespace tornado::gen
