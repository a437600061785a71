// tornado-walk serve: the demo application for real clients (curl, browsers,
// wrk), with an optional live trace, and --step to pause the server at each
// event of a request until a key is pressed.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/process.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/demo_app.h"
#include "tornado/walkthrough/event_line.h"

#include "cli.h"
#include "cli_record.h"

// serve --ui shows C++ excerpts from this tree (the build's).
#ifndef TORNADO_SOURCE_DIR
#define TORNADO_SOURCE_DIR ""
#endif

namespace tornado::walkthrough::cli {

namespace {

struct ServeOptions {
    std::string app_name = "demo";
    std::string address = "127.0.0.1";
    int port = 8888;
    std::string static_path = "../shared/demo-static";
    std::string template_path = "../shared/demo-templates";
    bool template_path_given = false;
    bool debug = false;
    bool autoreload = false;
    std::string trace_path;
    std::string trace_format;  // "text" or "jsonl"; "" = text on stdout, jsonl in a file
    bool step = false;
    // The flight recorder (issue 9): --record N, --admin PORT.
    std::size_t record = 0;
    int admin_port = -1;
    bool ui = false;  // --ui: the admin address also serves the viewer (issue 10)
    // TLS (--tls --certfile F --keyfile F)
    bool tls = false;
    std::string certfile;
    std::string keyfile;
    // ---- scale-out (tornado issue 8) ----
    int processes = 1;
    bool reuse_port = false;
    std::string unix_path;
    bool port_given = false;
    // ---- end of scale-out ----
};

// ---- scale-out (tornado issue 8) ----

// The options --processes, --reuse-port and --unix may not be combined
// with; throws UsageError naming the option.
void check_scale_out(const ServeOptions& o) {
    if (o.processes < 0) {
        throw UsageError("--processes must be 0 (one per CPU) or more, not " +
                         std::to_string(o.processes));
    }
    if (o.processes != 1 && (o.debug || o.autoreload)) {
        // As Tornado's docs say: autoreload re-executes one process.
        throw UsageError("--processes cannot be used with --debug or --autoreload");
    }
    if (o.processes != 1 && o.step) {
        throw UsageError("--processes cannot be used with --step (one keyboard, several servers)");
    }
    if (!o.unix_path.empty() && o.reuse_port) {
        throw UsageError("--reuse-port is for TCP ports; it cannot be used with --unix");
    }
    if (!o.unix_path.empty() && o.port_given) {
        throw UsageError("--unix listens on a socket file instead of --port; give one of them");
    }
}

// The listening sockets serve binds before it forks (all of them, unless
// each process binds its own with --reuse-port after the fork).
std::vector<int> bind_listeners(const ServeOptions& o, int port) {
    try {
        if (!o.unix_path.empty()) {
            return {netutil::bind_unix_socket(o.unix_path)};
        }
        return netutil::bind_sockets(port, o.address, AF_UNSPEC, netutil::detail::DEFAULT_BACKLOG,
                                     o.reuse_port);
    } catch (const std::exception& e) {
        throw UsageError(
            std::string("cannot listen on ") +
            (o.unix_path.empty() ? o.address + ":" + std::to_string(port) : o.unix_path) + ": " +
            e.what());
    }
}

// ---- end of scale-out ----

// Puts a terminal into cbreak mode (keys arrive one at a time, unechoed)
// for as long as it lives; does nothing when the fd is not a terminal.
class CbreakMode {
  public:
    explicit CbreakMode(int fd) : fd_(fd) {
        if (::isatty(fd_) == 0 || ::tcgetattr(fd_, &saved_) != 0) {
            return;
        }
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
    }
    ~CbreakMode() {
        if (active_) {
            ::tcsetattr(fd_, TCSANOW, &saved_);
        }
    }
    CbreakMode(const CbreakMode&) = delete;
    CbreakMode& operator=(const CbreakMode&) = delete;

  private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

// serve --step: a live subscriber that prints each event of a request and
// holds the IOLoop inside the emit point until a key arrives, so a real
// client waits while a person looks. Everything runs on the loop's thread:
// blocking here is what pauses the server.
class LiveStepper {
  public:
    LiveStepper(int key_fd, int signal_fd) : key_fd_(key_fd), signal_fd_(signal_fd) {}

