// tornado-walk serve: the demo application for real clients (curl, browsers,
// wrk), with an optional live trace.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/demo_app.h"

namespace tornado::walkthrough::cli {

namespace {

struct ServeOptions {
    std::string app_name = "demo";
    std::string address = "127.0.0.1";
    int port = 8888;
    std::string static_path = "../shared/demo-static";
    std::string trace_path;
};

int serve(const std::string& app_name, const std::string& address, int port,
              const std::string& static_path, const std::string& trace_path) {
    if (app_name != "demo") {
        throw UsageError("unknown app '" + app_name + "' (known: demo)");
    }
    if (port < 0 || port > 65535) {
        throw UsageError("port must be between 0 and 65535");
    }
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
    std::shared_ptr<trace::Sink> sink;
    if (!trace_path.empty()) {
        trace_file = trace_path == "-" ? stdout : std::fopen(trace_path.c_str(), "w");
        if (trace_file == nullptr) {
            throw UsageError("cannot write trace file " + trace_path);
        }
        sink = std::make_shared<trace::JsonlSink>(trace_file, true);
        trace::reset();
        trace::add_sink(sink);
        trace::enable(true);
    }

    {
        httpserver::HTTPServer server(
            make_demo_app({.static_path = static_path, .log_requests = true}),
            demo_server_settings(), &loop);
        std::vector<int> sockets;
        try {
            sockets = netutil::bind_sockets(port, address);
        } catch (const std::exception& e) {
            throw UsageError(std::string("cannot listen on ") + address + ":" +
                             std::to_string(port) + ": " + e.what());
        }
        int bound = netutil::bound_port(sockets.front());
        server.add_sockets(sockets);
        // The address line is the CLI's own output, shown whatever the log level.
        std::fprintf(stderr, "tornado-walk: serving the demo app on http://%s:%d/ (Ctrl-C stops)\n",
                     address.c_str(), bound);
        std::fflush(stderr);
        loop.start();
        std::fprintf(stderr, "tornado-walk: stopped\n");
    }
    loop.remove_handler(sfd);
    ::close(sfd);
    if (sink) {
        trace::enable(false);
        trace::remove_sink(sink);
        if (trace_file != stdout) {
            std::fclose(trace_file);
        }
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
        ->capture_default_str();
    serve_cmd->add_option("--static-path", o.static_path, "directory served under /static/")
        ->capture_default_str();
    serve_cmd->add_option("--trace", o.trace_path, "write the live trace as JSON Lines (- = stdout)");
    serve_cmd->callback([&status] {
        status = serve(o.app_name, o.address, o.port, o.static_path, o.trace_path);
    });
}

}  // namespace tornado::walkthrough::cli
