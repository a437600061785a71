#include "tornado/walkthrough/scenario.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "tornado/escape.h"
#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/netutil.h"
#include "tornado/walkthrough/demo_app.h"

#include "scenario_client.h"
#include "scenario_multiprocess.h"

#ifndef TORNADO_SHARED_DIR
#define TORNADO_SHARED_DIR "../shared"
#endif

namespace tornado::walkthrough {

namespace {

using detail::Client;
using detail::server_step;
using trace::Phase;

// What a script may use: the server's port, the trace recorded so far (to
// wait for a server step), and the switch that makes the server accept.
struct Env {
    int port;
    const detail::Recorder* recorder;
    std::function<void()> start_accepting;
    std::string tls_certfile;  // the tls story's certificate (its CA too)
};

using Script = Future<std::string> (*)(Env);

struct Scenario {
    ScenarioInfo info;
    Script script;
    /// Changes the demo server's settings for this story.
    void (*configure)(httpserver::HTTPServerSettings&) = nullptr;
    /// SO_SNDBUF of the listening socket (accepted sockets inherit it), 0: default.
    int server_sndbuf = 0;
    /// False: the listening socket is registered only when the script says.
    bool accept_at_start = true;
    /// True: the demo app serves a temporary static directory (StaticDir).
    bool serves_static = false;
    /// True: the demo app renders the shared demo templates (and hashes the
    /// shared static files their static_url() calls name).
    bool renders_templates = false;
    /// True: the server has ssl_options (TLSFiles) and the client speaks TLS.
    bool tls = false;
    /// Set: the story runs its own servers (several processes) instead of
    /// `script` against one demo server.
    ScenarioResult (*run)() = nullptr;
};

// The static directory of the static-file story: one small file with a
// fixed mtime, so that its Etag and Last-Modified are the same every run.
class StaticDir {
  public:
    static constexpr const char* kFile = "hello.txt";
    static constexpr const char* kContent = "Hello from a static file\n";
    static constexpr std::int64_t kMtime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT

    StaticDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tornado-walk-static.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("cannot create a temporary static directory");
        }
        path_ = pattern;
        std::string file = path_ + "/" + kFile;
        std::ofstream(file, std::ios::binary) << kContent;
        struct timespec times[2] = {{kMtime, 0}, {kMtime, 0}};
        ::utimensat(AT_FDCWD, file.c_str(), times, 0);
    }
    ~StaticDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    StaticDir(const StaticDir&) = delete;
    StaticDir& operator=(const StaticDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// The tls story's certificate: self-signed for localhost (SAN DNS:localhost,
// IP:127.0.0.1), EC P-256, valid until 2126. A fixed pair, as Tornado's own
// tornado/test/test.crt and test.key; it protects nothing.
constexpr const char* kTlsCert =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUY9FgzrvE9/UF2kvaxKuaejUxAOswCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMjA0NTMyM1oYDzIxMjYxMTA4\n"
    "MDQ1MzIzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAARrV/lNL/nRm29AJqUYXKzPHS5zKy0ZXucY2LMFavvd53Re0Okw2uNV\n"
    "MHO6eZlv3yd0oU83i/Ds6a9Jcv7+6Iano28wbTAdBgNVHQ4EFgQUROMk/RYJef2X\n"
    "q1fBoPljIj8cc2YwHwYDVR0jBBgwFoAUROMk/RYJef2Xq1fBoPljIj8cc2YwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIgbYeVpBGekYRM2XxdWRRafQkQJSu8NRwet5NpgTXRM7ECIQDW\n"
    "PyJ2WxWZw8xax8oG9fm1JRug2AIJmNRHYMEx3MitBQ==\n"
    "-----END CERTIFICATE-----\n";
constexpr const char* kTlsKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmh48fl8gP+Khuc6R\n"
    "DnyE3mM+GGYJNC2xYveHObH9vUKhRANCAARrV/lNL/nRm29AJqUYXKzPHS5zKy0Z\n"
    "XucY2LMFavvd53Re0Okw2uNVMHO6eZlv3yd0oU83i/Ds6a9Jcv7+6Ian\n"
    "-----END PRIVATE KEY-----\n";

// The tls story's PEM files in a temporary directory, removed afterwards.
class TLSFiles {
  public:
    TLSFiles() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tornado-walk-tls.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("cannot create a temporary directory for the certificate");
        }
        path_ = pattern;
        std::ofstream(certfile(), std::ios::binary) << kTlsCert;
        std::ofstream(keyfile(), std::ios::binary) << kTlsKey;
    }
    ~TLSFiles() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TLSFiles(const TLSFiles&) = delete;
    TLSFiles& operator=(const TLSFiles&) = delete;
    std::string certfile() const { return path_ + "/cert.pem"; }
    std::string keyfile() const { return path_ + "/key.pem"; }

