// tornado.process: forking a server into several worker processes that share
// the listening sockets bound before the fork.
//
// C++: only the pre-fork half of Tornado's module (cpu_count,
// fork_processes, task_id); Subprocess is not mirrored.
#pragma once

#include <optional>

namespace tornado::process {

/// The number of processors online (1, with an error logged, when unknown).
int cpu_count();

/// Forks `num_processes` children (cpu_count() when <= 0) and returns, in
/// each child, its task id (0 .. num_processes - 1). The parent does not
/// return: it waits for the children, forks again, with the same id, each
/// one that is killed by a signal or exits non-zero (at most `max_restarts`
/// times in all, then throws std::runtime_error "Too many child restarts,
/// giving up"), and calls std::exit(0) once every child has exited with
/// status 0. SIGTERM or SIGINT to the parent is passed on to the children
/// as SIGTERM; the parent then reaps them without restarting any and exits
/// with status 0.
///
/// Call it before any IOLoop exists in the process: the children would
/// share its epoll instance. It throws std::runtime_error when one does
/// (or when called twice in a process).
int fork_processes(int num_processes, int max_restarts = 100);

/// This process's task id when it is a child of fork_processes, else none.
std::optional<int> task_id();

}  // namespace tornado::process
