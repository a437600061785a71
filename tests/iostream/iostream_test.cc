// BaseIOStream and IOStream over real sockets: socketpair(AF_UNIX) for the
// buffering and close logic, TCP on 127.0.0.1 for connect().
#include "tornado/iostream.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/re.h"
#include "tornado/trace.h"

#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

// Coroutine parameters are taken by value (STYLE.md): a reference would
// dangle once the coroutine suspends. clang-tidy 14's check does not know
// coroutines, hence:
// NOLINTBEGIN(performance-unnecessary-value-param)

using iostream::UnsatisfiableReadError;

constexpr double kTimeout = 10;

class BaseIOStreamTest : public LoopTest {};
class IOStreamTest : public LoopTest {};

// Checks that `error` is a StreamClosedError whose real_error is an E.
template <class E>
void expect_closed_by(const std::exception_ptr& error) {
    ASSERT_TRUE(error) << "the Future did not fail";
    try {
        std::rethrow_exception(error);
    } catch (const StreamClosedError& e) {
        ASSERT_TRUE(e.real_error()) << "StreamClosedError without real_error: " << e.what();
        try {
            std::rethrow_exception(e.real_error());
        } catch (const E&) {
            SUCCEED();
        } catch (const std::exception& other) {
            ADD_FAILURE() << "real_error is not the expected type: " << other.what();
        }
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a StreamClosedError: " << e.what();
    }
}

void expect_stream_closed_error(const std::exception_ptr& error) {
    ASSERT_TRUE(error) << "the Future did not fail";
    try {
        std::rethrow_exception(error);
    } catch (const StreamClosedError&) {
        SUCCEED();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a StreamClosedError: " << e.what();
    }
}

// ---------------------------------------------------------------------------
// read_until_regex across a delimiter split over several sends

const std::string kRequestStart = "GET / HTTP/1.1\r\nHost: x\r";

struct SplitResult {
    bool pending_after_first = false;
    std::size_t buffered_after_first = 0;
    bool pending_after_second = false;
    std::size_t buffered_after_second = 0;
    std::string message;
    std::size_t buffered_after_message = 0;
    bool tail_ready_at_once = false;
    std::string tail;
};

Future<void> read_split_request(std::shared_ptr<IOStream> reader, std::shared_ptr<IOStream> writer,
                                const re::Pattern* delimiter, SplitResult* out) {
    Future<std::string> request = reader->read_until_regex(*delimiter);
    co_await writer->write(kRequestStart);
    co_await gen::sleep(0.01);
    out->pending_after_first = !request.done();
    out->buffered_after_first = reader->read_buffer_size();
    co_await writer->write("\n\r");
    co_await gen::sleep(0.01);
    out->pending_after_second = !request.done();
    out->buffered_after_second = reader->read_buffer_size();
    co_await writer->write("\nEXTRA");
    out->message = co_await request;
    out->buffered_after_message = reader->read_buffer_size();
    Future<std::string> tail = reader->read_bytes(5);
    out->tail_ready_at_once = tail.done();
    out->tail = co_await tail;
}

void check_split_request(const SplitResult& r) {
    EXPECT_TRUE(r.pending_after_first);
    EXPECT_EQ(r.buffered_after_first, kRequestStart.size());
    EXPECT_TRUE(r.pending_after_second);
    EXPECT_EQ(r.buffered_after_second, kRequestStart.size() + 2);
    EXPECT_EQ(r.message, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.buffered_after_message, 5U);
    EXPECT_TRUE(r.tail_ready_at_once);
    EXPECT_EQ(r.tail, "EXTRA");
}

// No Tornado test: the header read of HTTP1Connection._read_message when
// the block arrives in pieces (the literal fast path of re::Pattern).
TEST_F(BaseIOStreamTest, ReadUntilRegexAcrossSplitSends) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern delimiter("\r\n\r\n");
    ASSERT_TRUE(delimiter.is_literal());
    SplitResult result;
    run([&] { return read_split_request(reader, writer, &delimiter, &result); }, kTimeout);
    check_split_request(result);
}

// The same with the pattern HTTP1Connection uses (through PCRE2).
TEST_F(BaseIOStreamTest, ReadUntilRegexWithRegexSyntaxAcrossSplitSends) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern delimiter(R"(\r?\n\r?\n)");
    ASSERT_FALSE(delimiter.is_literal());
    SplitResult result;
    run([&] { return read_split_request(reader, writer, &delimiter, &result); }, kTimeout);
    check_split_request(result);
}

// ---------------------------------------------------------------------------
// max_bytes

struct MaxBytesResult {
    std::vector<std::string> data;
    std::exception_ptr error;
    bool failed_at_once = false;
    bool closed = false;
};

Future<void> wait_closed(const int* close_calls) {
    return wait_for_count(close_calls, 1);
}