  private:
    std::string path_;
};

std::string get(const std::string& path, const std::string& extra_headers = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

// --- the scripts -----------------------------------------------------------
// Each is sequenced only on what it has read or on server steps it has seen
// in the trace; the loop's own timers decide only where a timeout is the story.

Future<std::string> hello(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/"));
}

Future<std::string> keepalive(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    co_await client->send(get("/"));
    std::string first = co_await client->read_response();
    // Send the second request only once the server waits for it, so that it
    // arrives as a READ event and not with the first batch.
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 2));
    co_await client->send(get("/index"));
    std::string second = co_await client->read_response();
    client->close();
    co_return first + second;
}

Future<std::string> pipelined(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    // The kernel completed the handshake, but the server has not accepted
    // yet: all three requests are waiting in the socket when it does.
    co_await client->send(get("/") + get("/index") + get("/path/7/seven"));
    env.start_accepting();
    std::string answers;
    for (int i = 0; i < 3; ++i) {
        answers += co_await client->read_response();
    }
    client->close();
    co_return answers;
}

Future<std::string> slow_client(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 1));
    // Each piece is sent once the server has read the one before.
    const char* pieces[] = {"GET / HTTP/1.1\r\n", "Host: localhost\r\n", "\r\n"};
    int reads = 0;
    for (const char* piece : pieces) {
        co_await client->send(piece);
        ++reads;
        co_await detail::wait_for(env.recorder, [reads, seen = 0](const trace::Event& e) mutable {
            if (e.role != "client" && e.step == "BaseIOStream._handle_read" && e.ph == Phase::End) {
                ++seen;
            }
            return seen >= reads;
        });
    }
    std::string answer = co_await client->read_response();
    client->close();
    co_return answer;
}

Future<std::string> post_form(Env env) {
    auto client = std::make_shared<Client>();
    const std::string body = "title=Event+loops&item=read&item=write";
    co_return co_await client->fetch(env.port,
                                     "POST /args HTTP/1.1\r\nHost: localhost\r\n"
                                     "Content-Type: application/x-www-form-urlencoded\r\n"
                                     "Content-Length: " +
                                         std::to_string(body.size()) + "\r\n\r\n" + body);
}

Future<std::string> post_chunked(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port,
                                     "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n"
                                     "6\r\nchunk1\r\n6\r\nchunk2\r\n0\r\n\r\n");
}

Future<std::string> chunked_response(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/chunked"));
}

Future<std::string> partial_write(Env env) {
    // A small receive buffer: the server's socket fills up long before
    // the megabyte is out.
    auto client = std::make_shared<Client>(65536);
    co_await client->connect(env.port);
    co_await client->send(get("/big"));
    // Read nothing until the server's write has hit EAGAIN and waits for WRITE.
    co_await detail::wait_for(env.recorder, [](const trace::Event& e) {
        const trace::ArgValue* state = e.arg("state");
        return e.role != "client" && e.step == "BaseIOStream._add_io_state" &&
               e.ph == Phase::Begin && state != nullptr &&
               *state == trace::ArgValue(std::int64_t{ioloop::IOLoop::WRITE});
    });
    std::string answer = co_await client->read_response();
    client->close();
    co_return answer;
}

Future<std::string> async_handler(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/async"));
}

Future<std::string> not_found(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/no/such/page"));
}

Future<std::string> redirect(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/python/day3/iostream"));
}

Future<std::string> gzip(Env env) {
    auto client = std::make_shared<Client>();
    co_return co_await client->fetch(env.port, get("/big", "Accept-Encoding: gzip\r\n"));
}

Future<std::string> expect_continue(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    co_await client->send(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
        "Expect: 100-continue\r\n\r\n");
    // The body goes out only after the interim answer.
    std::string interim = co_await client->read_response();
    co_await client->send("hello world");
    std::string answer = co_await client->read_response();
    client->close();
    co_return interim + answer;
}

