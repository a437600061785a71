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
#include <concepts>
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
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
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

// Tornado: tornado/web.py:2136 HTTPError
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

// Tornado: tornado/web.py:2176 Finish
/// Ends the request without an error response (the handler's output so
/// far is sent).
class Finish : public std::runtime_error {
  public:
    Finish() : std::runtime_error("Finish") {}
};

// Tornado: tornado/web.py:2203 MissingArgumentError
class MissingArgumentError : public HTTPError {
  public:
    explicit MissingArgumentError(const std::string& arg_name)
        : HTTPError(400, "Missing argument " + arg_name), arg_name_(arg_name) {}
    const std::string& arg_name() const { return arg_name_; }

  private:
    std::string arg_name_;
};

// Tornado: tornado/web.py:2778 OutputTransform
/// Rewrites a response as it is flushed (e.g. gzip).
class OutputTransform {
  public:
    virtual ~OutputTransform() = default;
    virtual void transform_first_chunk(int& status_code, HTTPHeaders& headers, std::string& chunk,
                                       bool finishing) = 0;
    virtual void transform_chunk(std::string& chunk, bool finishing) = 0;
};

// Tornado: tornado/web.py:2796 GZipContentEncoding
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

/// Makes the OutputTransform for one request: C++ for Tornado's transform
/// class, which the Application instantiates per request.
using TransformFactory =
    std::function<std::unique_ptr<OutputTransform>(const HTTPServerRequest& request)>;

/// The TransformFactory of transform class T (constructed from the request).
template <class T>
TransformFactory transform_class() {
    return [](const HTTPServerRequest& request) { return std::make_unique<T>(request); };
}

class Application;

/// A `cookie_secret`: one secret, or secrets by key version (Tornado's dict
/// form, used with the `key_version` setting to rotate keys).
using CookieSecret = std::variant<std::string, std::map<int, std::string>>;

// Tornado: tornado/web.py:529 RequestHandler.set_cookie (its keyword arguments)
/// The options of set_cookie, given with designated initialisers:
/// `set_cookie("a", "b", {.max_age = 10, .httponly = true})`. Empty strings
/// and absent values are left out of the Set-Cookie header.
struct CookieOptions {
    std::string domain{};
    /// An absolute time (Unix seconds, Tornado's time.time() form).
    std::optional<double> expires{};
    std::string path = "/";
    /// Days from now; used only when `expires` is not given.
    std::optional<double> expires_days{};
    std::optional<std::int64_t> max_age{};
    bool httponly = false;
    bool secure = false;
    std::string samesite{};
};

// Tornado: tornado/web.py:3077 create_signed_value (its keyword arguments)
struct SignedValueOptions {
    /// 1 (HMAC-SHA1) or 2 (HMAC-SHA256, the default).
    std::optional<int> version{};
    /// Seconds since the epoch; time(nullptr) when empty.
    std::function<double()> clock{};
    /// Required when the secret is a map: the key that signs.
    std::optional<int> key_version{};
};

// Tornado: tornado/web.py:3154 decode_signed_value (its keyword arguments)
struct DecodeSignedValueOptions {
    double max_age_days = 31;
    std::function<double()> clock{};
    /// The oldest format accepted (default 1: both).
    std::optional<int> min_version{};
};

// Tornado: tornado/web.py:3077 create_signed_value
/// Signs and timestamps `value` for `name`: v2 is
/// `2|<len>:<key_version>|<len>:<ts>|<len>:<name>|<len>:<b64 value>|<hex sig>`.
/// Throws std::invalid_argument for an unknown version, a map secret with
/// version 1, or a key_version missing from the map.
std::string create_signed_value(const CookieSecret& secret, std::string_view name,
                                std::string_view value, const SignedValueOptions& options = {});

// Tornado: tornado/web.py:3154 decode_signed_value
/// The value signed by create_signed_value for `name`, or nullopt when it is
/// absent, malformed, badly signed, for another name, or too old. Throws
/// std::invalid_argument only for min_version > 2.
std::optional<std::string> decode_signed_value(const CookieSecret& secret, std::string_view name,
                                               std::optional<std::string_view> value,
                                               const DecodeSignedValueOptions& options = {});

