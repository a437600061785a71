// The trace hub's shared state, for trace.cc (the events and sinks) and
// trace_recorder.cc (the flight recorder). Private to the ioloop library.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tornado/trace.h"

namespace tornado::trace::detail {

struct Hub {
    std::mutex mu;  // the sinks, and the order events reach them in
    std::vector<std::shared_ptr<Sink>> sinks;
    std::atomic<std::size_t> sink_count{0};
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint32_t> epoch{1};
    std::mutex ids_mu;  // the per-class id counters below
    std::map<std::string, std::uint32_t, std::less<>> ids;
    std::atomic<std::int64_t> origin_ns{0};  // steady_clock, set by reset()
    std::atomic<int> pid{0};
    std::atomic<std::uint64_t> conn_ids{0};
    std::atomic<std::uint64_t> req_ids{0};
};

// Leaked on purpose: coroutine frames destroyed during static destruction
// may still end spans.
Hub& hub();

inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The flight recorder's clock: the CPU's time-stamp counter where there is
// one (about 12 ns a read here against clock_gettime's 21, on a CPU whose
// counter runs at a constant rate on every core), else steady_clock's ns.
// Records keep ticks; the recorder turns them into steady_clock time when
// it is read, by the rate measured since it was made.
#if defined(__x86_64__) || defined(__i386__)
inline std::uint64_t ticks() noexcept {
    return __builtin_ia32_rdtsc();
}
#else
inline std::uint64_t ticks() noexcept {
    return static_cast<std::uint64_t>(now_ns());
}
#endif

// The object's number within its class for this trace ("IOStream#2" is 2),
// handed out on its first event after each reset(). Lock-free once given.
std::uint32_t object_id(const Tag& tag);

// The Event for one emit, the same whether it is built at once for the
// sinks or later from a flight-recorder record. `obj_cls`/`obj_id` name
// the emitting object (null/0: none).
struct EventFields {
    const Site* site;
    const char* obj_cls;
    std::uint32_t obj_id;
    const char* role;
    Phase ph;
    std::uint64_t conn, req, seq, id, parent;
    std::int64_t t_ns;
    int pid;
};
Event make_event(const EventFields& f);

}  // namespace tornado::trace::detail
