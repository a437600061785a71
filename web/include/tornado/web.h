// tornado.web: RequestHandler and Application.
//
// A request reaches a handler this way: _RoutingDelegate.headers_received
// finds the route and creates a _HandlerDelegate; when the body is in,
// _HandlerDelegate.finish calls execute, which creates the RequestHandler and
// starts its _execute coroutine: prepare(), then get()/post()/..., then
// finish(), which computes Etag and Content-Length and calls flush(), which
// hands the headers and body to HTTP1Connection.write_headers.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tornado/concurrent.h"
#include "tornado/httputil.h"
#include "tornado/routing.h"
#include "tornado/template.h"
#include "tornado/trace.h"

namespace tornado::web {

using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;

// Tornado: tornado/web.py HTTPError
/// Raised by a handler to send an HTTP error response. `log_message` is
/// logged (not shown to the client); `reason` replaces the standard phrase.
class HTTPError : public std::runtime_error {
  public:
    explicit HTTPError(int status_code = 500, std::string log_message = "",
                       std::string reason = "");
    int status_code() const { return status_code_; }
    const std::string& log_message() const { return log_message_; }
    const std::string& reason() const { return reason_; }

  private:
    int status_code_;
    std::string log_message_;
    std::string reason_;
};

// Tornado: tornado/web.py Finish
/// Ends the request without an error response (the handler's output so
/// far is sent).
class Finish : public std::runtime_error {
  public:
    Finish() : std::runtime_error("Finish") {}
};

// Tornado: tornado/web.py MissingArgumentError
class MissingArgumentError : public HTTPError {
  public:
    explicit MissingArgumentError(const std::string& arg_name)
        : HTTPError(400, "Missing argument " + arg_name), arg_name_(arg_name) {}
    const std::string& arg_name() const { return arg_name_; }

  private:
    std::string arg_name_;
};

// Tornado: tornado/web.py OutputTransform
/// Rewrites a response as it is flushed (e.g. gzip).
class OutputTransform {
  public:
    virtual ~OutputTransform() = default;
    virtual void transform_first_chunk(int& status_code, HTTPHeaders& headers, std::string& chunk,
                                       bool finishing) = 0;
    virtual void transform_chunk(std::string& chunk, bool finishing) = 0;
};

// Tornado: tornado/web.py GZipContentEncoding
/// Compresses text-like responses for clients that send
/// "Accept-Encoding: gzip"; always adds "Vary: Accept-Encoding".
class GZipContentEncoding : public OutputTransform, public trace::Traced {
  public:
    static constexpr std::size_t MIN_LENGTH = 1024;
    static constexpr int GZIP_LEVEL = 6;

    explicit GZipContentEncoding(const HTTPServerRequest& request);
    ~GZipContentEncoding() override;
    void transform_first_chunk(int& status_code, HTTPHeaders& headers, std::string& chunk,
                               bool finishing) override;
    void transform_chunk(std::string& chunk, bool finishing) override;

  private:
    static bool _compressible_type(std::string_view ctype);
    bool gzipping_;
    struct ZStream;
    std::unique_ptr<ZStream> zstream_;
};

class Application;

// Tornado: tornado/web.py RequestHandler
/// Subclass it and override get(), post() and so on. A method may finish
/// synchronously (return `{}`) or be a coroutine (co_await, co_return).
class RequestHandler : public std::enable_shared_from_this<RequestHandler>, public trace::Traced {
  public:
    // Tornado: tornado/web.py RequestHandler.SUPPORTED_METHODS
    static constexpr std::array<std::string_view, 7> SUPPORTED_METHODS = {
        "GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"};
    /// Set to true in a subclass for @stream_request_body behaviour.
    static constexpr bool stream_request_body = false;

    RequestHandler(std::shared_ptr<Application> application,
                   std::shared_ptr<HTTPServerRequest> request);
    virtual ~RequestHandler();
    RequestHandler(const RequestHandler&) = delete;
    RequestHandler& operator=(const RequestHandler&) = delete;

