// Run: build/release/bench/bench_core [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tornado/gen.h"
#include "tornado/httpserver.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/trace.h"
#include "tornado/walkthrough/demo_app.h"

namespace {

using namespace tornado;

constexpr trace::Module kTraceModule{"bench", "bench"};
trace::Context trace_context() {
    return {};
}

// What an emit point costs with tracing off: the one branch.
void BM_TraceSpanOff(benchmark::State& state) {
    trace::enable(false);
    for (auto _ : state) {
        TRACE_SPAN("bench.span", {"n", 1});
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_TraceSpanOff);

// With tracing on and a ring sink: building and storing two events.
void BM_TraceSpanOnRing(benchmark::State& state) {
    trace::reset();
    auto ring = std::make_shared<trace::RingSink>(4096);
    trace::add_sink(ring);
    trace::enable(true);
    for (auto _ : state) {
        TRACE_SPAN("bench.span", {"n", 1});
        benchmark::ClobberMemory();
    }
    trace::enable(false);
    trace::remove_sink(ring);
}
BENCHMARK(BM_TraceSpanOnRing);

// One event into the flight recorder (issue 9's target: at most 50 ns),
// with two arguments, one of them a string, as a typical emit point has.
void BM_TraceEventRecorder(benchmark::State& state) {
    trace::reset();
    trace::Recorder recorder(1 << 16);
    trace::set_recorder(&recorder);
    trace::enable(true);
    std::string uri = "/static/site.css";
    for (auto _ : state) {
        TRACE_EVENT("bench.event", {"fd", 8}, {"uri", uri});
        benchmark::ClobberMemory();
    }
    trace::enable(false);
    trace::set_recorder(nullptr);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TraceEventRecorder);

// A span (begin and end: two events) into the flight recorder.
void BM_TraceSpanRecorder(benchmark::State& state) {
    trace::reset();
    trace::Recorder recorder(1 << 16);
    trace::set_recorder(&recorder);
    trace::enable(true);
    for (auto _ : state) {
        TRACE_SPAN("bench.span", {"n", 1});
        benchmark::ClobberMemory();
    }
    trace::enable(false);
    trace::set_recorder(nullptr);
}
BENCHMARK(BM_TraceSpanRecorder);

Future<void> ping_pong(int rounds) {
    for (int i = 0; i < rounds; ++i) {
        co_await gen::moment;
    }
}

// A coroutine suspended and resumed by the loop, per round.
void BM_CoroutineResume(benchmark::State& state) {
    ioloop::IOLoop loop;
    for (auto _ : state) {
        loop.run_sync([] { return ping_pong(1000); });
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_CoroutineResume);

Future<void> keepalive_client(int port, int requests) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto stream = std::make_shared<iostream::IOStream>(fd);
    co_await stream->connect("127.0.0.1", port);
    for (int i = 0; i < requests; ++i) {
        co_await stream->write("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
        std::string head = co_await stream->read_until("\r\n\r\n");
        std::string body = co_await stream->read_bytes(12);
        benchmark::DoNotOptimize(body);
    }
    stream->close();
}

// GET / on a keep-alive connection, client and server on one loop: the
// whole request path, both ends, per item. tracing: 0 off, 1 the Event ring
// sink the scenarios use, 2 the flight recorder (serve --record).
void BM_HelloRequestKeepAlive(benchmark::State& state) {
    trace::reset();
    auto ring = std::make_shared<trace::RingSink>(1 << 16);
    trace::Recorder recorder(state.range(1));
    if (state.range(0) == 1) {
        trace::add_sink(ring);
    } else if (state.range(0) == 2) {
        trace::set_recorder(&recorder);
    }
    trace::enable(state.range(0) != 0);
    ioloop::IOLoop loop;
    {
        httpserver::HTTPServer server(
            walkthrough::make_demo_app({.static_path = "", .log_requests = false}),
            walkthrough::demo_server_settings(), &loop);
        auto sockets = netutil::bind_sockets(0, "127.0.0.1");
        int port = netutil::bound_port(sockets.front());
        server.add_sockets(sockets);
        for (auto _ : state) {
            loop.run_sync([port] { return keepalive_client(port, 100); });
        }
        state.SetItemsProcessed(state.iterations() * 100);
    }
    trace::enable(false);
    trace::remove_sink(ring);
    trace::set_recorder(nullptr);
}
BENCHMARK(BM_HelloRequestKeepAlive)
    ->Args({0, 64})
    ->Args({1, 64})
    ->Args({2, 1 << 12})
    ->Args({2, 1 << 14})
    ->Args({2, 1 << 15})
    ->Args({2, 1 << 16})
    ->Args({2, 1 << 17})
    ->ArgNames({"tracing", "ring"});

}  // namespace

// HTTPHeaders::parse of a head with N distinct names: linear in N (the
// headers index their names past a few), reported as Google Benchmark's
// fitted complexity.
void BM_ParseManyDistinctHeaderNames(benchmark::State& state) {
    std::string head;
    for (std::int64_t i = 0; i < state.range(0); ++i) {
        head += "X-Name-" + std::to_string(i) + ": value\r\n";
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(tornado::httputil::HTTPHeaders::parse(head));
    }
    state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_ParseManyDistinctHeaderNames)->RangeMultiplier(4)->Range(8, 8192)->Complexity();

BENCHMARK_MAIN();