// Tornado: tornado/web.py:3258 get_signature_key_version
/// The key version of a v2 signed value, or nullopt (v1 or malformed).
std::optional<int> get_signature_key_version(std::string_view value);

// Tornado: tornado/web.py:154 RequestHandler
/// Subclass it and override get(), post() and so on. A method may finish
/// synchronously (return `{}`) or be a coroutine (co_await, co_return).
class RequestHandler : public std::enable_shared_from_this<RequestHandler>, public trace::Traced {
  public:
    // Tornado: tornado/web.py:160 RequestHandler.SUPPORTED_METHODS
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
    /// Writes the error page for send_error (with serve_traceback, the
    /// exception as text/plain).
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
    /// Buffers a JSON object as Python's json.dumps writes it (", " and
    /// ": " separators, non-ASCII as \uXXXX, "</" as "<\/") and sets
    /// Content-Type to application/json. Like Tornado, only objects: a
    /// top-level array throws std::invalid_argument (a JSON hijacking risk).
    template <class Json>
        requires std::same_as<Json, nlohmann::ordered_json> || std::same_as<Json, nlohmann::json>
    void write(const Json& chunk) {
        _write_json(nlohmann::ordered_json(chunk));
    }
    /// Sends the headers (first time) and what has been buffered.
    Future<void> flush(bool include_footers = false);
    /// Ends the response: adds Etag (maybe answering 304) and
    /// Content-Length if nothing was flushed yet, then flushes.
    Future<void> finish(std::string_view chunk = {});
    /// Sends an error page (or just finishes, if the headers are out).
    void send_error(int status_code = 500, const std::exception_ptr& exc = nullptr);
    /// Answers 302 (301 when permanent, or `status`) with Location: `url`.
    void redirect(const std::string& url, bool permanent = false, int status = 0);
    /// Application::reverse_url for this handler's application.
    std::string reverse_url(const std::string& name, const std::vector<std::string>& args = {}) const;

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
    /// The last value of argument `name` (query or body), decoded with
    /// decode_argument, control characters made spaces and, with `strip`,
    /// stripped. Throws MissingArgumentError (400) when absent and no
    /// default is given (the default is returned as it is).
    std::string get_argument(std::string_view name,
                             std::optional<std::string> default_value = std::nullopt,
                             bool strip = true) const;
    /// Every value of argument `name` (query and body), decoded as above;
    /// empty when absent.
    std::vector<std::string> get_arguments(std::string_view name, bool strip = true) const;
    /// get_argument / get_arguments over the body arguments only.
    std::string get_body_argument(std::string_view name,
                                  std::optional<std::string> default_value = std::nullopt,
                                  bool strip = true) const;
    std::vector<std::string> get_body_arguments(std::string_view name, bool strip = true) const;
    /// get_argument / get_arguments over the query arguments only.
    std::string get_query_argument(std::string_view name,
                                   std::optional<std::string> default_value = std::nullopt,
                                   bool strip = true) const;
    std::vector<std::string> get_query_arguments(std::string_view name, bool strip = true) const;
    /// Turns an argument's bytes (percent-decoded) into text; used for the
    /// get_*argument methods and the route's path groups. The default
    /// checks UTF-8 and throws HTTPError(400) for anything else. `name` is
    /// empty for positional path groups.
    virtual std::string decode_argument(std::string value, std::string_view name = {}) const;