// Tornado: TestIOStreamMixin.test_read_until_max_bytes (its three steps).
Future<void> read_until_with_limits(std::shared_ptr<IOStream> reader,
                                    std::shared_ptr<IOStream> writer, const int* close_calls,
                                    MaxBytesResult* out) {
    // Extra room under the limit.
    Future<std::string> f = reader->read_until("def", 50);
    co_await writer->write("abcdef");
    out->data.push_back(co_await f);
    // Just enough space.
    f = reader->read_until("def", 6);
    co_await writer->write("abcdef");
    out->data.push_back(co_await f);
    // Not enough space: only known once the data is there.
    f = reader->read_until("def", 5);
    co_await writer->write("123456");
    try {
        out->data.push_back(co_await f);
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await wait_closed(close_calls);
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:641 TestIOStreamMixin.test_read_until_max_bytes
TEST_F(BaseIOStreamTest, ReadUntilClosesStreamPastMaxBytes) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run([&] { return read_until_with_limits(reader, writer, &close_calls, &result); }, kTimeout);
    EXPECT_EQ(result.data, (std::vector<std::string>{"abcdef", "abcdef"}));
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Info, "Unsatisfiable read"), 1)
        << logs.dump();
}

Future<void> read_until_regex_with_limits(std::shared_ptr<IOStream> reader,
                                          std::shared_ptr<IOStream> writer,
                                          const re::Pattern* pattern, const int* close_calls,
                                          MaxBytesResult* out) {
    Future<std::string> f = reader->read_until_regex(*pattern, 50);
    co_await writer->write("abcdef");
    out->data.push_back(co_await f);
    f = reader->read_until_regex(*pattern, 6);
    co_await writer->write("abcdef");
    out->data.push_back(co_await f);
    f = reader->read_until_regex(*pattern, 5);
    out->failed_at_once = f.done();
    co_await writer->write("123456");
    try {
        out->data.push_back(co_await f);
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await wait_closed(close_calls);
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:701 TestIOStreamMixin.test_read_until_regex_max_bytes
TEST_F(BaseIOStreamTest, ReadUntilRegexClosesStreamPastMaxBytesAsync) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern pattern("d.f");
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run(
        [&] {
            return read_until_regex_with_limits(reader, writer, &pattern, &close_calls, &result);
        },
        kTimeout);
    EXPECT_EQ(result.data, (std::vector<std::string>{"abcdef", "abcdef"}));
    EXPECT_FALSE(result.failed_at_once);  // nothing to judge before the data came
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
    EXPECT_TRUE(reader->error() != nullptr);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Info, "Unsatisfiable read"), 1)
        << logs.dump();
}

Future<void> read_regex_past_limit_from_buffer(std::shared_ptr<IOStream> reader,
                                               std::shared_ptr<IOStream> writer,
                                               const re::Pattern* pattern, const int* close_calls,
                                               MaxBytesResult* out) {
    co_await writer->write("123456");
    // Reads everything the socket has: "23456" stays in the read buffer.
    out->data.push_back(co_await reader->read_bytes(1));
    out->data.push_back(std::to_string(reader->read_buffer_size()));
    Future<std::string> f = reader->read_until_regex(*pattern, 3);  // must not throw
    out->failed_at_once = f.done();
    try {
        out->data.push_back(co_await f);
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await wait_closed(close_calls);
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:728 TestIOStreamMixin.test_read_until_regex_max_bytes_inline
// (here the data is already in the stream's buffer, not only in the socket)
TEST_F(BaseIOStreamTest, ReadUntilRegexClosesStreamPastMaxBytesInline) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern pattern("d.f");
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run(
        [&] {
            return read_regex_past_limit_from_buffer(reader, writer, &pattern, &close_calls,
                                                     &result);
        },
        kTimeout);
    EXPECT_EQ(result.data, (std::vector<std::string>{"1", "5"}));
    EXPECT_TRUE(result.failed_at_once);
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Info, "Unsatisfiable read"), 1)
        << logs.dump();
}

Future<void> read_until_past_limit_inline(std::shared_ptr<IOStream> reader,
                                          std::shared_ptr<IOStream> writer, std::string data,
                                          std::size_t max_bytes, const int* close_calls,
                                          MaxBytesResult* out) {
    co_await writer->write(std::move(data));
    Future<std::string> f = reader->read_until("def", max_bytes);
    try {
        out->data.push_back(co_await f);
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await wait_closed(close_calls);
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:668 TestIOStreamMixin.test_read_until_max_bytes_inline
TEST_F(BaseIOStreamTest, ReadUntilClosesStreamPastMaxBytesInline) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run(
        [&] {
            return read_until_past_limit_inline(reader, writer, "123456", 5, &close_calls, &result);
        },
        kTimeout);
    EXPECT_TRUE(result.data.empty());
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Info, "Unsatisfiable read"), 1)
        << logs.dump();
}

