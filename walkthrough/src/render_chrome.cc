// Trace Event JSON for Perfetto and chrome://tracing.
//
// A coroutine's span stays open across its suspensions, while the IOLoop
// runs other callbacks: drawn as one slice it would overlap them. So each
// span is drawn as the pieces in which it really runs: a slice from its
// begin (or a resume) to its next suspend (or its end). Pieces nest like
// the calls of the one loop thread, so any set of them nests on a track.
// Each suspend is joined to the resume that follows by a flow arrow (v1
// flow events, "s" inside the piece that ends and "f" with bp "e" inside
// the piece that starts, which is how Perfetto binds them).
//
// Tracks (tid): one per connection for the server ("connection 1"), the
// IOLoop's for what serves no connection (accept), and one per client
// object. A trace of several processes (pids) shows each as a process of
// its own ("task 0", "task 1" in order of first appearance), with its own
// tracks. Time is the sequence number (ts = 10 x seq), so that the output
// is the same on every run; the wall time is in each slice's args.
#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "diagram_model.h"

namespace tornado::walkthrough::detail {

namespace {

using trace::Event;
using trace::Phase;
using Json = nlohmann::ordered_json;

constexpr int kPid = 1;

struct SpanState {
    int pid = kPid;
    int tid = 0;
    bool open = false;
    std::int64_t opened_ts = 0;
    std::int64_t suspended_ts = -1;  // ts of the suspend awaiting its resume
};

class ChromeWriter {
  public:
    std::string write(const std::vector<Event>& events) {
        for (const Event& e : events) {
            add(e);
        }
        close_open_spans();
        std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
        bool first = true;
        auto put = [&](const Json& j) {
            out += (first ? "" : ",\n") + j.dump();
            first = false;
        };
        if (pids_.size() <= 1) {
            put(Json{{"ph", "M"},
                     {"name", "process_name"},
                     {"pid", kPid},
                     {"args", {{"name", "tornado-walk trace"}}}});
        } else {
            for (std::size_t k = 0; k < pids_.size(); ++k) {
                int pid = kPid + static_cast<int>(k);
                put(Json{{"ph", "M"},
                         {"name", "process_name"},
                         {"pid", pid},
                         {"args", {{"name", "task " + std::to_string(k)}}}});
                put(Json{{"ph", "M"},
                         {"name", "process_sort_index"},
                         {"pid", pid},
                         {"args", {{"sort_index", pid}}}});
            }
        }
        for (const auto& [track, tid] : tids_) {
            put(Json{{"ph", "M"},
                     {"name", "thread_name"},
                     {"pid", track.first},
                     {"tid", tid},
                     {"args", {{"name", track.second}}}});
            put(Json{{"ph", "M"},
                     {"name", "thread_sort_index"},
                     {"pid", track.first},
                     {"tid", tid},
                     {"args", {{"sort_index", tid}}}});
        }
        for (const Json& j : out_) {
            put(j);
        }
        return out + "\n]}\n";
    }

  private:
    // The process of an event: 1 for the first pid seen, 2 for the next...
    int pid_of(const Event& e) {
        auto it = pids_.try_emplace(e.pid, kPid + static_cast<int>(pids_.size())).first;
        return it->second;
    }

    int tid_of(const std::string& name) {
        std::pair<int, std::string> track{pid_, name};
        auto it = tids_.find(track);
        if (it != tids_.end()) {
            return it->second;
        }
        int tid = static_cast<int>(tids_.size()) + 1;
        tids_.emplace(std::move(track), tid);
        return tid;
    }

    // The track of a new span or an instant.
    int track_for(const Event& e) {
        auto parent = spans_.find(e.parent);
        bool client = e.role == "client";
        if (!client && e.conn != 0) {
            return tid_of("connection " + std::to_string(e.conn));
        }
        if (e.parent != 0 && parent != spans_.end()) {
            return parent->second.tid;
        }
        if (client) {
            return tid_of("client " + (e.obj.empty() ? e.cls : e.obj));
        }
        return tid_of("IOLoop");
    }

    static std::int64_t ts_of(const Event& e) { return static_cast<std::int64_t>(e.seq) * 10; }

    Json args_of(const Event& e) const {
        Json args = Json::object();
        args["seq"] = e.seq;
        if (!e.obj.empty()) {
            args["obj"] = e.obj;
        }
        if (e.conn != 0) {
            args["conn"] = e.conn;
        }
        if (e.req != 0) {
            args["req"] = e.req;
        }
        args["t_us"] = e.t_us;
        for (const auto& [key, value] : e.args) {
            if (const auto* i = std::get_if<std::int64_t>(&value)) {
                args[key] = *i;
            } else {
                args[key] = std::get<std::string>(value);
            }
        }
        if (!e.src.empty()) {
            args["src"] = e.src;
        }
        return args;
    }

