// Test helper: run an IOLoop for a fixed number of iterations.
#pragma once

#include "tornado/ioloop.h"

namespace tornado::testing {

/// Runs `n` iterations of `loop` (at least one), so that queued callbacks
/// and coroutine resumptions get their turn, then returns.
inline void run_iterations(ioloop::IOLoop& loop, int n) {
    struct Tick {
        ioloop::IOLoop* loop;
        int left;
        void operator()() const {
            if (left <= 1) {
                loop->stop();
            } else {
                loop->add_callback(Tick{loop, left - 1});
            }
        }
    };
    loop.add_callback(Tick{&loop, n});
    loop.start();
}

}  // namespace tornado::testing
