#include "tornado/trace.h"

#include "trace_hub.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>

namespace tornado::trace {

namespace {

// One entry of this thread's span stack: the spans that are running right
// now, innermost last. The caller of a new span is the top of the stack.
struct StackEntry {
    std::uint64_t id;
    const Site* site;
    Context ctx;
};

using detail::hub;
using detail::Hub;

thread_local std::vector<StackEntry> t_stack;

std::uint64_t current_parent() {
    return t_stack.empty() ? 0 : t_stack.back().id;
}

// Hands one event to the flight recorder, if one is installed, and builds
// it for the sinks, if any are registered. Returns its sequence number.
std::uint64_t emit(const Site& site, const Context& ctx, Phase ph, std::uint64_t id,
                   std::uint64_t parent, std::initializer_list<Arg> args,
                   const char* extra_key = nullptr, const char* extra_value = nullptr) {
    Hub& h = hub();
    std::uint64_t seq = 0;
    // A begin event opens the span its own seq names.
    auto span_id = [&] { return id != 0 ? id : (ph == Phase::Begin ? seq : 0); };
    if (Recorder* recorder = detail::g_recorder.load(std::memory_order_acquire)) {
        // The fast path: no lock, no allocation (see Recorder).
        seq = h.seq.fetch_add(1, std::memory_order_relaxed) + 1;
        recorder->append(seq, site, ctx, ph, span_id(), parent, args, extra_key, extra_value);
        if (h.sink_count.load(std::memory_order_relaxed) == 0) {
            return seq;
        }
    }
    std::lock_guard<std::mutex> lock(h.mu);
    if (seq == 0) {
        // Taken under the lock: the sinks see events in sequence order.
        seq = h.seq.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    const Tag* obj = ctx.obj;
    Event ev = detail::make_event({&site, obj != nullptr ? obj->cls : nullptr,
                                   obj != nullptr ? detail::object_id(*obj) : 0,
                                   obj != nullptr ? obj->role : nullptr, ph, ctx.conn, ctx.req,
                                   seq, span_id(), parent,
                                   detail::now_ns(), h.pid.load(std::memory_order_relaxed)});
    ev.args.reserve(args.size() + (extra_key != nullptr ? 1 : 0));
    for (const Arg& a : args) {
        ev.args.emplace_back(a.key, a.is_int ? ArgValue(a.i) : ArgValue(std::string(a.s)));
    }
    if (extra_key != nullptr && extra_value != nullptr) {
        ev.args.emplace_back(extra_key, ArgValue(std::string(extra_value)));
    }
    for (auto& sink : h.sinks) {
        sink->on_event(ev);
    }
    return seq;
}

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20 || u >= 0x7f) {
                    // Bytes are shown as latin-1 code points, as Tornado
                    // decodes header bytes.
                    out += fmt::format("\\u{:04x}", u);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

void append_id(std::string& out, std::string_view key, std::uint64_t v) {
    out += ",\"";
    out += key;
    out += "\":";
    if (v == 0) {
        out += "null";
    } else {
        out += std::to_string(v);
    }
}

}  // namespace

namespace detail {

Hub& hub() {
    static Hub* h = [] {
        auto* fresh = new Hub();
        fresh->origin_ns = now_ns();
        fresh->pid = static_cast<int>(::getpid());
        return fresh;
    }();
    return *h;
}

std::uint32_t object_id(const Tag& tag) {
    Hub& h = hub();
    std::uint32_t epoch = h.epoch.load(std::memory_order_relaxed);
    if (tag.epoch != epoch || tag.id == 0) {
        std::lock_guard<std::mutex> lock(h.ids_mu);
        auto it = h.ids.find(std::string_view(tag.cls));
        if (it == h.ids.end()) {
            it = h.ids.emplace(tag.cls, 0).first;
        }
        tag.id = ++it->second;
        tag.epoch = epoch;
    }
    return tag.id;
}

Event make_event(const EventFields& f) {
    Event ev;
    const Site& site = *f.site;
    ev.layer = site.module.layer;
    std::string_view step(site.step);
    auto dot = step.rfind('.');
    ev.cls = std::string(dot == std::string_view::npos ? step : step.substr(0, dot));
    ev.step = site.step;
    ev.ph = f.ph;
    ev.conn = f.conn;
    ev.req = f.req;
    ev.seq = f.seq;
    ev.id = f.id;
    ev.parent = f.parent;
    ev.pid = f.pid;
    ev.t_us = (f.t_ns - hub().origin_ns.load(std::memory_order_relaxed)) / 1000;
    ev.src = fmt::format("{}:{}", site.file, site.line);
    // Code with no Tornado counterpart (the walkthrough's client) has no py.
    if (*site.module.py_file != '\0') {
        ev.py = fmt::format("{}:{}", site.module.py_file, site.step);
    }
    if (f.obj_cls != nullptr) {
        ev.obj = fmt::format("{}#{}", f.obj_cls, f.obj_id);
        if (f.role != nullptr) {
            ev.role = f.role;
        }
    }
    return ev;
}

}  // namespace detail

std::string Tag::label() const {
    return fmt::format("{}#{}", cls, detail::object_id(*this));
}

const ArgValue* Event::arg(std::string_view key) const {
    for (const auto& [k, v] : args) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}

std::string to_json(const Event& e) {
    std::string out;
    out.reserve(256);
    out += "{\"seq\":";
    out += std::to_string(e.seq);
    out += ",\"t_us\":";
    out += std::to_string(e.t_us);
    out += ",\"pid\":";
    out += std::to_string(e.pid);
    out += ",\"layer\":";
    append_json_string(out, e.layer);
    out += ",\"cls\":";
    append_json_string(out, e.cls);
    out += ",\"obj\":";
    if (e.obj.empty()) {
        out += "null";
    } else {
        append_json_string(out, e.obj);
    }
    out += ",\"step\":";
    append_json_string(out, e.step);
    out += ",\"ph\":\"";
    out.push_back(static_cast<char>(e.ph));
    out += "\"";
    append_id(out, "conn", e.conn);
    append_id(out, "req", e.req);
    out += ",\"args\":{";
    bool first = true;
    for (const auto& [k, v] : e.args) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        if (const auto* i = std::get_if<std::int64_t>(&v)) {
            out += std::to_string(*i);
        } else {
            append_json_string(out, std::get<std::string>(v));
        }
    }
    out += "},\"src\":";
    append_json_string(out, e.src);
    out += ",\"py\":";
    append_json_string(out, e.py);
    append_id(out, "id", e.id);
    append_id(out, "parent", e.parent);
    if (!e.role.empty()) {
        out += ",\"role\":";
        append_json_string(out, e.role);
    }
    out += "}";
    return out;
}

RingSink::RingSink(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
    ring_.reserve(std::min<std::size_t>(capacity_, 4096));
}

void RingSink::on_event(const Event& event) {
    if (ring_.size() < capacity_) {
        ring_.push_back(event);
        return;
    }
    ring_[next_] = event;
    next_ = (next_ + 1) % capacity_;
    ++dropped_;
}

std::vector<Event> RingSink::events() const {
    std::vector<Event> out;
    out.reserve(ring_.size());
    for (std::size_t i = 0; i < ring_.size(); ++i) {
        out.push_back(ring_[(next_ + i) % ring_.size()]);
    }
    return out;
}

void JsonlSink::on_event(const Event& event) {
    std::string line = to_json(event);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out_);
    if (flush_each_) {
        std::fflush(out_);
    }
}