    void slice(char ph, const Event& e, int tid, std::int64_t ts, Json args) {
        Json j{{"ph", std::string(1, ph)},
               {"name", e.step},
               {"cat", e.layer.empty() ? "trace" : e.layer},
               {"pid", pid_},
               {"tid", tid},
               {"ts", ts}};
        if (!args.is_null()) {
            j["args"] = std::move(args);
        }
        out_.push_back(std::move(j));
        last_ts_ = std::max(last_ts_, ts);
    }

    void add(const Event& e) {
        std::int64_t ts = ts_of(e);
        pid_ = pid_of(e);
        switch (e.ph) {
            case Phase::Begin: {
                SpanState s;
                s.pid = pid_;
                s.tid = track_for(e);
                s.open = true;
                s.opened_ts = ts;
                spans_[e.id] = s;
                slice('B', e, s.tid, ts, args_of(e));
                break;
            }
            case Phase::End: {
                auto it = spans_.find(e.id);
                if (it != spans_.end() && it->second.open) {
                    pid_ = it->second.pid;  // a span's pieces stay on its track
                    slice('E', e, it->second.tid, ts, Json());
                    it->second.open = false;
                }
                break;
            }
            case Phase::Suspend: {
                auto it = spans_.find(e.id);
                if (it != spans_.end() && it->second.open) {
                    pid_ = it->second.pid;
                    Json args = Json::object();
                    if (const auto* a = e.arg("awaiting")) {
                        args["awaiting"] = std::get<std::string>(*a);
                    }
                    args["suspend_seq"] = e.seq;
                    // The piece ends; what it awaited is on the end event.
                    slice('E', e, it->second.tid, ts, std::move(args));
                    it->second.open = false;
                    it->second.suspended_ts = ts;
                }
                break;
            }
            case Phase::Resume: {
                auto it = spans_.find(e.id);
                if (it == spans_.end() || it->second.open) {
                    break;
                }
                SpanState& s = it->second;
                pid_ = s.pid;
                Json args = args_of(e);
                args["resumed"] = true;
                slice('B', e, s.tid, ts, std::move(args));
                s.open = true;
                s.opened_ts = ts;
                if (s.suspended_ts >= 0) {
                    ++flows_;
                    Json start{{"ph", "s"},
                               {"name", "resume"},
                               {"cat", "coroutine"},
                               {"id", flows_},
                               {"pid", pid_},
                               {"tid", s.tid},
                               {"ts", s.suspended_ts - 1}};
                    Json finish{{"ph", "f"},          {"bp", "e"},    {"name", "resume"},
                                {"cat", "coroutine"}, {"id", flows_}, {"pid", pid_},
                                {"tid", s.tid},       {"ts", ts + 1}};
                    out_.push_back(std::move(start));
                    out_.push_back(std::move(finish));
                    s.suspended_ts = -1;
                }
                break;
            }
            case Phase::Instant: {
                Json j{{"ph", "i"},      {"s", "t"},
                       {"name", e.step}, {"cat", e.layer.empty() ? "trace" : e.layer},
                       {"pid", pid_},    {"tid", track_for(e)},
                       {"ts", ts},       {"args", args_of(e)}};
                out_.push_back(std::move(j));
                last_ts_ = std::max(last_ts_, ts);
                break;
            }
        }
    }

    // A trace cut short (a filter, a ring that dropped the end) leaves
    // pieces open: they end after the last event, innermost first.
    void close_open_spans() {
        std::vector<std::pair<std::int64_t, std::uint64_t>> open;
        for (const auto& [id, s] : spans_) {
            if (s.open) {
                open.emplace_back(s.opened_ts, id);
            }
        }
        std::sort(open.rbegin(), open.rend());
        std::int64_t ts = last_ts_;
        for (const auto& [opened, id] : open) {
            ts += 1;
            Json j{{"ph", "E"},
                   {"pid", spans_[id].pid},
                   {"tid", spans_[id].tid},
                   {"ts", ts},
                   {"args", {{"cut", "the trace ends before this span"}}}};
            out_.push_back(std::move(j));
        }
    }

    std::map<int, int> pids_;  // trace pid -> Chrome pid
    int pid_ = kPid;           // the Chrome pid of the event being added
    std::map<std::pair<int, std::string>, int> tids_;
    std::map<std::uint64_t, SpanState> spans_;
    std::vector<Json> out_;
    std::int64_t last_ts_ = 0;
    int flows_ = 0;
};

}  // namespace

std::string render_chrome(const std::vector<Event>& events) {
    ChromeWriter writer;
    return writer.write(events);
}

}  // namespace tornado::walkthrough::detail
