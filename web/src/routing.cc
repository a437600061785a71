#include "tornado/routing.h"

#include "tornado/web.h"

namespace tornado::routing {

namespace {
constexpr trace::Module kTraceModule{"web", "tornado/routing.py"};

// Tornado appends "$" so that a route must match the whole path.
std::string anchor_end(std::string pattern) {
    if (pattern.empty() || pattern.back() != '$') {
        pattern.push_back('$');
    }
    return pattern;
}
}  // namespace

// Tornado: tornado/routing.py Router.start_request
// (Tornado 4.5.2 defines it on Router; the delegate does the routing.)
std::shared_ptr<HTTPMessageDelegate> Router::start_request(
    http1connection::HTTP1ServerConnection* server_conn,
    std::shared_ptr<httputil::HTTPConnection> request_conn) {
    return std::make_shared<detail::RoutingDelegate>(this, server_conn, std::move(request_conn));
}

// Tornado: tornado/routing.py _RoutingDelegate.__init__
detail::RoutingDelegate::RoutingDelegate(Router* router,
                                         http1connection::HTTP1ServerConnection* server_conn,
                                         std::shared_ptr<httputil::HTTPConnection> request_conn)
    : Traced("_RoutingDelegate"),
      router_(router),
      server_conn_(server_conn),
      request_conn_(std::move(request_conn)) {
    if (auto* traced = dynamic_cast<trace::Traced*>(request_conn_.get())) {
        set_trace_ids(traced->trace_conn(), traced->trace_req());
    }
}

// Tornado: tornado/routing.py _RoutingDelegate.headers_received
Future<void> detail::RoutingDelegate::headers_received(
    const httputil::StartLine& start_line, std::shared_ptr<httputil::HTTPHeaders> headers) {
    const auto& line = std::get<httputil::RequestStartLine>(start_line);
    TRACE_SPAN("_RoutingDelegate.headers_received", {"method", line.method}, {"uri", line.path});
    auto request = std::make_shared<HTTPServerRequest>(request_conn_, line, std::move(headers));
    request->set_trace_ids(trace_conn(), trace_req());
    delegate_ = router_->find_handler(request);
    return delegate_->headers_received(start_line, request->headers);
}

// Tornado: tornado/routing.py _RoutingDelegate.data_received
Future<void> detail::RoutingDelegate::data_received(std::string chunk) {
    return delegate_->data_received(std::move(chunk));
}

// Tornado: tornado/routing.py _RoutingDelegate.finish
void detail::RoutingDelegate::finish() {
    delegate_->finish();
}

// Tornado: tornado/routing.py _RoutingDelegate.on_connection_close
void detail::RoutingDelegate::on_connection_close() {
    if (delegate_) {
        delegate_->on_connection_close();
    }
}

// Tornado: tornado/routing.py PathMatches.__init__
PathMatches::PathMatches(std::string path_pattern)
    : regex_(anchor_end(std::move(path_pattern)), re::Pattern::ANCHORED) {}

// Tornado: tornado/routing.py PathMatches.match
std::optional<PathArguments> PathMatches::match(const HTTPServerRequest& request) const {
    re::Match m;
    if (!regex_.match(request.path, m)) {
        return std::nullopt;
    }
    PathArguments out;
    // Named groups become keyword arguments; only without any named group
    // are the groups passed by position. Each is percent-decoded, with "+"
    // left as is (it is a literal plus in a path).
    const auto& names = regex_.group_names();
    bool any_named = false;
    for (std::size_t g = 1; g < names.size(); ++g) {
        any_named = any_named || !names[g].empty();
    }
    for (std::size_t g = 1; g < m.groups.size(); ++g) {
        // C++: a group that did not take part (Python's None) is "".
        std::string value = m.groups[g] ? httputil::url_unescape(*m.groups[g], false) : "";
        if (any_named) {
            if (!names[g].empty()) {
                out.kwargs.emplace(names[g], std::move(value));
            }
        } else {
            out.args.push_back(std::move(value));
        }
    }
    return out;
}

// Tornado: tornado/routing.py HostMatches.__init__
HostMatches::HostMatches(std::string host_pattern)
    : regex_(anchor_end(std::move(host_pattern)), re::Pattern::ANCHORED) {}

// Tornado: tornado/routing.py HostMatches.match
bool HostMatches::match(const HTTPServerRequest& request) const {
    re::Match m;
    return regex_.match(request.host_name, m);
}

// Tornado: tornado/routing.py URLSpec.__init__
URLSpec::URLSpec(std::string pattern, HandlerFactory factory, std::string handler_name_,
                 bool stream_request_body_, std::string name_)
    : matcher(std::move(pattern)),
      handler_factory(std::move(factory)),
      handler_name(std::move(handler_name_)),
      stream_request_body(stream_request_body_),
      name(std::move(name_)) {}

}  // namespace tornado::routing
