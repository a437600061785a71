// The latency of normal requests while slow clients hold connections open
// (issue 6, "Slow clients"). An in-process HTTPServer serving the demo
// application (demo_server_settings, but with the idle timeout raised to an
// hour so that the slow clients stay connected) runs on its own thread and
// IOLoop. The bench measures GET / over 127.0.0.1 with blocking sockets, on
// one keep-alive connection and with a new connection per request, first
// with no slow clients, then with N (default 1000) connected clients that
// each send one more byte of a never-ending request head every 200 ms.
// Prints p50 / p99 / max per case.
//
//   bench_slow_clients [SLOW_CLIENTS] [REQUESTS]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/walkthrough/demo_app.h"

namespace {

using namespace tornado;
using Clock = std::chrono::steady_clock;

/// The demo server on its own thread.
class ServerThread {
  public:
    ServerThread() {
        std::promise<int> port;
        std::future<int> port_future = port.get_future();
        thread_ = std::thread([this, &port] {
            try {
                ioloop::IOLoop loop(true);
                httpserver::HTTPServerSettings settings = walkthrough::demo_server_settings();
                settings.idle_connection_timeout = 3600;
                auto server = std::make_unique<httpserver::HTTPServer>(
                    walkthrough::make_demo_app({.static_path = "", .log_requests = false}),
                    settings, &loop);
                std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1", AF_INET);
                server->add_sockets(sockets);
                loop_ = &loop;
                port.set_value(netutil::bound_port(sockets.front()));
                loop.start();
                server.reset();
                // Let the closed connections' coroutines end.
                loop.run_sync(
                    +[]() -> Future<void> { co_await gen::sleep(0.05); }, 5);
            } catch (...) {
                port.set_exception(std::current_exception());
            }
        });
        port_ = port_future.get();
    }
    ~ServerThread() {
        loop_->add_callback([loop = loop_] { loop->stop(); });
        thread_.join();
    }
    int port() const { return port_; }

  private:
    std::thread thread_;
    ioloop::IOLoop* loop_ = nullptr;
    int port_ = 0;
};

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

int blocking_connect(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
}

/// Sends GET / on `fd` and reads the whole answer (Content-Length framed).
void get(int fd, std::string& buffer) {
    static const std::string request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        throw std::runtime_error("send failed");
    }
    buffer.clear();
    std::size_t head_end = std::string::npos;
    std::size_t total = 0;
    char chunk[8192];
    while (true) {
        if (head_end == std::string::npos) {
            head_end = buffer.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                std::size_t cl = buffer.find("Content-Length: ");
                if (cl == std::string::npos || cl > head_end ||
                    !buffer.starts_with("HTTP/1.1 200")) {
                    throw std::runtime_error("unexpected answer: " + buffer.substr(0, head_end));
                }
                total = head_end + 4 + std::stoul(buffer.substr(cl + 16));
            }
        }
        if (head_end != std::string::npos && buffer.size() >= total) {
            return;
        }
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            throw std::runtime_error("connection closed or timed out");
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

struct Figures {
    double p50_us, p99_us, max_us;
};

Figures figures(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
        return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))];
    };
    return {at(0.50), at(0.99), us.back()};
}

Figures keep_alive(int port, int requests) {
    int fd = blocking_connect(port);
    std::string buffer;
    for (int i = 0; i < 100; ++i) {
        get(fd, buffer);  // warm-up
    }
    std::vector<double> us;
    for (int i = 0; i < requests; ++i) {
        auto t0 = Clock::now();
        get(fd, buffer);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    ::close(fd);
    return figures(us);
}

Figures new_connections(int port, int requests) {
    std::string buffer;
    std::vector<double> us;
    for (int i = 0; i < requests; ++i) {
        auto t0 = Clock::now();
        int fd = blocking_connect(port);
        get(fd, buffer);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        ::close(fd);
    }
    return figures(us);
}

/// `n` connections, each sending one more byte of an endless head every
/// 200 ms from a thread of their own.
class SlowClients {
  public:
    SlowClients(int port, std::size_t n) {
        sockaddr_in addr = loopback(port);
        for (std::size_t i = 0; i < n; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
            }
            ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
            fds_.push_back(fd);
        }
        // Wait (bounded) until every connection is established.
        auto deadline = Clock::now() + std::chrono::seconds(60);
        for (int fd : fds_) {
            pollfd p{fd, POLLOUT, 0};
            while (::poll(&p, 1, 100) == 0 && Clock::now() < deadline) {
            }
        }
        thread_ = std::thread([this] {
            const std::string head =
                "GET / HTTP/1.1\r\nHost: bench\r\nX-Slow: " + std::string(1 << 20, 'a');
            std::size_t pos = 0;
            while (!stop_) {
                for (int fd : fds_) {
                    if (::send(fd, &head[pos % head.size()], 1, MSG_NOSIGNAL) != 1) {
                        ++failed_;
                    }
                }
                ++pos;
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        });
    }
    ~SlowClients() {
        stop_ = true;
        thread_.join();
        for (int fd : fds_) {
            ::close(fd);
        }
    }
    std::size_t failed() const { return failed_; }
    /// Connections the server has answered or closed (readable, EOF, error).
    std::size_t disturbed() const {
        std::vector<pollfd> pfds;
        for (int fd : fds_) {
            pfds.push_back({fd, POLLIN | POLLRDHUP, 0});
        }
        ::poll(pfds.data(), pfds.size(), 0);
        return static_cast<std::size_t>(std::count_if(
            pfds.begin(), pfds.end(), [](const pollfd& p) { return p.revents != 0; }));
    }

  private:
    std::vector<int> fds_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> failed_{0};
    std::thread thread_;
};

void print(const char* label, std::size_t slow, const Figures& f) {
    std::printf("%-22s %6zu %10.1f %10.1f %10.1f\n", label, slow, f.p50_us, f.p99_us, f.max_us);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t slow = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
    int requests = argc > 2 ? std::atoi(argv[2]) : 2000;
    log::set_level(log::Level::Warning);
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 2 * slow + 100) {
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 2 * slow + 100);
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    ServerThread server;
    std::printf("GET / on the demo app over 127.0.0.1, %d requests per case; latency in us\n",
                requests);
    std::printf("%-22s %6s %10s %10s %10s\n", "case", "slow", "p50", "p99", "max");
    print("keep-alive", 0, keep_alive(server.port(), requests));
    print("new connection", 0, new_connections(server.port(), requests / 4));
    {
        SlowClients clients(server.port(), slow);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        print("keep-alive", slow, keep_alive(server.port(), requests));
        print("new connection", slow, new_connections(server.port(), requests / 4));
        std::printf("slow clients answered or closed by the server: %zu; failed sends: %zu\n",
                    clients.disturbed(), clients.failed());
    }
    return 0;
}
