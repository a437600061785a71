// tornado-walk run, render and list: draw a scenario's trace or a saved one.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"

namespace tornado::walkthrough::cli {

namespace {

// What `run` and `render` share: how to draw the trace.
struct DrawOptions {
    std::string format = "ascii";
    std::string output;
    bool no_returns = false;
    bool no_loop = false;
};

void add_draw_options(CLI::App* cmd, DrawOptions& o) {
    cmd->add_option("-f,--format", o.format, "ascii, mermaid, plantuml, chain or jsonl")
        ->capture_default_str();
    cmd->add_option("-o,--output", o.output, "write to FILE instead of standard output");
    cmd->add_flag("--no-returns", o.no_returns, "leave out return arrows");
    cmd->add_flag("--no-loop", o.no_loop, "leave out the IOLoop's own events");
}

void draw(const std::vector<trace::Event>& events, const DrawOptions& o) {
    Format format = parse_format(o.format);
    RenderOptions options;
    options.show_returns = !o.no_returns;
    options.show_loop_events = !o.no_loop;
    write_output(render(events, format, options), o.output);
}

std::vector<trace::Event> read_trace_file(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw UsageError("cannot read trace file " + file);
    }
    try {
        return read_jsonl(in);
    } catch (const std::exception& e) {
        throw UsageError(file + ": " + e.what());
    }
}

}  // namespace

void add_view_options(CLI::App* cmd, ViewOptions& o) {
    cmd->add_option("--view", o.view, "chain, layers or full");
    cmd->add_option("--request", o.request, "only request N");
    cmd->add_option("--conn", o.conn, "only connection N");
    cmd->add_option("--layer", o.layers, "only this layer (repeatable)");
    cmd->add_option("--depth", o.depth, "only calls nested at most N deep");
    cmd->add_option("--hide", o.hide, "hide client or loop (repeatable)");
}

View view_of(const ViewOptions& o, View fallback) {
    if (o.view.empty()) {
        return fallback;
    }
    try {
        return parse_view(o.view);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--view: ") + e.what());
    }
}

Filter filter_of(const ViewOptions& o) {
    Filter f;
    f.request = o.request;
    f.conn = o.conn;
    f.layers = o.layers;
    f.depth = o.depth;
    for (const std::string& h : o.hide) {
        if (h == "client") {
            f.hide_client = true;
        } else if (h == "loop") {
            f.hide_loop = true;
        } else {
            throw UsageError("--hide: unknown value '" + h + "' (known: client, loop)");
        }
    }
    return f;
}

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

void add_run_commands(CLI::App& app, int& status) {
    static DrawOptions run_options;
    static std::string scenario;
    auto* run = app.add_subcommand("run", "run a scenario on loopback and draw its trace");
    run->add_option("scenario", scenario, "scenario name (see `list`)")->required();
    add_draw_options(run, run_options);
    run->callback([&status] {
        draw(run_scenario(scenario).events, run_options);
        status = 0;
    });

    static DrawOptions render_options;
    static std::string trace_file;
    auto* render_cmd = app.add_subcommand("render", "draw a saved JSON Lines trace");
    render_cmd->add_option("file", trace_file, "trace file (JSON Lines)")->required();
    add_draw_options(render_cmd, render_options);
    render_cmd->callback([&status] {
        draw(read_trace_file(trace_file), render_options);
        status = 0;
    });

    auto* list = app.add_subcommand("list", "list the scenarios");
    list->callback([&status] {
        for (const auto& s : list_scenarios()) {
            std::cout << s.name << "\t" << s.summary << "\n";
        }
        status = 0;
    });
}

}  // namespace tornado::walkthrough::cli
