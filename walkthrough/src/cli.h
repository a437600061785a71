// tornado-walk's subcommands, one file pair each (cli_run.cc: run, render and
// list; cli_serve.cc: serve; cli_step.cc: step and explain; cli_view.cc:
// view; cli_record.cc: dump). main.cc registers them and turns errors into
// exit statuses.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tornado/walkthrough/scenario.h"
#include "tornado/walkthrough/view.h"

namespace tornado::walkthrough::cli {

/// A problem the user can fix: printed as "tornado-walk: error: ...", exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Writes `text` to standard output (path "" or "-") or to the file `path`.
void write_output(const std::string& text, const std::string& path);

/// The view and filter flags that run, render and step share.
struct ViewOptions {
    std::string view;  // "" = the command's default
    std::uint64_t request = 0;
    std::uint64_t conn = 0;
    std::vector<std::string> layers;
    int depth = 0;
    std::vector<std::string> hide;  // "client", "loop"
};

/// Adds --view, --request, --conn, --layer, --depth and --hide to `cmd`.
void add_view_options(CLI::App* cmd, ViewOptions& o);

/// Adds --template-path and --static-path (for the scenarios that render
/// the demo's templates) to `cmd`.
void add_scenario_options(CLI::App* cmd, ScenarioOptions& o);

/// Adds --poller epoll|poll|select to `cmd`: IOLoop::configure as soon as
/// it is parsed (cli_poller.cc); a bad value is a UsageError.
void add_poller_option(CLI::App* cmd);

/// The view named by `o` (or `fallback` when none was given) and its
/// filter; throws UsageError naming a bad value.
View view_of(const ViewOptions& o, View fallback);
Filter filter_of(const ViewOptions& o);

/// The events of `target`: a trace file (a path that exists or ends in
/// .jsonl) read back, or else the scenario of that name run now; throws
/// UsageError for an unreadable file or an unknown name.
std::vector<trace::Event> load_events(const std::string& target, const ScenarioOptions& options);

/// Each adds its subcommands to `app`; their callbacks run the command and
/// store its exit status in `status`, and throw UsageError for bad input.
void add_run_commands(CLI::App& app, int& status);
void add_serve_command(CLI::App& app, int& status);
void add_step_commands(CLI::App& app, int& status);
void add_dump_command(CLI::App& app, int& status);  // cli_record.cc
void add_view_command(CLI::App& app, int& status);  // cli_view.cc

}  // namespace tornado::walkthrough::cli