Future<std::string> header_timeout(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    // The blank line that ends the head never comes.
    co_await client->send("GET / HTTP/1.1\r\nHost: localhost\r\n");
    std::string answer = co_await client->read_until_close();
    client->close();
    co_return answer;
}

Future<std::string> malformed(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    co_await client->send("HELLO-SERVER\r\nHost: localhost\r\n\r\n");
    std::string answer = co_await client->read_until_close();
    client->close();
    co_return answer;
}

Future<std::string> two_clients(Env env) {
    auto first = std::make_shared<Client>();
    auto second = std::make_shared<Client>();
    // Both start before either waits: the loop serves them turn by turn.
    Future<std::string> a = first->fetch(env.port, get("/chunked"));
    Future<std::string> b = second->fetch(env.port, get("/"));
    std::string answer_a = co_await a;
    std::string answer_b = co_await b;
    co_return answer_a + answer_b;
}

// The value of header `name` in a response head ("" when absent).
std::string header_value(const std::string& head, const std::string& name) {
    std::size_t at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) {
        return "";
    }
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
}

Future<std::string> static_file(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    const std::string path = std::string("/static/") + StaticDir::kFile;
    co_await client->send(get(path));
    std::string first = co_await client->read_response();
    // The browser revalidates its copy with the Etag it was given: 304.
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 2));
    co_await client->send(get(path, "If-None-Match: " + header_value(first, "Etag") + "\r\n"));
    std::string second = co_await client->read_response();
    // Then asks for the first five bytes only: 206.
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 3));
    co_await client->send(get(path, "Range: bytes=0-4\r\n"));
    std::string third = co_await client->read_response();
    client->close();
    co_return first + second + third;
}

// The hidden `_xsrf` field of a page, as a browser submits it ("" when absent).
std::string xsrf_field(const std::string& page) {
    const std::string marker = "name=\"_xsrf\" value=\"";
    std::size_t at = page.find(marker);
    if (at == std::string::npos) {
        return "";
    }
    at += marker.size();
    // A token has only hex digits, digits and '|': nothing xhtml_escape changes.
    return page.substr(at, page.find('"', at) - at);
}

// The cookie a response sets, as a browser sends it back: "name=value".
std::string cookie_pair(const std::string& head) {
    std::string set = header_value(head, "Set-Cookie");
    return set.substr(0, set.find(';'));
}

std::string form_post(const std::string& path, const std::string& body,
                      const std::string& extra_headers) {
    return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers +
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

Future<std::string> xsrf_form(Env env) {
    auto client = std::make_shared<Client>();
    co_await client->connect(env.port);
    co_await client->send(get("/form?name=Ada"));
    std::string page = co_await client->read_response();
    // What the browser keeps from the page: the token of the hidden field,
    // and the cookie xsrf_form_html() set with it.
    std::string token = xsrf_field(page);
    std::string cookie = cookie_pair(page);
    if (token.empty() || !cookie.starts_with("_xsrf=")) {
        throw std::runtime_error("xsrf-form: the form page carries no _xsrf field and cookie");
    }
    // The user submits the form: the field in the body, the cookie in the head.
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 2));
    co_await client->send(form_post("/form",
                                    "_xsrf=" + escape::url_escape(token) + "&title=Event+loops",
                                    "Cookie: " + cookie + "\r\n"));
    std::string done = co_await client->read_response();
    // A forged post from another site: the browser adds the cookie, but that
    // site could not read the page, so the body has no token: 403.
    co_await detail::wait_for(env.recorder,
                              server_step("HTTP1Connection._read_message", Phase::Suspend, 3));
    co_await client->send(form_post("/form", "title=Forged", "Cookie: " + cookie + "\r\n"));
    std::string refused = co_await client->read_response();
    client->close();
    co_return page + done + refused;
}

Future<std::string> tls(Env env) {
    auto client = std::make_shared<Client>();
    // The client checks the server against the certificate itself as its
    // CA, and its name; TLS 1.3 is pinned so the handshake's steps are the
    // same with any OpenSSL default.
    netutil::SSLOptions ssl;
    ssl.ca_certs = env.tls_certfile;
    ssl.cert_reqs = netutil::CertReqs::required;
    ssl.max_version = "1.3";
    client->use_tls(netutil::ssl_options_to_context(ssl), "localhost");
    co_return co_await client->fetch(env.port, get("/"));
}