    /// The value of cookie `name` sent by the client, or `default_value`.
    std::optional<std::string> get_cookie(std::string_view name,
                                          std::optional<std::string> default_value = {}) const;
    /// Sends a cookie (a Set-Cookie header at the first flush, written as
    /// Python's SimpleCookie does); a second call for the same name replaces
    /// the first. Throws std::invalid_argument for names or values with
    /// control characters or spaces, or options with control characters or ';'.
    void set_cookie(const std::string& name, const std::string& value,
                    const CookieOptions& options = {});
    /// Deletes cookie `name` in the browser (empty, expired a year ago);
    /// path and domain must be those it was set with.
    void clear_cookie(const std::string& name, const std::string& path = "/",
                      const std::string& domain = "");
    /// clear_cookie for every cookie the request sent.
    void clear_all_cookies(const std::string& path = "/", const std::string& domain = "");
    /// Sets a cookie signed with the `cookie_secret` setting, so that it
    /// cannot be forged (read it with get_secure_cookie). Throws
    /// std::runtime_error when there is no cookie_secret.
    void set_secure_cookie(const std::string& name, std::string_view value,
                           std::optional<double> expires_days = 30,
                           std::optional<int> version = std::nullopt, CookieOptions options = {});
    /// Signs `value` for `name` with the application's secret (and its
    /// `key_version` when the secret is a map).
    std::string create_signed_value(std::string_view name, std::string_view value,
                                    std::optional<int> version = std::nullopt) const;
    /// The value of a signed cookie (or of `value`, when given) if it
    /// validates and is at most `max_age_days` old; nullopt otherwise.
    std::optional<std::string> get_secure_cookie(std::string_view name,
                                                 std::optional<std::string> value = std::nullopt,
                                                 double max_age_days = 31,
                                                 std::optional<int> min_version = std::nullopt);
    /// The key version a signed cookie was signed with (nullopt for v1).
    std::optional<int> get_secure_cookie_key_version(
        std::string_view name, std::optional<std::string> value = std::nullopt);

    // --- Users and XSRF ---------------------------------------------------
    /// The authenticated user: get_current_user(), called once per request
    /// and cached; or what set_current_user gave.
    const std::optional<std::string>& current_user();
    void set_current_user(std::optional<std::string> user) { current_user_ = std::move(user); }
    /// Override to find the user (e.g. from a secure cookie); none by default.
    virtual std::optional<std::string> get_current_user() { return std::nullopt; }
    /// The XSRF token for this request, masked afresh per request
    /// (`2|mask|masked token|timestamp`, or plain hex when the
    /// `xsrf_cookie_version` setting is 1). Sets the `_xsrf` cookie (with the
    /// `xsrf_cookie_kwargs` options) when the request had no valid one.
    const std::string& xsrf_token();
    /// Answers 403 (throws HTTPError) unless the `_xsrf` argument, or the
    /// X-Xsrftoken or X-Csrftoken header, carries the token of the `_xsrf`
    /// cookie. Run before prepare() for unsafe methods when the
    /// `xsrf_cookies` setting is on.
    virtual void check_xsrf_cookie();
    /// `<input type="hidden" name="_xsrf" value="..."/>` for HTML forms.
    std::string xsrf_form_html();

    // Tornado: tornado/web.py:1351 RequestHandler.static_url
    /// The URL of static file `path` (relative to static_path), with
    /// "?v=<version hash>"; with include_host, "protocol://host" in front.
    /// Throws std::runtime_error when the static_path setting is empty.
    std::string static_url(const std::string& path, bool include_host = false) const;

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
    /// Why the body could not be parsed (_HandlerDelegate.finish sets it);
    /// _execute then answers 400 where Tornado 6.2 parses the body.
    std::optional<std::string> _body_error;

  protected:
    bool _auto_finish = true;

  private:
    /// The token behind xsrf_token: the cookie's version (none when it was
    /// made here), the raw token bytes and its timestamp.
    struct RawXsrfToken {
        std::optional<int> version;
        std::string token;
        double timestamp = 0;
    };
    struct DecodedXsrfToken {
        std::optional<int> version;
        std::optional<std::string> token;
        std::optional<double> timestamp;
    };
    const RawXsrfToken& _get_raw_xsrf_token();
    static DecodedXsrfToken _decode_xsrf_token(std::string_view cookie);
    Future<void> call_method();
    void _log();
    std::string _request_summary() const;
    void _handle_request_exception(const std::exception_ptr& e);
    void log_exception(const std::exception_ptr& e);
    void _clear_representation_headers();
    void _write_json(const nlohmann::ordered_json& chunk);
    std::string _get_argument(std::string_view name, std::optional<std::string> default_value,
                              const httputil::Arguments& source, bool strip) const;
    std::vector<std::string> _get_arguments(std::string_view name,
                                            const httputil::Arguments& source, bool strip) const;
    friend class Application;

