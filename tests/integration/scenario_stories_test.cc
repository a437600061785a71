// Each scenario tells its story in the trace: these tests check the steps
// that story is about, and the answer the client got.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/trace.h"

#include "integration/scenario_cache.h"

namespace {

using tornado::ioloop::IOLoop;
using tornado::testing::scenario_result;
using tornado::trace::ArgValue;
using tornado::trace::Event;
using tornado::trace::Phase;

using Match = std::function<bool(const Event&)>;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// The events of one run, with the searches the stories need.
class Story {
  public:
    explicit Story(const std::string& name) : result_(scenario_result(name)) {}

    const std::vector<Event>& events() const { return result_.events; }
    const std::string& response() const { return result_.response; }

    /// Index of the first event at or after `from` that matches, or kNone.
    std::size_t find(const Match& match, std::size_t from = 0) const {
        for (std::size_t i = from == kNone ? events().size() : from; i < events().size(); ++i) {
            if (match(events()[i])) {
                return i;
            }
        }
        return kNone;
    }
    std::size_t count(const Match& match, std::size_t from = 0, std::size_t to = kNone) const {
        std::size_t n = 0;
        for (std::size_t i = from; i < events().size() && i < to; ++i) {
            n += match(events()[i]) ? 1 : 0;
        }
        return n;
    }

  private:
    const tornado::walkthrough::ScenarioResult& result_;
};

std::int64_t int_arg(const Event& e, const char* key, std::int64_t otherwise = -1) {
    const ArgValue* v = e.arg(key);
    return v != nullptr && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v)
                                                                    : otherwise;
}

std::string str_arg(const Event& e, const char* key) {
    const ArgValue* v = e.arg(key);
    return v != nullptr && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

// A server-side event of `step` and `ph` (request `req` if not 0).
Match server(std::string step, Phase ph, std::uint64_t req = 0) {
    return [step = std::move(step), ph, req](const Event& e) {
        return e.role != "client" && e.step == step && e.ph == ph && (req == 0 || e.req == req);
    };
}

Match client(std::string step, Phase ph) {
    return [step = std::move(step), ph](const Event& e) {
        return e.role == "client" && e.step == step && e.ph == ph;
    };
}

Match both(Match a, Match b) {
    return [a = std::move(a), b = std::move(b)](const Event& e) { return a(e) && b(e); };
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(what); pos != std::string::npos;
         pos = text.find(what, pos + what.size())) {
        ++n;
    }
    return n;
}

// Expects a < b < c ... and that none is missing.
void expect_in_order(const std::vector<std::size_t>& indices) {
    for (std::size_t i = 0; i < indices.size(); ++i) {
        ASSERT_NE(indices[i], kNone) << "step " << i << " of the story is missing";
        if (i > 0) {
            EXPECT_LT(indices[i - 1], indices[i]) << "steps " << i - 1 << " and " << i;
        }
    }
}

TEST(KeepaliveScenarioTest, SecondRequestArrivesAsAReadEventThatResumesReadMessage) {
    Story s("keepalive");
    EXPECT_EQ(occurrences(s.response(), "HTTP/1.1 200 OK\r\n"), 2u) << s.response();
    EXPECT_NE(s.response().find("\r\n\r\nHello, world"), std::string::npos);
    EXPECT_TRUE(s.response().ends_with("\r\n\r\nindex")) << s.response();
    // Request 1 is answered, then request 2's _read_message finds nothing,
    // keeps READ registered and suspends; a READ event resumes it.
    std::size_t answered = s.find(server("HTTP1Connection.write_headers", Phase::Begin, 1));
    std::size_t second = s.find(server("HTTP1Connection._read_message", Phase::Begin, 2));
    std::size_t add_read =
        s.find(both(server("BaseIOStream._add_io_state", Phase::Begin),
                    [](const Event& e) { return int_arg(e, "state") == IOLoop::READ; }),
               second);
    std::size_t suspend =
        s.find(server("HTTP1Connection._read_message", Phase::Suspend, 2), second);
    std::size_t events = s.find(server("BaseIOStream._handle_events", Phase::Begin), suspend);
    std::size_t handle_read = s.find(server("BaseIOStream._handle_read", Phase::Begin), events);
    std::size_t resume = s.find(server("HTTP1Connection._read_message", Phase::Resume, 2), events);
    std::size_t routed = s.find(server("_RoutingDelegate.headers_received", Phase::Begin, 2));
    expect_in_order({answered, second, add_read, suspend, events, handle_read, resume, routed});
    // The client sent the second request only while the server waited.
    std::size_t second_send = s.find(client("Client.send", Phase::Begin),
                                     s.find(client("Client.send", Phase::Begin)) + 1);
    expect_in_order({suspend, second_send, events});
}

