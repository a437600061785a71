// tornado-walk run, render and list: draw a scenario's trace or a saved one,
// in the view and format asked for (by default a view that fits a screen).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"

#include "cli.h"

extern char** environ;

namespace tornado::walkthrough::cli {

namespace {

// What `run` and `render` share: how to draw the trace.
struct DrawOptions {
    std::string format;  // "" = ascii, or nothing when only --svg/--png is asked for
    std::string output;
    bool no_returns = false;
    bool returns = false;
    bool no_loop = false;
    int width = -1;  // -1: fit the terminal, or 100 columns off a terminal; 0: no limit
    std::string color = "auto";
    std::size_t part = 0;
    std::string svg;
    std::string png;
    ViewOptions view;
};

void add_draw_options(CLI::App* cmd, DrawOptions& o) {
    cmd->add_option("-f,--format", o.format,
                    "ascii (default), mermaid, plantuml, dot, svg (laid out by us), chrome, chain or jsonl");
    cmd->add_option("-o,--output", o.output, "write to FILE instead of standard output");
    cmd->add_flag("--no-returns", o.no_returns, "leave out return arrows");
    cmd->add_flag("--returns", o.returns, "draw return arrows (the full view's default)");
    cmd->add_flag("--no-loop", o.no_loop, "leave out the IOLoop's own events");
    cmd->add_option("--width", o.width,
                    "ASCII: fit N columns (default: the terminal's width, or 100 off a "
                    "terminal; 0: no limit)");
    cmd->add_option("--color", o.color, "ASCII colours: auto (on a terminal), always or never")
        ->capture_default_str();
    cmd->add_option("--part", o.part,
                    "Mermaid: draw part N of a diagram split to fit Mermaid's limits");
    cmd->add_option("--svg", o.svg, "also draw the dot diagram as SVG into FILE (needs graphviz)");
    cmd->add_option("--png", o.png, "also draw the dot diagram as PNG into FILE (needs graphviz)");
    add_view_options(cmd, o.view);
}

bool to_terminal(const DrawOptions& o) {
    return (o.output.empty() || o.output == "-") && ::isatty(STDOUT_FILENO) != 0;
}

std::size_t width_of(const DrawOptions& o) {
    if (o.width >= 0) {
        return static_cast<std::size_t>(o.width);
    }
    if (!to_terminal(o)) {
        return 100;
    }
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    if (const char* columns = std::getenv("COLUMNS")) {
        char* end = nullptr;
        long n = std::strtol(columns, &end, 10);
        if (end != columns && *end == '\0' && n > 0) {
            return static_cast<std::size_t>(n);
        }
    }
    return 80;
}

bool colour_of(const DrawOptions& o) {
    const char* no_color = std::getenv("NO_COLOR");
    bool forbidden = no_color != nullptr && no_color[0] != '\0';
    if (o.color == "never") {
        return false;
    }
    if (o.color == "always") {
        return !forbidden;
    }
    if (o.color == "auto") {
        const char* term = std::getenv("TERM");
        bool dumb = term != nullptr && std::string_view(term) == "dumb";
        return !forbidden && !dumb && to_terminal(o);
    }
    throw UsageError("--color: unknown value '" + o.color + "' (known: auto, always, never)");
}

// The full path of `name` on PATH, or "" when it is not installed.
std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return "";
}

// Runs Graphviz's dot on `graph`, writing an image of type `type` to `file`.
void run_dot(const std::string& graph, const std::string& type, const std::string& file) {
    std::string dot = find_program("dot");
    if (dot.empty()) {
        throw UsageError("--" + type +
                         " needs Graphviz's `dot`, which is not installed "
                         "(Debian package graphviz: apt-get install graphviz)");
    }
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    std::string t = "-T" + type;
    std::string o = "-o" + file;
    std::vector<char*> argv = {dot.data(), t.data(), o.data(), nullptr};
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, dot.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    if (rc != 0) {
        ::close(in[1]);
        throw std::runtime_error("cannot run " + dot + ": " + std::strerror(rc));
    }
    // A dot that exits early must not kill us with SIGPIPE: ignore it while
    // we feed the pipe (the write then fails with EPIPE and dot's status
    // says why), and put the old disposition back afterwards.
    struct sigaction ignore {};
    struct sigaction saved {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &saved);
    std::size_t done = 0;
    while (done < graph.size()) {
        ssize_t n = ::write(in[1], graph.data() + done, graph.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;  // dot exited early; its status says why
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(in[1]);
    ::sigaction(SIGPIPE, &saved, nullptr);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("dot failed to draw " + file);
    }
}

void draw(const std::vector<trace::Event>& all, const DrawOptions& o) {
    bool image_only = o.format.empty() && (!o.svg.empty() || !o.png.empty());
    Format format = parse_format(o.format.empty() ? "ascii" : o.format);
    // Diagrams and the chain listing fit a screen by default; the trace
    // formats keep every event, so that a file written by -o reads back whole.
    View fallback = is_diagram_format(format) || format == Format::Chain ? View::Chain : View::Full;
    View view = view_of(o.view, fallback);
    Filter filter = filter_of(o.view);
    std::vector<trace::Event> events = select_events(all, view, filter);

    RenderOptions options;
    options.show_returns = o.returns || (view == View::Full && !o.no_returns);
    if (o.no_returns) {
        options.show_returns = false;
    }
    options.show_loop_events = !o.no_loop;
    options.lifelines = view == View::Layers ? Lifelines::Layers : Lifelines::Objects;
    options.color = colour_of(o);
    options.width = width_of(o);
    if (o.part > 0) {
        if (format != Format::Mermaid) {
            throw UsageError("--part: only the mermaid format is split into parts");
        }
        std::size_t parts = mermaid_parts(events, options);
        if (o.part > parts) {
            throw UsageError("--part " + std::to_string(o.part) + ": this diagram has " +
                             std::to_string(parts) + " part(s)");
        }
        options.part = o.part;
    }
    if (!o.svg.empty() || !o.png.empty()) {
        std::string graph = render(events, Format::Dot, options);
        if (!o.svg.empty()) {
            run_dot(graph, "svg", o.svg);
        }
        if (!o.png.empty()) {
            run_dot(graph, "png", o.png);
        }
    }
    if (!image_only) {
        write_output(render(events, format, options), o.output);
    }
}

std::vector<trace::Event> read_trace_file(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    struct stat st {};
    if (!in || (::stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
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
    cmd->add_option("--view", o.view,
                    "chain (the notes' steps), layers (one lifeline per layer) or full "
                    "(every event)");
    cmd->add_option("--request", o.request, "only request N");
    cmd->add_option("--conn", o.conn, "only connection N");
    cmd->add_option("--layer", o.layers,
                    "only this layer: client, ioloop, iostream, httpserver, web (repeatable)");
    cmd->add_option("--depth", o.depth, "only calls nested at most N deep among those shown");
    cmd->add_option("--hide", o.hide, "hide client or loop (repeatable)");
}

void add_scenario_options(CLI::App* cmd, ScenarioOptions& o) {
    cmd->add_option("--template-path", o.template_path,
                    "xsrf-form: the demo templates (default: this build's "
                    "../shared/demo-templates)");
    cmd->add_option("--static-path", o.static_path,
                    "xsrf-form: the demo static files static_url() hashes (default: this "
                    "build's ../shared/demo-static)");
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
    for (const std::string& l : o.layers) {
        const auto& known = known_layers();
        if (std::find(known.begin(), known.end(), l) == known.end()) {
            throw UsageError("--layer: unknown layer '" + l +
                             "' (known: client, ioloop, iostream, httpserver, web)");
        }
    }
    f.layers = o.layers;
    if (o.depth < 0) {
        throw UsageError("--depth: " + std::to_string(o.depth) + " is negative (0: any depth)");
    }
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
    static ScenarioOptions scenario_options;
    auto* run = app.add_subcommand("run", "run a scenario on loopback and draw its trace");
    run->add_option("scenario", scenario, "scenario name (see `list`)")->required();
    add_draw_options(run, run_options);
    add_scenario_options(run, scenario_options);
    add_poller_option(run);
    run->callback([&status] {
        // Check the drawing flags before the scenario runs.
        (void)parse_format(run_options.format.empty() ? "ascii" : run_options.format);
        (void)view_of(run_options.view, View::Full);
        (void)filter_of(run_options.view);
        (void)colour_of(run_options);
        draw(run_scenario(scenario, scenario_options).events, run_options);
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