    // --- Entry points for subclasses --------------------------------------
    /// Called before the HTTP method; may finish the request itself.
    virtual Future<void> prepare() { return {}; }
    /// Called after the response has been sent.
    virtual void on_finish() {}
    /// The client closed the connection while the response was pending.
    virtual void on_connection_close() {}
    /// The HTTP methods; the defaults answer 405.
    virtual Future<void> get();
    virtual Future<void> head();
    virtual Future<void> post();
    virtual Future<void> delete_();
    virtual Future<void> patch();
    virtual Future<void> put();
    virtual Future<void> options();
    /// For stream_request_body handlers: a chunk of the body.
    virtual Future<void> data_received(std::string chunk);
    /// Headers every response of this handler starts with.
    virtual void set_default_headers() {}
    /// Writes the error page for send_error.
    virtual void write_error(int status_code, const std::exception_ptr& exc);
    /// The Etag for the buffered body (default: quoted SHA-1 hex), or none.
    virtual std::optional<std::string> compute_etag();

    // --- Output -----------------------------------------------------------
    /// Resets headers and buffered output to their initial state.
    void clear();
    /// Sets the status; an unknown code needs a `reason`. Throws
    /// httputil::HTTPOutputError for a reason with CR or LF.
    void set_status(int status_code, std::string reason = "");
    int get_status() const { return status_code_; }
    /// Sets a header, replacing earlier values. Throws
    /// httputil::HTTPOutputError for values with control characters or
    /// names with CR or LF (header injection).
    void set_header(std::string_view name, std::string value);
    void set_header(std::string_view name, std::int64_t value);
    void add_header(std::string_view name, std::string value);
    void clear_header(std::string_view name);
    /// Buffers output; nothing is sent until flush() or finish().
    void write(std::string_view chunk);
    /// Sends the headers (first time) and what has been buffered.
    Future<void> flush(bool include_footers = false);
    /// Ends the response: adds Etag (maybe answering 304) and
    /// Content-Length if nothing was flushed yet, then flushes.
    Future<void> finish(std::string_view chunk = {});
    /// Sends an error page (or just finishes, if the headers are out).
    void send_error(int status_code = 500, const std::exception_ptr& exc = nullptr);
    /// Answers 302 (301 when permanent, or `status`) with Location: `url`.
    void redirect(const std::string& url, bool permanent = false, int status = 0);

    // --- Templates --------------------------------------------------------
    /// Renders template `template_name` with `kwargs` (a JSON object) and
    /// finishes the response with it. Throws std::logic_error after
    /// finish(), template_::ParseError / RenderError (a 500 from _execute).
    Future<void> render(const std::string& template_name,
                        const nlohmann::json& kwargs = nlohmann::json::object());
    /// The output of template `template_name` (loaded through the
    /// Application's loader for get_template_path()) over
    /// get_template_namespace() plus `kwargs`.
    std::string render_string(const std::string& template_name,
                              const nlohmann::json& kwargs = nlohmann::json::object());
    /// The names every template rendered by this handler sees; override to
    /// add some (call the base and update its result).
    virtual template_::Namespace get_template_namespace();
    /// The loader for `template_path` (made once per path and kept by the
    /// Application); the default is a template_::Loader with the
    /// `autoescape` and `template_whitespace` settings.
    virtual std::shared_ptr<template_::BaseLoader> create_template_loader(
        const std::string& template_path);
    /// The directory templates are loaded from: the `template_path` setting.
    virtual std::string get_template_path();

    // --- Input ------------------------------------------------------------
    /// The last value of argument `name` (query or body), stripped; throws
    /// MissingArgumentError (400) when absent and no default is given.
    std::string get_argument(std::string_view name,
                             std::optional<std::string> default_value = std::nullopt) const;
    std::vector<std::string> get_arguments(std::string_view name) const;