const std::vector<Scenario>& scenarios() {
    static const std::vector<Scenario> all = {
        {{"hello", "one GET / over a new connection: accept, read, route, handle, write, close"},
         hello},
        {{"keepalive",
          "two GETs on one connection, the second sent after the first answer: READ "
          "registered in between, _handle_events -> _handle_read resumes _read_message"},
         keepalive},
        {{"pipelined",
          "three GETs in one send before the server accepts: all served from the buffer by "
          "_try_inline_read before READ is registered"},
         pipelined,
         nullptr,
         0,
         false},
        {{"slow-client",
          "a request head arriving in three sends: read_until_regex waits across READ events"},
         slow_client},
        {{"post-form",
          "an urlencoded POST /args: _read_fixed_body reads the body, parse_body_arguments "
          "fills body_arguments"},
         post_form},
        {{"post-chunked",
          "a chunked POST /echo: _read_chunked_body reads the chunks, the handler echoes them"},
         post_chunked},
        {{"chunked-response",
          "GET /chunked: flush twice, then finish; no Content-Length, so _format_chunk frames "
          "every part (chunked transfer encoding)"},
         chunked_response},
        {{"partial-write",
          "GET /big to a client with a small receive buffer: _handle_write hits EAGAIN, "
          "_add_io_state(WRITE), later _handle_events -> _handle_write sends the rest"},
         partial_write,
         nullptr,
         32768},
        {{"async-handler",
          "GET /async: the handler returns, the IOLoop timeout fires 50 ms later and finish "
          "runs from it"},
         async_handler},
        {{"not-found", "GET of an unknown path: ErrorHandler raises 404, send_error writes it"},
         not_found},
        {{"redirect",
          "the notes' /python/<day>/<title> route: RedirectHandler answers 301 to /index"},
         redirect},
        {{"gzip",
          "GET /big with Accept-Encoding: gzip: GZipContentEncoding.transform_first_chunk "
          "compresses the megabyte"},
         gzip},
        {{"expect-continue",
          "POST with Expect: 100-continue: the interim answer goes out before the client "
          "sends the body"},
         expect_continue},
        {{"header-timeout",
          "a head that never ends: gen.with_timeout fires after 0.2 s and the server closes"},
         header_timeout,
         [](httpserver::HTTPServerSettings& s) { s.idle_connection_timeout = 0.2; }},
        {{"malformed", "a bad request line: 400 Bad Request, then the server closes"}, malformed},
        {{"two-clients",
          "two connections on one IOLoop: the loop switches between them at each suspend"},
         two_clients},
        {{"static-file",
          "GET /static/hello.txt three times on one connection: StaticFileHandler sends it "
          "with an Etag, answers 304 to If-None-Match, then 206 to Range: bytes=0-4"},
         static_file,
         nullptr,
         0,
         true,
         true},
        {{"xsrf-form",
          "GET /form renders form.html (Loader, Template.generate), xsrf_form_html sets the "
          "_xsrf cookie; the POST with field and cookie passes check_xsrf_cookie and renders "
          "done.html, a POST without the field gets 403"},
         xsrf_form,
         nullptr,
         0,
         true,
         false,
         true},
        // TLS: a separate entry (tls = true).
        {{"tls",
          "one GET / over TLS: TCPServer wraps the connection in an SSLIOStream, "
          "_do_ssl_handshake runs from _handle_read/_handle_write until done, then the same "
          "read/route/write over SSL_read/SSL_write"},
         tls,
         nullptr,
         0,
         true,
         false,
         false,
         true},
        {{"multiprocess",
          "two forked processes accept on one socket: each connection wakes both pollers, one "
          "wins the accept, the other's netutil.accept_handler gets EWOULDBLOCK (task 0 wins "
          "the first, task 1 the second)"},
         nullptr,
         nullptr,
         0,
         true,
         false,
         false,
         false,
         detail::run_multiprocess},
    };
    return all;
}

// The script, then the server's last steps; recording starts inside the loop
// and stops before run_sync removes its own timeout, so that the trace
// holds the story only.
Future<std::string> run_script(const Scenario* scenario, Env env,
                               const httpserver::HTTPServer* server) {
    trace::enable(true);
    std::string answer = co_await scenario->script(std::move(env));
    co_await detail::drain([server] { return server->connection_count(); });
    trace::enable(false);
    co_return answer;
}