TEST(PipelinedScenarioTest, AllThreeRequestsAreServedFromTheBufferBeforeReadIsRegistered) {
    Story s("pipelined");
    EXPECT_EQ(occurrences(s.response(), "HTTP/1.1 200 OK\r\n"), 3u) << s.response();
    EXPECT_NE(s.response().find("\r\n\r\nHello, world"), std::string::npos) << s.response();
    EXPECT_NE(s.response().find("\r\n\r\nindex"), std::string::npos) << s.response();
    EXPECT_TRUE(s.response().ends_with("\r\n\r\nid=7 name=seven")) << s.response();
    std::size_t third = s.find(server("_RoutingDelegate.headers_received", Phase::Begin, 3));
    ASSERT_NE(third, kNone);
    // One read at accept time brought all three; no READ event, and no
    // READ registration on the server's stream, before the third is routed.
    std::size_t accept = s.find(server("netutil.accept_handler", Phase::Begin));
    std::size_t read = s.find(server("BaseIOStream._read_to_buffer", Phase::Instant));
    expect_in_order({accept, read, third});
    EXPECT_EQ(s.count(server("BaseIOStream._read_to_buffer", Phase::Instant), 0, third), 1u);
    EXPECT_EQ(s.count(server("BaseIOStream._handle_read", Phase::Begin), 0, third), 0u);
    EXPECT_EQ(s.count(both(server("BaseIOStream._add_io_state", Phase::Begin),
                           [](const Event& e) { return e.conn != 0; }),
                      0, third),
              0u);
    // Each request's read_until_regex was satisfied by _try_inline_read.
    EXPECT_EQ(s.count(server("BaseIOStream._try_inline_read", Phase::Begin), 0, third), 3u);
    EXPECT_EQ(s.count(server("HTTP1Connection._read_message", Phase::Suspend), 0, third), 0u);
}

TEST(SlowClientScenarioTest, ReadUntilRegexWaitsAcrossThreeReadEvents) {
    Story s("slow-client");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 200 OK\r\n")) << s.response();
    EXPECT_TRUE(s.response().ends_with("\r\n\r\nHello, world")) << s.response();
    std::size_t routed = s.find(server("_RoutingDelegate.headers_received", Phase::Begin, 1));
    ASSERT_NE(routed, kNone);
    // One read_until_regex, three READ events, each reading one piece.
    EXPECT_EQ(s.count(server("BaseIOStream.read_until_regex", Phase::Begin), 0, routed), 1u);
    EXPECT_EQ(s.count(server("BaseIOStream._handle_read", Phase::Begin), 0, routed), 3u);
    EXPECT_EQ(s.count(server("BaseIOStream._read_to_buffer", Phase::Instant), 0, routed), 3u);
    // Only the last read completed it: one _read_from_buffer for the head.
    EXPECT_EQ(s.count(server("BaseIOStream._read_from_buffer", Phase::Begin), 0, routed), 1u);
    EXPECT_EQ(s.count(server("HTTP1Connection._read_message", Phase::Resume, 1), 0, routed), 1u);
}