    /// The value of cookie `name` sent by the client, or `default_value`.
    std::optional<std::string> get_cookie(std::string_view name,
                                          std::optional<std::string> default_value = {}) const;
    /// Sends a cookie (a Set-Cookie header at the first flush); a second
    /// call for the same name replaces the first. Throws std::invalid_argument
    /// for names or values with control characters or spaces.
    void set_cookie(const std::string& name, const std::string& value,
                    const std::string& path = "/");

    void set_etag_header();
    bool check_etag_header() const;
    const HTTPHeaders& headers() const { return headers_; }
    bool finished() const { return finished_; }

    std::shared_ptr<Application> application;
    std::shared_ptr<HTTPServerRequest> request;
    /// The route's groups, decoded (Tornado passes them to get() as args).
    std::vector<std::string> path_args;
    std::map<std::string, std::string, std::less<>> path_kwargs;

    /// Runs the request (called by _HandlerDelegate.execute).
    Future<void> _execute(std::vector<std::unique_ptr<OutputTransform>> transforms,
                          routing::PathArguments arguments);
    /// Resolved when prepare() is done (stream_request_body handlers).
    Future<void> _prepared_future;
    /// Resolved when the whole body has been delivered to data_received
    /// (Tornado makes request.body this Future for streaming handlers).
    Future<void> _body_future;

  protected:
    bool _auto_finish = true;

  private:
    Future<void> call_method();
    void _log();
    std::string _request_summary() const;
    void _handle_request_exception(const std::exception_ptr& e);
    void log_exception(const std::exception_ptr& e);
    void _clear_representation_headers();
    friend class Application;

    int status_code_ = 200;
    std::string reason_ = "OK";
    HTTPHeaders headers_;
    std::string write_buffer_;
    bool headers_written_ = false;
    bool finished_ = false;
    std::vector<std::unique_ptr<OutputTransform>> transforms_;
    std::vector<std::pair<std::string, std::string>> new_cookies_;  // name, Set-Cookie value
};

// Tornado: tornado/web.py ErrorHandler
/// Answers every request with `status_code` (the 404 for unmatched paths).
class ErrorHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(int status_code) { set_status(status_code); }
    Future<void> prepare() override;
};

// Tornado: tornado/web.py RedirectHandler
/// Redirects every GET to `url` (301 unless permanent is false); "{0}" in
/// the url is replaced by the first path group, and so on.
class RedirectHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(std::string url, bool permanent = true) {
        url_ = std::move(url);
        permanent_ = permanent;
    }
    Future<void> get() override;

  private:
    std::string url_;
    bool permanent_ = true;
};

/// The readable class name of a handler type ("HelloHandler").
std::string handler_class_name(const std::type_info& type);

/// Builds a route to handler class H; `args` are passed to H::initialize.
/// Mirrors a (pattern, HandlerClass, kwargs) tuple in Tornado's handler list.
template <class H, class... Args>
routing::URLSpec url(std::string pattern, Args... args) {
    routing::HandlerFactory factory = [args...](std::shared_ptr<Application> app,
                                                std::shared_ptr<HTTPServerRequest> req) {
        auto handler = std::make_shared<H>(std::move(app), std::move(req));
        if constexpr (sizeof...(Args) > 0) {
            handler->initialize(args...);
        }
        return std::shared_ptr<RequestHandler>(std::move(handler));
    };
    return routing::URLSpec(std::move(pattern), std::move(factory), handler_class_name(typeid(H)),
                            H::stream_request_body);
}