    int status_code_ = 200;
    std::string reason_ = "OK";
    HTTPHeaders headers_;
    std::string write_buffer_;
    bool headers_written_ = false;
    bool finished_ = false;
    std::vector<std::unique_ptr<OutputTransform>> transforms_;
    std::vector<std::pair<std::string, std::string>> new_cookies_;  // name, Set-Cookie value
    bool current_user_computed_ = false;
    std::optional<std::string> current_user_;
    std::optional<std::string> xsrf_token_;
    std::optional<RawXsrfToken> raw_xsrf_token_;
};

// Tornado: tornado/web.py:2217 ErrorHandler
/// Answers every request with `status_code` (the 404 for unmatched paths).
class ErrorHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    void initialize(int status_code) { set_status(status_code); }
    Future<void> prepare() override;
    // Tornado: tornado/web.py:2225 ErrorHandler.check_xsrf_cookie
    /// No XSRF check: a POST to a wrong URL answers 404, not 403.
    void check_xsrf_cookie() override {}
};

// Tornado: tornado/web.py:2232 RedirectHandler
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

struct ApplicationSettings;

// Tornado: tornado/web.py:2268 StaticFileHandler
/// Serves the files under a directory: GET and HEAD, with Etag (the
/// content's sha512), Last-Modified, If-None-Match / If-Modified-Since (304),
/// a single byte Range (206, 416), and ?v= versioned URLs cached for ten
/// years. Paths that leave the root, directories and non-files get 403,
/// missing files 404. Files are read and sent 64 KiB at a time.
/// C++: Tornado's classmethods are static members; a subclass hides them
/// (the Application and static_url reach them through static_handler_class<H>).
class StaticFileHandler : public RequestHandler {
  public:
    static constexpr std::int64_t CACHE_MAX_AGE = 86400LL * 365 * 10;  // 10 years
    /// How many bytes get_content reads and get() sends at a time.
    static constexpr std::size_t CHUNK_SIZE = 64 * 1024;

    /// Tornado's get_content generator: the file's bytes in [start, end),
    /// read CHUNK_SIZE at a time. Owns the open file.
    class ContentReader {
      public:
        /// Opens `abspath`; throws std::system_error if it cannot.
        ContentReader(const std::string& abspath, std::optional<std::int64_t> start,
                      std::optional<std::int64_t> end);
        ~ContentReader();
        ContentReader(ContentReader&& other) noexcept;
        ContentReader(const ContentReader&) = delete;
        ContentReader& operator=(const ContentReader&) = delete;
        ContentReader& operator=(ContentReader&&) = delete;
        /// The next chunk (at most CHUNK_SIZE bytes); empty at the end.
        /// Throws std::system_error on a read error.
        std::string next();

      private:
        int fd_ = -1;
        std::optional<std::int64_t> remaining_;
    };

    using RequestHandler::RequestHandler;

    /// `path`: the root directory; `default_filename`: served for a
    /// directory (which is otherwise refused).
    void initialize(std::string path, std::optional<std::string> default_filename = std::nullopt);
    /// Empties the version cache (static_hash_cache off does it per request).
    static void reset();

    Future<void> head() override;
    Future<void> get() override;
    /// Serves `path` (relative to the root); HEAD passes include_body false.
    Future<void> get(std::string url_path, bool include_body = true);

    /// The quoted version hash of the whole file (also for a 206), or none.
    std::optional<std::string> compute_etag() override;
    /// Accept-Ranges, Etag, Last-Modified, Content-Type, the cache headers.
    virtual void set_headers();
    /// If-None-Match first (when present, If-Modified-Since is ignored),
    /// then If-Modified-Since >= the file's time. Throws
    /// std::invalid_argument (a 500, as 6.2's datetime() ValueError) for an
    /// If-Modified-Since that parses but is no real date ("32 Jan").
    virtual bool should_return_304();

