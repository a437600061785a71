// tornado-walk: run a traced request through the stack and draw it, serve
// the demo application, or render a saved trace.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/demo_app.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"

namespace {

using namespace tornado;

// A problem the user can fix: printed as "tornado-walk: error: ...", exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void write_output(const std::string& text, const std::string& path) {
    if (path.empty() || path == "-") {
        std::cout << text;
        std::cout.flush();
        return;
    }
    std::ofstream out(path, std::ios::binary);
    if (!out) {
        throw UsageError("cannot write " + path);
    }
    out << text;
}

int cmd_run(const std::string& scenario, const std::string& format_name, const std::string& output,
            bool no_returns, bool no_loop) {
    walkthrough::Format format = walkthrough::parse_format(format_name);
    walkthrough::ScenarioResult result = walkthrough::run_scenario(scenario);
    walkthrough::RenderOptions options;
    options.show_returns = !no_returns;
    options.show_loop_events = !no_loop;
    write_output(walkthrough::render(result.events, format, options), output);
    return 0;
}

int cmd_render(const std::string& file, const std::string& format_name, const std::string& output,
               bool no_returns, bool no_loop) {
    walkthrough::Format format = walkthrough::parse_format(format_name);
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw UsageError("cannot read trace file " + file);
    }
    std::vector<trace::Event> events;
    try {
        events = walkthrough::read_jsonl(in);
    } catch (const std::exception& e) {
        throw UsageError(file + ": " + e.what());
    }
    walkthrough::RenderOptions options;
    options.show_returns = !no_returns;
    options.show_loop_events = !no_loop;
    write_output(walkthrough::render(events, format, options), output);
    return 0;
}

int cmd_serve(const std::string& app_name, const std::string& address, int port,
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
            walkthrough::make_demo_app({.static_path = static_path, .log_requests = true}),
            walkthrough::demo_server_settings(), &loop);
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

// The options `run` and `render` share: how to draw the trace.
void add_render_options(CLI::App* cmd, std::string& format, std::string& output, bool& no_returns,
                        bool& no_loop) {
    cmd->add_option("-f,--format", format, "ascii, mermaid, plantuml, chain or jsonl")
        ->capture_default_str();
    cmd->add_option("-o,--output", output, "write to FILE instead of standard output");
    cmd->add_flag("--no-returns", no_returns, "leave out return arrows");
    cmd->add_flag("--no-loop", no_loop, "leave out the IOLoop's own events");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tornado-walk: watch one HTTP request travel through an event-driven server"};
    app.require_subcommand(1);

    std::string format = "ascii";
    std::string output;
    bool no_returns = false;
    bool no_loop = false;

    std::string scenario;
    auto* run = app.add_subcommand("run", "run a scenario on loopback and draw its trace");
    run->add_option("scenario", scenario, "scenario name (see `list`)")->required();
    add_render_options(run, format, output, no_returns, no_loop);

    std::string trace_file;
    auto* render = app.add_subcommand("render", "draw a saved JSON Lines trace");
    render->add_option("file", trace_file, "trace file (JSON Lines)")->required();
    add_render_options(render, format, output, no_returns, no_loop);

    std::string app_name = "demo";
    std::string address = "127.0.0.1";
    int port = 8888;
    std::string static_path = "../shared/demo-static";
    std::string serve_trace;
    auto* serve = app.add_subcommand("serve", "serve an application to real clients");
    serve->add_option("--app", app_name, "application (demo)")->capture_default_str();
    serve->add_option("--address", address, "address to listen on")->capture_default_str();
    serve->add_option("--port", port, "port to listen on (0: any free port)")
        ->capture_default_str();
    serve->add_option("--static-path", static_path, "directory served under /static/")
        ->capture_default_str();
    serve->add_option("--trace", serve_trace, "write the live trace as JSON Lines (- = stdout)");

    auto* list = app.add_subcommand("list", "list the scenarios");

    CLI11_PARSE(app, argc, argv);

    try {
        if (run->parsed()) {
            return cmd_run(scenario, format, output, no_returns, no_loop);
        }
        if (render->parsed()) {
            return cmd_render(trace_file, format, output, no_returns, no_loop);
        }
        if (serve->parsed()) {
            return cmd_serve(app_name, address, port, static_path, serve_trace);
        }
        if (list->parsed()) {
            for (const auto& s : walkthrough::list_scenarios()) {
                std::cout << s.name << "\t" << s.summary << "\n";
            }
            return 0;
        }
    } catch (const UsageError& e) {
        std::cerr << "tornado-walk: error: " << e.what() << "\n";
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "tornado-walk: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "tornado-walk: failed: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
