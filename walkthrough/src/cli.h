// tornado-walk's subcommands, one file pair each (cli_run.cc: run, render and
// list; cli_serve.cc: serve; cli_step.cc: step and explain). main.cc
// registers them and turns errors into exit statuses.
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

namespace tornado::walkthrough::cli {

/// A problem the user can fix: printed as "tornado-walk: error: ...", exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Writes `text` to standard output (path "" or "-") or to the file `path`.
void write_output(const std::string& text, const std::string& path);

/// Each adds its subcommands to `app`; their callbacks run the command and
/// store its exit status in `status`, and throw UsageError for bad input.
void add_run_commands(CLI::App& app, int& status);
void add_serve_command(CLI::App& app, int& status);
void add_step_commands(CLI::App& app, int& status);

}  // namespace tornado::walkthrough::cli
