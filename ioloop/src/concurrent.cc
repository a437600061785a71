#include "tornado/concurrent.h"

#include "tornado/log.h"

namespace tornado::concurrent::detail {

// Tornado: tornado/concurrent.py:335 Future.__del__
// C++: logged when the last reference to a failed, never-examined state goes.
FutureStateBase::~FutureStateBase() {
    if (exception_ && !exception_retrieved_) {
        log::app_log.error("Future exception was never retrieved: {}", log::describe(exception_));
    }
}

// Tornado: tornado/concurrent.py:321 Future._set_done
// C++: one callback of the loop in mark_done; an exception is logged and the
// next callback runs.
void FutureStateBase::run_callback(DoneCallback& cb) noexcept {
    try {
        cb(*this);
    } catch (...) {
        log::app_log.error("Exception in callback for Future{}{}: {}", origin ? " of " : "",
                           origin ? origin : "", log::describe(std::current_exception()));
    }
}

void throw_no_state(const char* what) {
    throw InvalidStateError(std::string(what) +
                            "() on a Future with no state (default-constructed or moved-from)");
}

}  // namespace tornado::concurrent::detail
