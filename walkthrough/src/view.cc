// Views and filters over decoded trace events (see view.h for the rules and
// the guarantees). One pass, in trace order: a decision about an event uses
// only what came before it, which is what makes a selection prefix-stable.
#include "tornado/walkthrough/view.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "tornado/walkthrough/steps.h"

namespace tornado::walkthrough {

namespace {

using trace::Event;
using trace::Phase;

// What the pass remembers about each span it has seen begin.
struct SpanState {
    bool passes = false;            // kept by the view and the filters, depth aside
    bool kept = false;              // passes and within --depth
    std::uint64_t kept_parent = 0;  // nearest kept ancestor (0: none)
    std::uint64_t pass_parent = 0;  // nearest ancestor that passes
    int depth = 0;                  // depth among the spans that pass (roots: 1)
    std::uint64_t conn = 0;         // own connection, or inherited
    std::uint64_t req = 0;          // own request, or inherited
};

class Selector {
  public:
    Selector(View view, const Filter& filter) : view_(view), filter_(filter) {}

    void add(const Event& e, std::vector<Event>& out) {
        const SpanState* parent = find(e.parent);
        std::uint64_t conn = e.conn != 0 ? e.conn : (parent != nullptr ? parent->conn : 0);
        std::uint64_t req = e.req != 0 ? e.req : (parent != nullptr ? parent->req : 0);
        if (req == 0 && conn != 0) {
            // A connection's own events (READ handlers, close) belong to the
            // request that connection serves at the time.
            auto it = current_req_.find(conn);
            req = it != current_req_.end() ? it->second : 0;
        }
        if (e.req != 0 && conn != 0) {
            current_req_[conn] = e.req;
        }

        bool keep = false;
        std::uint64_t kept_parent =
            parent != nullptr ? (parent->kept ? e.parent : parent->kept_parent) : 0;
        if (e.ph == Phase::Begin || e.ph == Phase::Instant) {
            bool passes = passes_view(e, conn) && passes_filter(e, conn, req);
            std::uint64_t pass_parent =
                parent != nullptr ? (parent->passes ? e.parent : parent->pass_parent) : 0;
            const SpanState* pp = find(pass_parent);
            int depth = (pp != nullptr ? pp->depth : 0) + 1;
            keep = passes && (filter_.depth <= 0 || depth <= filter_.depth);
            if (e.ph == Phase::Begin) {
                spans_[e.id] = {passes, keep, kept_parent, pass_parent, depth, conn, req};
            }
        } else {
            // End, suspend and resume follow their span's decision.
            auto it = spans_.find(e.id);
            if (it != spans_.end()) {
                keep = it->second.kept;
                conn = it->second.conn;
                req = it->second.req;
            } else {
                keep = passes_view(e, conn) && passes_filter(e, conn, req) && filter_.depth <= 0;
            }
            // The chain views draw no client coroutine switches, and no
            // resume on a connection whose stream has closed (a suspend is
            // kept: it ends the piece of the span that runs, see chrome).
            if (keep && e.ph != Phase::End && view_ != View::Full &&
                (e.role == "client" || (e.ph == Phase::Resume && closed_.contains(conn)))) {
                keep = false;
            }
        }
        if (e.ph == Phase::Begin && e.role != "client" && e.step == "BaseIOStream.close" &&
            conn != 0) {
            // Decided after the close itself, which is kept.
            closed_.insert(conn);
        }
        if (!keep) {
            return;
        }
        Event kept = e;
        kept.parent = kept_parent;
        if (filter_.conn != 0 || filter_.request != 0) {
            kept.conn = conn;
            kept.req = req;
        }
        out.push_back(std::move(kept));
    }

  private:
    const SpanState* find(std::uint64_t id) const {
        if (id == 0) {
            return nullptr;
        }
        auto it = spans_.find(id);
        return it == spans_.end() ? nullptr : &it->second;
    }

    bool passes_view(const Event& e, std::uint64_t conn) const {
        if (view_ == View::Full) {
            return true;
        }
        if (e.ph == Phase::Instant) {
            return false;
        }
        if (e.role == "client") {
            return e.layer == "client" && is_notes_step(e.step);
        }
        if (e.ph != Phase::End && conn != 0 && closed_.contains(conn)) {
            return false;
        }
        if (e.step == "HTTP1Connection._format_chunk") {
            // Without chunked encoding it hands the chunk back unchanged.
            const trace::ArgValue* chunked = e.arg("chunked");
            const auto* flag = chunked != nullptr ? std::get_if<std::int64_t>(chunked) : nullptr;
            if (flag != nullptr && *flag == 0) {
                return false;
            }
        }
        return is_notes_step(e.step);
    }

    bool passes_filter(const Event& e, std::uint64_t conn, std::uint64_t req) const {
        bool client = e.role == "client";
        if (filter_.hide_client && client) {
            return false;
        }
        if (filter_.hide_loop && e.layer == "ioloop") {
            return false;
        }
        if (filter_.conn != 0 && conn != filter_.conn) {
            return false;
        }
        if (filter_.request != 0 && req != filter_.request) {
            return false;
        }
        if (!filter_.layers.empty()) {
            bool match = std::any_of(
                filter_.layers.begin(), filter_.layers.end(), [&](const std::string& l) {
                    return client ? l == "client" || l == e.layer : l == e.layer;
                });
            if (!match) {
                return false;
            }
        }
        return true;
    }

    View view_;
    const Filter& filter_;
    std::map<std::uint64_t, SpanState> spans_;
    std::map<std::uint64_t, std::uint64_t> current_req_;  // conn -> its latest request
    std::set<std::uint64_t> closed_;                      // conns whose stream closed
};

}  // namespace

View parse_view(std::string_view name) {
    if (name == "chain") {
        return View::Chain;
    }
    if (name == "layers") {
        return View::Layers;
    }
    if (name == "full") {
        return View::Full;
    }
    throw std::invalid_argument("unknown view '" + std::string(name) +
                                "' (known: chain, layers, full)");
}

const std::vector<std::string>& known_layers() {
    static const std::vector<std::string> layers = {"client", "ioloop", "iostream", "httpserver",
                                                    "web"};
    return layers;
}

std::vector<trace::Event> select_events(const std::vector<trace::Event>& events, View view,
                                        const Filter& filter) {
    std::vector<Event> out;
    Selector selector(view, filter);
    for (const Event& e : events) {
        selector.add(e, out);
    }
    return out;
}

}  // namespace tornado::walkthrough