// Tornado: tornado/test/iostream_test.py:685 TestIOStreamMixin.test_read_until_max_bytes_ignores_extra
// (the delimiter arrives in the same packet but ends past the limit: still unsatisfiable)
TEST_F(BaseIOStreamTest, ReadUntilFailsWhenDelimiterEndsPastMaxBytes) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run(
        [&] {
            return read_until_past_limit_inline(reader, writer, "abcdef", 5, &close_calls, &result);
        },
        kTimeout);
    EXPECT_TRUE(result.data.empty());
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
}

Future<void> read_regex_past_limit_inline(std::shared_ptr<IOStream> reader,
                                          std::shared_ptr<IOStream> writer,
                                          const re::Pattern* pattern, const int* close_calls,
                                          MaxBytesResult* out) {
    co_await writer->write("abcdef");
    Future<std::string> f = reader->read_until_regex(*pattern, 5);
    try {
        out->data.push_back(co_await f);
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await wait_closed(close_calls);
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:745 TestIOStreamMixin.test_read_until_regex_max_bytes_ignores_extra
TEST_F(BaseIOStreamTest, ReadUntilRegexFailsWhenMatchEndsPastMaxBytes) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern pattern("d.f");
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    LogCapture logs;
    MaxBytesResult result;
    run(
        [&] {
            return read_regex_past_limit_inline(reader, writer, &pattern, &close_calls, &result);
        },
        kTimeout);
    EXPECT_TRUE(result.data.empty());
    expect_closed_by<UnsatisfiableReadError>(result.error);
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(close_calls, 1);
    EXPECT_EQ(logs.count("tornado.general", log::Level::Info, "Unsatisfiable read"), 1)
        << logs.dump();
}

struct ExtraResult {
    std::string until;
    std::size_t buffered_after_until = 0;
    std::string regex;
    std::size_t buffered_after_regex = 0;
    std::string rest;
};

Future<void> read_with_extra_after_delimiter(std::shared_ptr<IOStream> reader,
                                             std::shared_ptr<IOStream> writer,
                                             const re::Pattern* pattern, ExtraResult* out) {
    // One send: the delimiter ends exactly at max_bytes, 100 more bytes follow.
    co_await writer->write("abcdef" + std::string(100, 'X') + "ghi" + std::string(50, 'Y'));
    out->until = co_await reader->read_until("def", 6);
    out->buffered_after_until = reader->read_buffer_size();
    out->regex = co_await reader->read_until_regex(*pattern, 103);
    out->buffered_after_regex = reader->read_buffer_size();
    out->rest = co_await reader->read_bytes(50);
}

// Tornado: tornado/test/iostream_test.py:641 TestIOStreamMixin.test_read_until_max_bytes ("just enough
// space"), with more data behind the delimiter than max_bytes allows.
TEST_F(BaseIOStreamTest, ReadUntilIgnoresDataAfterDelimiterWithinMaxBytes) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    const re::Pattern pattern("g.i");
    ExtraResult result;
    run([&] { return read_with_extra_after_delimiter(reader, writer, &pattern, &result); },
        kTimeout);
    EXPECT_EQ(result.until, "abcdef");
    EXPECT_EQ(result.buffered_after_until, 153U);
    EXPECT_EQ(result.regex, std::string(100, 'X') + "ghi");
    EXPECT_EQ(result.buffered_after_regex, 50U);
    EXPECT_EQ(result.rest, std::string(50, 'Y'));
    EXPECT_FALSE(reader->closed());
}

// ---------------------------------------------------------------------------
// read_bytes

struct ReadBytesResult {
    std::vector<std::string> data;
    bool exact_pending_after_one_byte = false;
    std::size_t buffered_after_one_byte = 0;
};

Future<void> read_bytes_steps(std::shared_ptr<IOStream> reader, std::shared_ptr<IOStream> writer,
                              ReadBytesResult* out) {
    co_await writer->write("abcdef");
    out->data.push_back(co_await reader->read_bytes(4));
    out->data.push_back(co_await reader->read_bytes(10, true));  // partial: what is there
    // Exact: one byte is not enough for three.
    Future<std::string> exact = reader->read_bytes(3);
    co_await writer->write("x");
    co_await gen::sleep(0.01);
    out->exact_pending_after_one_byte = !exact.done();
    out->buffered_after_one_byte = reader->read_buffer_size();
    co_await writer->write("yz");
    out->data.push_back(co_await exact);
    // Partial, pending until some data comes.
    Future<std::string> partial = reader->read_bytes(10, true);
    co_await writer->write("pq");
    out->data.push_back(co_await partial);
}

// Tornado: tornado/test/iostream_test.py:616 TestIOStreamMixin.test_read_bytes_partial
TEST_F(BaseIOStreamTest, ReadBytesExactAndPartial) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    ReadBytesResult result;
    run([&] { return read_bytes_steps(reader, writer, &result); }, kTimeout);
    EXPECT_EQ(result.data, (std::vector<std::string>{"abcd", "ef", "xyz", "pq"}));
    EXPECT_TRUE(result.exact_pending_after_one_byte);
    EXPECT_EQ(result.buffered_after_one_byte, 1U);
}

