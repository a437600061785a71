// The steps of one GET in the order the notes tell them, as the issue that
// introduced the walkthrough lists them: shared by the golden and CLI tests.
#pragma once

#include <string>
#include <vector>

namespace tornado::testing {

inline const std::vector<std::string> kHelloChain = {
    "netutil.accept_handler",
    "TCPServer._handle_connection",
    "HTTPServer.handle_stream",
    "HTTP1ServerConnection.start_serving",
    "HTTP1ServerConnection._server_request_loop",
    "HTTP1Connection.read_response",
    "HTTP1Connection._read_message",
    "BaseIOStream.read_until_regex",
    "BaseIOStream._try_inline_read",
    "_RoutingDelegate.headers_received",
    "_HandlerDelegate.finish",
    "_HandlerDelegate.execute",
    "RequestHandler._execute",
    "RequestHandler.get",
    "RequestHandler.finish",
    "RequestHandler.flush",
    "HTTP1Connection.write_headers",
    "BaseIOStream.write",
    "BaseIOStream._handle_write",
};

}  // namespace tornado::testing