    /// root joined with path, made absolute and normalised (no symlinks
    /// resolved).
    static std::string get_absolute_path(const std::string& root, const std::string& path);
    /// The path to serve, or nothing when it redirected (a directory with
    /// default_filename, asked without its trailing slash). Throws
    /// HTTPError 403 (outside the root, not a file) or 404 (missing).
    virtual std::optional<std::string> validate_absolute_path(const std::string& root,
                                                              const std::string& absolute_path);
    /// The file's bytes in [start, end), read lazily.
    static ContentReader get_content(const std::string& abspath,
                                     std::optional<std::int64_t> start = std::nullopt,
                                     std::optional<std::int64_t> end = std::nullopt);
    /// The sha512 hex digest of the file, read in chunks. Throws
    /// std::system_error if the file cannot be read.
    static std::string get_content_version(const std::string& abspath);
    virtual std::int64_t get_content_size();
    /// The modification time in whole seconds since the epoch, or none.
    virtual std::optional<std::int64_t> get_modified_time();
    /// By extension, from /etc/mime.types; gzip-encoded files are
    /// application/gzip, other encodings and unknown types
    /// application/octet-stream.
    virtual std::string get_content_type();
    /// For subclasses: more headers for `path`.
    virtual void set_extra_headers(const std::string& path) { (void)path; }
    /// Seconds the client may cache the answer: CACHE_MAX_AGE with a "v"
    /// argument, else 0 (no Expires / Cache-Control).
    virtual std::int64_t get_cache_time(const std::string& path,
                                        std::optional<std::int64_t> modified,
                                        const std::string& mime_type);
    /// static_url_prefix + path, with "?v=<version>" when include_version
    /// and the file could be read.
    static std::string make_static_url(const ApplicationSettings& settings, const std::string& path,
                                       bool include_version = true);
    /// The URL path (prefix removed) as a path relative to the root.
    virtual std::string parse_url_path(const std::string& url_path);
    /// The version hash of static_path/path (cached), or none.
    static std::optional<std::string> get_version(const ApplicationSettings& settings,
                                                  const std::string& path);

  protected:
    // Tornado's self.root, self.default_filename, and what get() finds out
    // for subclasses: self.path (from parse_url_path), self.absolute_path
    // (from validate_absolute_path) and self.modified.
    std::string root_;
    std::optional<std::string> default_filename_;
    std::string path_;
    std::optional<std::string> absolute_path_;
    std::optional<std::int64_t> modified_;

  private:
    /// What _stat keeps of os.stat: the size and the whole-second mtime.
    struct StatResult {
        std::int64_t size = 0;
        std::int64_t mtime = 0;
    };
    static std::optional<std::string> _get_cached_version(const std::string& abs_path);
    const StatResult& _stat();
    std::optional<StatResult> stat_result_;
};

/// The static_handler_class setting. Tornado passes a class; C++ passes
/// what the Application and static_url need from it, made for a handler
/// class H (StaticFileHandler or a subclass) by static_handler_class<H>():
///     settings.static_handler_class = web::static_handler_class<MyStaticHandler>();
struct StaticHandlerClass {
    /// The class name, for traces and logs.
    std::string name;
    /// A factory making H and calling H::initialize(path, default_filename).
    std::function<routing::HandlerFactory(std::string path,
                                          std::optional<std::string> default_filename)>
        make_factory;
    /// H::make_static_url(settings, path, include_version).
    std::function<std::string(const ApplicationSettings&, const std::string&, bool)>
        make_static_url;
    /// H::reset().
    std::function<void()> reset;
};