struct ZeroResult {
    bool empty_ready_at_once = false;
    std::string empty;
    bool buffered_zero_ready_at_once = false;
    std::string buffered_zero;
    std::size_t buffered_after_zero = 0;
    std::string rest;
};

Future<void> read_zero_bytes(std::shared_ptr<IOStream> reader, std::shared_ptr<IOStream> writer,
                             ZeroResult* out) {
    Future<std::string> f = reader->read_bytes(0);
    out->empty_ready_at_once = f.done();
    out->empty = co_await f;
    co_await writer->write("hello");
    std::string he = co_await reader->read_bytes(2);
    // "llo" is buffered now; a zero-byte read takes none of it.
    f = reader->read_bytes(0);
    out->buffered_zero_ready_at_once = f.done();
    out->buffered_zero = co_await f;
    out->buffered_after_zero = reader->read_buffer_size();
    out->rest = he + co_await reader->read_bytes(3);
}

// Tornado: tornado/test/iostream_test.py:71 TestIOStreamWebMixin.test_read_zero_bytes
TEST_F(BaseIOStreamTest, ReadZeroBytesResolvesEmpty) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    ZeroResult result;
    run([&] { return read_zero_bytes(reader, writer, &result); }, kTimeout);
    EXPECT_TRUE(result.empty_ready_at_once);
    EXPECT_EQ(result.empty, "");
    EXPECT_TRUE(result.buffered_zero_ready_at_once);
    EXPECT_EQ(result.buffered_zero, "");
    EXPECT_EQ(result.buffered_after_zero, 3U);
    EXPECT_EQ(result.rest, "hello");
}

// ---------------------------------------------------------------------------
// read_until_close

struct UntilCloseResult {
    bool pending_after_first = false;
    std::string data;
    bool closed = false;
};

Future<void> read_until_peer_closes(std::shared_ptr<IOStream> reader,
                                    std::shared_ptr<IOStream> writer, UntilCloseResult* out) {
    Future<std::string> f = reader->read_until_close();
    co_await writer->write("abc");
    co_await gen::sleep(0.01);
    out->pending_after_first = !f.done();
    co_await writer->write("def");
    co_await gen::moment;
    writer->close();
    out->data = co_await f;
    out->closed = reader->closed();
}

// Tornado: tornado/test/iostream_test.py:60 TestIOStreamWebMixin.test_read_until_close (the
// data comes in pieces, then the peer closes)
TEST_F(BaseIOStreamTest, ReadUntilCloseReturnsAllDataOncePeerCloses) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    UntilCloseResult result;
    run([&] { return read_until_peer_closes(reader, writer, &result); }, kTimeout);
    EXPECT_TRUE(result.pending_after_first);
    EXPECT_EQ(result.data, "abcdef");
    EXPECT_TRUE(result.closed);
}

Future<void> read_until_close_after_close(std::shared_ptr<IOStream> reader,
                                          std::shared_ptr<IOStream> writer,
                                          std::vector<std::string>* out) {
    co_await writer->write("1234");
    writer->close();
    out->push_back(co_await reader->read_bytes(1));
    out->push_back(co_await reader->read_until_close());
}

// Tornado: tornado/test/iostream_test.py:440 TestIOStreamMixin.test_read_until_close_after_close
TEST_F(BaseIOStreamTest, ReadUntilCloseAfterPeerClosedDeliversBufferedData) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    std::vector<std::string> data;
    run([&] { return read_until_close_after_close(reader, writer, &data); }, kTimeout);
    EXPECT_EQ(data, (std::vector<std::string>{"1", "234"}));
    EXPECT_TRUE(reader->closed());
}

// ---------------------------------------------------------------------------
// A large write to a slow reader

constexpr std::size_t kBigWrite = std::size_t{4} << 20;  // 4 MiB
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;

struct SlowReadResult {
    std::string received;
    std::size_t reads = 0;
    bool write_pending_after_call = false;
    bool write_done = false;
    std::size_t received_when_write_done = 0;
};

Future<void> slow_reader(std::shared_ptr<IOStream> reader, std::size_t total, SlowReadResult* out) {
    while (out->received.size() < total) {
        std::size_t want = std::min(kReadChunk, total - out->received.size());
        out->received += co_await reader->read_bytes(want);
        ++out->reads;
        co_await gen::sleep(0.001);
    }
}

Future<void> write_to_slow_reader(std::shared_ptr<IOStream> writer,
                                  std::shared_ptr<IOStream> reader, std::string data,
                                  SlowReadResult* out) {
    std::size_t total = data.size();
    Future<void> reading = slow_reader(reader, total, out);
    Future<void> written = writer->write(std::move(data));
    out->write_pending_after_call = !written.done();
    written.add_done_callback([out](const Future<void>& f) {
        if (!f.exception()) {
            out->write_done = true;
            out->received_when_write_done = out->received.size();
        }
    });
    co_await written;
    co_await reading;
}

