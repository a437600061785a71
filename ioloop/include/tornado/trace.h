// The trace hub: the one place where every mirrored step reports itself.
//
// C++ only; Tornado has no such module. A mirrored method opens with
//
//     TRACE_SPAN("BaseIOStream.read_until_regex", {"max_bytes", max_bytes});
//
// which emits a begin event ("B") now and an end event ("E") when the scope
// ends. TRACE_EVENT emits an instant ("i"). A coroutine that suspends at a
// co_await of a Future that is not done emits "S" for its open span, and "R"
// when the IOLoop resumes it, so the gap between "no data yet, READ
// registered" and "_handle_read resumed _read_message" shows in the trace.
//
// With tracing off, an emit point costs one predictable branch and never
// allocates. With it on, each event is handed to the registered sinks: an
// in-memory ring (scenarios), a JSON Lines file, or a live subscriber.
//
// The macros look up two names where they are used: `kTraceModule` (a
// trace::Module constant each .cc file defines: layer and Tornado module) and
// `trace_context()` (a member of trace::Traced, or a namespace function for
// module-level code such as netutil.accept_handler).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tornado::trace {

/// What kind of event: begin/end of a span, an instant, or a coroutine that
/// suspends at a co_await or is resumed by the IOLoop.
enum class Phase : char {
    Begin = 'B',
    End = 'E',
    Instant = 'i',
    Suspend = 'S',
    Resume = 'R',
};

/// The layer and Tornado module a source file mirrors,
/// e.g. {"iostream", "tornado/iostream.py"}.
struct Module {
    const char* layer;
    const char* py_file;
};

/// One emit point in the source: a static constant made by the macros.
struct Site {
    const char* step;  // Tornado's qualified name: "BaseIOStream.read_until_regex"
    Module module;
    const char* file;  // relative to the source tree (-fmacro-prefix-map)
    int line;
};

/// The identity of a traced object: its class name and a small id handed
/// out in creation order ("IOStream#2"), never an address. `role` marks the
/// side an object plays in a scenario ("client") for the renderers.
struct Tag {
    const char* cls;
    const char* role = nullptr;
    mutable std::uint32_t id = 0;
    mutable std::uint32_t epoch = 0;

    /// "IOStream#2"; assigns the id on first use after each trace::reset().
    std::string label() const;
};

/// Who emits: the object, and the connection and request it serves
/// (0 = unknown, written as null).
struct Context {
    const Tag* obj = nullptr;
    std::uint64_t conn = 0;
    std::uint64_t req = 0;
};

/// A key/value argument at an emit point; the value is copied into the
/// event only when tracing is on.
struct Arg {
    Arg(const char* k, int v) : key(k), is_int(true), i(v) {}
    Arg(const char* k, unsigned v) : key(k), is_int(true), i(v) {}
    Arg(const char* k, long v) : key(k), is_int(true), i(v) {}
    Arg(const char* k, unsigned long v) : key(k), is_int(true), i(static_cast<std::int64_t>(v)) {}
    Arg(const char* k, long long v) : key(k), is_int(true), i(v) {}
    Arg(const char* k, unsigned long long v)
        : key(k), is_int(true), i(static_cast<std::int64_t>(v)) {}
    Arg(const char* k, bool v) : key(k), is_int(true), i(v ? 1 : 0) {}
    Arg(const char* k, std::string_view v) : key(k), s(v) {}
    Arg(const char* k, const char* v) : key(k), s(v) {}
    Arg(const char* k, const std::string& v) : key(k), s(v) {}

    const char* key;
    bool is_int = false;
    std::int64_t i = 0;
    std::string_view s;
};

using ArgValue = std::variant<std::int64_t, std::string>;

/// One trace event, owning its data; the JSON Lines form is `to_json`.
struct Event {
    std::uint64_t seq = 0;
    std::int64_t t_us = 0;
    int pid = 0;
    std::string layer;
    std::string cls;
    std::string obj;
    std::string step;
    Phase ph = Phase::Instant;
    std::uint64_t conn = 0;
    std::uint64_t req = 0;
    std::vector<std::pair<std::string, ArgValue>> args;
    std::string src;           // "iostream/src/iostream.cc:214"
    std::string py;            // "tornado/iostream.py:BaseIOStream.read_until_regex"
    std::uint64_t id = 0;      // the span: seq of its begin event
    std::uint64_t parent = 0;  // the span that was running when this one began
    std::string role;          // "client" for the scenario's client side

    /// The argument `key` as an integer or string, if present.
    const ArgValue* arg(std::string_view key) const;
};

/// One JSON object on one line (no newline), keys in the documented order.
std::string to_json(const Event& event);

/// Receives every event while registered.
class Sink {
  public:
    virtual ~Sink() = default;
    virtual void on_event(const Event& event) = 0;
};

