// Scenarios: a demo server and a scripted client in one process, on one
// IOLoop, over loopback, with the trace hub recording every step.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tornado/trace.h"

namespace tornado::walkthrough {

struct ScenarioInfo {
    std::string name;
    std::string summary;
};

struct ScenarioResult {
    /// Every event from the first accept to the closed connection.
    std::vector<trace::Event> events;
    /// The raw bytes the client received.
    std::string response;
};

/// Where the scenarios that render the demo's templates (xsrf-form) find the
/// shared demo files. Relative paths are taken from the working directory.
struct ScenarioOptions {
    /// The demo templates; "" = this build's ../shared/demo-templates.
    std::string template_path;
    /// The demo static files that static_url() hashes; "" = this build's
    /// ../shared/demo-static.
    std::string static_path;
};

/// The scenarios `run` knows.
const std::vector<ScenarioInfo>& list_scenarios();

/// Runs scenario `name` (throws std::invalid_argument for an unknown name
/// or a missing directory of `options` it needs, std::runtime_error if it
/// does not complete within its time bound).
ScenarioResult run_scenario(std::string_view name, const ScenarioOptions& options = {});

}  // namespace tornado::walkthrough