/// The static_handler_class value for handler class H.
template <class H>
StaticHandlerClass static_handler_class() {
    static_assert(std::is_base_of_v<StaticFileHandler, H>, "H must be a StaticFileHandler");
    StaticHandlerClass cls;
    cls.name = handler_class_name(typeid(H));
    cls.make_factory = [](std::string path, std::optional<std::string> default_filename) {
        return routing::HandlerFactory(
            [path = std::move(path), default_filename](std::shared_ptr<Application> app,
                                                       std::shared_ptr<HTTPServerRequest> req) {
                auto handler = std::make_shared<H>(std::move(app), std::move(req));
                handler->initialize(path, default_filename);
                return std::shared_ptr<RequestHandler>(std::move(handler));
            });
    };
    cls.make_static_url = [](const ApplicationSettings& settings, const std::string& path,
                             bool include_version) {
        return H::make_static_url(settings, path, include_version);
    };
    cls.reset = [] { H::reset(); };
    return cls;
}

/// Handler class H with `args` bound for its initialize(): Tornado's
/// (HandlerClass, kwargs) pair.
template <class H, class... Args>
routing::HandlerClass handler_class(Args... args) {
    routing::HandlerFactory factory = [args...](std::shared_ptr<Application> app,
                                                std::shared_ptr<HTTPServerRequest> req) {
        auto handler = std::make_shared<H>(std::move(app), std::move(req));
        if constexpr (sizeof...(Args) > 0) {
            handler->initialize(args...);
        }
        return std::shared_ptr<RequestHandler>(std::move(handler));
    };
    return {std::move(factory), handler_class_name(typeid(H)), H::stream_request_body};
}

/// Builds a route to handler class H; `args` are passed to H::initialize.
/// Mirrors a (pattern, HandlerClass, kwargs) tuple in Tornado's handler list;
/// `url<H>(pattern).named("name")` is Tornado's `url(pattern, H, name=...)`.
template <class H, class... Args>
routing::URLSpec url(std::string pattern, Args... args) {
    return routing::URLSpec(std::move(pattern), handler_class<H>(std::move(args)...));
}