TEST(PostFormScenarioTest, FixedBodyIsReadAndParsedIntoBodyArguments) {
    Story s("post-form");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 200 OK\r\n")) << s.response();
    EXPECT_NE(s.response().find(R"("title": ["Event loops"])"), std::string::npos) << s.response();
    EXPECT_NE(s.response().find(R"("item": ["read", "write"])"), std::string::npos) << s.response();
    std::size_t body = s.find(server("HTTP1Connection._read_fixed_body", Phase::Begin));
    std::size_t parsed = s.find(server("httputil.parse_body_arguments", Phase::Instant));
    std::size_t post = s.find(server("RequestHandler.post", Phase::Begin));
    expect_in_order({body, parsed, post});
    EXPECT_EQ(int_arg(s.events()[body], "content_length"), 38);
    EXPECT_EQ(int_arg(s.events()[parsed], "arguments"), 2);
}

TEST(PostChunkedScenarioTest, ChunkedBodyIsReadChunkByChunk) {
    Story s("post-chunked");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 200 OK\r\n")) << s.response();
    EXPECT_TRUE(s.response().ends_with("\r\n\r\nchunk1chunk2")) << s.response();
    std::size_t chunked = s.find(server("HTTP1Connection._read_chunked_body", Phase::Begin));
    std::size_t post = s.find(server("RequestHandler.post", Phase::Begin));
    expect_in_order({chunked, post});
    EXPECT_EQ(s.count(server("_HandlerDelegate.data_received", Phase::Begin), chunked, post), 2u);
}

TEST(ChunkedResponseScenarioTest, EachFlushIsFramedAsAChunk) {
    Story s("chunked-response");
    EXPECT_NE(s.response().find("Transfer-Encoding: chunked\r\n"), std::string::npos)
        << s.response();
    EXPECT_TRUE(
        s.response().ends_with("\r\n\r\n5\r\npart1\r\n5\r\npart2\r\n5\r\npart3\r\n0\r\n\r\n"))
        << s.response();
    EXPECT_EQ(s.count(server("RequestHandler.flush", Phase::Begin)), 3u);
    auto framed = both(server("HTTP1Connection._format_chunk", Phase::Begin),
                       [](const Event& e) { return int_arg(e, "chunked") == 1; });
    EXPECT_EQ(s.count(framed), 3u);
    // The first part goes out with the headers, the others by write.
    std::size_t headers = s.find(server("HTTP1Connection.write_headers", Phase::Begin));
    std::size_t first = s.find(framed, headers);
    std::size_t write = s.find(server("HTTP1Connection.write", Phase::Begin), first);
    std::size_t finish = s.find(server("HTTP1Connection.finish", Phase::Begin), write);
    expect_in_order({headers, first, write, finish});
}

TEST(PartialWriteScenarioTest, WriteHitsEagainWaitsForWriteAndFinishesLater) {
    Story s("partial-write");
    const std::string& r = s.response();
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r.substr(0, 200);
    EXPECT_NE(r.find("Content-Length: 1048576\r\n"), std::string::npos) << r.substr(0, 300);
    std::size_t body = r.find("\r\n\r\n") + 4;
    EXPECT_EQ(r.size() - body, 1048576u);
    EXPECT_EQ(r.substr(body, 65),
              "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n0");
    auto server_write_end = server("BaseIOStream._handle_write", Phase::End);
    std::size_t partial = s.find(both(
        server_write_end, [](const Event& e) { return e.conn != 0 && int_arg(e, "pending") > 0; }));
    std::size_t add_write =
        s.find(both(server("BaseIOStream._add_io_state", Phase::Begin),
                    [](const Event& e) { return int_arg(e, "state") == IOLoop::WRITE; }),
               partial);
    std::size_t later =
        s.find(both(server("BaseIOStream._handle_events", Phase::Begin),
                    [](const Event& e) {
                        return e.conn != 0 && (int_arg(e, "events") & IOLoop::WRITE) != 0;
                    }),
               add_write);
    std::size_t resumed_write = s.find(server("BaseIOStream._handle_write", Phase::Begin), later);
    std::size_t done = s.find(both(server_write_end,
                                   [](const Event& e) {
                                       return e.conn != 0 && int_arg(e, "pending") == 0 &&
                                              int_arg(e, "written") > 0;
                                   }),
                              resumed_write);
    expect_in_order({partial, add_write, later, resumed_write, done});
    // The client's reads and the server's WRITE events alternate.
    EXPECT_GT(s.count(client("BaseIOStream._handle_read", Phase::Begin), add_write, done), 1u);
}

