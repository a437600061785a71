// read_until and read_until_regex resume their search where the last one
// stopped (issue 6, "Linear time, bounded memory"): a head sent one byte per
// send costs work linear in its size. The work is counted with
// BaseIOStream::scan_stats() (bytes examined by the searches), never timed.
// Also checks that resuming changes no result: delimiters split at every
// position, regex matches that begin in an earlier chunk, max_bytes.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tornado/concurrent.h"
#include "tornado/gen.h"
#include "tornado/iostream.h"
#include "tornado/re.h"

#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

// Coroutine parameters are taken by value (STYLE.md).
// NOLINTBEGIN(performance-unnecessary-value-param)

using iostream::UnsatisfiableReadError;

constexpr double kTimeout = 60;

class LinearReadIOStreamTest : public LoopTest {
  public:
    // For the helpers below, which are not members.
    std::pair<std::shared_ptr<IOStream>, std::shared_ptr<IOStream>> pair() { return stream_pair(); }
    template <class F>
    void run_bounded(F&& fn) {
        run(std::forward<F>(fn), kTimeout);
    }
};

// The pattern HTTP1Connection reads a request head with.
const char* const kHeaderEnd = "\r?\n\r?\n";

struct FeedResult {
    std::optional<std::string> data;
    std::exception_ptr error;
    bool closed = false;
    std::size_t buffered_after = 0;
    // Chunks sent while the read was still pending.
    std::size_t chunks_before_done = 0;
};

// Sends `chunks` one send each. Before the next send it waits until the
// reader has buffered everything sent so far (or the read is over), so that
// each chunk arrives in its own recv and is searched on its own.
Future<void> feed(std::shared_ptr<IOStream> reader, std::shared_ptr<IOStream> writer,
                  Future<std::string> read, std::vector<std::string> chunks, FeedResult* out) {
    std::size_t sent = 0;
    for (const std::string& chunk : chunks) {
        if (reader->closed()) {
            break;
        }
        if (!read.done()) {
            ++out->chunks_before_done;
        }
        co_await writer->write(chunk);
        sent += chunk.size();
        while (!read.done() && !reader->closed() && reader->read_buffer_size() < sent) {
            co_await gen::moment;
        }
    }
    try {
        out->data = co_await read;
    } catch (...) {
        out->error = std::current_exception();
    }
    co_await moments(3);
    out->closed = reader->closed();
    out->buffered_after = reader->read_buffer_size();
}

std::vector<std::string> bytes_of(const std::string& s) {
    std::vector<std::string> out;
    out.reserve(s.size());
    for (char c : s) {
        out.emplace_back(1, c);
    }
    return out;
}

// A request head of exactly `size` bytes: many header lines, then CRLF.
std::string make_head(std::size_t size) {
    std::string head = "GET /linear HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int i = 0;; ++i) {
        std::string line = "X-Field-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
        if (head.size() + line.size() + 20 > size - 2) {
            break;
        }
        head += line;
    }
    std::string pad = "X-Pad: ";
    pad += std::string(size - 2 - head.size() - pad.size() - 2, 'p');
    head += pad + "\r\n\r\n";
    return head;
}

struct ScanRun {
    FeedResult result;
    BaseIOStream::ScanStats stats;
};

// Reads a `size`-byte head sent one byte per send, with read_until (regex
// null) or read_until_regex, and returns the stream's scan counts.
ScanRun scan_one_byte_per_send(LinearReadIOStreamTest* test, std::size_t size,
                               const re::Pattern* regex, std::string* head_out) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = test->pair();
    std::string head = make_head(size);
    EXPECT_EQ(head.size(), size);
    *head_out = head;
    ScanRun run;
    test->run_bounded([&] {
        Future<std::string> read = regex != nullptr ? reader->read_until_regex(*regex, 65536)
                                                    : reader->read_until("\r\n\r\n", 65536);
        return feed(reader, writer, read, bytes_of(head), &run.result);
    });
    run.stats = reader->scan_stats();
    return run;
}

// ---------------------------------------------------------------------------
// Linear work for a head sent one byte per send

