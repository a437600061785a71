#include "tornado/walkthrough/scenario.h"

#include <sys/socket.h>

#include <stdexcept>

#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/walkthrough/demo_app.h"

namespace tornado::walkthrough {

namespace {

// The scripted client is ours, not Tornado's: no Tornado module to cite.
constexpr trace::Module kTraceModule{"client", ""};

// The scripted client of the notes' simple example: connect, write the
// request, read the header block, then read the body by Content-Length.
class Client : public trace::Traced, public std::enable_shared_from_this<Client> {
  public:
    Client() : Traced("Client") { set_trace_role("client"); }

    Future<std::string> fetch(int port, std::string request) {
        TRACE_SPAN("Client.fetch", {"bytes", request.size()});
        auto self = shared_from_this();
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw std::runtime_error("socket() failed");
        }
        auto stream = std::make_shared<iostream::IOStream>(fd);
        stream->set_trace_role("client");
        co_await stream->connect("127.0.0.1", port);
        co_await stream->write(std::move(request));
        std::string head = co_await stream->read_until("\r\n\r\n");
        std::size_t length = 0;
        auto pos = head.find("Content-Length: ");
        if (pos != std::string::npos) {
            length = std::stoul(head.substr(pos + 16));
        }
        std::string body = co_await stream->read_bytes(length);
        stream->close();
        co_return head + body;
    }
};

// Runs `client` against a fresh demo server, recording the trace.
template <class F>
ScenarioResult run_traced(F client_steps) {
    trace::reset();
    auto ring = std::make_shared<trace::RingSink>(1 << 20);
    ioloop::IOLoop loop;
    ScenarioResult result;
    {
        httpserver::HTTPServer server(make_demo_app({.static_path = "", .log_requests = false}),
                                      demo_server_settings(), &loop);
        std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
        int port = netutil::bound_port(sockets.front());
        server.add_sockets(sockets);

        trace::add_sink(ring);
        trace::enable(true);
        try {
            result.response = loop.run_sync([&] { return client_steps(port); }, 10.0);
            // Let the server see the client's close and end its request loop.
            loop.run_sync(
                [&]() -> Future<void> {
                    for (int i = 0; i < 100 && server.connection_count() > 0; ++i) {
                        co_await gen::sleep(0.001);
                    }
                },
                5.0);
        } catch (...) {
            trace::enable(false);
            trace::remove_sink(ring);
            throw;
        }
        trace::enable(false);
        trace::remove_sink(ring);
    }
    result.events = ring->events();
    return result;
}

}  // namespace

const std::vector<ScenarioInfo>& list_scenarios() {
    static const std::vector<ScenarioInfo> scenarios = {
        {"hello", "one GET / over a new connection: accept, read, route, handle, write, close"},
    };
    return scenarios;
}

ScenarioResult run_scenario(std::string_view name) {
    if (name == "hello") {
        return run_traced([](int port) {
            auto client = std::make_shared<Client>();
            return client->fetch(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        });
    }
    std::string known;
    for (const auto& s : list_scenarios()) {
        known += (known.empty() ? "" : ", ") + s.name;
    }
    throw std::invalid_argument("unknown scenario '" + std::string(name) + "' (known: " + known +
                                ")");
}

}  // namespace tornado::walkthrough
