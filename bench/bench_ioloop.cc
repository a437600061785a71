// IOLoop throughput on each poller (issue 8): callbacks per second,
// timeouts added and fired or added and removed per second, and an IOStream
// ping-pong over one loopback TCP connection (both streams on one loop).
// Arg 0 of every benchmark is the poller: 0 epoll, 1 poll, 2 select.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"

namespace {

using tornado::Future;
using tornado::ioloop::IOLoop;
using tornado::ioloop::Poller;
using tornado::iostream::IOStream;

constexpr int kBatch = 1000;

Poller poller_of(const benchmark::State& state) {
    return static_cast<Poller>(state.range(0));
}

void BM_Callbacks(benchmark::State& state) {
    IOLoop loop(poller_of(state), false);
    int ran = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch - 1; ++i) {
            loop.add_callback([&ran] { ++ran; });
        }
        loop.add_callback([&] {
            ++ran;
            loop.stop();
        });
        loop.start();
    }
    benchmark::DoNotOptimize(ran);
    state.SetItemsProcessed(state.iterations() * kBatch);
    state.SetLabel(tornado::ioloop::poller_name(poller_of(state)));
}
BENCHMARK(BM_Callbacks)->Arg(0)->Arg(1)->Arg(2);

void BM_TimeoutAddFire(benchmark::State& state) {
    IOLoop loop(poller_of(state), false);
    int ran = 0;
    for (auto _ : state) {
        double now = loop.time();
        for (int i = 0; i < kBatch - 1; ++i) {
            loop.add_timeout(now, [&ran] { ++ran; });
        }
        loop.add_timeout(now, [&] {
            ++ran;
            loop.stop();
        });
        loop.start();
    }
    benchmark::DoNotOptimize(ran);
    state.SetItemsProcessed(state.iterations() * kBatch);
    state.SetLabel(tornado::ioloop::poller_name(poller_of(state)));
}
BENCHMARK(BM_TimeoutAddFire)->Arg(0)->Arg(1)->Arg(2);

// Added and removed before they are due, then one loop pass (which drops
// the cancelled heap entries).
void BM_TimeoutAddRemove(benchmark::State& state) {
    IOLoop loop(poller_of(state), false);
    std::vector<tornado::ioloop::Timeout> handles(kBatch);
    for (auto _ : state) {
        double later = loop.time() + 3600;
        for (auto& h : handles) {
            h = loop.add_timeout(later, [] {});
        }
        for (auto& h : handles) {
            loop.remove_timeout(h);
        }
        loop.add_callback([&] { loop.stop(); });
        loop.start();
    }
    state.SetItemsProcessed(state.iterations() * kBatch);
    state.SetLabel(tornado::ioloop::poller_name(poller_of(state)));
}
BENCHMARK(BM_TimeoutAddRemove)->Arg(0)->Arg(1)->Arg(2);

Future<void> echo_server(std::shared_ptr<IOStream> stream, std::size_t size) {
    while (true) {
        std::string data = co_await stream->read_bytes(size);
        co_await stream->write(std::move(data));
    }
}

// One round trip of `size` bytes per iteration: the client writes, the
// server reads them all and writes them back, the client reads them all.
// The third argument registers that many idle descriptors for READ beside
// the two streams (the ends of socket pairs nobody writes to), as idle
// keep-alive connections are: poll and select hand the kernel every
// registered fd on each wait, epoll only its ready list.
void BM_IOStreamEcho(benchmark::State& state) {
    tornado::log::set_level(tornado::log::Level::Off);
    IOLoop loop(poller_of(state), true);
    const auto size = static_cast<std::size_t>(state.range(1));
    std::vector<int> idle;
    for (std::int64_t i = 0; i < state.range(2); i += 2) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
            state.SkipWithError("socketpair failed");
            return;
        }
        for (int fd : pair) {
            idle.push_back(fd);
            loop.add_handler(fd, [](int, std::uint32_t) {}, IOLoop::READ);
        }
    }
    std::vector<int> listeners = tornado::netutil::bind_sockets(0, "127.0.0.1");
    int port = tornado::netutil::bound_port(listeners.front());
    int client_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto client = std::make_shared<IOStream>(client_fd, &loop);
    loop.run_sync([&] { return client->connect("127.0.0.1", port); }, 10);
    int server_fd = ::accept4(listeners.front(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    auto server = std::make_shared<IOStream>(server_fd, &loop);
    Future<void> serving = echo_server(server, size);
    serving.quiet();
    const std::string message(size, 'x');
    loop.run_sync(
        [&]() -> Future<void> {
            for (auto _ : state) {
                co_await client->write(message);
                std::string back = co_await client->read_bytes(size);
                benchmark::DoNotOptimize(back.data());
            }
        },
        600);
    client->close();
    server->close();
    for (int fd : listeners) {
        ::close(fd);
    }
    for (int fd : idle) {
        loop.remove_handler(fd);
        ::close(fd);
    }
    loop.run_sync([]() -> Future<void> { co_await tornado::gen::moment; }, 10);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size) * 2);
    state.SetLabel(tornado::ioloop::poller_name(poller_of(state)));
}
BENCHMARK(BM_IOStreamEcho)
    ->ArgsProduct({{0, 1, 2}, {64, 4096, 65536}, {0}})
    ->ArgsProduct({{0, 1, 2}, {64}, {900}});

}  // namespace

BENCHMARK_MAIN();