std::string byte_pattern(std::size_t size) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        // 251 is prime, so no 64 KiB chunk repeats another.
        data[i] = static_cast<char>(i % 251);
    }
    return data;
}

// Tornado: tornado/test/iostream_test.py:791 TestIOStreamMixin.test_flow_control (a writer far ahead
// of a reader that takes its time; what the socket does not take at once waits for WRITE events)
TEST_F(BaseIOStreamTest, LargeWriteToSlowReaderCompletesOnWriteEvents) {
    std::shared_ptr<IOStream> writer;
    std::shared_ptr<IOStream> reader;
    std::tie(writer, reader) = stream_pair();
    // A small, fixed send buffer, whatever the host's defaults are.
    int sndbuf = 64 * 1024;
    ASSERT_EQ(::setsockopt(writer->fileno(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    const int writer_fd = writer->fileno();
    const std::string expected = byte_pattern(kBigWrite);

    SlowReadResult result;
    std::vector<trace::Event> events;
    std::size_t dropped = 0;
    {
        TraceCapture capture;
        run([&] { return write_to_slow_reader(writer, reader, expected, &result); }, 60);
        events = capture.events();
        dropped = capture.dropped();
    }

    ASSERT_EQ(result.received.size(), kBigWrite);
    auto mismatch = std::mismatch(expected.begin(), expected.end(), result.received.begin());
    EXPECT_TRUE(mismatch.first == expected.end())
        << "first differing byte at " << (mismatch.first - expected.begin());
    EXPECT_GE(result.reads, kBigWrite / kReadChunk);
    EXPECT_TRUE(result.write_pending_after_call) << "the whole write went out at once";
    EXPECT_TRUE(result.write_done);
    // All but what the kernel and the reader's buffer hold was consumed
    // before the write Future resolved.
    EXPECT_GE(result.received_when_write_done, kBigWrite - (std::size_t{1} << 20));
    // ...and the last bytes had just been handed to the kernel: the reader
    // (on this same thread) cannot have consumed them yet.
    EXPECT_LT(result.received_when_write_done, kBigWrite);

    // The trace: the first _handle_write (inside write()) stopped at EAGAIN
    // with data pending, WRITE was registered, and later _handle_write runs
    // came from _handle_events on a WRITE event.
    ASSERT_EQ(dropped, 0U);
    std::map<std::uint64_t, const trace::Event*> begins;
    for (const trace::Event& e : events) {
        if (e.ph == trace::Phase::Begin) {
            begins[e.id] = &e;
        }
    }
    auto parent_step = [&](const trace::Event& e) -> std::string {
        auto it = begins.find(e.parent);
        return it == begins.end() ? std::string() : it->second->step;
    };
    std::vector<const trace::Event*> writes;
    for (const trace::Event& e : events) {
        if (e.ph == trace::Phase::Begin && e.step == "BaseIOStream._handle_write" &&
            int_arg(e, "fd") == writer_fd) {
            writes.push_back(&e);
        }
    }
    ASSERT_GE(writes.size(), 2U);
    const trace::Event& first_write = *writes.front();
    EXPECT_EQ(parent_step(first_write), "BaseIOStream.write");
    const trace::Event* first_write_end = nullptr;
    for (const trace::Event& e : events) {
        if (e.ph == trace::Phase::End && e.id == first_write.id) {
            first_write_end = &e;
            break;
        }
    }
    ASSERT_NE(first_write_end, nullptr);
    EXPECT_GT(int_arg(*first_write_end, "pending"), 0) << "the first write did not hit EAGAIN";
    EXPECT_GT(int_arg(*first_write_end, "written"), 0);

    std::uint64_t registered_at = 0;
    for (const trace::Event& e : events) {
        if (e.seq <= first_write.seq || int_arg(e, "fd") != writer_fd) {
            continue;
        }
        bool adds_write =
            (e.step == "BaseIOStream._add_io_state" && e.ph == trace::Phase::Begin &&
             (int_arg(e, "state", 0) & IOLoop::WRITE) != 0) ||
            ((e.step == "PollIOLoop.update_handler" || e.step == "PollIOLoop.add_handler") &&
             (int_arg(e, "events", 0) & IOLoop::WRITE) != 0);
        if (adds_write) {
            registered_at = e.seq;
            break;
        }
    }
    ASSERT_NE(registered_at, 0U) << "WRITE was never registered for the writer";

    int from_write_events = 0;
    for (const trace::Event* w : writes) {
        auto it = begins.find(w->parent);
        if (w->seq > registered_at && it != begins.end() &&
            it->second->step == "BaseIOStream._handle_events" &&
            (int_arg(*it->second, "events", 0) & IOLoop::WRITE) != 0) {
            ++from_write_events;
        }
    }
    EXPECT_GE(from_write_events, 1);
}

// ---------------------------------------------------------------------------
// Closing

// Tornado: tornado/test/iostream_test.py:215 TestIOStreamMixin.test_write_zero_bytes
TEST_F(BaseIOStreamTest, WriteZeroBytesResolves) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    Future<void> f = writer->write("");
    EXPECT_TRUE(f.done());
    EXPECT_NO_THROW(f.result());
    EXPECT_FALSE(writer->writing());
}

TEST_F(BaseIOStreamTest, WriteOnClosedStreamThrowsStreamClosedError) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    writer->close();
    EXPECT_TRUE(writer->closed());
    EXPECT_THROW((void)writer->write("x"), StreamClosedError);
    EXPECT_THROW((void)writer->write(""), StreamClosedError);
}

TEST_F(BaseIOStreamTest, ReadOnClosedStreamWithEmptyBufferThrowsStreamClosedError) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    reader->close();
    EXPECT_THROW((void)reader->read_bytes(1), StreamClosedError);
    EXPECT_FALSE(reader->reading());
    // The failed read left nothing half-started behind.
    EXPECT_THROW((void)reader->read_until("\n"), StreamClosedError);
}

