// --poller, shared by run, step and serve: which system call the IOLoop
// waits with (Tornado's IOLoop.configure with EPollIOLoop, PollIOLoop or
// SelectIOLoop).
#include <string>

#include "tornado/ioloop.h"

#include "cli.h"

namespace tornado::walkthrough::cli {

void add_poller_option(CLI::App* cmd) {
    static std::string poller = "epoll";
    cmd->add_option("--poller", poller,
                    "the IOLoop's poller: epoll (default), poll or select (fds below 1024 only)")
        // Applied while the command line is parsed, so before the command
        // makes any loop.
        ->each([](const std::string& value) {
            auto p = ioloop::parse_poller(value);
            if (!p) {
                throw UsageError("--poller: unknown value '" + value +
                                 "' (known: epoll, poll, select)");
            }
            ioloop::IOLoop::configure(*p);
        });
}

}  // namespace tornado::walkthrough::cli
