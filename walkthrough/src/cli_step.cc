// tornado-walk step and explain: go through a trace one event at a time, and
// the explanation of a mirrored step.
//
// step's screens come from StepSession (step.h); this file owns the terminal:
// its size, and raw keys when standard input is one (restored on exit and on
// SIGINT/SIGTERM). From a pipe each line is one command, which is how tests
// drive it.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tornado/walkthrough/diagram.h"
#include "tornado/walkthrough/scenario.h"
#include "tornado/walkthrough/step.h"
#include "tornado/walkthrough/steps.h"

#include "cli.h"

#ifndef TORNADO_SOURCE_DIR
#define TORNADO_SOURCE_DIR ""
#endif

namespace tornado::walkthrough::cli {

// A path that exists or ends in .jsonl is a trace file; anything else names a scenario.
std::vector<trace::Event> load_events(const std::string& target, const ScenarioOptions& options) {
    std::error_code ec;
    if (std::filesystem::exists(target, ec) || target.ends_with(".jsonl")) {
        std::ifstream in(target, std::ios::binary);
        if (!in) {
            throw UsageError("cannot read trace file " + target);
        }
        try {
            return read_jsonl(in);
        } catch (const std::exception& e) {
            throw UsageError(target + ": " + e.what());
        }
    }
    std::string known;
    for (const ScenarioInfo& s : list_scenarios()) {
        if (s.name == target) {
            return run_scenario(target, options).events;
        }
        known += (known.empty() ? "" : ", ") + s.name;
    }
    throw UsageError("unknown scenario '" + target +
                     "' and no such trace file (scenarios: " + known + ")");
}

namespace {

struct StepArgs {
    std::string target;
    ViewOptions view;
    int width = 0;
    int height = 0;
    std::optional<std::string> source;
    ScenarioOptions scenario;
};

// The terminal's size, or the fixed size of a screen written to a pipe.
std::pair<int, int> screen_size(const StepArgs& a) {
    int width = 100;
    int height = 40;
    winsize ws{};
    if (::isatty(STDOUT_FILENO) != 0 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col > 0 && ws.ws_row > 0) {
        width = ws.ws_col;
        height = ws.ws_row;
    }
    return {a.width > 0 ? a.width : width, a.height > 0 ? a.height : height};
}

// The terminal's settings before raw mode, for the exit paths and the signal handler.
termios g_saved_termios{};
volatile sig_atomic_t g_raw_active = 0;

void restore_terminal() {
    if (g_raw_active != 0) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
        g_raw_active = 0;
    }
}

extern "C" void on_terminating_signal(int sig) {
    // Only async-signal-safe calls: restore the terminal, then die of the signal.
    restore_terminal();
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// Keys act without Enter while this lives: no line editing, no echo; Ctrl-C
// still sends SIGINT, whose handler puts the terminal back first.
class RawTerminal {
  public:
    RawTerminal() {
        if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) {
            return;
        }
        termios raw = g_saved_termios;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        struct sigaction sa {};
        sa.sa_handler = on_terminating_signal;
        ::sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
        if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) {
            g_raw_active = 1;
        }
    }
    ~RawTerminal() {
        restore_terminal();
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

  private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

// One byte from the terminal, or nothing at the end of input.
std::optional<char> read_key(int timeout_ms = -1) {
    if (timeout_ms >= 0) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) {
            return std::nullopt;
        }
    }
    char c = 0;
    for (;;) {
        ssize_t n = ::read(STDIN_FILENO, &c, 1);
        if (n == 1) {
            return c;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return std::nullopt;
    }
}

// The next command from raw keys: one key is one command, except digits,
// which collect until Enter; the arrow keys step too.
std::optional<std::string> next_key_command(bool tty_out) {
    std::string digits;
    for (;;) {
        std::optional<char> key = read_key();
        if (!key || *key == '\x04') {
            return std::nullopt;  // end of input, or Ctrl-D
        }
        char c = *key;
        if (c >= '0' && c <= '9') {
            digits += c;
        } else if ((c == '\x7f' || c == '\b') && !digits.empty()) {
            digits.pop_back();
        } else if (c == '\r' || c == '\n') {
            return digits;  // "" is next, a number jumps
        } else if (c == '\x1b') {
            // An arrow key arrives as ESC [ C: right steps on, left steps back.
            std::optional<char> a = read_key(50);
            std::optional<char> b = a == '[' ? read_key(50) : std::nullopt;
            if (b == 'C') {
                return std::string("n");
            }
            if (b == 'D') {
                return std::string("b");
            }
            digits.clear();
        } else {
            return std::string(1, c);
        }
        if (tty_out) {
            std::cout << "\r\x1b[Kgo to step: " << digits << std::flush;
        }
    }
}

void show(const std::string& screen, bool tty_out, bool first) {
    if (tty_out) {
        std::cout << "\x1b[H\x1b[2J";  // each screen replaces the last one
    } else if (!first) {
        std::cout << "\n";
    }
    std::cout << screen << std::flush;
}

int step_through(const StepArgs& a) {
    View view = view_of(a.view, View::Chain);
    Filter filter = filter_of(a.view);
    std::vector<trace::Event> events =
        select_events(load_events(a.target, a.scenario), view, filter);
    if (events.empty()) {
        throw UsageError("the view and filters keep no events of " + a.target);
    }
    auto [width, height] = screen_size(a);
    StepOptions options;
    options.width = width;
    options.height = height;
    options.source_root = a.source ? *a.source : std::string(TORNADO_SOURCE_DIR);
    options.lifelines = view == View::Layers ? Lifelines::Layers : Lifelines::Objects;
    StepSession session(std::move(events), options);

    const bool tty_in = ::isatty(STDIN_FILENO) != 0;
    const bool tty_out = ::isatty(STDOUT_FILENO) != 0;
    std::optional<RawTerminal> raw;
    if (tty_in) {
        raw.emplace();
    }
    show(session.screen(), tty_out, true);
    for (;;) {
        std::optional<std::string> command;
        if (tty_in) {
            command = next_key_command(tty_out);
        } else if (std::string line; std::getline(std::cin, line)) {
            command = line;
        }
        if (!command) {
            break;  // the end of input quits, as q does
        }
        StepOutcome outcome = session.command(*command);
        if (outcome.quit) {
            break;
        }
        if (tty_out) {
            auto [w, h] = screen_size(a);  // the terminal may have been resized
            session.resize(w, h);
            show(session.screen(outcome.message), true, false);
        } else if (outcome.moved) {
            show(session.screen(outcome.message), false, false);
        } else {
            // From a pipe a refusal is one line, not a repeated screen.
            std::cout << outcome.message << "\n" << std::flush;
        }
    }
    return 0;
}

// Names the step, its Tornado method and its explanation.
int explain(const std::string& name, const std::string& source_root) {
    if (name.empty()) {
        std::cout << "The steps a request meets, in order (tornado-walk explain STEP):\n";
        for (const StepInfo& s : notes_steps()) {
            std::cout << "  " << s.step
                      << std::string(s.step.size() < 46 ? 46 - s.step.size() : 1, ' ') << s.layer
                      << "\n";
        }
        return 0;
    }
    const StepInfo* info = find_step(name);
    if (info == nullptr) {
        std::vector<std::string> same = steps_with_method(name);
        std::vector<std::string> names = same.size() > 1 ? same : nearest_steps(name);
        std::string list;
        for (const std::string& n : names) {
            list += (list.empty() ? "" : ", ") + n;
        }
        if (same.size() > 1) {
            throw UsageError("'" + name + "' is the method of several steps: " + list);
        }
        throw UsageError("unknown step '" + name + "'; nearest: " + list +
                         " (tornado-walk explain lists them all)");
    }
    std::cout << info->step << "   (" << info->layer << " layer)\n";
    std::string py_file = info->py.substr(0, info->py.find(' '));
    // The Tornado method with its 4.5.2 line, from the C++ definition's citation.
    std::string cited;
    std::string at = cited_definition(source_root, info->step, py_file, &cited);
    std::string tornado = cited.empty() ? info->py : cited;
    if (!tornado.empty()) {
        std::cout << "Tornado: " << tornado << "\n";
    } else {
        std::cout << "Tornado: none; the scenario's scripted client is ours\n";
    }
    if (!at.empty()) {
        std::cout << "C++:     " << at << "\n";
    }
    std::cout << "\n";
    if (info->explanation.empty()) {
        std::cout << "(docs/steps.md has no explanation of this step yet)\n";
    } else {
        std::cout << wrap_text(info->explanation, 100);
    }
    return 0;
}

}  // namespace