TEST(AsyncHandlerScenarioTest, FinishRunsFromTheTimeoutAfterTheHandlerReturned) {
    Story s("async-handler");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 200 OK\r\n")) << s.response();
    EXPECT_TRUE(s.response().ends_with("\r\n\r\ndone after 50ms")) << s.response();
    auto sleep_timeout = [](const char* step, Phase ph) {
        return both(server(step, ph), [](const Event& e) {
            return str_arg(e, "origin") == "gen.sleep" || str_arg(e, "timeout") == "gen.sleep";
        });
    };
    std::size_t added = s.find(sleep_timeout("PollIOLoop.add_timeout", Phase::Instant));
    std::size_t returned = s.find(server("RequestHandler.get", Phase::End), added);
    std::size_t waits = s.find(server("RequestHandler._execute", Phase::Suspend), returned);
    std::size_t fired = s.find(sleep_timeout("IOLoop._run_callback", Phase::Begin), waits);
    std::size_t finish = s.find(server("RequestHandler.finish", Phase::Begin));
    std::size_t written = s.find(server("HTTP1Connection.write_headers", Phase::Begin));
    expect_in_order({added, returned, waits, fired, finish, written});
    // Nothing of the response was written before the timeout.
    EXPECT_EQ(s.count(server("RequestHandler.flush", Phase::Begin), 0, fired), 0u);
}

TEST(NotFoundScenarioTest, ErrorHandlerRaises404AndSendErrorWritesIt) {
    Story s("not-found");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 404 Not Found\r\n")) << s.response();
    EXPECT_TRUE(s.response().ends_with(
        "<html><title>404: Not Found</title><body>404: Not Found</body></html>"))
        << s.response();
    std::size_t match = s.find([](const Event& e) {
        return e.step == "_HandlerDelegate.execute" && str_arg(e, "handler") == "ErrorHandler";
    });
    std::size_t prepare = s.find(server("ErrorHandler.prepare", Phase::Begin));
    std::size_t send_error = s.find(server("RequestHandler.send_error", Phase::Begin));
    std::size_t write_error = s.find(server("RequestHandler.write_error", Phase::Begin));
    std::size_t finish = s.find(server("RequestHandler.finish", Phase::Begin), write_error);
    expect_in_order({match, prepare, send_error, write_error, finish});
    EXPECT_EQ(int_arg(s.events()[send_error], "status"), 404);
    EXPECT_EQ(s.count(server("RequestHandler.get", Phase::Begin)), 0u);
}

TEST(RedirectScenarioTest, RedirectHandlerAnswers301ToIndex) {
    Story s("redirect");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 301 Moved Permanently\r\n")) << s.response();
    EXPECT_NE(s.response().find("\r\nLocation: /index\r\n"), std::string::npos) << s.response();
    std::size_t get = s.find(server("RequestHandler.get", Phase::Begin));
    std::size_t redirect = s.find(server("RequestHandler.redirect", Phase::Begin), get);
    std::size_t finish = s.find(server("RequestHandler.finish", Phase::Begin), redirect);
    expect_in_order({get, redirect, finish});
    EXPECT_EQ(str_arg(s.events()[redirect], "url"), "/index");
    EXPECT_EQ(int_arg(s.events()[redirect], "permanent"), 1);
    EXPECT_EQ(int_arg(s.events()[finish], "status"), 301);
}

