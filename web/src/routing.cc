#include "tornado/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "tornado/escape.h"
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

// Tornado: tornado/util.py:243 re_unescape
// Undoes the backslash escapes of a regex fragment ("\\." -> "."); an escaped
// letter or digit is a class or a back reference, which has no one string:
// nothing is returned then.
std::optional<std::string> re_unescape(std::string_view fragment) {
    std::string out;
    for (std::size_t i = 0; i < fragment.size(); ++i) {
        if (fragment[i] != '\\') {
            out.push_back(fragment[i]);
            continue;
        }
        if (i + 1 == fragment.size()) {
            return std::nullopt;  // a trailing backslash
        }
        char next = fragment[++i];
        if (std::isalnum(static_cast<unsigned char>(next)) != 0) {
            return std::nullopt;
        }
        out.push_back(next);
    }
    return out;
}
}  // namespace

// Tornado: tornado/routing.py:211 Router.start_request
// (Tornado 4.5.2 defines it on Router; the delegate does the routing.)
std::shared_ptr<HTTPMessageDelegate> Router::start_request(
    http1connection::HTTP1ServerConnection* server_conn,
    std::shared_ptr<httputil::HTTPConnection> request_conn) {
    return std::make_shared<detail::RoutingDelegate>(this, server_conn, std::move(request_conn));
}

// Tornado: tornado/routing.py:232 _RoutingDelegate.__init__
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

// Tornado: tornado/routing.py:238 _RoutingDelegate.headers_received
Future<void> detail::RoutingDelegate::headers_received(
    const httputil::StartLine& start_line, std::shared_ptr<httputil::HTTPHeaders> headers) {
    const auto& line = std::get<httputil::RequestStartLine>(start_line);
    TRACE_SPAN("_RoutingDelegate.headers_received", {"method", line.method}, {"uri", line.path});
    auto request = std::make_shared<HTTPServerRequest>(request_conn_, line, std::move(headers));
    request->set_trace_ids(trace_conn(), trace_req());
    delegate_ = router_->find_handler(request);
    return delegate_->headers_received(start_line, request->headers);
}

// Tornado: tornado/routing.py:247 _RoutingDelegate.data_received
Future<void> detail::RoutingDelegate::data_received(std::string chunk) {
    return delegate_->data_received(std::move(chunk));
}

// Tornado: tornado/routing.py:250 _RoutingDelegate.finish
void detail::RoutingDelegate::finish() {
    delegate_->finish();
}

// Tornado: tornado/routing.py:253 _RoutingDelegate.on_connection_close
void detail::RoutingDelegate::on_connection_close() {
    if (delegate_) {
        delegate_->on_connection_close();
    }
}

// Tornado: tornado/routing.py:494 PathMatches.__init__
PathMatches::PathMatches(std::string path_pattern)
    : regex_(anchor_end(std::move(path_pattern)), re::Pattern::ANCHORED) {
    if (auto found = _find_groups()) {
        path_ = std::move(found->first);
        group_count_ = found->second;
    }
}

// Tornado: tornado/routing.py:508 PathMatches.match
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

// Tornado: tornado/routing.py:530 PathMatches.reverse
std::string PathMatches::reverse(const std::vector<std::string>& args) const {
    if (!path_) {
        throw std::invalid_argument("Cannot reverse url regex " + regex_.pattern());
    }
    if (static_cast<int>(args.size()) != group_count_) {
        throw std::invalid_argument(fmt::format("required number of arguments not found: {} wants {}, got {}",
                                                regex_.pattern(), group_count_, args.size()));
    }
    std::string out;
    std::size_t next_arg = 0;
    const std::string& format = *path_;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] == '%' && i + 1 < format.size() && format[i + 1] == 's') {
            out += escape::url_escape(args[next_arg++], false);
            ++i;
        } else if (format[i] == '%' && i + 1 < format.size() && format[i + 1] == '%') {
            out.push_back('%');
            ++i;
        } else {
            out.push_back(format[i]);
        }
    }
    return out;
}

// Tornado: tornado/routing.py:544 PathMatches._find_groups
// For "/([0-9]{4})/([a-z-]+)/" the format "/%s/%s/" and 2. Like Tornado's, it
// only understands a flat pattern: if the number of "(" differs from the
// number of groups (a "(?:", an escaped paren) it is too complicated.
std::optional<std::pair<std::string, int>> PathMatches::_find_groups() const {
    std::string_view pattern = regex_.pattern();
    if (pattern.starts_with('^')) {
        pattern.remove_prefix(1);
    }
    if (pattern.ends_with('$')) {
        pattern.remove_suffix(1);
    }
    if (static_cast<std::size_t>(regex_.groups()) !=
        static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '('))) {
        return std::nullopt;
    }
    std::string format;
    auto add_literal = [&format](std::string_view text) {
        for (char c : text) {
            format += c == '%' ? std::string("%%") : std::string(1, c);
        }
    };
    // Split at every "(": a fragment holding ")" is the end of a group
    // ("%s", then the literal after it), any other is literal text.
    std::size_t start = 0;
    while (true) {
        std::size_t open = pattern.find('(', start);
        std::string_view fragment = pattern.substr(
            start, open == std::string_view::npos ? std::string_view::npos : open - start);
        std::size_t close = fragment.find(')');
        if (close != std::string_view::npos) {
            format += "%s";
            fragment.remove_prefix(close + 1);
        }
        // C++: Tornado 6.2 unescapes the text after a group too (4.5.2 kept
        // its backslashes).
        auto literal = re_unescape(fragment);
        if (!literal) {
            return std::nullopt;
        }
        add_literal(*literal);
        if (open == std::string_view::npos) {
            break;
        }
        start = open + 1;
    }
    return std::make_pair(format, regex_.groups());
}

// Tornado: tornado/routing.py:459 HostMatches.__init__
HostMatches::HostMatches(std::string host_pattern)
    : regex_(anchor_end(std::move(host_pattern)), re::Pattern::ANCHORED) {}

// Tornado: tornado/routing.py:467 HostMatches.match
bool HostMatches::match(const HTTPServerRequest& request) const {
    return match_host(request.host_name);
}

bool HostMatches::match_host(std::string_view host_name) const {
    re::Match m;
    return regex_.match(host_name, m);
}

// Tornado: tornado/routing.py:586 URLSpec.__init__
URLSpec::URLSpec(std::string pattern, HandlerFactory factory, std::string handler_name_,
                 bool stream_request_body_, std::string name_)
    : matcher(std::move(pattern)),
      handler_factory(std::move(factory)),
      handler_name(std::move(handler_name_)),
      stream_request_body(stream_request_body_),
      name(std::move(name_)) {}

URLSpec::URLSpec(std::string pattern, HandlerClass handler, std::string name_)
    : URLSpec(std::move(pattern), std::move(handler.factory), std::move(handler.name),
              handler.stream_request_body, std::move(name_)) {}

URLSpec URLSpec::named(std::string route_name) && {
    name = std::move(route_name);
    return std::move(*this);
}

}  // namespace tornado::routing