Future<void> pending_write_then_close(std::shared_ptr<IOStream> writer, std::string data,
                                      std::exception_ptr* error) {
    Future<void> f = writer->write(std::move(data));
    co_await gen::moment;
    writer->close();
    try {
        co_await f;
    } catch (...) {
        *error = std::current_exception();
    }
}

TEST_F(BaseIOStreamTest, PendingWriteFailsWithStreamClosedErrorOnClose) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    std::exception_ptr error;
    run([&] { return pending_write_then_close(writer, std::string(kBigWrite, 'w'), &error); },
        kTimeout);
    expect_stream_closed_error(error);
}

struct PendingReadResult {
    std::string first;
    bool pending_before_close = false;
    std::exception_ptr error;
    int close_calls_when_read_failed = -1;
};

Future<void> read_while_peer_closes(std::shared_ptr<IOStream> reader,
                                    std::shared_ptr<IOStream> writer, const int* close_calls,
                                    PendingReadResult* out) {
    co_await writer->write("OK\r\n");
    out->first = co_await reader->read_until("\r\n");
    Future<std::string> pending = reader->read_until("\r\n");
    co_await gen::moment;
    out->pending_before_close = !pending.done();
    writer->close();
    try {
        (void)co_await pending;
    } catch (...) {
        out->error = std::current_exception();
        out->close_calls_when_read_failed = *close_calls;
    }
    co_await wait_closed(close_calls);
}

// Tornado: tornado/test/iostream_test.py:517 TestIOStreamMixin.test_close_callback_with_pending_read
TEST_F(BaseIOStreamTest, PendingReadFailsWithStreamClosedErrorWhenPeerCloses) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    PendingReadResult result;
    run([&] { return read_while_peer_closes(reader, writer, &close_calls, &result); }, kTimeout);
    EXPECT_EQ(result.first, "OK\r\n");
    EXPECT_TRUE(result.pending_before_close);
    expect_stream_closed_error(result.error);
    // The read fails first; the close callback runs on a later iteration.
    EXPECT_EQ(result.close_calls_when_read_failed, 0);
    EXPECT_EQ(close_calls, 1);
    EXPECT_TRUE(reader->closed());
    EXPECT_EQ(reader->error(), nullptr);  // a clean EOF is no error
}

struct CloseOnceResult {
    int calls_right_after_close = -1;
    int calls_after_one_iteration = -1;
    int calls_after_second_close = -1;
};

Future<void> close_twice(std::shared_ptr<IOStream> stream, const int* close_calls,
                         CloseOnceResult* out) {
    stream->close();
    out->calls_right_after_close = *close_calls;
    co_await gen::moment;
    out->calls_after_one_iteration = *close_calls;
    stream->close();
    co_await gen::moment;
    co_await gen::moment;
    out->calls_after_second_close = *close_calls;
}

TEST_F(BaseIOStreamTest, CloseCallbackRunsOnceOnALaterIteration) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    CloseOnceResult result;
    run([&] { return close_twice(reader, &close_calls, &result); }, kTimeout);
    EXPECT_EQ(result.calls_right_after_close, 0);
    EXPECT_EQ(result.calls_after_one_iteration, 1);
    EXPECT_EQ(result.calls_after_second_close, 1);
}

Future<void> read_line_then_close(std::shared_ptr<IOStream> reader,
                                  std::shared_ptr<IOStream> writer, std::vector<std::string>* order,
                                  const int* close_calls) {
    Future<std::string> line = reader->read_until("\n");
    // The whole line and the EOF reach the reader in one READ event; with a
    // 4-byte chunk it sees the EOF before it scans for the delimiter again.
    co_await writer->write("abcdefgh\n");
    writer->close();
    try {
        order->push_back("read:" + co_await line);
    } catch (const std::exception& e) {
        order->push_back(std::string("read failed: ") + e.what());
    }
    co_await wait_closed(close_calls);
}