void expect_linear(LinearReadIOStreamTest* test, const re::Pattern* regex) {
    std::string small_head;
    std::string large_head;
    ScanRun small = scan_one_byte_per_send(test, 8 * 1024, regex, &small_head);
    ScanRun large = scan_one_byte_per_send(test, 32 * 1024, regex, &large_head);
    for (const auto* r : {&small, &large}) {
        ASSERT_FALSE(r->result.error) << log::describe(r->result.error);
        ASSERT_TRUE(r->result.data.has_value());
        EXPECT_FALSE(r->result.closed);
    }
    EXPECT_EQ(*small.result.data, small_head);
    EXPECT_EQ(*large.result.data, large_head);
    // Every byte was its own recv, each followed by at least one search.
    EXPECT_EQ(small.result.chunks_before_done, small_head.size());
    EXPECT_GE(small.stats.searches, small_head.size());
    EXPECT_GE(large.stats.searches, large_head.size());
    // A constant number of bytes examined per byte received (rescanning
    // the buffer at each search would be about size * size / 2).
    EXPECT_LE(small.stats.bytes_examined, 8 * small_head.size());
    EXPECT_LE(large.stats.bytes_examined, 8 * large_head.size());
    EXPECT_GE(large.stats.bytes_examined, large_head.size());
    // Four times the head, about four times the work (not sixteen).
    double ratio = static_cast<double>(large.stats.bytes_examined) /
                   static_cast<double>(small.stats.bytes_examined);
    EXPECT_GT(ratio, 3.5) << small.stats.bytes_examined << " " << large.stats.bytes_examined;
    EXPECT_LT(ratio, 4.5) << small.stats.bytes_examined << " " << large.stats.bytes_examined;
}

// No Tornado test (Tornado rescans): issue 6, a head of max_header_size-like
// size sent one byte per send, read with read_until.
TEST_F(LinearReadIOStreamTest, ReadUntilOneBytePerSendExaminesLinearBytes) {
    expect_linear(this, nullptr);
}

// The same with read_until_regex and HTTP1Connection's header-end pattern
// (PCRE2 partial matching).
TEST_F(LinearReadIOStreamTest, ReadUntilRegexOneBytePerSendExaminesLinearBytes) {
    const re::Pattern pattern(kHeaderEnd);
    ASSERT_FALSE(pattern.is_literal());
    expect_linear(this, &pattern);
}

// The chunked-body reader's chunk-size lines: many short read_until reads
// in a row, fed one byte per send.
Future<void> read_lines(std::shared_ptr<IOStream> reader, std::shared_ptr<IOStream> writer,
                        std::string data, std::vector<std::string>* lines) {
    std::size_t sent = 0;
    Future<std::string> line = reader->read_until("\r\n", 64);
    for (char c : data) {
        co_await writer->write(std::string(1, c));
        ++sent;
        while (!line.done() && reader->read_buffer_size() < sent) {
            co_await gen::moment;
        }
        if (line.done()) {
            lines->push_back(co_await line);
            sent = reader->read_buffer_size();
            line = reader->read_until("\r\n", 64);
        }
    }
    line.quiet();
}

TEST_F(LinearReadIOStreamTest, ChunkSizeLinesOneBytePerSendExamineLinearBytes) {
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    std::string data;
    std::vector<std::string> expected;
    for (int i = 0; i < 200; ++i) {
        expected.push_back("1f;name=value" + std::to_string(i) + "\r\n");
        data += expected.back();
    }
    std::vector<std::string> lines;
    run([&] { return read_lines(reader, writer, data, &lines); }, kTimeout);
    EXPECT_EQ(lines, expected);
    EXPECT_GE(reader->scan_stats().searches, data.size());
    EXPECT_LE(reader->scan_stats().bytes_examined, 4 * data.size());
}

// ---------------------------------------------------------------------------
// Resuming changes no result

// Sends `message` in two sends split at `at` to the read `start` begins,
// and checks what it gave and what follows it.
template <class Start>
void check_split(LinearReadIOStreamTest* test, const std::string& message, std::size_t at,
                 Start start, const std::string& expected, const std::string& expected_tail) {
    std::size_t expected_left = expected_tail.size();
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = test->pair();
    FeedResult result;
    test->run_bounded([&] {
        return feed(reader, writer, start(*reader), {message.substr(0, at), message.substr(at)},
                    &result);
    });
    ASSERT_FALSE(result.error) << "split at " << at << ": " << log::describe(result.error);
    ASSERT_TRUE(result.data.has_value());
    EXPECT_EQ(*result.data, expected) << "split at " << at;
    // What followed the match is still there, whole.
    std::string tail;
    test->run_bounded([&]() -> Future<void> { tail = co_await reader->read_bytes(expected_left); });
    EXPECT_EQ(tail, expected_tail) << "split at " << at;
}

TEST_F(LinearReadIOStreamTest, ReadUntilDelimiterSplitAtEveryPosition) {
    // "abab" overlaps itself: a resume point too far on would miss it.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n"},
        {"xabaabab", "abab"},
        {"x\r\n\r\r\n\r\n", "\r\n\r\n"},
    };
    for (const auto& [message, delimiter] : cases) {
        std::string sent = message + "TAIL";
        for (std::size_t at = 1; at < sent.size(); ++at) {
            check_split(
                this, sent, at, [d = delimiter](BaseIOStream& s) { return s.read_until(d); },
                message, "TAIL");
        }
    }
}