/// Application settings used so far (Tornado's **settings).
struct ApplicationSettings {
    bool compress_response = false;
    std::string default_host;
    std::string static_path;
    std::string cookie_secret;
    bool xsrf_cookies = false;
    /// Write an access log line per request (Tornado always logs; the
    /// walkthrough turns it off to keep the terminal for the diagram).
    bool log_requests = true;
    /// Of Tornado's debug defaults, only compiled_template_cache=False so far.
    bool debug = false;
    /// The directory render() loads templates from.
    std::string template_path;
    /// Keep parsed templates between requests. Unset: true, or false when
    /// `debug` (Tornado's settings.setdefault); false reloads every request.
    std::optional<bool> compiled_template_cache;
    /// The escaping function for {{ }}; nullopt is Tornado's autoescape=None.
    std::optional<std::string> autoescape = "xhtml_escape";
    /// The loaders' whitespace mode (unset: by file name, "single" for .html).
    std::optional<std::string> template_whitespace;
};

// Tornado: tornado/web.py Application
/// The routes of a web application; give it to an HTTPServer.
class Application : public routing::Router,
                    public std::enable_shared_from_this<Application>,
                    public trace::Traced {
  public:
    using Settings = ApplicationSettings;

    static std::shared_ptr<Application> create(std::vector<routing::URLSpec> handlers,
                                               Settings settings = Settings{});

    Application(std::vector<routing::URLSpec> handlers, Settings settings);

    /// Adds routes used when the request's host name matches host_pattern
    /// (tried before the default routes, in the order they were added).
    void add_handlers(const std::string& host_pattern, std::vector<routing::URLSpec> handlers);

    std::shared_ptr<httputil::HTTPMessageDelegate> find_handler(
        std::shared_ptr<HTTPServerRequest> request) override;
    /// The _HandlerDelegate for `spec` (or for ErrorHandler when null).
    std::shared_ptr<httputil::HTTPMessageDelegate> get_handler_delegate(
        std::shared_ptr<HTTPServerRequest> request, const routing::URLSpec* spec,
        routing::PathArguments arguments);
    /// Writes the access log line for a finished request.
    void log_request(const RequestHandler& handler) const;

    const Settings& settings() const { return settings_; }

    // Tornado: tornado/web.py RequestHandler._template_loaders
    /// One template loader per template path, made by the first handler
    /// that renders from it. C++: Tornado keeps this dict on the
    /// RequestHandler class (one per process); here each Application has
    /// its own, so applications with different settings (tests make many)
    /// do not share loaders, and the loaders go when the Application does.
    std::map<std::string, std::shared_ptr<template_::BaseLoader>, std::less<>> _template_loaders;
    // Tornado: tornado/web.py RequestHandler._template_loader_lock
    std::mutex _template_loader_lock;

  private:
    struct HostRules {
        std::optional<routing::HostMatches> host;  // none: any host
        std::vector<routing::URLSpec> specs;
    };
    Settings settings_;
    std::vector<HostRules> rules_;  // host-specific first, the wildcard last
    routing::URLSpec not_found_;
};

namespace detail {

// Tornado: tornado/web.py _HandlerDelegate
/// Collects the body for the handler, then runs it (execute).
class HandlerDelegate : public httputil::HTTPMessageDelegate, public trace::Traced {
  public:
    HandlerDelegate(std::shared_ptr<Application> application,
                    std::shared_ptr<HTTPServerRequest> request, const routing::URLSpec* spec,
                    routing::PathArguments arguments);

    Future<void> headers_received(const httputil::StartLine& start_line,
                                  std::shared_ptr<HTTPHeaders> headers) override;
    Future<void> data_received(std::string chunk) override;
    void finish() override;
    void on_connection_close() override;
    /// Creates the handler and starts its _execute coroutine.
    Future<void> execute();

  private:
    std::shared_ptr<Application> application_;
    std::shared_ptr<HTTPServerRequest> request_;
    const routing::URLSpec* spec_;
    routing::PathArguments arguments_;
    std::string body_;
    std::shared_ptr<RequestHandler> handler_;
    Future<void> body_done_;  // streaming handlers: the body is complete
};

}  // namespace detail

}  // namespace tornado::web