    void on_event(const trace::Event& e) {
        if (e.obj.starts_with("IOLoop")) {
            // The loop's own bookkeeping is not part of a request.
            return;
        }
        std::fprintf(stdout, "%s\n", event_line(e).c_str());
        std::fflush(stdout);
        if (free_running_) {
            return;
        }
        wait_for_key();
    }

  private:
    void wait_for_key() {
        pollfd fds[2] = {{key_fd_, POLLIN, 0}, {signal_fd_, POLLIN, 0}};
        while (true) {
            int n = ::poll(fds, 2, -1);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                free_running_ = true;
                return;
            }
            if ((fds[1].revents & POLLIN) != 0) {
                // Ctrl-C or SIGTERM while paused: run on, and let the loop's
                // signalfd handler (which has not read it) stop the server.
                free_running_ = true;
                return;
            }
            if (fds[0].revents != 0) {
                break;
            }
        }
        std::string command = read_command();
        if (command == "q" || command == "\x04") {
            free_running_ = true;
            std::fprintf(stderr, "tornado-walk: stepping off, the server runs freely\n");
        }
    }

    // A key on a terminal; a line from a pipe (its first word). End of input
    // reads as "q": nobody is left to press keys.
    std::string read_command() {
        if (::isatty(key_fd_) != 0) {
            char c = 0;
            if (::read(key_fd_, &c, 1) != 1) {
                return "q";
            }
            return std::string(1, c);
        }
        std::string line;
        char c = 0;
        while (true) {
            ssize_t r = ::read(key_fd_, &c, 1);
            if (r != 1) {
                return line.empty() ? "q" : line;
            }
            if (c == '\n') {
                return line;
            }
            line += c;
        }
    }

