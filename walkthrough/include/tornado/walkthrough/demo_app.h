// The demo application of ../shared/demo-app.md, in C++: the classroom
// example, the end-to-end test target, and what the conformance runner
// compares with the reference written for Python Tornado 6.2.
#pragma once

#include <memory>
#include <string>

#include "tornado/httpserver.h"
#include "tornado/web.h"

namespace tornado::walkthrough {

struct DemoOptions {
    std::string static_path;
    std::string template_path{};
    /// Access log lines on stderr (off in scenarios, where the terminal
    /// shows the diagram).
    bool log_requests = true;
    /// Tornado's `debug` setting (serve --debug).
    bool debug = false;
    /// Tornado's `autoreload` setting (serve --autoreload; implied by debug).
    bool autoreload = false;
};

/// The demo routes and settings (compress_response, cookie_secret, ...).
std::shared_ptr<web::Application> make_demo_app(const DemoOptions& options);

/// The demo server's settings: xheaders, decompress_request, 8 KiB header
/// limit, 1 MiB body limit, 5 s idle and body timeouts.
httpserver::HTTPServerSettings demo_server_settings();

}  // namespace tornado::walkthrough
