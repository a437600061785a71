// tornado.routing: how a request finds its handler.
//
// An Application is a router: for each request it creates a _RoutingDelegate,
// which waits for the headers, asks the router to find_handler, and from
// then on passes everything to the delegate it found (a _HandlerDelegate).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tornado/httputil.h"
#include "tornado/re.h"
#include "tornado/trace.h"

namespace tornado::web {
class Application;
class RequestHandler;
}  // namespace tornado::web

namespace tornado::routing {

using httputil::HTTPMessageDelegate;
using httputil::HTTPServerRequest;

// Tornado: tornado/routing.py:195 Router
/// Finds the delegate for a request; is itself the server's delegate.
class Router : public httputil::HTTPServerConnectionDelegate {
  public:
    /// The delegate that will handle `request`, or null if none matches.
    virtual std::shared_ptr<HTTPMessageDelegate> find_handler(
        std::shared_ptr<HTTPServerRequest> request) = 0;

    std::shared_ptr<HTTPMessageDelegate> start_request(
        http1connection::HTTP1ServerConnection* server_conn,
        std::shared_ptr<httputil::HTTPConnection> request_conn) override;
};

namespace detail {

// Tornado: tornado/routing.py:231 _RoutingDelegate
/// The per-request delegate a Router hands out: routes once the headers
/// are in, then forwards body, finish and close to the handler's delegate.
class RoutingDelegate : public HTTPMessageDelegate, public trace::Traced {
  public:
    RoutingDelegate(Router* router, http1connection::HTTP1ServerConnection* server_conn,
                    std::shared_ptr<httputil::HTTPConnection> request_conn);

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<httputil::HTTPHeaders> headers) override;
    Future<void> data_received(std::string chunk) override;
    void finish() override;
    void on_connection_close() override;

  private:
    Router* router_;
    http1connection::HTTP1ServerConnection* server_conn_;
    std::shared_ptr<httputil::HTTPConnection> request_conn_;
    std::shared_ptr<HTTPMessageDelegate> delegate_;
};

}  // namespace detail

/// Positional and named path arguments taken from a URL match.
struct PathArguments {
    std::vector<std::string> args;
    std::map<std::string, std::string, std::less<>> kwargs;
};

// Tornado: tornado/routing.py:491 PathMatches
/// Matches the request path against a regex (anchored at both ends).
class PathMatches {
  public:
    explicit PathMatches(std::string path_pattern);
    /// The groups, percent-decoded (named groups if there are any, else
    /// positional ones), or nothing if the path does not match.
    std::optional<PathArguments> match(const HTTPServerRequest& request) const;
    const std::string& pattern() const { return regex_.pattern(); }
    /// The path this pattern matches with `args` put in its groups (each
    /// percent-encoded, "/" kept). Throws std::invalid_argument when the
    /// pattern is too complicated to reverse or the count is wrong.
    std::string reverse(const std::vector<std::string>& args) const;

  private:
    /// The pattern as a format ("/%s/%s") and its group count, or nothing
    /// when it is too complicated (e.g. nested or non-capturing groups).
    std::optional<std::pair<std::string, int>> _find_groups() const;

    re::Pattern regex_;
    std::optional<std::string> path_;  // the format of _find_groups, "%s" per group
    int group_count_ = 0;
};

// Tornado: tornado/routing.py:456 HostMatches
/// Matches the request's host name against a regex.
class HostMatches {
  public:
    explicit HostMatches(std::string host_pattern);
    bool match(const HTTPServerRequest& request) const;
    /// Whether `host_name` itself matches (DefaultHostMatches tries the
    /// application's default_host with it).
    bool match_host(std::string_view host_name) const;

  private:
    re::Pattern regex_;
};

/// Creates a handler for a request (C++ for "the handler class").
using HandlerFactory = std::function<std::shared_ptr<web::RequestHandler>(
    std::shared_ptr<web::Application>, std::shared_ptr<HTTPServerRequest>)>;

/// A handler class with its initialize() arguments bound: what Tornado's
/// settings call `default_handler_class` + `default_handler_args` (and
/// `static_handler_class` + `static_handler_args`). Made by
/// web::handler_class<H>(args...).
struct HandlerClass {
    HandlerFactory factory;
    std::string name;  // the class name, for traces and logs
    bool stream_request_body = false;
};

// Tornado: tornado/routing.py:579 URLSpec
/// A route: a path pattern, the handler it leads to and the handler's
/// initialize() arguments (bound into the factory).
struct URLSpec {
    URLSpec(std::string pattern, HandlerFactory factory, std::string handler_name,
            bool stream_request_body = false, std::string name = "");
    URLSpec(std::string pattern, HandlerClass handler, std::string name = "");

    /// This route with a name, for reverse_url: `url<H>("/form").named("form")`
    /// (Tornado's `url(r"/form", H, name="form")`).
    URLSpec named(std::string route_name) &&;
    // Tornado: tornado/routing.py:420 Rule.reverse (URLSpec's; it asks PathMatches.reverse)
    std::string reverse(const std::vector<std::string>& args) const { return matcher.reverse(args); }

    PathMatches matcher;
    HandlerFactory handler_factory;
    std::string handler_name;  // the handler class, for traces and logs
    bool stream_request_body;
    std::string name;
};

}  // namespace tornado::routing