    int key_fd_;
    int signal_fd_;
    bool free_running_ = false;
};

// The ssl_options of --tls, checked before anything starts: each file must
// be readable and hold what it should (a bad one is a usage error that
// names the option, not a failure at the first connection).
std::optional<netutil::SSLOptions> tls_options(const ServeOptions& o) {
    if (!o.tls) {
        if (!o.certfile.empty() || !o.keyfile.empty()) {
            throw UsageError(std::string(o.certfile.empty() ? "--keyfile" : "--certfile") +
                             " needs --tls");
        }
        return std::nullopt;
    }
    if (o.certfile.empty() || o.keyfile.empty()) {
        throw UsageError(std::string("--tls needs ") +
                         (o.certfile.empty() ? "--certfile" : "--keyfile") + " FILE");
    }
    auto check_readable = [](const char* option, const std::string& file) {
        if (::access(file.c_str(), R_OK) != 0 || std::filesystem::is_directory(file)) {
            throw UsageError(std::string(option) + ": cannot read '" + file + "'");
        }
    };
    check_readable("--certfile", o.certfile);
    check_readable("--keyfile", o.keyfile);
    netutil::SSLOptions ssl;
    ssl.certfile = o.certfile;
    ssl.keyfile = o.keyfile;
    try {
        netutil::ssl_options_to_context(ssl);
    } catch (const std::invalid_argument& e) {
        // e.what() starts with the option's name ("certfile ...", "keyfile ...").
        throw UsageError(std::string("--") + e.what());
    }
    return ssl;
}

int serve(const ServeOptions& o) {
    const std::string& app_name = o.app_name;
    const std::string& address = o.address;
    const int port = o.port;
    const std::string& static_path = o.static_path;
    const std::string& trace_path = o.trace_path;
    if (!o.trace_format.empty() && o.trace_format != "text" && o.trace_format != "jsonl") {
        throw UsageError("--trace-format: unknown value '" + o.trace_format +
                         "' (known: text, jsonl)");
    }
    if (!o.trace_format.empty() && trace_path.empty()) {
        throw UsageError("--trace-format needs --trace");
    }
    if (o.step && trace_path == "-") {
        throw UsageError("--step prints the events itself; use --trace FILE or no --trace");
    }
    if (o.admin_port >= 0 && o.record == 0) {
        throw UsageError("--admin serves the flight recorder: give --record N too");
    }
    if (o.admin_port > 65535) {
        throw UsageError("--admin: port must be between 0 and 65535");
    }
    if (o.ui && o.admin_port < 0) {
        throw UsageError(
            "--ui serves the viewer on the admin address: give --admin PORT (and --record N) too");
    }
    if (o.admin_port >= 0 && o.processes != 1) {
        throw UsageError("--admin cannot be used with --processes (one admin port per process)");
    }
    if (o.template_path_given && !std::filesystem::is_directory(o.template_path)) {
        throw UsageError("--template-path: '" + o.template_path + "' is not a directory");
    }
    // Templates are found by absolute path, whatever directory a handler runs in.
    std::string template_path = std::filesystem::absolute(o.template_path).lexically_normal();
    if (app_name != "demo") {
        throw UsageError("unknown app '" + app_name + "' (known: demo)");
    }
    if (port < 0 || port > 65535) {
        throw UsageError("port must be between 0 and 65535");
    }
    const std::optional<netutil::SSLOptions> ssl = tls_options(o);

    // ---- scale-out (tornado issue 8) ----
    // As TCPServer.bind + start(n): the sockets are bound here, before the
    // fork, and every child accepts on its inherited copies (the kernel
    // wakes one of the processes waiting on a socket for each connection).
    // With --reuse-port each process binds its own socket after the fork
    // instead, and the kernel spreads connections over them by a hash of the
    // client's address. No IOLoop may exist before the fork (the children
    // would share its epoll instance): the loop is made below, in each.
    check_scale_out(o);
    const bool several = o.processes != 1;
    std::vector<int> sockets;
    int listen_port = port;
    if (several && o.reuse_port) {
        if (port == 0) {
            // Each child binding port 0 would get its own port: take one
            // here. C++: the probe is closed before the fork (a listening
            // socket the supervisor never accepts on would take its share
            // of connections), so another program could take the port
            // in between; give --port to avoid that window.
            std::vector<int> probe = bind_listeners(o, 0);
            listen_port = netutil::bound_port(probe.front());
            for (int s : probe) {
                ::close(s);
            }
        }
    } else {
        sockets = bind_listeners(o, port);
    }
    std::optional<int> task;
    if (several) {
        pid_t supervisor = ::getpid();
        task = process::fork_processes(o.processes);
        // A supervisor killed outright (SIGKILL) cannot pass its stop on:
        // then the kernel sends it (or it has already died).
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != supervisor) {
            return 0;
        }
        if (o.reuse_port) {
            sockets = bind_listeners(o, listen_port);
        }
    }
    // ---- end of scale-out ----

    ioloop::IOLoop loop;

    // SIGINT and SIGTERM stop the loop cleanly: they arrive on a signalfd
    // that the loop watches like any other fd.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        throw std::runtime_error("signalfd failed");
    }
    loop.add_handler(
        sfd,
        [&loop](int fd, std::uint32_t) {
            signalfd_siginfo info{};
            while (::read(fd, &info, sizeof info) > 0) {
            }
            loop.stop();
        },
        ioloop::IOLoop::READ);