// Tornado: tornado/test/iostream_test.py:367 TestIOStreamMixin.test_delayed_close_callback
TEST_F(BaseIOStreamTest, CloseCallbackWaitsForReadThatBufferedDataSatisfies) {
    BaseIOStream::Options small_chunks;
    small_chunks.read_chunk_size = 4;
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair(small_chunks);
    std::vector<std::string> order;
    int close_calls = 0;
    reader->set_close_callback([&order, &close_calls] {
        order.emplace_back("close");
        ++close_calls;
    });
    run([&] { return read_line_then_close(reader, writer, &order, &close_calls); }, kTimeout);
    EXPECT_EQ(order, (std::vector<std::string>{"read:abcdefgh\n", "close"}));
    EXPECT_EQ(close_calls, 1);
}

struct BufferedCloseResult {
    std::vector<std::string> data;
    std::exception_ptr error;
};

Future<void> read_buffered_after_close(std::shared_ptr<IOStream> reader,
                                       std::shared_ptr<IOStream> writer, BufferedCloseResult* out) {
    co_await writer->write(std::string(256, 'A') + std::string(256, 'B'));
    out->data.push_back(co_await reader->read_bytes(256));
    writer->close();
    co_await gen::sleep(0.01);
    out->data.push_back(co_await reader->read_bytes(256));
    try {
        out->data.push_back(co_await reader->read_bytes(1));
    } catch (...) {
        out->error = std::current_exception();
    }
}

// Tornado: tornado/test/iostream_test.py:412 TestIOStreamMixin.test_close_buffered_data
TEST_F(BaseIOStreamTest, DataBufferedBeforePeerClosedIsStillRead) {
    BaseIOStream::Options small_chunks;
    small_chunks.read_chunk_size = 256;
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair(small_chunks);
    BufferedCloseResult result;
    run([&] { return read_buffered_after_close(reader, writer, &result); }, kTimeout);
    EXPECT_EQ(result.data,
              (std::vector<std::string>{std::string(256, 'A'), std::string(256, 'B')}));
    expect_stream_closed_error(result.error);
    EXPECT_TRUE(reader->closed());
}

struct IdleCloseResult {
    std::string data;
    int close_calls_after_read = -1;
    bool closed_after_read = true;
};

Future<void> read_then_peer_closes(std::shared_ptr<IOStream> reader,
                                   std::shared_ptr<IOStream> writer, const int* close_calls,
                                   IdleCloseResult* out) {
    co_await writer->write("a");
    out->data = co_await reader->read_bytes(1);
    co_await gen::sleep(0.01);
    out->close_calls_after_read = *close_calls;
    out->closed_after_read = reader->closed();
    // The reader is idle now: nothing pending, nothing buffered.
    writer->close();
    co_await wait_closed(close_calls);
}

// Tornado: tornado/test/iostream_test.py:582 TestIOStreamMixin.test_future_close_callback (an idle
// stream with a close callback listens for READ, so it notices the peer going away)
TEST_F(BaseIOStreamTest, CloseCallbackRunsWhenIdlePeerCloses) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    int close_calls = 0;
    reader->set_close_callback([&close_calls] { ++close_calls; });
    IdleCloseResult result;
    run([&] { return read_then_peer_closes(reader, writer, &close_calls, &result); }, kTimeout);
    EXPECT_EQ(result.data, "a");
    EXPECT_EQ(result.close_calls_after_read, 0);
    EXPECT_FALSE(result.closed_after_read);
    EXPECT_EQ(close_calls, 1);
    EXPECT_TRUE(reader->closed());
    EXPECT_FALSE(reader->reading());
}

Future<void> write_to_closed_peer(std::shared_ptr<IOStream> writer, std::exception_ptr* error,
                                  bool* threw) {
    Future<void> f;
    try {
        f = writer->write("hello");
    } catch (...) {
        *threw = true;
        co_return;
    }
    try {
        co_await f;
    } catch (...) {
        *error = std::current_exception();
    }
}

TEST_F(BaseIOStreamTest, WriteToPeerThatClosedFailsWithStreamClosedError) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    reader->close();
    std::exception_ptr error;
    bool threw = false;
    LogCapture logs(log::Level::Warning);
    run([&] { return write_to_closed_peer(writer, &error, &threw); }, kTimeout);
    EXPECT_FALSE(threw) << "the stream was open when write() was called";
    expect_closed_by<std::system_error>(error);
    EXPECT_TRUE(writer->closed());
    // A peer that went away is not worth a warning (EPIPE is a reset).
    EXPECT_EQ(logs.count("tornado.general", log::Level::Warning, "Write error"), 0) << logs.dump();
}