TEST_F(LinearReadIOStreamTest, ReadUntilRegexSplitAtEveryPosition) {
    const re::Pattern header_end(kHeaderEnd);
    const re::Pattern boundary("BEGIN[0-9]+END");
    const re::Pattern overlapping("ab[c]");
    struct Case {
        const re::Pattern* pattern;
        std::string message;
    };
    const std::vector<Case> cases = {
        {&header_end, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
        {&header_end, "GET / HTTP/1.0\nHost: x\n\n"},
        {&header_end, "a\r\n\rb\n\r\n"},
        {&boundary, "xxBEGIN12BEGIN345END"},
        {&overlapping, "xabababc"},
    };
    for (const Case& c : cases) {
        std::string sent = c.message + "TAIL";
        for (std::size_t at = 1; at < sent.size(); ++at) {
            check_split(
                this, sent, at, [p = c.pattern](BaseIOStream& s) { return s.read_until_regex(*p); },
                c.message, "TAIL");
        }
    }
}

// A match that begins in one chunk and ends three chunks later.
TEST_F(LinearReadIOStreamTest, ReadUntilRegexMatchStartingInAnEarlierChunk) {
    const re::Pattern pattern("BEGIN[0-9]+END");
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    FeedResult result;
    run(
        [&] {
            return feed(reader, writer, reader->read_until_regex(pattern),
                        {"xxBEG", "IN12", "3E", "ND!"}, &result);
        },
        kTimeout);
    ASSERT_FALSE(result.error) << log::describe(result.error);
    EXPECT_EQ(result.chunks_before_done, 4U);
    EXPECT_EQ(result.data, std::optional<std::string>("xxBEGIN123END"));
    EXPECT_EQ(result.buffered_after, 1U);
}

// A greedy match that more data could lengthen is still delivered at once,
// as Python's search gives it (the hard partial match must not hold it).
TEST_F(LinearReadIOStreamTest, ReadUntilRegexGreedyMatchAtBufferEndCompletes) {
    const re::Pattern pattern("ab+");
    std::shared_ptr<IOStream> reader;
    std::shared_ptr<IOStream> writer;
    std::tie(reader, writer) = stream_pair();
    FeedResult result;
    run(
        [&] {
            return feed(reader, writer, reader->read_until_regex(pattern), {"xa", "bb"}, &result);
        },
        kTimeout);
    ASSERT_FALSE(result.error) << log::describe(result.error);
    EXPECT_EQ(result.data, std::optional<std::string>("xabb"));
    EXPECT_EQ(result.buffered_after, 0U);
}

// max_bytes still closes the stream, on the byte that passes it, when the
// data arrives one byte per send; a delimiter ending exactly at max_bytes
// is still found.
void check_max_bytes(LinearReadIOStreamTest* test, const re::Pattern* regex) {
    auto start = [regex](BaseIOStream& s, std::size_t max_bytes) {
        return regex != nullptr ? s.read_until_regex(*regex, max_bytes)
                                : s.read_until("\r\n\r\n", max_bytes);
    };
    {
        std::shared_ptr<IOStream> reader;
        std::shared_ptr<IOStream> writer;
        std::tie(reader, writer) = test->pair();
        std::string head = make_head(300);
        FeedResult result;
        test->run_bounded(
            [&] { return feed(reader, writer, start(*reader, 300), bytes_of(head), &result); });
        ASSERT_FALSE(result.error) << log::describe(result.error);
        EXPECT_EQ(result.data, std::optional<std::string>(head));
    }
    {
        std::shared_ptr<IOStream> reader;
        std::shared_ptr<IOStream> writer;
        std::tie(reader, writer) = test->pair();
        LogCapture logs;
        // No header end in the first 301 bytes: closed as the 301st arrives.
        std::string data = std::string(300, 'h') + "h\r\n\r\n";
        FeedResult result;
        test->run_bounded(
            [&] { return feed(reader, writer, start(*reader, 300), bytes_of(data), &result); });
        EXPECT_FALSE(result.data.has_value());
        EXPECT_TRUE(result.closed);
        EXPECT_EQ(result.chunks_before_done, 301U);
        ASSERT_TRUE(result.error);
        try {
            std::rethrow_exception(result.error);
        } catch (const StreamClosedError& e) {
            ASSERT_TRUE(e.real_error());
            try {
                std::rethrow_exception(e.real_error());
            } catch (const UnsatisfiableReadError& unsatisfiable) {
                // The message names the delimiter with escapes, never raw CR/LF
                // that would split the log line.
                const std::string message = unsatisfiable.what();
                EXPECT_EQ(message.find_first_of("\r\n"), std::string::npos) << message;
                EXPECT_NE(message.find("\\r"), std::string::npos) << message;
            }
        }
    }
}

TEST_F(LinearReadIOStreamTest, ReadUntilMaxBytesEnforcedOneBytePerSend) {
    check_max_bytes(this, nullptr);
}

TEST_F(LinearReadIOStreamTest, ReadUntilRegexMaxBytesEnforcedOneBytePerSend) {
    const re::Pattern pattern(kHeaderEnd);
    check_max_bytes(this, &pattern);
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace
}  // namespace tornado::iostream_test
