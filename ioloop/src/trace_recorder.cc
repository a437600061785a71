// The flight recorder (trace::Recorder): binary records in a preallocated
// ring, turned into Events only when read. C++ only; Tornado has no tracing.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>

#include "trace_hub.h"
#include "tornado/trace.h"

namespace tornado::trace {

namespace {
constexpr std::size_t kMaxArgs = 4;  // three at an emit point, plus "awaiting"
}

// One event as the emit point left it, in three parallel arrays indexed by
// sequence number: the part every event has (one cache line: pointers to
// static data, the Site and the class and role names, and the ids), the
// argument values, and the bytes of string arguments (cut at the end of
// `text` if they do not fit). The second and third are written only for
// events that have arguments (half of a request's) or strings (a tenth);
// a line never written is never fetched into the cache. Writing the ring,
// not formatting it, is what a recorded event costs: in bench_core a
// keep-alive request costs a third more once the lines written go past
// the L2 cache. Three dense arrays, not one 256-byte slot per event,
// because a slot whose first line alone is written strides over the
// cache's sets and leaves three quarters of them unused.
struct alignas(64) Recorder::Record {
    // The event's sequence number, stored last: a reader that finds another
    // value skips the slot (overwritten, or half written).
    std::atomic<std::uint64_t> stamp{0};
    std::uint64_t ticks;
    const Site* site;
    const char* obj_cls;
    const char* role;
    // Connection and request ids, and the span (id) and its parent as
    // distances back from this event's seq (0: none); 32 bits each, so a
    // process that serves more than 4 billion requests sees them wrap.
    std::uint32_t conn, req, id_back, parent_back;
    std::uint32_t obj_id;
    Phase ph;
    std::uint8_t nargs;
    std::uint8_t string_args;  // bit i: args[i] is a string in `text`
};
struct alignas(64) Recorder::Values {
    struct Value {
        const char* key;
        std::int64_t i;  // the integer, or a string's offset << 8 | length
    } args[kMaxArgs];
};
struct alignas(64) Recorder::Text {
    char bytes[128];
};
static_assert(sizeof(Recorder::Record) == 64);
static_assert(sizeof(Recorder::Values) == 64);

Recorder::Recorder(std::size_t capacity)
    : mask_(std::bit_ceil(std::max<std::size_t>(capacity, 64)) - 1),
      ring_(new Record[mask_ + 1]),
      values_(new Values[mask_ + 1]),
      text_(new Text[mask_ + 1]),
      ticks0_(detail::ticks()),
      ns0_(detail::now_ns()) {}

Recorder::~Recorder() {
    // Not while installed: an emit on another thread could still write.
    Recorder* self = this;
    detail::g_recorder.compare_exchange_strong(self, nullptr);
}

std::uint64_t Recorder::oldest_seq() const noexcept {
    std::uint64_t last = last_seq();
    return last >= capacity() ? last - capacity() + 1 : 1;
}

void Recorder::append(std::uint64_t seq, const Site& site, const Context& ctx, Phase ph,
                      std::uint64_t id, std::uint64_t parent, std::initializer_list<Arg> args,
                      const char* extra_key, const char* extra_value) noexcept {
    // The slot comes from the hub's sequence number: one atomic increment
    // per event, not two.
    Record& r = ring_[seq & mask_];
    Values& values = values_[seq & mask_];
    Text& text = text_[seq & mask_];
    r.stamp.store(0, std::memory_order_relaxed);
    r.ticks = detail::ticks();
    r.site = &site;
    r.obj_cls = ctx.obj != nullptr ? ctx.obj->cls : nullptr;
    r.role = ctx.obj != nullptr ? ctx.obj->role : nullptr;
    r.obj_id = ctx.obj != nullptr ? detail::object_id(*ctx.obj) : 0;
    r.conn = static_cast<std::uint32_t>(ctx.conn);
    r.req = static_cast<std::uint32_t>(ctx.req);
    r.id_back = id != 0 ? static_cast<std::uint32_t>(seq - id + 1) : 0;
    r.parent_back = parent != 0 ? static_cast<std::uint32_t>(seq - parent + 1) : 0;
    r.ph = ph;
    std::uint8_t count = 0;
    std::uint8_t strings = 0;
    std::size_t used = 0;
    auto put_string = [&](const char* key, std::string_view s) {
        std::size_t len = std::min(s.size(), sizeof text.bytes - used);
        std::memcpy(text.bytes + used, s.data(), len);
        values.args[count] = {key, static_cast<std::int64_t>(used << 8U | len)};
        strings = static_cast<std::uint8_t>(strings | 1U << count);
        used += len;
    };
    for (const Arg& a : args) {
        if (count == kMaxArgs - 1) {
            break;  // the last slot is kept for "awaiting"
        }
        if (a.is_int) {
            values.args[count] = {a.key, a.i};
        } else {
            put_string(a.key, a.s);
        }
        ++count;
    }
    if (extra_key != nullptr && extra_value != nullptr) {
        put_string(extra_key, extra_value);
        ++count;
    }
    r.nargs = count;
    r.string_args = strings;
    r.stamp.store(seq, std::memory_order_release);
    last_seq_.store(seq, std::memory_order_release);
}

// The events from sequence number `from` on.
std::vector<Event> Recorder::collect(std::uint64_t from) const {
    std::uint64_t last = last_seq();
    std::uint64_t first = std::max(from, oldest_seq());
    std::vector<Event> out;
    if (last < first) {
        return out;
    }
    out.reserve(last - first + 1);
    // Ticks to ns by the rate since the recorder was made: the error is
    // that of two clock reads, spread over the whole interval.
    std::uint64_t ticks_now = detail::ticks();
    std::int64_t ns_now = detail::now_ns();
    double ns_per_tick = ticks_now > ticks0_ ? static_cast<double>(ns_now - ns0_) /
                                                   static_cast<double>(ticks_now - ticks0_)
                                             : 1.0;
    // The process that reads is the one that wrote (a forked child makes
    // its own recorder).
    int pid = detail::hub().pid.load(std::memory_order_relaxed);
    for (std::uint64_t seq = first; seq <= last; ++seq) {
        const Record& r = ring_[seq & mask_];
        if (r.stamp.load(std::memory_order_acquire) != seq) {
            continue;  // an event for the sinks only, or being overwritten
        }
        Event ev = detail::make_event({r.site, r.obj_cls, r.obj_id, r.role, r.ph, r.conn, r.req,
                                       seq, r.id_back != 0 ? seq + 1 - r.id_back : 0,
                                       r.parent_back != 0 ? seq + 1 - r.parent_back : 0,
                                       ns0_ + static_cast<std::int64_t>(
                                                  static_cast<double>(r.ticks - ticks0_) * ns_per_tick),
                                       pid});
        ev.args.reserve(r.nargs);
        for (std::uint8_t i = 0; i < r.nargs; ++i) {
            const Values::Value& v = values_[seq & mask_].args[i];
            if ((r.string_args & (1U << i)) != 0) {
                auto offset = static_cast<std::size_t>(v.i >> 8);
                auto len = static_cast<std::size_t>(v.i & 0xff);
                ev.args.emplace_back(
                    v.key, ArgValue(std::string(text_[seq & mask_].bytes + offset, len)));
            } else {
                ev.args.emplace_back(v.key, ArgValue(v.i));
            }
        }
        out.push_back(std::move(ev));
    }
    return out;
}

std::vector<Event> Recorder::events(std::uint64_t after) const {
    return collect(after + 1);
}

std::vector<Event> Recorder::last_requests(std::size_t requests,
                                          std::string_view arrived) const {
    std::vector<Event> all = collect(1);
    std::vector<std::uint64_t> counted;  // in the order they arrived
    for (const Event& e : all) {
        if (e.req != 0 && e.step == arrived) {
            counted.push_back(e.req);
        }
    }
    if (requests == 0 || counted.empty()) {
        return {};
    }
    std::uint64_t oldest = counted[counted.size() - std::min(requests, counted.size())];
    auto first = std::find_if(all.begin(), all.end(),
                              [oldest](const Event& e) { return e.req == oldest; });
    // The oldest kept request may have been partly overwritten: then the
    // dump starts at the oldest event the ring still holds.
    std::uint64_t cut = first->seq;
    std::vector<Event> out;
    out.reserve(static_cast<std::size_t>(all.end() - first));
    for (auto it = first; it != all.end(); ++it) {
        Event& e = *it;
        bool continues_older_span = e.ph != Phase::Begin && e.ph != Phase::Instant && e.id < cut;
        if (continues_older_span) {
            continue;  // its begin is not in the dump
        }
        if (e.parent < cut) {
            e.parent = 0;
        }
        out.push_back(std::move(e));
    }
    return out;
}

void set_recorder(Recorder* recorder) {
    detail::g_recorder.store(recorder, std::memory_order_release);
}

}  // namespace tornado::trace