/// Keeps the last `capacity` events in memory (the default for scenarios).
class RingSink : public Sink {
  public:
    explicit RingSink(std::size_t capacity = 1 << 16);
    void on_event(const Event& event) override;
    /// The kept events, oldest first.
    std::vector<Event> events() const;
    std::size_t dropped() const { return dropped_; }

  private:
    std::size_t capacity_;
    std::size_t next_ = 0;
    std::size_t dropped_ = 0;
    std::vector<Event> ring_;
};

/// Writes each event as one JSON line to a stdio stream it does not own.
class JsonlSink : public Sink {
  public:
    explicit JsonlSink(std::FILE* out, bool flush_each = false)
        : out_(out), flush_each_(flush_each) {}
    void on_event(const Event& event) override;

  private:
    std::FILE* out_;
    bool flush_each_;
};

/// Calls a function for each event, on the thread that emitted it (the
/// live hook used by step-through to pause the loop).
class SubscriberSink : public Sink {
  public:
    explicit SubscriberSink(std::function<void(const Event&)> fn) : fn_(std::move(fn)) {}
    void on_event(const Event& event) override { fn_(event); }

  private:
    std::function<void(const Event&)> fn_;
};

class Recorder;

namespace detail {
inline std::atomic<bool> g_enabled{false};
// The installed flight recorder, or null (see set_recorder).
inline std::atomic<Recorder*> g_recorder{nullptr};
}

/// False in a build configured with -DTORNADO_TRACING=OFF: the emit points
/// are discarded at compile time (`if constexpr`), the baseline the cost of
/// tracing off is measured against.
#if defined(TORNADO_TRACE_COMPILED_OUT)
inline constexpr bool kCompiledIn = false;
#else
inline constexpr bool kCompiledIn = true;
#endif

/// True while events are being recorded. The one branch an emit point costs.
inline bool enabled() noexcept {
    if constexpr (!kCompiledIn) {
        return false;
    } else {
        return detail::g_enabled.load(std::memory_order_relaxed);
    }
}

/// Turns recording on or off. Turning it on throws std::logic_error in a
/// build with tracing compiled out.
void enable(bool on);

/// Starts a fresh trace: sequence numbers, object ids, connection and
/// request counters, the clock origin and this thread's span stack restart,
/// and events carry the calling process's pid (a forked child calls it).
void reset();

void add_sink(std::shared_ptr<Sink> sink);
void remove_sink(const std::shared_ptr<Sink>& sink);

/// Connection and request ids, counted from 1 after each reset().
std::uint64_t next_conn_id();
std::uint64_t next_req_id();

/// The flight recorder: a ring of fixed-size binary records allocated once,
/// each pointing at the static Site of its emit point, and turned into
/// Events (strings, JSON) only when someone reads it. Writing one costs a
/// clock read and a few stores: no allocation, no lock, no formatting, so a
/// server can leave it on (`serve --record N`) and dump the last requests
/// when something looks wrong, or stream it (`serve --trace FILE`).
///
/// C++ only; Tornado has no tracing. Records are written by the emitting
/// thread and read by the loop's thread between events (a dump is a loop
/// callback); a record being overwritten while it is read is skipped.
class Recorder {
  public:
    /// Room for `capacity` events (rounded up to a power of two, at least 64).
    explicit Recorder(std::size_t capacity);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    std::size_t capacity() const noexcept { return mask_ + 1; }
    /// The sequence number of the newest record (0: none yet), and of the
    /// oldest the ring still holds. Records are kept by sequence number:
    /// the one for event `seq` sits in slot `seq % capacity()`.
    std::uint64_t last_seq() const noexcept { return last_seq_.load(std::memory_order_acquire); }
    std::uint64_t oldest_seq() const noexcept;

    /// The held events after event `after`, oldest first (the streaming
    /// reader passes the last sequence number it has read).
    std::vector<Event> events(std::uint64_t after = 0) const;
    /// The events of the last `requests` requests: everything from the
    /// first event of the oldest of them on. A request counts once it has
    /// an event at step `arrived` (for HTTP, where the server has a request
    /// head to parse; a connection waiting for its next request already has
    /// that request's id). Spans begun before the first event kept are left
    /// out, their ends too, so the result reads like a `run` trace (render
    /// and step take it as it is).
    std::vector<Event> last_requests(std::size_t requests, std::string_view arrived) const;

    /// Called by the hub for each event (see trace.cc emit).
    void append(std::uint64_t seq, const Site& site, const Context& ctx, Phase ph,
                std::uint64_t id, std::uint64_t parent, std::initializer_list<Arg> args,
                const char* extra_key, const char* extra_value) noexcept;

    struct Record;
    struct Values;
    struct Text;

  private:
    std::vector<Event> collect(std::uint64_t from) const;