void add_step_commands(CLI::App& app, int& status) {
    static StepArgs step_args;
    static std::string source;
    auto* step = app.add_subcommand(
        "step", "go through a scenario's trace or a saved one, one event at a time");
    step->add_option("target", step_args.target, "scenario name (see `list`) or trace file")
        ->required();
    add_view_options(step, step_args.view);
    add_scenario_options(step, step_args.scenario);
    add_poller_option(step);
    step->add_option("--width", step_args.width,
                     "screen columns (default: the terminal's, else 100)");
    step->add_option("--height", step_args.height,
                     "screen rows (default: the terminal's, else 40)");
    auto* source_opt = step->add_option(
        "--source", source, "the source tree of the events' C++ locations (default: this build's)");
    step->callback([&status, source_opt] {
        if (source_opt->count() > 0) {
            step_args.source = source;
        }
        status = step_through(step_args);
    });

    static std::string step_name;
    auto* explain_cmd =
        app.add_subcommand("explain", "explain a step of the chain (none: list the steps)");
    explain_cmd->add_option("step", step_name,
                            "Class.method, or the method alone when unambiguous");
    static std::string explain_source = TORNADO_SOURCE_DIR;
    explain_cmd->add_option(
        "--source", explain_source,
        "the source tree to find the C++ definition in (default: this build's)");
    explain_cmd->callback([&status] { status = explain(step_name, explain_source); });
}

}  // namespace tornado::walkthrough::cli