// Tornado: tornado/iostream.py:367 BaseIOStream.write (max_write_buffer_size)
TEST_F(BaseIOStreamTest, WriteBeyondMaxWriteBufferSizeThrowsStreamBufferFullError) {
    BaseIOStream::Options limited;
    limited.max_write_buffer_size = 1024;
    std::shared_ptr<IOStream> writer;
    std::shared_ptr<IOStream> reader;
    std::tie(writer, reader) = stream_pair(limited);
    EXPECT_THROW((void)writer->write(std::string(1025, 'x')), iostream::StreamBufferFullError);
    EXPECT_FALSE(writer->closed());
    Future<void> f = writer->write(std::string(1024, 'y'));
    EXPECT_TRUE(f.done());
    std::string got = run([&] { return reader->read_bytes(1024); }, kTimeout);
    EXPECT_EQ(got, std::string(1024, 'y'));
}

// ---------------------------------------------------------------------------
// IOStream.connect

/// A listening socket on 127.0.0.1 whose accepted connections become
/// streams of the fixture.
struct Listener {
    IOLoop* loop;
    int fd;
    int port;
    ~Listener() {
        loop->remove_handler(fd);
        ::close(fd);
    }
};

struct ConnectWriteResult {
    std::vector<std::string> order;
    bool connect_pending_after_call = false;
    bool write_pending_after_call = false;
    std::string request;
    std::string response;
};

Future<void> serve_hello(const std::vector<std::shared_ptr<IOStream>>* accepted,
                         ConnectWriteResult* out) {
    while (accepted->empty()) {
        co_await gen::moment;
    }
    IOStream* server = accepted->front().get();  // `accepted` keeps it alive
    out->request = co_await server->read_until("\r\n\r\n");
    co_await server->write("HTTP/1.0 200 OK\r\n\r\nHello");
    server->close();
}

Future<void> write_while_connecting(std::shared_ptr<IOStream> client, int port,
                                    const std::vector<std::shared_ptr<IOStream>>* accepted,
                                    ConnectWriteResult* out) {
    Future<void> connected = client->connect("127.0.0.1", port);
    Future<void> written = client->write("GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
    out->connect_pending_after_call = !connected.done();
    out->write_pending_after_call = !written.done();
    std::vector<std::string>* order = &out->order;
    connected.add_done_callback([order](const Future<void>&) { order->emplace_back("connect"); });
    written.add_done_callback([order](const Future<void>&) { order->emplace_back("write"); });
    Future<void> serving = serve_hello(accepted, out);
    co_await connected;
    co_await written;
    out->response = co_await client->read_until_close();
    co_await serving;
}

// Tornado: tornado/test/iostream_test.py:95 TestIOStreamWebMixin.test_write_while_connecting
TEST_F(IOStreamTest, WritesQueuedWhileConnectingArrive) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(socks.size(), 1U);
    Listener listener{loop_.get(), socks[0], netutil::bound_port(socks[0])};
    std::vector<std::shared_ptr<IOStream>> accepted;
    netutil::add_accept_handler(
        listener.fd,
        [this, &accepted](int connection, const netutil::Address&) {
            accepted.push_back(adopt(connection));
        },
        loop_.get());
    auto client = adopt(tcp_socket());
    ConnectWriteResult result;
    run([&] { return write_while_connecting(client, listener.port, &accepted, &result); },
        kTimeout);
    EXPECT_TRUE(result.connect_pending_after_call);
    EXPECT_TRUE(result.write_pending_after_call);
    // By the time the write has been flushed, the connect has completed.
    EXPECT_EQ(result.order, (std::vector<std::string>{"connect", "write"}));
    EXPECT_EQ(result.request, "GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(result.response.ends_with("Hello")) << result.response;
    EXPECT_EQ(accepted.size(), 1U);
}

Future<void> connect_and_capture(std::shared_ptr<IOStream> client, int port,
                                 std::exception_ptr* error) {
    try {
        co_await client->connect("127.0.0.1", port);
    } catch (...) {
        *error = std::current_exception();
    }
}

// Tornado: tornado/test/iostream_test.py:224 TestIOStreamMixin.test_connection_refused
TEST_F(IOStreamTest, ConnectToClosedPortFailsWithStreamClosedError) {
    // A free port: bind one, note it, close it.
    int probe = tcp_socket();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    int port = netutil::bound_port(probe);
    ::close(probe);
    ASSERT_GT(port, 0);

    auto client = adopt(tcp_socket());
    int close_calls = 0;
    client->set_close_callback([&close_calls] { ++close_calls; });
    std::exception_ptr error;
    run([&] { return connect_and_capture(client, port, &error); }, kTimeout);
    expect_closed_by<std::system_error>(error);
    ASSERT_TRUE(client->error() != nullptr);
    try {
        std::rethrow_exception(client->error());
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ECONNREFUSED) << e.what();
    } catch (...) {
        ADD_FAILURE() << "error() is not a std::system_error";
    }
    EXPECT_TRUE(client->closed());
    settle();
    EXPECT_EQ(close_calls, 1);
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace
}  // namespace tornado::iostream_test