void enable(bool on) {
    if (on && !kCompiledIn) {
        throw std::logic_error("tracing was compiled out of this build (-DTORNADO_TRACING=OFF)");
    }
    detail::g_enabled.store(on, std::memory_order_relaxed);
}

void reset() {
    Hub& h = hub();
    {
        std::lock_guard<std::mutex> lock(h.mu);
        std::lock_guard<std::mutex> ids_lock(h.ids_mu);
        h.seq = 0;
        ++h.epoch;
        h.ids.clear();
        h.origin_ns = detail::now_ns();
        // A forked child resets the hub: its events carry its own pid.
        h.pid = static_cast<int>(::getpid());
    }
    h.conn_ids = 0;
    h.req_ids = 0;
    t_stack.clear();
}

void add_sink(std::shared_ptr<Sink> sink) {
    Hub& h = hub();
    std::lock_guard<std::mutex> lock(h.mu);
    h.sinks.push_back(std::move(sink));
    h.sink_count = h.sinks.size();
}

void remove_sink(const std::shared_ptr<Sink>& sink) {
    Hub& h = hub();
    std::lock_guard<std::mutex> lock(h.mu);
    h.sinks.erase(std::remove(h.sinks.begin(), h.sinks.end(), sink), h.sinks.end());
    h.sink_count = h.sinks.size();
}

