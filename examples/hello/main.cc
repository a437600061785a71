// Tornado's hello world: one handler, one route, a server on the loop.
//   hello [PORT]    PORT: default 8888, 0 for any free port
// It prints the port it listens on, then serves until killed.
#include <cstdio>
#include <string>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/web.h"

using namespace tornado;

class MainHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("Hello, world");
        return {};
    }
};

int main(int argc, char** argv) {
    int port = argc > 1 ? std::stoi(argv[1]) : 8888;
    ioloop::IOLoop loop;
    auto app = web::Application::create({web::url<MainHandler>("/")});
    // Tornado's app.listen(port), spelled out so that the bound port can be printed.
    httpserver::HTTPServer server(app);
    auto sockets = netutil::bind_sockets(port);
    server.add_sockets(sockets);
    std::printf("hello: listening on port %d\n", netutil::bound_port(sockets.front()));
    std::fflush(stdout);
    loop.start();
}
