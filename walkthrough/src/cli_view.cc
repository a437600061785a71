// tornado-walk view: a scenario's trace, or a saved one, as the browser
// viewer's self-contained page (viewer.h).
#include <filesystem>
#include <string>

#include "tornado/walkthrough/viewer.h"

#include "cli.h"

#ifndef TORNADO_SOURCE_DIR
#define TORNADO_SOURCE_DIR ""
#endif

namespace tornado::walkthrough::cli {

namespace {

struct ViewArgs {
    std::string target;
    std::string output;
    std::string source = TORNADO_SOURCE_DIR;
    ScenarioOptions scenario;
};

int write_viewer(const ViewArgs& a) {
    std::vector<trace::Event> events = load_events(a.target, a.scenario);
    if (events.empty()) {
        throw UsageError(a.target + " has no events to show");
    }
    ViewerOptions options;
    options.title = std::filesystem::path(a.target).filename().string();
    options.source_root = a.source;
    write_output(render_viewer(events, options), a.output);
    return 0;
}

}  // namespace

void add_view_command(CLI::App& app, int& status) {
    static ViewArgs args;
    auto* cmd = app.add_subcommand(
        "view",
        "write a scenario's trace or a saved one as an HTML page that steps through "
        "the diagram in a browser (self-contained: it loads nothing)");
    cmd->add_option("target", args.target, "scenario name (see `list`) or trace file")->required();
    cmd->add_option("-o,--output", args.output, "write to FILE instead of standard output");
    cmd->add_option("--source", args.source,
                    "the source tree the page's C++ excerpts are read from (default: this "
                    "build's)");
    add_scenario_options(cmd, args.scenario);
    add_poller_option(cmd);
    cmd->callback([&status] { status = write_viewer(args); });
}

}  // namespace tornado::walkthrough::cli