// `given`, or the shared folder's `sub` of this build, as an absolute path;
// throws std::invalid_argument naming it when it is not a directory (or
// lacks the file `must_hold`).
std::string shared_directory(const std::string& given, const char* sub, const char* what,
                             const char* option, std::string_view scenario,
                             const char* must_hold = nullptr) {
    std::filesystem::path path = given.empty() ? std::filesystem::path(TORNADO_SHARED_DIR) / sub
                                               : std::filesystem::path(given);
    path = std::filesystem::absolute(path).lexically_normal();
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
        throw std::invalid_argument("scenario " + std::string(scenario) + " needs the demo's " +
                                    what + ", but " + path.string() + " is not a directory (give " +
                                    option + " DIR)");
    }
    if (must_hold != nullptr && !std::filesystem::is_regular_file(path / must_hold, ec)) {
        throw std::invalid_argument("scenario " + std::string(scenario) + " needs the demo's " +
                                    what + ", but " + path.string() + " has no " + must_hold +
                                    " (give " + option + " DIR)");
    }
    return path.string();
}

// Runs `scenario` against a fresh demo server, recording the trace.
ScenarioResult run_traced(const Scenario& scenario, const ScenarioOptions& options) {
    DemoOptions demo{.static_path = "", .log_requests = false};
    if (scenario.renders_templates) {
        demo.template_path = shared_directory(options.template_path, "demo-templates", "templates",
                                              "--template-path", scenario.info.name, "form.html");
        demo.static_path = shared_directory(options.static_path, "demo-static", "static files",
                                            "--static-path", scenario.info.name);
    }
    trace::reset();
    auto recorder = std::make_shared<detail::Recorder>();
    ioloop::IOLoop loop;
    ScenarioResult result;
    {
        httpserver::HTTPServerSettings settings = demo_server_settings();
        if (scenario.configure != nullptr) {
            scenario.configure(settings);
        }
        std::unique_ptr<StaticDir> static_dir;
        if (scenario.serves_static) {
            static_dir = std::make_unique<StaticDir>();
            demo.static_path = static_dir->path();
        }
        std::unique_ptr<TLSFiles> tls_files;
        if (scenario.tls) {
            tls_files = std::make_unique<TLSFiles>();
            settings.ssl_options = netutil::SSLOptions{};
            settings.ssl_options->certfile = tls_files->certfile();
            settings.ssl_options->keyfile = tls_files->keyfile();
            settings.ssl_options->max_version = "1.3";
        }
        httpserver::HTTPServer server(make_demo_app(demo), settings, &loop);
        std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
        for (int fd : sockets) {
            if (scenario.server_sndbuf > 0) {
                ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &scenario.server_sndbuf,
                             sizeof scenario.server_sndbuf);
            }
        }
        int port = netutil::bound_port(sockets.front());
        bool accepting = false;
        auto start_accepting = [&]() {
            if (!accepting) {
                accepting = true;
                server.add_sockets(sockets);
            }
        };
        if (scenario.accept_at_start) {
            start_accepting();
        }

        trace::add_sink(recorder);
        Env env{port, recorder.get(), start_accepting,
                tls_files ? tls_files->certfile() : std::string()};
        try {
            result.response =
                loop.run_sync([&] { return run_script(&scenario, env, &server); }, 10.0);
        } catch (...) {
            trace::enable(false);
            trace::remove_sink(recorder);
            throw;
        }
        trace::enable(false);
        trace::remove_sink(recorder);
        if (!accepting) {
            for (int fd : sockets) {
                ::close(fd);
            }
        }
    }
    result.events = recorder->take();
    return result;
}

}  // namespace

const std::vector<ScenarioInfo>& list_scenarios() {
    static const std::vector<ScenarioInfo> infos = [] {
        std::vector<ScenarioInfo> out;
        for (const Scenario& s : scenarios()) {
            out.push_back(s.info);
        }
        return out;
    }();
    return infos;
}

ScenarioResult run_scenario(std::string_view name, const ScenarioOptions& options) {
    for (const Scenario& s : scenarios()) {
        if (s.info.name == name) {
            return s.run != nullptr ? s.run() : run_traced(s, options);
        }
    }
    std::string known;
    for (const auto& s : list_scenarios()) {
        known += (known.empty() ? "" : ", ") + s.name;
    }
    throw std::invalid_argument("unknown scenario '" + std::string(name) + "' (known: " + known +
                                ")");
}

}  // namespace tornado::walkthrough
