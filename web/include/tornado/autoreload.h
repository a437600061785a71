// tornado.autoreload: re-execute the process when its program changes.
//
// Application starts it when the `autoreload` setting is on (`debug` turns
// it on): every half second a PeriodicCallback compares the modification
// time of each watched file with the one first seen, and on a change runs
// the reload hooks and replaces the process with a fresh run of the same
// command line (execv), as Tornado does with `python -m` and sys.argv.
// C++: Tornado watches the source of every imported module; a compiled
// program watches its own executable (and whatever watch() adds).
#pragma once

#include <functional>
#include <string>

namespace tornado::autoreload {

// Tornado: tornado/autoreload.py:114 start
/// Starts watching on the current IOLoop (once per loop; later calls do
/// nothing). `check_time_ms` is the interval between checks.
void start(double check_time_ms = 500);

// Tornado: tornado/autoreload.py:144 watch
/// Adds a file whose change restarts the process.
void watch(const std::string& filename);

// Tornado: tornado/autoreload.py:152 add_reload_hook
/// `fn` runs just before the process is replaced.
void add_reload_hook(std::function<void()> fn);

}  // namespace tornado::autoreload