/// Application settings (Tornado's **settings), with Tornado's names.
struct ApplicationSettings {
    bool compress_response = false;
    /// The host whose routes serve requests no host pattern matched, unless
    /// the request came through a proxy (X-Real-Ip); none by default.
    std::optional<std::string> default_host;
    std::string static_path;
    /// The HMAC secret of secure cookies: one string, or a map
    /// key_version -> secret together with `key_version`.
    CookieSecret cookie_secret;
    /// The key that signs new secure cookies when cookie_secret is a map.
    std::optional<int> key_version;
    /// Check the XSRF token before prepare() for methods other than GET,
    /// HEAD and OPTIONS.
    /// The URL prefix of the static route (with its trailing slash).
    std::string static_url_prefix = "/static/";
    /// The handler class of the static routes (default: StaticFileHandler),
    /// from web::static_handler_class<H>().
    std::optional<StaticHandlerClass> static_handler_class;
    /// Tornado's static_handler_args: the initialize() arguments besides
    /// `path` (which is static_path).
    struct StaticHandlerArgs {
        std::optional<std::string> default_filename;
    } static_handler_args;
    /// Cache static files' version hashes; unset: on, except with debug.
    std::optional<bool> static_hash_cache;
    bool xsrf_cookies = false;
    /// Requests no route matches go here instead of the 404 ErrorHandler
    /// (Tornado's default_handler_class with default_handler_args).
    std::optional<routing::HandlerClass> default_handler_class;
    /// Called for each finished request instead of the access log line.
    std::function<void(const RequestHandler&)> log_function;
    /// Development mode: autoreload and serve_traceback on, static_hash_cache
    /// and compiled_template_cache off, each unless set explicitly.
    bool debug = false;
    /// Re-execute the process when its executable changes (tornado.autoreload).
    std::optional<bool> autoreload;
    /// Error pages show the exception (type and message) as text/plain.
    std::optional<bool> serve_traceback;
    /// The format xsrf_token writes: 2 (masked, the default) or 1 (hex).
    int xsrf_cookie_version = 2;
    /// Options of the `_xsrf` cookie (e.g. {.httponly = true}).
    CookieOptions xsrf_cookie_kwargs;
    /// Write an access log line per request (Tornado always logs; the
    /// walkthrough turns it off to keep the terminal for the diagram).
    bool log_requests = true;
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

// Tornado: tornado/web.py:1802 Application
/// The routes of a web application; give it to an HTTPServer.
class Application : public routing::Router,
                    public std::enable_shared_from_this<Application>,
                    public trace::Traced {
  public:
    using Settings = ApplicationSettings;

    /// `transforms`: Tornado's argument of that name; when none is given,
    /// GZipContentEncoding if the compress_response setting is on. (C++: it
    /// comes last, and default_host is a setting, so that the common call is
    /// create(handlers, settings).)
    static std::shared_ptr<Application> create(
        std::vector<routing::URLSpec> handlers, Settings settings = Settings{},
        std::optional<std::vector<TransformFactory>> transforms = std::nullopt);

    Application(std::vector<routing::URLSpec> handlers, Settings settings,
                std::optional<std::vector<TransformFactory>> transforms = std::nullopt);

    /// Adds a transform every later response goes through.
    void add_transform(TransformFactory transform);
    /// The transforms each request gets, in order.
    const std::vector<TransformFactory>& transforms() const { return transforms_; }

    /// Adds routes used when the request's host name matches host_pattern
    /// (tried before the default routes, in the order they were added).
    void add_handlers(const std::string& host_pattern, std::vector<routing::URLSpec> handlers);

    std::shared_ptr<httputil::HTTPMessageDelegate> find_handler(
        std::shared_ptr<HTTPServerRequest> request) override;
    /// The _HandlerDelegate for `spec` (or for ErrorHandler when null).
    std::shared_ptr<httputil::HTTPMessageDelegate> get_handler_delegate(
        std::shared_ptr<HTTPServerRequest> request, const routing::URLSpec* spec,
        routing::PathArguments arguments);
    /// The path of the route named `name` with `args` in its groups.
    /// Throws std::out_of_range when no route has that name (Tornado's
    /// KeyError) and std::invalid_argument when it cannot be reversed.
    std::string reverse_url(const std::string& name, const std::vector<std::string>& args = {}) const;
    /// Writes the access log line for a finished request (or calls the
    /// log_function setting).
    void log_request(const RequestHandler& handler) const;

    const Settings& settings() const { return settings_; }
    /// The static_handler_class setting, or StaticFileHandler's.
    const StaticHandlerClass& static_handler_class() const { return static_handler_class_; }

    // Tornado: tornado/web.py:163 RequestHandler._template_loaders
    /// One template loader per template path, made by the first handler
    /// that renders from it. C++: Tornado keeps this dict on the
    /// RequestHandler class (one per process); here each Application has
    /// its own, so applications with different settings (tests make many)
    /// do not share loaders, and the loaders go when the Application does.
    std::map<std::string, std::shared_ptr<template_::BaseLoader>, std::less<>> _template_loaders;
    // Tornado: tornado/web.py:164 RequestHandler._template_loader_lock
    std::mutex _template_loader_lock;

  private:
    struct HostRules {
        std::optional<routing::HostMatches> host;  // none: any host
        std::vector<routing::URLSpec> specs;
    };
    /// The next route list to try for this request, from `cursor` on (start
    /// at 0; it is advanced), or null when none is left. In order: the lists
    /// of every host pattern the request's host matches, then the wildcard
    /// list, then (no X-Real-Ip header) those whose pattern matches
    /// default_host.
    const std::vector<routing::URLSpec>* _get_host_handlers(const HTTPServerRequest& request,
                                                            std::size_t& cursor) const;

    Settings settings_;
    StaticHandlerClass static_handler_class_;
    std::vector<TransformFactory> transforms_;
    std::vector<HostRules> rules_;  // host-specific first, the wildcard last
    routing::URLSpec not_found_;
};

namespace detail {

// Tornado: tornado/web.py:2066 _HandlerDelegate
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
    std::optional<std::string> body_error_;  // _parse_body's HTTPInputError
    std::shared_ptr<RequestHandler> handler_;
    Future<void> body_done_;  // streaming handlers: the body is complete
};

}  // namespace detail

}  // namespace tornado::web
