#include "tornado/concurrent.h"

#include "tornado/log.h"

namespace tornado::concurrent::detail {

// Tornado: tornado/concurrent.py Future.__del__
// C++: logged when the last reference to a failed, never-examined state goes.
FutureStateBase::~FutureStateBase() {
    if (exception_ && !exception_retrieved_) {
        log::app_log.error("Future exception was never retrieved: {}", log::describe(exception_));
    }
}

}  // namespace tornado::concurrent::detail