    std::FILE* trace_file = nullptr;
    std::vector<std::shared_ptr<trace::Sink>> sinks;
    // The flight recorder: kept for --record, and the ring --trace FILE
    // streams from. Events per request: a keep-alive GET / takes 52, one
    // on a new connection about 75, a request with a body or a static file
    // more; a small N gets room for 4096 events (1 MiB), so that the last N
    // are always whole.
    constexpr std::size_t kRecordPerRequest = 64;
    constexpr std::size_t kRecordAtLeast = 4096;
    constexpr std::size_t kStreamRing = std::size_t{1} << 16;
    bool stream_jsonl = false;
    if (!trace_path.empty()) {
        // ---- scale-out: each process writes its own FILE.<task id> ----
        std::string file_path = trace_path;
        if (task && trace_path != "-") {
            file_path += "." + std::to_string(*task);
        }
        trace_file = trace_path == "-" ? stdout : std::fopen(file_path.c_str(), "w");
        if (trace_file == nullptr) {
            throw UsageError("cannot write trace file " + file_path);
        }
        bool text = o.trace_format == "text" || (o.trace_format.empty() && trace_path == "-");
        if (text) {
            sinks.push_back(
                std::make_shared<trace::SubscriberSink>([trace_file](const trace::Event& e) {
                    std::fprintf(trace_file, "%s\n", event_line(e).c_str());
                    std::fflush(trace_file);
                }));
        } else {
            // C++: Tornado has no tracing. Formatted at the end of each loop
            // iteration from the recorder's ring, not per event.
            stream_jsonl = true;
        }
    }
    std::unique_ptr<trace::Recorder> recorder;
    if (o.record > 0 || stream_jsonl) {
        recorder = std::make_unique<trace::Recorder>(std::max(
            {o.record * kRecordPerRequest, kRecordAtLeast, stream_jsonl ? kStreamRing : 0}));
    }
    std::unique_ptr<TraceStreamer> streamer;
    // Re-queued at the end of every iteration, for as long as serve runs.
    std::function<void()> stream_out;
    if (stream_jsonl) {
        streamer = std::make_unique<TraceStreamer>(*recorder, trace_file);
        stream_out = [&] {
            streamer->write_out();
            loop.add_before_poll([&stream_out] { stream_out(); });
        };
        loop.add_before_poll([&stream_out] { stream_out(); });
    }
    std::unique_ptr<CbreakMode> cbreak;
    std::shared_ptr<LiveStepper> stepper;
    if (o.step) {
        cbreak = std::make_unique<CbreakMode>(STDIN_FILENO);
        stepper = std::make_shared<LiveStepper>(STDIN_FILENO, sfd);
        sinks.push_back(std::make_shared<trace::SubscriberSink>(
            [stepper](const trace::Event& e) { stepper->on_event(e); }));
        std::fprintf(stderr,
                     "tornado-walk: stepping: each event waits for a key "
                     "(Enter, space or n: next; q: run freely)\n");
    }
    if (!sinks.empty() || recorder) {
        trace::reset();
        for (const auto& sink : sinks) {
            trace::add_sink(sink);
        }
        if (recorder) {
            trace::set_recorder(recorder.get());
        }
        trace::enable(true);
    }
    std::unique_ptr<AdminEndpoint> admin;
    if (o.admin_port >= 0) {
        admin = std::make_unique<AdminEndpoint>(loop, *recorder, o.record, o.admin_port,
                                                std::string(TORNADO_SOURCE_DIR), o.ui);
        std::fprintf(stderr,
                     "tornado-walk: flight recorder of the last %zu requests on "
                     "http://127.0.0.1:%d/record.jsonl (tornado-walk dump %d)\n",
                     o.record, admin->port(), admin->port());
        if (o.ui) {
            std::fprintf(stderr,
                         "tornado-walk: the viewer of the last requests on http://127.0.0.1:%d/\n",
                         admin->port());
        }
    }