TEST(GzipScenarioTest, TransformFirstChunkCompressesTheBody) {
    Story s("gzip");
    const std::string& r = s.response();
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r.substr(0, 300);
    EXPECT_NE(r.find("\r\nContent-Encoding: gzip\r\n"), std::string::npos) << r.substr(0, 300);
    EXPECT_NE(r.find("\r\nVary: Accept-Encoding\r\n"), std::string::npos) << r.substr(0, 300);
    std::string body = r.substr(r.find("\r\n\r\n") + 4);
    ASSERT_LT(body.size(), 1048576u);
    // Inflate it: the megabyte of /big comes back.
    z_stream z{};
    ASSERT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    std::string out(1048576 + 16, '\0');
    z.next_in = reinterpret_cast<Bytef*>(body.data());
    z.avail_in = static_cast<uInt>(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(out.size() - z.avail_out);
    inflateEnd(&z);
    EXPECT_EQ(out.size(), 1048576u);
    EXPECT_TRUE(out.starts_with("0123456789abcdef"));

    std::size_t begin = s.find(server("GZipContentEncoding.transform_first_chunk", Phase::Begin));
    std::size_t end = s.find(server("GZipContentEncoding.transform_first_chunk", Phase::End));
    std::size_t headers = s.find(server("HTTP1Connection.write_headers", Phase::Begin));
    expect_in_order({begin, end, headers});
    EXPECT_EQ(int_arg(s.events()[begin], "bytes"), 1048576);
    EXPECT_EQ(int_arg(s.events()[end], "gzipping"), 1);
    EXPECT_EQ(int_arg(s.events()[end], "bytes"), static_cast<std::int64_t>(body.size()));
}

TEST(ExpectContinueScenarioTest, InterimAnswerGoesOutBeforeTheBodyIsSent) {
    Story s("expect-continue");
    EXPECT_TRUE(s.response().starts_with("HTTP/1.1 100 (Continue)\r\n\r\nHTTP/1.1 200 OK\r\n"))
        << s.response();
    EXPECT_TRUE(s.response().ends_with("\r\n\r\nhello world")) << s.response();
    std::size_t interim = s.find(server("HTTP1Connection._read_message", Phase::Instant));
    ASSERT_NE(interim, kNone);
    EXPECT_EQ(str_arg(s.events()[interim], "interim"), "HTTP/1.1 100 (Continue)");
    std::size_t write = s.find(server("BaseIOStream.write", Phase::Begin), interim);
    std::size_t waits = s.find(server("HTTP1Connection._read_message", Phase::Suspend), write);
    std::size_t first_send = s.find(client("Client.send", Phase::Begin));
    std::size_t body_send = s.find(client("Client.send", Phase::Begin), first_send + 1);
    std::size_t post = s.find(server("RequestHandler.post", Phase::Begin));
    expect_in_order({first_send, interim, write, waits, body_send, post});
    EXPECT_EQ(int_arg(s.events()[write], "bytes"), 27);
}

TEST(HeaderTimeoutScenarioTest, WithTimeoutFiresAndTheServerCloses) {
    Story s("header-timeout");
    EXPECT_EQ(s.response(), "");
    auto with_timeout = [](const char* step, Phase ph) {
        return both(server(step, ph), [](const Event& e) {
            return str_arg(e, "origin") == "gen.with_timeout" ||
                   str_arg(e, "timeout") == "gen.with_timeout";
        });
    };
    std::size_t armed = s.find(with_timeout("PollIOLoop.add_timeout", Phase::Instant));
    std::size_t waits = s.find(server("HTTP1Connection._read_message", Phase::Suspend), armed);
    std::size_t fired = s.find(with_timeout("IOLoop._run_callback", Phase::Begin), waits);
    std::size_t raised = s.find(server("gen.with_timeout", Phase::Instant), fired);
    std::size_t resumed = s.find(server("HTTP1Connection._read_message", Phase::Resume), raised);
    std::size_t close = s.find(server("HTTP1Connection.close", Phase::Begin), resumed);
    std::size_t stream_close = s.find(server("BaseIOStream.close", Phase::Begin), close);
    std::size_t client_sees = s.find(client("BaseIOStream.close", Phase::Begin), stream_close);
    expect_in_order({armed, waits, fired, raised, resumed, close, stream_close, client_sees});
    EXPECT_EQ(s.count(server("_RoutingDelegate.headers_received", Phase::Begin)), 0u);
    EXPECT_EQ(s.count(with_timeout("PollIOLoop.remove_timeout", Phase::Instant)), 0u);
}

TEST(MalformedScenarioTest, BadRequestLineGets400AndClose) {
    Story s("malformed");
    EXPECT_EQ(s.response(), "HTTP/1.1 400 Bad Request\r\n\r\n");
    std::size_t parsed = s.find(server("HTTP1Connection._parse_headers", Phase::Instant));
    std::size_t write = s.find(server("BaseIOStream.write", Phase::Begin), parsed);
    std::size_t close = s.find(server("HTTP1Connection.close", Phase::Begin), write);
    std::size_t client_eof = s.find(client("BaseIOStream.close", Phase::Begin), close);
    expect_in_order({parsed, write, close, client_eof});
    EXPECT_EQ(int_arg(s.events()[write], "bytes"), 28);
    EXPECT_EQ(s.count(server("_RoutingDelegate.headers_received", Phase::Begin)), 0u);
}

TEST(TwoClientsScenarioTest, EventsOfTheTwoConnectionsInterleave) {
    Story s("two-clients");
    const std::string& r = s.response();
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
    EXPECT_NE(r.find("5\r\npart1\r\n5\r\npart2\r\n5\r\npart3\r\n0\r\n\r\n"), std::string::npos)
        << r;
    EXPECT_TRUE(r.ends_with("\r\n\r\nHello, world")) << r;
    // The server-side events, by connection: 1, 2, 1, 2 ... at least twice.
    std::vector<std::uint64_t> runs;
    for (const Event& e : s.events()) {
        if (e.role != "client" && e.conn != 0 && (runs.empty() || runs.back() != e.conn)) {
            runs.push_back(e.conn);
        }
    }
    ASSERT_GE(runs.size(), 4u);
    EXPECT_EQ(runs[0], 1u);
    EXPECT_EQ(runs[1], 2u);
    EXPECT_EQ(runs[2], 1u);
    EXPECT_EQ(runs[3], 2u);
    // Both requests were waiting at the same time: the second connection's
    // _read_message suspends before the first one's resumes.
    std::size_t second_waits = s.find([](const Event& e) {
        return e.step == "HTTP1Connection._read_message" && e.ph == Phase::Suspend && e.conn == 2;
    });
    std::size_t first_resumes = s.find([](const Event& e) {
        return e.step == "HTTP1Connection._read_message" && e.ph == Phase::Resume && e.conn == 1;
    });
    expect_in_order({second_waits, first_resumes});
}

TEST(XsrfFormScenarioTest, FormSetsTheTokenThePostWithItPassesAndOneWithoutItGets403) {
    Story s("xsrf-form");
    const std::string& r = s.response();
    // The page: form.html inside base.html, the hidden field and its cookie.
    std::size_t page_end = r.find("</html>");
    ASSERT_NE(page_end, std::string::npos) << r;
    std::string page = r.substr(0, page_end);
    EXPECT_TRUE(page.starts_with("HTTP/1.1 200 OK\r\n")) << page;
    EXPECT_NE(page.find("\r\nSet-Cookie: _xsrf=2|"), std::string::npos) << page;
    EXPECT_NE(page.find("<title>Hello, Ada</title>"), std::string::npos) << page;
    EXPECT_NE(page.find("<input type=\"hidden\" name=\"_xsrf\" value=\"2|"), std::string::npos)
        << page;
    // The post with the token: done.html, with footer.html's raw note.
    std::size_t done_end = r.find("</html>", page_end + 1);
    ASSERT_NE(done_end, std::string::npos) << r;
    std::string done = r.substr(page_end, done_end - page_end);
    EXPECT_NE(done.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << done;
    EXPECT_NE(done.find("Received: Event loops</h1>"), std::string::npos) << done;
    EXPECT_NE(done.find("<em>rendered by the demo app</em>"), std::string::npos) << done;
    // The post without it.
    std::string refused = r.substr(done_end);
    EXPECT_NE(refused.find("HTTP/1.1 403 Forbidden\r\n"), std::string::npos) << refused;
    EXPECT_EQ(occurrences(r, "Set-Cookie: _xsrf="), 1u) << r;

    // GET: render loads form.html and its parent, generates it, and the
    // template's xsrf_form_html() makes a new token (and the cookie).
    std::size_t render = s.find(server("RequestHandler.render", Phase::Begin, 1));
    std::size_t load = s.find(server("BaseLoader.load", Phase::Begin), render);
    std::size_t parent = s.find(server("BaseLoader.load", Phase::Begin), load + 1);
    std::size_t generate = s.find(server("Template.generate", Phase::Begin), render);
    std::size_t token = s.find(server("RequestHandler.xsrf_token", Phase::Instant, 1), generate);
    std::size_t generated = s.find(server("Template.generate", Phase::End), token);
    std::size_t finish = s.find(server("RequestHandler.finish", Phase::Begin, 1), generated);
    expect_in_order({render, load, parent, generate, token, generated, finish});
    EXPECT_EQ(str_arg(s.events()[render], "template"), "form.html");
    EXPECT_EQ(str_arg(s.events()[load], "name"), "form.html");
    EXPECT_EQ(str_arg(s.events()[parent], "name"), "base.html");
    EXPECT_EQ(int_arg(s.events()[token], "new_cookie"), 1);
    // The template events belong to the render that called them.
    EXPECT_EQ(s.events()[load].parent, s.events()[render].id);
    EXPECT_EQ(s.events()[generate].parent, s.events()[render].id);

    // First POST: the check passes, then done.html is rendered; base.html
    // comes from the loader's cache.
    auto check_end = [&](std::uint64_t req) {
        return s.find(server("RequestHandler.check_xsrf_cookie", Phase::End, req));
    };
    std::size_t passed = check_end(2);
    std::size_t done_render = s.find(server("RequestHandler.render", Phase::Begin, 2), passed);
    std::size_t cached = s.find(both(server("BaseLoader.load", Phase::End),
                                     [](const Event& e) { return int_arg(e, "cached") == 1; }),
                                done_render);
    std::size_t done_finish = s.find(server("RequestHandler.finish", Phase::Begin, 2), cached);
    expect_in_order({passed, done_render, cached, done_finish});
    EXPECT_EQ(str_arg(s.events()[passed], "result"), "ok");
    EXPECT_EQ(str_arg(s.events()[done_render], "template"), "done.html");
    EXPECT_EQ(int_arg(s.events()[done_finish], "status"), 200);

    // Second POST: the check fails before anything is rendered; send_error writes 403.
    std::size_t failed = check_end(3);
    std::size_t send_error = s.find(server("RequestHandler.send_error", Phase::Begin, 3), failed);
    expect_in_order({passed, failed, send_error});
    EXPECT_EQ(str_arg(s.events()[failed], "result"), "missing");
    EXPECT_EQ(int_arg(s.events()[send_error], "status"), 403);
    EXPECT_EQ(s.count(server("RequestHandler.render", Phase::Begin, 3)), 0u);
    // The token is made once: the posts read it from the cookie.
    EXPECT_EQ(s.count(server("RequestHandler.xsrf_token", Phase::Instant)), 1u);
}

TEST(XsrfFormScenarioTest, MissingTemplateDirectoryIsAnErrorNamingIt) {
    tornado::walkthrough::ScenarioOptions options;
    options.template_path = "/nonexistent/demo-templates";
    try {
        tornado::walkthrough::run_scenario("xsrf-form", options);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("/nonexistent/demo-templates"), std::string::npos) << what;
        EXPECT_NE(what.find("--template-path"), std::string::npos) << what;
    }
}

}  // namespace
