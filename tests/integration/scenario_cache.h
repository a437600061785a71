// Each scenario runs once per test binary: the golden, determinism and
// story tests share its result.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tornado/trace.h"
#include "tornado/walkthrough/scenario.h"

namespace tornado::testing {

inline const walkthrough::ScenarioResult& scenario_result(const std::string& name) {
    static std::map<std::string, walkthrough::ScenarioResult> results;
    auto it = results.find(name);
    if (it == results.end()) {
        it = results.emplace(name, walkthrough::run_scenario(name)).first;
    }
    return it->second;
}

/// An event without what changes from run to run or machine to machine:
/// time, fd numbers and source line numbers; the pid becomes `process`.
inline std::string normalized(trace::Event e, int process = 0) {
    e.t_us = 0;
    e.pid = process;
    e.src = e.src.substr(0, e.src.rfind(':'));
    std::erase_if(e.args, [](const auto& kv) { return kv.first == "fd"; });
    return trace::to_json(e);
}

/// The events normalized; each pid becomes its process's number in order of
/// first appearance (0 for a one-process trace; task 0 and 1 of multiprocess).
inline std::vector<std::string> normalized_lines(const std::vector<trace::Event>& events) {
    std::vector<std::string> lines;
    lines.reserve(events.size());
    std::map<int, int> processes;
    for (const trace::Event& e : events) {
        auto it = processes.try_emplace(e.pid, static_cast<int>(processes.size())).first;
        lines.push_back(normalized(e, it->second));
    }
    return lines;
}

/// A readable difference between two line lists: a few lines of context
/// around the first difference, the expected side marked -, the actual +.
/// Empty when they are equal.
inline std::string line_diff(const std::vector<std::string>& expected,
                             const std::vector<std::string>& actual) {
    std::size_t first = 0;
    while (first < expected.size() && first < actual.size() && expected[first] == actual[first]) {
        ++first;
    }
    if (first == expected.size() && first == actual.size()) {
        return "";
    }
    // The common tail, so that one inserted or removed line shows as one.
    std::size_t tail = 0;
    while (tail < expected.size() - first && tail < actual.size() - first &&
           expected[expected.size() - 1 - tail] == actual[actual.size() - 1 - tail]) {
        ++tail;
    }
    constexpr std::size_t kContext = 3;
    constexpr std::size_t kMaxChanged = 8;
    std::string out = "first difference at line " + std::to_string(first + 1) + " (expected " +
                      std::to_string(expected.size()) + " lines, got " +
                      std::to_string(actual.size()) + ")\n";
    for (std::size_t i = first > kContext ? first - kContext : 0; i < first; ++i) {
        out += "  " + expected[i] + "\n";
    }
    auto side = [&](const std::vector<std::string>& lines, const char* mark) {
        std::size_t end = lines.size() - tail;
        for (std::size_t i = first; i < end && i < first + kMaxChanged; ++i) {
            out += std::string(mark) + " " + lines[i] + "\n";
        }
        if (end > first + kMaxChanged) {
            out +=
                std::string(mark) + " ... " + std::to_string(end - first - kMaxChanged) + " more\n";
        }
    };
    side(expected, "-");
    side(actual, "+");
    std::size_t after = actual.size() - tail;
    for (std::size_t i = after; i < actual.size() && i < after + kContext; ++i) {
        out += "  " + actual[i] + "\n";
    }
    return out;
}

/// Names usable in a gtest parameter name ("slow-client" -> "slow_client").
inline std::string param_name(std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

}  // namespace tornado::testing