std::uint64_t next_conn_id() {
    return ++hub().conn_ids;
}
std::uint64_t next_req_id() {
    return ++hub().req_ids;
}

void Span::begin(const Site& site, Context ctx, std::initializer_list<Arg> args) {
    site_ = &site;
    id_ = emit(site, ctx, Phase::Begin, 0, current_parent(), args);
    ctx_ = ctx;
    if (ctx.obj != nullptr) {
        obj_ = *ctx.obj;  // emit() has given it its id
        ctx_.obj = &obj_;
    }
    t_stack.push_back({id_, site_, ctx_});
}

void Span::end(std::initializer_list<Arg> args) {
    if (id_ == 0) {
        return;
    }
    std::uint64_t id = id_;
    id_ = 0;
    // A span normally ends on top of the stack. One that ends elsewhere (a
    // suspended coroutine frame destroyed at teardown) is simply removed.
    auto it = std::find_if(t_stack.rbegin(), t_stack.rend(),
                           [id](const StackEntry& e) { return e.id == id; });
    std::uint64_t parent = 0;
    if (it != t_stack.rend()) {
        auto pos = std::next(it).base();
        parent = pos == t_stack.begin() ? 0 : std::prev(pos)->id;
        t_stack.erase(pos);
    }
    if (enabled()) {
        emit(*site_, ctx_, Phase::End, id, parent, args);
    }
}

void instant(const Site& site, Context ctx, std::initializer_list<Arg> args) {
    emit(site, ctx, Phase::Instant, 0, current_parent(), args);
}

CoroutineTrace::CoroutineTrace() noexcept
    : base_depth_(enabled() ? static_cast<std::uint32_t>(t_stack.size()) : 0) {}

void CoroutineTrace::on_suspend(const char* awaiting) {
    if (!enabled() || t_stack.size() <= base_depth_) {
        return;
    }
    saved_.clear();
    for (std::size_t i = base_depth_; i < t_stack.size(); ++i) {
        saved_.push_back({t_stack[i].id, t_stack[i].site, t_stack[i].ctx});
    }
    t_stack.resize(base_depth_);
    // The suspend event belongs to the coroutine's outermost span: that is
    // the method the diagram shows waiting.
    const Saved& outer = saved_.front();
    emit(*outer.site, outer.ctx, Phase::Suspend, outer.id, current_parent(), {}, "awaiting",
         awaiting);
}

void CoroutineTrace::on_resume() {
    if (saved_.empty()) {
        return;
    }
    base_depth_ = static_cast<std::uint32_t>(t_stack.size());
    std::uint64_t parent = current_parent();
    for (const Saved& s : saved_) {
        t_stack.push_back({s.id, s.site, s.ctx});
    }
    const Saved& outer = saved_.front();
    if (enabled()) {
        emit(*outer.site, outer.ctx, Phase::Resume, outer.id, parent, {});
    }
    saved_.clear();
}

}  // namespace tornado::trace
