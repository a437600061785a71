// The multiprocess scenario: one listening socket shared by two forked
// server processes, as TCPServer.bind(); TCPServer.start(2) sets up.
// Private to tornado_walkthrough.
#pragma once

#include "tornado/walkthrough/scenario.h"

namespace tornado::walkthrough::detail {

/// Binds a socket, forks task 0 and task 1 (each its own IOLoop and demo
/// HTTPServer on the inherited socket), and makes two connections: task 0
/// wins the first accept and task 1 gets EWOULDBLOCK, then the other way
/// round. The events of both tasks merged by time, renumbered from 1, each
/// with the pid of the task that emitted it. Throws std::runtime_error
/// (after killing the children) if a task does not reach a step in time.
ScenarioResult run_multiprocess();

}  // namespace tornado::walkthrough::detail
