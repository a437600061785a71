// tornado-walk step and explain: go through a trace one event at a time, and
// the explanation of a mirrored step.
#include "cli.h"

namespace tornado::walkthrough::cli {

void add_step_commands(CLI::App& app, int& status) {
    (void)app;
    (void)status;
}

}  // namespace tornado::walkthrough::cli