    std::size_t mask_;
    std::unique_ptr<Record[]> ring_;
    std::unique_ptr<Values[]> values_;
    std::unique_ptr<Text[]> text_;
    // The clock's origin: ticks and steady_clock ns read together.
    std::uint64_t ticks0_;
    std::int64_t ns0_;
    std::atomic<std::uint64_t> last_seq_{0};
};

/// Makes `recorder` receive every event (besides the sinks) while tracing
/// is on (enable); null uninstalls it. The recorder must outlive its
/// installation.
void set_recorder(Recorder* recorder);

/// An RAII span: begin at `begin`, end when it goes out of scope.
class Span {
  public:
    Span() = default;
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;
    ~Span() {
        if (id_ != 0) {
            end();
        }
    }

    void begin(const Site& site, Context ctx, std::initializer_list<Arg> args);
    /// Ends early, with optional result arguments (e.g. bytes written).
    void end(std::initializer_list<Arg> args = {});

  private:
    std::uint64_t id_ = 0;
    const Site* site_ = nullptr;
    // A copy of the object's identity: in a coroutine the span may end after
    // the object itself is gone (it is declared before `self`).
    Tag obj_{nullptr};
    Context ctx_;
};

/// Emits an instant event.
void instant(const Site& site, Context ctx, std::initializer_list<Arg> args);

/// Kept in each coroutine's promise: the spans the coroutine has open are
/// taken off this thread's span stack when it suspends and put back when
/// the IOLoop resumes it, with an "S" and an "R" event.
class CoroutineTrace {
  public:
    CoroutineTrace() noexcept;
    void on_suspend(const char* awaiting);
    void on_resume();

  private:
    struct Saved {
        std::uint64_t id;
        const Site* site;
        Context ctx;
    };
    std::uint32_t base_depth_ = 0;
    std::vector<Saved> saved_;
};

/// Base of every traced class: gives it a Tag and the trace_context() the
/// macros look up.
class Traced {
  public:
    explicit Traced(const char* cls) noexcept : trace_tag_{cls} {}

    Context trace_context() const noexcept { return {&trace_tag_, trace_conn_, trace_req_}; }
    const Tag& trace_tag() const noexcept { return trace_tag_; }
    /// Names the object's class in traces (a handler's own class name); the
    /// string must outlive the object.
    void set_trace_class(const char* cls) noexcept { trace_tag_.cls = cls; }
    /// Marks this object's side in a scenario, e.g. "client".
    void set_trace_role(const char* role) noexcept { trace_tag_.role = role; }
    void set_trace_ids(std::uint64_t conn, std::uint64_t req) noexcept {
        trace_conn_ = conn;
        trace_req_ = req;
    }
    std::uint64_t trace_conn() const noexcept { return trace_conn_; }
    std::uint64_t trace_req() const noexcept { return trace_req_; }

  protected:
    ~Traced() = default;

  private:
    Tag trace_tag_;
    std::uint64_t trace_conn_ = 0;
    std::uint64_t trace_req_ = 0;
};

}  // namespace tornado::trace

#define TORNADO_TRACE_CAT2(a, b) a##b
#define TORNADO_TRACE_CAT(a, b) TORNADO_TRACE_CAT2(a, b)

/// Begin a span now, end it at scope exit. Arguments: {"key", value} pairs.
#define TRACE_SPAN(step, ...) \
    TRACE_SPAN_AS(TORNADO_TRACE_CAT(tornado_trace_span_, __LINE__), step, __VA_ARGS__)

/// TRACE_SPAN with a name for the span, so that code can end it early with
/// result arguments: `span.end({{"bytes", n}})`.
#define TRACE_SPAN_AS(var, step, ...)                                                         \
    static constexpr ::tornado::trace::Site TORNADO_TRACE_CAT(tornado_trace_site_, __LINE__){ \
        step, kTraceModule, __FILE__, __LINE__};                                              \
    ::tornado::trace::Span var;                                                               \
    if constexpr (::tornado::trace::kCompiledIn) {                                            \
        if (::tornado::trace::enabled()) [[unlikely]] {                                       \
            var.begin(TORNADO_TRACE_CAT(tornado_trace_site_, __LINE__), trace_context(),      \
                      {__VA_ARGS__});                                                         \
        }                                                                                     \
    }                                                                                         \
    static_assert(true)

/// An instant event.
#define TRACE_EVENT(step, ...)                                                                    \
    do {                                                                                          \
        static constexpr ::tornado::trace::Site TORNADO_TRACE_CAT(tornado_trace_site_, __LINE__){ \
            step, kTraceModule, __FILE__, __LINE__};                                              \
        if constexpr (::tornado::trace::kCompiledIn) {                                            \
            if (::tornado::trace::enabled()) [[unlikely]] {                                       \
                ::tornado::trace::instant(TORNADO_TRACE_CAT(tornado_trace_site_, __LINE__),       \
                                          trace_context(), {__VA_ARGS__});                        \
            }                                                                                     \
        }                                                                                         \
    } while (false)