    {
        httpserver::HTTPServer server(
            make_demo_app({.static_path = static_path,
                           .template_path = template_path,
                           .log_requests = true,
                           .debug = o.debug,
                           .autoreload = o.autoreload}),
            [&ssl] {
                httpserver::HTTPServerSettings settings = demo_server_settings();
                settings.ssl_options = ssl;
                // Real clients: pipelined answers leave in batches.
                settings.batch_pipelined_writes = true;
                return settings;
            }(),
            &loop);
        int bound = o.unix_path.empty() ? netutil::bound_port(sockets.front()) : 0;
        server.add_sockets(sockets);
        // The address line is the CLI's own output, shown whatever the log
        // level; with several processes each names itself.
        std::string where = o.unix_path.empty() ? std::string(ssl ? "https" : "http") + "://" +
                                                      address + ":" + std::to_string(bound) + "/"
                                                : "unix:" + o.unix_path;
        std::string who = task ? " in process " + std::to_string(*task) + " (pid " +
                                     std::to_string(::getpid()) + ")"
                               : "";
        std::fprintf(stderr, "tornado-walk: serving the demo app on %s%s (Ctrl-C stops)\n",
                     where.c_str(), who.c_str());
        std::fflush(stderr);
        loop.start();
        // Stop as Tornado's docs advise: no new connections, then close the
        // open ones and let their coroutines unwind on the loop, so nothing
        // is left suspended (and unfreed) when the process exits.
        server.stop();
        try {
            loop.run_sync([&server] { return server.close_all_connections(); }, 5.0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tornado-walk: closing connections: %s\n", e.what());
        }
        std::fprintf(stderr, "tornado-walk: stopped\n");
    }
    admin.reset();
    loop.remove_handler(sfd);
    ::close(sfd);
    if (!sinks.empty() || recorder) {
        trace::enable(false);
        for (const auto& sink : sinks) {
            trace::remove_sink(sink);
        }
        trace::set_recorder(nullptr);
        if (streamer) {
            streamer->write_out();  // the shutdown's events
        }
    }
    if (trace_file != nullptr && trace_file != stdout) {
        std::fclose(trace_file);
    }
    return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& status) {
    static ServeOptions o;
    auto* serve_cmd = app.add_subcommand("serve", "serve an application to real clients");
    serve_cmd->add_option("--app", o.app_name, "application (demo)")->capture_default_str();
    serve_cmd->add_option("--address", o.address, "address to listen on")->capture_default_str();
    serve_cmd->add_option("--port", o.port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->each([](const std::string&) { o.port_given = true; });
    serve_cmd->add_option("--static-path", o.static_path, "directory served under /static/")
        ->capture_default_str();
    serve_cmd->add_option("--template-path", o.template_path,
                          "directory of the templates render() loads")
        ->capture_default_str()
        ->each([](const std::string&) { o.template_path_given = true; });
    serve_cmd->add_flag("--debug", o.debug,
                        "Tornado's debug mode: autoreload, tracebacks on error pages, templates "
                        "and static hashes read again on each request");
    serve_cmd->add_flag("--autoreload", o.autoreload,
                        "re-execute serve when its program changes on disk");
    serve_cmd->add_option("--trace", o.trace_path,
                          "write the live trace to FILE (JSON Lines), or - for one readable line "
                          "per event on standard output");
    serve_cmd->add_option("--trace-format", o.trace_format,
                          "text or jsonl (default: text for -, jsonl for a file)");
    serve_cmd
        ->add_option("--record", o.record,
                     "keep the events of the last N requests in a flight recorder (a ring "
                     "of binary records, cheap enough to leave on); see --admin")
        ->check(CLI::PositiveNumber);
    serve_cmd
        ->add_option("--admin", o.admin_port,
                     "answer GET /record.jsonl on 127.0.0.1:PORT with the flight recorder "
                     "(0: any free port); tornado-walk dump PORT fetches it")
        ->check(CLI::NonNegativeNumber);
    serve_cmd->add_flag("--ui", o.ui,
                        "also serve the browser viewer of the flight recorder's last requests "
                        "on the --admin address (GET /), reloading as requests arrive");
    serve_cmd->add_flag("--step", o.step,
                        "pause at each event until a key is pressed (q: run freely)");
    serve_cmd->add_flag("--tls", o.tls, "serve HTTPS (needs --certfile and --keyfile)");
    serve_cmd->add_option("--certfile", o.certfile, "PEM certificate chain for --tls");
    serve_cmd->add_option("--keyfile", o.keyfile, "PEM private key for --tls");
    // ---- scale-out (tornado issue 8) ----
    serve_cmd
        ->add_option("--processes", o.processes,
                     "pre-forked server processes sharing the listening sockets (as "
                     "TCPServer.bind + start(N); 0: one per CPU). The parent restarts a "
                     "child that dies and passes SIGINT/SIGTERM on to all; with --trace FILE "
                     "each process writes FILE.<task id>")
        ->capture_default_str();
    serve_cmd->add_flag("--reuse-port", o.reuse_port,
                        "bind with SO_REUSEPORT; with --processes each process binds its own "
                        "socket after the fork and the kernel spreads the connections");
    serve_cmd->add_option("--unix", o.unix_path,
                          "listen on a Unix socket at PATH (mode 0600; a stale socket file is "
                          "replaced) instead of --address/--port");
    // ---- end of scale-out ----
    add_poller_option(serve_cmd);
    serve_cmd->callback([&status] { status = serve(o); });
}

}  // namespace tornado::walkthrough::cli
