// serve's flight recorder (issue 9): serve --record N --admin PORT with
// curl as the real client, `tornado-walk dump` fetching the last requests,
// and the dump read back by render and step as a `run` trace is; serve
// --trace FILE streaming from the same ring while the server runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tornado/walkthrough/diagram.h"

#include "child.h"
#include "hello_chain.h"
#include "process.h"

namespace {

using tornado::testing::Child;
using tornado::testing::exit_code;
using tornado::testing::run_process;
using tornado::trace::Event;
using tornado::trace::Phase;

struct Started {
    int port = 0;
    int admin = 0;
};

// Starts serve and reads the two ports it prints (the admin one first).
Started start(Child& serve) {
    std::string text = serve.read_err_until("(Ctrl-C stops)");
    Started s;
    std::smatch m;
    if (std::regex_search(text, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/ "))) {
        s.port = std::stoi(m[1]);
    }
    if (std::regex_search(text, m, std::regex("tornado-walk dump ([0-9]+)\\)"))) {
        s.admin = std::stoi(m[1]);
    }
    EXPECT_GT(s.port, 0) << text;
    return s;
}

std::vector<std::string> serve_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {TORNADO_WALK_BINARY, "serve", "--address", "127.0.0.1",
                                     "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::string curl(int port, const std::string& path) {
    auto r = run_process({"curl", "--silent", "--show-error", "--max-time", "30",
                          "http://127.0.0.1:" + std::to_string(port) + path});
    EXPECT_EQ(exit_code(r), 0) << r.err;
    return r.out;
}

int stop(Child& serve) {
    ::kill(serve.pid(), SIGTERM);
    return serve.wait();
}

std::filesystem::path temp_dir() {
    auto dir = std::filesystem::temp_directory_path() /
               ("serve_record_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

std::vector<Event> read_events(const std::filesystem::path& file) {
    std::ifstream in(file);
    return tornado::walkthrough::read_jsonl(in);
}

// True when `chain` appears in `steps` in order (other steps between).
bool has_in_order(const std::vector<std::string>& steps, const std::vector<std::string>& chain) {
    std::size_t next = 0;
    for (const std::string& s : steps) {
        if (next < chain.size() && s == chain[next]) {
            ++next;
        }
    }
    return next == chain.size();
}

// Every span end, suspend and resume has its begin in the trace, and every
// parent is a span of the trace: what render and step rely on.
void expect_self_contained(const std::vector<Event>& events) {
    std::set<std::uint64_t> begun;
    for (const Event& e : events) {
        if (e.ph == Phase::Begin) {
            begun.insert(e.id);
        }
    }
    for (const Event& e : events) {
        if (e.ph != Phase::Begin && e.ph != Phase::Instant) {
            EXPECT_TRUE(begun.count(e.id)) << "event " << e.seq << " " << e.step << " ends span "
                                           << e.id << ", which does not begin in the dump";
        }
        if (e.parent != 0) {
            EXPECT_TRUE(begun.count(e.parent))
                << "event " << e.seq << " " << e.step << " has parent " << e.parent
                << ", which is not in the dump";
        }
    }
}

TEST(ServeRecordTest, DumpOfTheLastRequestsRendersAndStepsLikeARunTrace) {
    auto dir = temp_dir();
    Child serve(serve_args({"--record", "2", "--admin", "0"}));
    Started s = start(serve);
    ASSERT_GT(s.admin, 0);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(curl(s.port, "/"), "Hello, world");
    }
    auto file = dir / "record.jsonl";
    auto dumped = run_process({TORNADO_WALK_BINARY, "dump", std::to_string(s.admin), "-o",
                               file.string()});
    ASSERT_EQ(exit_code(dumped), 0) << dumped.err;
    // The server goes on serving after a dump.
    EXPECT_EQ(curl(s.port, "/"), "Hello, world");
    EXPECT_EQ(stop(serve), 0);

    std::vector<Event> events = read_events(file);
    ASSERT_FALSE(events.empty());
    // The last two of the three requests, each on its own connection. Each
    // connection also has the id of the request it waited for when curl
    // closed it: 1 and 2 on the first, 3 and 4, 5 and 6.
    std::set<std::uint64_t> requests;
    for (const Event& e : events) {
        if (e.req != 0 && e.step == "HTTP1Connection._parse_headers") {
            requests.insert(e.req);
        }
    }
    EXPECT_EQ(requests, (std::set<std::uint64_t>{3, 5}));
    expect_self_contained(events);
    // The notes' chain, as a `run hello` trace has it, from the last
    // accept (the third connection's, after the dump's first event) on,
    // through that connection's events and those of no connection.
    std::vector<std::string> third;
    for (const Event& e : events) {
        if (e.step == "netutil.accept_handler" && e.ph == Phase::Begin) {
            third.clear();
        }
        if ((e.conn == 3 || e.conn == 0) && (e.ph == Phase::Begin || e.ph == Phase::Instant)) {
            third.push_back(e.step);
        }
    }
    EXPECT_TRUE(has_in_order(third, tornado::testing::kHelloChain))
        << "the third connection's steps do not hold the chain";

    // render draws it, as a diagram and for Graphviz.
    auto chain = run_process({TORNADO_WALK_BINARY, "render", file.string(), "--view", "chain"});
    ASSERT_EQ(exit_code(chain), 0) << chain.err;
    EXPECT_NE(chain.out.find("_execute"), std::string::npos) << chain.out;
    EXPECT_NE(chain.out.find("write_headers"), std::string::npos) << chain.out;
    auto dot = run_process({TORNADO_WALK_BINARY, "render", file.string(), "--format", "dot"});
    ASSERT_EQ(exit_code(dot), 0) << dot.err;
    auto svg = run_process({"dot", "-Tsvg"}, dot.out);
    ASSERT_EQ(exit_code(svg), 0) << svg.err;
    EXPECT_NE(svg.out.find("<svg"), std::string::npos);

    // step goes through it one event at a time, with the source of each.
    auto step = run_process({TORNADO_WALK_BINARY, "step", file.string(), "--width", "100"},
                            "n\nn\nq\n");
    ASSERT_EQ(exit_code(step), 0) << step.err;
    EXPECT_NE(step.out.find("step 1/"), std::string::npos) << step.out.substr(0, 400);
    EXPECT_NE(step.out.find("step 3/"), std::string::npos);
    EXPECT_NE(step.out.find("-- C++: "), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(ServeRecordTest, DumpRequestsKeepsOnlyTheLastOnes) {
    Child serve(serve_args({"--record", "5", "--admin", "0"}));
    Started s = start(serve);
    ASSERT_GT(s.admin, 0);
    EXPECT_EQ(curl(s.port, "/"), "Hello, world");
    EXPECT_EQ(curl(s.port, "/index"), "index");
    auto dumped = run_process({TORNADO_WALK_BINARY, "dump", "127.0.0.1:" + std::to_string(s.admin),
                               "--requests", "1"});
    ASSERT_EQ(exit_code(dumped), 0) << dumped.err;
    std::istringstream in(dumped.out);
    std::set<std::uint64_t> requests;
    bool index = false;
    for (const Event& e : tornado::walkthrough::read_jsonl(in)) {
        if (e.req != 0 && e.step == "HTTP1Connection._parse_headers") {
            requests.insert(e.req);
        }
        if (const auto* uri = e.arg("uri")) {
            index = index || std::get<std::string>(*uri) == "/index";
        }
    }
    EXPECT_EQ(requests, (std::set<std::uint64_t>{3}));
    EXPECT_TRUE(index);
    EXPECT_EQ(stop(serve), 0);
}

// The admin port answers one page; anything else is a clear error.
TEST(ServeRecordTest, AdminAnswersRecordJsonlAndRejectsTheRest) {
    Child serve(serve_args({"--record", "5", "--admin", "0"}));
    Started s = start(serve);
    ASSERT_GT(s.admin, 0);
    std::string base = "http://127.0.0.1:" + std::to_string(s.admin);
    auto code = [&](const std::string& path) {
        auto r = run_process({"curl", "--silent", "--output", "/dev/null", "--write-out",
                              "%{http_code}", "--max-time", "30", base + path});
        return r.out;
    };
    EXPECT_EQ(code("/record.jsonl"), "200");
    EXPECT_EQ(code("/record.jsonl?requests=3"), "200");
    EXPECT_EQ(code("/record.jsonl?requests=0"), "400");
    EXPECT_EQ(code("/record.jsonl?requests=x"), "400");
    EXPECT_EQ(code("/"), "404");
    EXPECT_EQ(code("/record.jsonlx"), "404");
    EXPECT_EQ(stop(serve), 0);
}

TEST(ServeRecordTest, TraceFileIsWrittenWhileTheServerRuns) {
    auto dir = temp_dir();
    auto file = dir / "live.jsonl";
    Child serve(serve_args({"--trace", file.string()}));
    Started s = start(serve);
    EXPECT_EQ(curl(s.port, "/"), "Hello, world");
    // Written at the end of the loop iteration that answered, not at exit.
    bool seen = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!seen && std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        seen = text.str().find("\"step\":\"BaseIOStream._handle_write\"") != std::string::npos;
        if (!seen) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    EXPECT_TRUE(seen);
    EXPECT_TRUE(serve.running());
    EXPECT_EQ(stop(serve), 0);
    std::vector<Event> events = read_events(file);
    ASSERT_FALSE(events.empty());
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].seq, i + 1) << "the stream skips or repeats an event";
    }
    std::filesystem::remove_all(dir);
}

TEST(ServeRecordTest, BadRecorderOptionsAreErrorsNamingThem) {
    struct Case {
        std::vector<std::string> argv;
        std::string named;
    };
    for (const Case& c : {
             Case{serve_args({"--admin", "0"}), "--admin"},
             Case{serve_args({"--record", "0"}), "--record"},
             Case{serve_args({"--record", "x"}), "--record"},
             Case{serve_args({"--record", "3", "--admin", "70000"}), "--admin"},
             Case{serve_args({"--record", "3", "--admin", "0", "--processes", "2"}), "--admin"},
             Case{serve_args({"--record", "3", "--ui"}), "--ui"},
             Case{{TORNADO_WALK_BINARY, "dump", "nope"}, "nope"},
             Case{{TORNADO_WALK_BINARY, "dump", "127.0.0.1:0"}, "127.0.0.1:0"},
             Case{{TORNADO_WALK_BINARY, "dump", "1", "--requests", "0"}, "--requests"},
         }) {
        auto r = run_process(c.argv);
        EXPECT_EQ(exit_code(r), 2) << c.named << ": " << r.err;
        EXPECT_NE(r.err.find(c.named), std::string::npos) << r.err;
    }
}

// Nothing listens: the dump says so and fails (status 1, not a usage error).
TEST(ServeRecordTest, DumpFromAPortWithNoServerFailsClearly) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    ::close(fd);  // bound, never listened on, closed: the port refuses
    auto r = run_process({TORNADO_WALK_BINARY, "dump", std::to_string(port)});
    EXPECT_EQ(exit_code(r), 1) << r.err;
    EXPECT_NE(r.err.find("cannot reach the admin address"), std::string::npos) << r.err;
}

}  // namespace
