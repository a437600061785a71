#include "tornado/iostream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "tornado/log.h"

namespace tornado::iostream {

namespace {

constexpr trace::Module kTraceModule{"iostream", "tornado/iostream.py"};

std::exception_ptr os_error(int err, const char* what) {
    return std::make_exception_ptr(std::system_error(err, std::generic_category(), what));
}

// Reads land here when the read buffer has no room for a whole chunk, so an
// idle connection does not hold a 64 KiB buffer.
constexpr std::size_t kScratchSize = 65536;
char* scratch() {
    thread_local std::unique_ptr<char[]> buf(new char[kScratchSize]);
    return buf.get();
}

}  // namespace

std::string StreamClosedError::message(const std::exception_ptr& e) {
    if (!e) {
        return "Stream is closed";
    }
    return "Stream is closed: " + log::describe(e);
}

// ---------------------------------------------------------------------------
// detail::ReadBuffer

char* detail::ReadBuffer::prepare(std::size_t n) {
    if (free_space() >= n) {
        return data_.get() + end_;
    }
    std::size_t used = size();
    if (begin_ > 0 && used + n <= capacity_) {
        // Slide the unread bytes to the front instead of growing.
        std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
        std::size_t capacity = std::max({capacity_ * 2, used + n, std::size_t{256}});
        std::unique_ptr<char[]> bigger(new char[capacity]);
        if (used > 0) {
            std::memcpy(bigger.get(), data_.get() + begin_, used);
        }
        data_ = std::move(bigger);
        capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
    return data_.get() + end_;
}

void detail::ReadBuffer::append(const char* data, std::size_t n) {
    std::memcpy(prepare(n), data, n);
    commit(n);
}

std::string detail::ReadBuffer::consume(std::size_t n) {
    std::string out(data_.get() + begin_, n);
    begin_ += n;
    if (begin_ == end_) {
        // Given back once drained: an idle connection holds no buffer, and
        // the next read allocates what it needs (issue 9).
        release();
    }
    return out;
}

void detail::ReadBuffer::release() {
    data_.reset();
    capacity_ = begin_ = end_ = 0;
}

// ---------------------------------------------------------------------------
// BaseIOStream

// Tornado: tornado/iostream.py:138 BaseIOStream.__init__
BaseIOStream::BaseIOStream(const char* cls, IOLoop* io_loop, Options options)
    : Traced(cls), io_loop_(io_loop != nullptr ? io_loop : IOLoop::current()), options_(options) {
    // A read chunk larger than the buffer limit could never be stored.
    options_.read_chunk_size = std::max<std::size_t>(
        1,
        std::min(options_.read_chunk_size, std::max<std::size_t>(options_.max_buffer_size / 2, 1)));
}

BaseIOStream::~BaseIOStream() = default;

// Tornado: tornado/iostream.py:236 BaseIOStream.read_until_regex
Future<std::string> BaseIOStream::read_until_regex(const re::Pattern& regex,
                                                   std::optional<std::size_t> max_bytes) {
    TRACE_SPAN("BaseIOStream.read_until_regex",
               {"max_bytes", static_cast<std::int64_t>(max_bytes.value_or(0))},
               {"buffered", read_buffer_.size()});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_until_regex");
    read_regex_ = &regex;
    read_search_pos_ = 0;
    read_max_bytes_ = max_bytes;
    return start_read(std::move(future));
}

// Tornado: tornado/iostream.py:270 BaseIOStream.read_until
Future<std::string> BaseIOStream::read_until(std::string delimiter,
                                             std::optional<std::size_t> max_bytes) {
    TRACE_SPAN("BaseIOStream.read_until",
               {"max_bytes", static_cast<std::int64_t>(max_bytes.value_or(0))},
               {"buffered", read_buffer_.size()});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_until");
    read_delimiter_ = std::move(delimiter);
    read_search_pos_ = 0;
    read_max_bytes_ = max_bytes;
    return start_read(std::move(future));
}

// Tornado: tornado/iostream.py:301 BaseIOStream.read_bytes
Future<std::string> BaseIOStream::read_bytes(std::size_t num_bytes, bool partial) {
    TRACE_SPAN("BaseIOStream.read_bytes", {"num_bytes", num_bytes}, {"partial", partial},
               {"buffered", read_buffer_.size()});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_bytes");
    read_bytes_ = num_bytes;
    read_partial_ = partial;
    return start_read(std::move(future));
}

// Tornado: tornado/iostream.py:301 BaseIOStream.read_bytes (with streaming_callback)
Future<std::string> BaseIOStream::read_bytes(std::size_t num_bytes,
                                             StreamingCallback streaming_callback, bool partial) {
    TRACE_SPAN("BaseIOStream.read_bytes", {"num_bytes", num_bytes}, {"partial", partial},
               {"buffered", read_buffer_.size()}, {"streaming", true});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_bytes");
    read_bytes_ = num_bytes;
    read_partial_ = partial;
    streaming_callback_ = std::move(streaming_callback);
    return start_read(std::move(future));
}

// Tornado: tornado/iostream.py:331 BaseIOStream.read_until_close
Future<std::string> BaseIOStream::read_until_close() {
    TRACE_SPAN("BaseIOStream.read_until_close", {"buffered", read_buffer_.size()});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_until_close");
    if (closed()) {
        // Tornado: the buffered data is still delivered after a close.
        _run_read_callback(read_buffer_.size());
        return future;
    }
    read_until_close_ = true;
    return start_read(std::move(future));
}

// Tornado: tornado/iostream.py:331 BaseIOStream.read_until_close (with streaming_callback)
Future<std::string> BaseIOStream::read_until_close(StreamingCallback streaming_callback) {
    TRACE_SPAN("BaseIOStream.read_until_close", {"buffered", read_buffer_.size()},
               {"streaming", true});
    Future<std::string> future = _set_read_callback("BaseIOStream.read_until_close");
    streaming_callback_ = std::move(streaming_callback);
    if (closed()) {
        // Everything buffered goes to the streaming callback; the Future
        // gets the (empty) rest.
        if (streaming_callback_) {
            _run_read_callback(read_buffer_.size(), true);
        }
        _run_read_callback(read_buffer_.size());
        return future;
    }
    read_until_close_ = true;
    return start_read(std::move(future));
}

Future<std::string> BaseIOStream::start_read(Future<std::string> future) {
    try {
        _try_inline_read();
    } catch (const UnsatisfiableReadError& e) {
        // Tornado: handled as in _handle_events; close() fails the Future.
        log::gen_log.info("Unsatisfiable read, closing connection: {}", e.what());
        close(std::current_exception());
        return future;
    } catch (...) {
        read_future_ = Future<std::string>();
        read_regex_ = nullptr;
        read_delimiter_.reset();
        read_bytes_.reset();
        read_max_bytes_.reset();
        read_until_close_ = false;
        streaming_callback_ = nullptr;
        future.quiet();
        throw;
    }
    return future;
}

// Tornado: tornado/iostream.py:367 BaseIOStream.write
Future<void> BaseIOStream::write(std::string data) {
    TRACE_SPAN("BaseIOStream.write", {"bytes", data.size()}, {"fd", fileno()});
    _check_closed();
    if (!data.empty()) {
        if (options_.max_write_buffer_size != 0 &&
            write_buffer_size() + data.size() > options_.max_write_buffer_size) {
            throw StreamBufferFullError("Reached maximum write buffer size");
        }
        total_write_index_ += data.size();
        if (write_buffer_size() == 0) {
            // C++: an empty buffer takes the caller's string without a copy.
            write_buffer_ = std::move(data);
            write_buffer_pos_ = 0;
        } else {
            write_buffer_.append(data);
        }
    }
    Future<void> future = Future<void>::make();
    future.set_origin("BaseIOStream.write");
    future.quiet();  // Tornado: future.add_done_callback(lambda f: f.exception())
    write_futures_.push_back({total_write_index_, future});
    if (!connecting_) {
        _handle_write();
        if (write_buffer_size() > 0) {
            _add_io_state(IOLoop::WRITE);
        }
        _maybe_add_error_listener();
    }
    return future;
}

// Tornado: tornado/iostream.py:412 BaseIOStream.set_close_callback
void BaseIOStream::set_close_callback(Callback callback) {
    close_callback_ = std::move(callback);
    // Tornado 4.5.2 also arms the error listener here, so that a peer
    // closing an idle connection is noticed.
    _maybe_add_error_listener();
}

// Tornado: tornado/iostream.py:422 BaseIOStream.close
void BaseIOStream::close(std::exception_ptr exc) {
    if (!closed()) {
        TRACE_SPAN("BaseIOStream.close", {"fd", fileno()});
        if (exc) {
            error_ = std::move(exc);
        }
        if (read_until_close_) {
            if (streaming_callback_ && read_buffer_.size() > 0) {
                _run_read_callback(read_buffer_.size(), true);
            }
            read_until_close_ = false;
            _run_read_callback(read_buffer_.size());
        }
        if (state_ != 0) {
            io_loop_->remove_handler(fileno());
            state_ = 0;
        }
        close_fd();
        closed_ = true;
    }
    _maybe_run_close_callback();
}

// Tornado: tornado/iostream.py:448 BaseIOStream._maybe_run_close_callback
void BaseIOStream::_maybe_run_close_callback() {
    // Pending callbacks mean a read is being completed right now; the
    // close callback waits for it (see _read_to_buffer_loop).
    if (!closed() || pending_callbacks_ != 0) {
        return;
    }
    auto closed_error = [this] { return std::make_exception_ptr(StreamClosedError(error_)); };
    if (read_future_.valid()) {
        Future<std::string> f = std::exchange(read_future_, Future<std::string>());
        f.set_exception(closed_error());
    }
    // C++: the callback may hold the stream; drop it to break the cycle.
    streaming_callback_ = nullptr;
    while (!write_futures_.empty()) {
        Future<void> f = std::move(write_futures_.front().second);
        write_futures_.pop_front();
        f.set_exception(closed_error());
    }
    if (connect_future_.valid()) {
        Future<void> f = std::exchange(connect_future_, Future<void>());
        f.set_exception(closed_error());
    }
    if (close_callback_) {
        // Tornado: _run_callback runs it on the next iteration.
        io_loop_->add_callback([self = shared_from_this(),
                                cb = std::exchange(close_callback_, nullptr)]() mutable { cb(); });
    }
    // Free the write buffer at once (the stream may live on a while).
    std::string().swap(write_buffer_);
    write_buffer_pos_ = 0;
}

// Tornado: tornado/iostream.py:490 BaseIOStream.set_nodelay
void BaseIOStream::set_nodelay(bool /*value*/) {}

// Tornado: tornado/iostream.py:505 BaseIOStream._handle_events
void BaseIOStream::_handle_events(int fd, std::uint32_t events) {
    TRACE_SPAN("BaseIOStream._handle_events", {"fd", fd}, {"events", events});
    auto self = shared_from_this();  // the handler may drop the last owner
    if (closed()) {
        log::gen_log.warning("Got events for closed stream {}", fd);
        return;
    }
    try {
        if (connecting_) {
            // A failed connect is reported as WRITE (or ERROR): check it first.
            _handle_connect();
        }
        if (closed()) {
            return;
        }
        if ((events & IOLoop::READ) != 0) {
            _handle_read();
        }
        if (closed()) {
            return;
        }
        if ((events & IOLoop::WRITE) != 0) {
            _handle_write();
        }
        if (closed()) {
            return;
        }
        if ((events & IOLoop::ERROR) != 0) {
            int err = get_fd_error();
            if (err != 0) {
                error_ = os_error(err, "socket error");
            }
            // Let callbacks queued by _handle_read/_handle_write run first.
            io_loop_->add_callback([self]() { self->close(); });
            return;
        }
        std::uint32_t state = IOLoop::ERROR;
        if (reading()) {
            state |= IOLoop::READ;
        }
        if (writing()) {
            state |= IOLoop::WRITE;
        }
        if (state == IOLoop::ERROR && read_buffer_.size() == 0) {
            // An idle connection listens for reads too, so that a peer
            // closing it is noticed.
            state |= IOLoop::READ;
        }
        if (state != state_) {
            assert(state_ != 0 && "_handle_events without a registered state");
            state_ = state;
            io_loop_->update_handler(fileno(), state_);
        }
    } catch (const UnsatisfiableReadError& e) {
        log::gen_log.info("Unsatisfiable read, closing connection: {}", e.what());
        close(std::current_exception());
    } catch (...) {
        log::gen_log.error("Uncaught exception, closing connection: {}",
                           log::describe(std::current_exception()));
        close(std::current_exception());
    }
}

// Tornado: tornado/iostream.py:593 BaseIOStream._read_to_buffer_loop
std::optional<std::size_t> BaseIOStream::_read_to_buffer_loop() {
    TRACE_SPAN("BaseIOStream._read_to_buffer_loop", {"buffered", read_buffer_.size()});
    std::optional<std::size_t> target_bytes;
    if (read_bytes_) {
        target_bytes = read_bytes_;
    } else if (read_max_bytes_) {
        target_bytes = read_max_bytes_;
    } else if (reading()) {
        // read_until without max_bytes, or read_until_close: read all that
        // is there before scanning for the delimiter.
        target_bytes = std::nullopt;
    } else {
        target_bytes = 0;
    }
    std::size_t next_find_pos = 0;
    // Pretend a callback is pending, so that an EOF seen here does not run
    // the close callback before the data already read is delivered.
    ++pending_callbacks_;
    struct Done {
        int& pending;
        ~Done() { --pending; }
    } done{pending_callbacks_};
    while (!closed()) {
        if (_read_to_buffer() == 0) {
            break;
        }
        _run_streaming_callback();
        if (target_bytes && read_buffer_.size() >= *target_bytes) {
            break;
        }
        // Scanning for the delimiter is the expensive part: do it on the
        // first read and each time the buffer has doubled.
        if (read_buffer_.size() >= next_find_pos) {
            if (auto pos = _find_read_pos()) {
                return pos;
            }
            next_find_pos = read_buffer_.size() * 2;
        }
    }
    return _find_read_pos();
}

// Tornado: tornado/iostream.py:653 BaseIOStream._handle_read
void BaseIOStream::_handle_read() {
    TRACE_SPAN("BaseIOStream._handle_read", {"fd", fileno()});
    std::optional<std::size_t> pos;
    try {
        pos = _read_to_buffer_loop();
    } catch (const UnsatisfiableReadError&) {
        throw;
    } catch (...) {
        log::gen_log.warning("error on read: {}", log::describe(std::current_exception()));
        close(std::current_exception());
        return;
    }
    if (pos) {
        _read_from_buffer(*pos);
    } else {
        _maybe_run_close_callback();
    }
}

// Tornado: tornado/iostream.py:668 BaseIOStream._set_read_callback
// C++: only the Future form; there are no callbacks.
Future<std::string> BaseIOStream::_set_read_callback(const char* origin) {
    assert(!read_future_.valid() && "Already reading");
    read_future_ = Future<std::string>::make();
    read_future_.set_origin(origin);
    return read_future_;
}

// Tornado: tornado/iostream.py:677 BaseIOStream._run_read_callback
void BaseIOStream::_run_read_callback(std::size_t size, bool streaming) {
    if (streaming) {
        TRACE_SPAN("BaseIOStream._run_read_callback", {"bytes", size}, {"streaming", true});
        // A copy: the streaming callback stays set for the next chunk.
        _run_callback(streaming_callback_, _consume(size));
        return;
    }
    TRACE_SPAN("BaseIOStream._run_read_callback", {"bytes", size});
    streaming_callback_ = nullptr;
    if (read_future_.valid()) {
        Future<std::string> future = std::exchange(read_future_, Future<std::string>());
        // Completing the Future queues the waiting coroutine on the IOLoop;
        // it resumes on the next iteration, not here.
        future.set_result(_consume(size));
    }
    _maybe_add_error_listener();
}

// Tornado: tornado/iostream.py:558 BaseIOStream._run_callback
// C++: only the streaming callback goes through here (reads and writes
// complete Futures). It runs on the next iteration and counts as pending,
// so that the close callback waits for it.
void BaseIOStream::_run_callback(StreamingCallback callback, std::string data) {
    ++pending_callbacks_;
    io_loop_->add_callback([self = shared_from_this(), callback = std::move(callback),
                            data = std::move(data)]() mutable {
        --self->pending_callbacks_;
        try {
            callback(std::move(data));
        } catch (...) {
            log::app_log.error("Uncaught exception, closing connection: {}",
                               log::describe(std::current_exception()));
            self->close(std::current_exception());
        }
        self->_maybe_add_error_listener();
    });
}

// Tornado: tornado/iostream.py:762 BaseIOStream._run_streaming_callback
void BaseIOStream::_run_streaming_callback() {
    if (!streaming_callback_ || read_buffer_.size() == 0) {
        return;
    }
    std::size_t bytes_to_consume = read_buffer_.size();
    if (read_bytes_) {
        bytes_to_consume = std::min(*read_bytes_, bytes_to_consume);
        *read_bytes_ -= bytes_to_consume;
    }
    _run_read_callback(bytes_to_consume, true);
}

// Tornado: tornado/iostream.py:696 BaseIOStream._try_inline_read
void BaseIOStream::_try_inline_read() {
    TRACE_SPAN("BaseIOStream._try_inline_read", {"buffered", read_buffer_.size()});
    _run_streaming_callback();
    // First see whether the buffer already holds what was asked for.
    if (auto pos = _find_read_pos()) {
        _read_from_buffer(*pos);
        return;
    }
    _check_closed();
    std::optional<std::size_t> pos;
    try {
        pos = _read_to_buffer_loop();
    } catch (...) {
        // _read_to_buffer may have closed the stream; the close callback
        // could not run while the read was pending.
        _maybe_run_close_callback();
        throw;
    }
    if (pos) {
        _read_from_buffer(*pos);
        return;
    }
    // Not satisfied inline: either the stream closed, or wait for READ.
    if (closed()) {
        _maybe_run_close_callback();
    } else {
        _add_io_state(IOLoop::READ);
    }
}

// Tornado: tornado/iostream.py:729 BaseIOStream._read_to_buffer
std::size_t BaseIOStream::_read_to_buffer() {
    std::size_t chunk = options_.read_chunk_size;
    bool direct = read_buffer_.free_space() >= chunk;
    char* target = direct ? read_buffer_.prepare(chunk) : scratch();
    if (!direct) {
        chunk = std::min(chunk, kScratchSize);
    }
    ssize_t n;
    while (true) {
        n = read_from_fd(target, chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    if (n < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return 0;  // Tornado's read_from_fd returned None
        }
        // Connection resets close the stream quietly; anything else is also
        // raised to the caller.
        close(os_error(err, "read"));
        if (_is_connreset(err)) {
            return 0;
        }
        std::rethrow_exception(error_);
    }
    if (n == 0) {
        close();  // EOF
        return 0;
    }
    auto got = static_cast<std::size_t>(n);
    if (direct) {
        read_buffer_.commit(got);
    } else {
        read_buffer_.append(target, got);
    }
    TRACE_EVENT("BaseIOStream._read_to_buffer", {"bytes", got}, {"buffered", read_buffer_.size()});
    if (read_buffer_.size() > options_.max_buffer_size) {
        log::gen_log.error("Reached maximum read buffer size");
        close();
        throw StreamBufferFullError("Reached maximum read buffer size");
    }
    return got;
}

// Tornado: tornado/iostream.py:770 BaseIOStream._read_from_buffer
void BaseIOStream::_read_from_buffer(std::size_t pos) {
    TRACE_SPAN("BaseIOStream._read_from_buffer", {"pos", pos});
    read_bytes_.reset();
    read_delimiter_.reset();
    read_regex_ = nullptr;
    read_partial_ = false;
    read_search_pos_ = 0;
    _run_read_callback(pos);
}

// Tornado: tornado/iostream.py:780 BaseIOStream._find_read_pos
std::optional<std::size_t> BaseIOStream::_find_read_pos() {
    std::size_t size = read_buffer_.size();
    std::optional<std::size_t> pos;
    if (read_bytes_ && (size >= *read_bytes_ || (read_partial_ && size > 0))) {
        pos = std::min(*read_bytes_, size);
    } else if (read_delimiter_) {
        if (size > 0) {
            // C++ only: Tornado searches the whole buffer each time; this
            // resumes where the last search of this read stopped, keeping
            // the last (delimiter size - 1) bytes in case it straddles.
            std::size_t start = std::min(read_search_pos_, size);
            std::size_t loc = read_buffer_.view().find(*read_delimiter_, start);
            ++scan_stats_.searches;
            if (loc != std::string_view::npos) {
                scan_stats_.bytes_examined += loc + read_delimiter_->size() - start;
                _check_max_bytes(*read_delimiter_, loc + read_delimiter_->size());
                pos = loc + read_delimiter_->size();
            } else {
                scan_stats_.bytes_examined += size - start;
                std::size_t keep = std::min(size, read_delimiter_->size() - 1);
                read_search_pos_ = std::max(start, size - keep);
                _check_max_bytes(*read_delimiter_, size);
            }
        }
    } else if (read_regex_ != nullptr) {
        if (size > 0) {
            // C++ only: resumes where a match could still begin (PCRE2's
            // partial matching), instead of searching from the start.
            re::Pattern::Resumable found = read_regex_->search_resumable(
                read_buffer_.view(), std::min(read_search_pos_, size));
            ++scan_stats_.searches;
            scan_stats_.bytes_examined += found.examined;
            if (found.match) {
                _check_max_bytes(read_regex_->pattern(), found.match->second);
                pos = found.match->second;
            } else {
                read_search_pos_ = found.resume;
                _check_max_bytes(read_regex_->pattern(), size);
            }
        }
    }
    TRACE_EVENT("BaseIOStream._find_read_pos", {"buffered", size},
                {"pos", pos ? static_cast<std::int64_t>(*pos) : -1});
    return pos;
}

// Tornado: tornado/iostream.py:823 BaseIOStream._check_max_bytes
void BaseIOStream::_check_max_bytes(std::string_view delimiter, std::size_t size) {
    if (read_max_bytes_ && size > *read_max_bytes_) {
        // Quoted with escapes, as Tornado's %r: the delimiter (often \r?\n\r?\n) must
        // not put raw CR/LF into the log line that reports it.
        throw UnsatisfiableReadError(
            fmt::format("delimiter {:?} not found within {} bytes", delimiter, *read_max_bytes_));
    }
}

// Tornado: tornado/iostream.py:845 BaseIOStream._handle_write
void BaseIOStream::_handle_write() {
    TRACE_SPAN_AS(span, "BaseIOStream._handle_write", {"fd", fileno()},
                  {"pending", write_buffer_size()});
    std::size_t written = 0;
    while (write_buffer_size() > 0) {
        ssize_t n = write_to_fd(write_buffer_.data() + write_buffer_pos_, write_buffer_size());
        if (n < 0) {
            int err = errno;
            if (err == EINTR) {
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                // The socket buffer is full: the rest waits for WRITE.
                break;
            }
            if (!_is_connreset(err)) {
                log::gen_log.warning("Write error on {}: {}", fileno(), std::strerror(err));
            }
            close(os_error(err, "write"));
            return;
        }
        write_buffer_pos_ += static_cast<std::size_t>(n);
        total_write_done_index_ += static_cast<std::size_t>(n);
        written += static_cast<std::size_t>(n);
        // Amortised O(1) shrink, as Tornado: drop the sent prefix once it is
        // larger than what is still pending.
        if (write_buffer_pos_ > write_buffer_size()) {
            write_buffer_.erase(0, write_buffer_pos_);
            write_buffer_pos_ = 0;
        }
    }
    if (write_buffer_size() == 0) {
        // Freed once drained: the next write into an empty buffer takes the
        // caller's string anyway, and an idle connection holds no buffer.
        std::string().swap(write_buffer_);
        write_buffer_pos_ = 0;
    }
    span.end({{"written", written}, {"pending", write_buffer_size()}});
    while (!write_futures_.empty() && write_futures_.front().first <= total_write_done_index_) {
        Future<void> f = std::move(write_futures_.front().second);
        write_futures_.pop_front();
        f.set_result();
    }
}

// Tornado: tornado/iostream.py:904 BaseIOStream._consume
std::string BaseIOStream::_consume(std::size_t loc) {
    if (loc == 0) {
        return std::string();
    }
    assert(loc <= read_buffer_.size());
    read_search_pos_ = 0;  // the offsets it held are gone
    return read_buffer_.consume(loc);
}

// Tornado: tornado/iostream.py:923 BaseIOStream._check_closed
void BaseIOStream::_check_closed() const {
    if (closed()) {
        throw StreamClosedError(error_);
    }
}

// Tornado: tornado/iostream.py:927 BaseIOStream._maybe_add_error_listener
void BaseIOStream::_maybe_add_error_listener() {
    // A stream with nothing to do still listens for READ while a close
    // callback is set, so that it learns when the peer goes away.
    if (pending_callbacks_ != 0) {
        return;
    }
    if (state_ == 0 || state_ == IOLoop::ERROR) {
        if (closed()) {
            _maybe_run_close_callback();
        } else if (read_buffer_.size() == 0 && close_callback_) {
            _add_io_state(IOLoop::READ);
        }
    }
}

// Tornado: tornado/iostream.py:943 BaseIOStream._add_io_state
void BaseIOStream::_add_io_state(std::uint32_t state) {
    if (closed()) {
        return;  // no events can come any more
    }
    TRACE_SPAN("BaseIOStream._add_io_state", {"fd", fileno()}, {"state", state});
    if (state_ == 0) {
        state_ = IOLoop::ERROR | state;
        // The handler does not own the stream: close() removes it, and
        // _handle_events holds a reference while it runs.
        io_loop_->add_handler(
            fileno(), [this](int fd, std::uint32_t events) { _handle_events(fd, events); }, state_);
    } else if ((state_ & state) == 0) {
        state_ |= state;
        io_loop_->update_handler(fileno(), state_);
    }
}

// Tornado: tornado/iostream.py:976 BaseIOStream._is_connreset
bool BaseIOStream::_is_connreset(int err) {
    return err == ECONNRESET || err == ECONNABORTED || err == EPIPE || err == ETIMEDOUT;
}

// ---------------------------------------------------------------------------
// IOStream

// Tornado: tornado/iostream.py:1033 IOStream.__init__
IOStream::IOStream(int socket_fd, IOLoop* io_loop, Options options)
    : BaseIOStream("IOStream", io_loop, options), socket_(socket_fd) {
    int flags = ::fcntl(socket_, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
        ::fcntl(socket_, F_SETFL, flags | O_NONBLOCK);
    }
}

IOStream::~IOStream() {
    // A stream dropped without close(): unregister and close the fd, but
    // run no callbacks (nobody is left to receive them).
    if (!closed_) {
        if (state_ != 0) {
            io_loop_->remove_handler(socket_);
        }
        ::close(socket_);
    }
}

// Tornado: tornado/iostream.py:1041 IOStream.close_fd
void IOStream::close_fd() {
    ::close(socket_);
    socket_ = -1;
}

// Tornado: tornado/iostream.py:1045 IOStream.get_fd_error
int IOStream::get_fd_error() {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(socket_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

// Tornado: tornado/iostream.py:1050 IOStream.read_from_fd
ssize_t IOStream::read_from_fd(char* buffer, std::size_t size) {
    return ::recv(socket_, buffer, size, 0);
}

// Tornado: tornado/iostream.py:1063 IOStream.write_to_fd
ssize_t IOStream::write_to_fd(const char* data, std::size_t size) {
    // C++: Tornado hands each answer to the kernel to send at once. With
    // Options::batch_pipelined_writes (serve), when the read buffer already
    // holds more (the next pipelined requests), the answer is sent with
    // MSG_MORE: the kernel may hold it and send it in full segments with
    // the answers that follow, one delivery to the peer per batch instead
    // of one per answer (bench/http/run pipe16: 6.1 -> 4.0 µs a request).
    // The call chain and the bytes are the same; when the peer reads them
    // can differ, which is why `run` scenarios keep it off (their client,
    // on the same loop, would read other chunks than the golden traces
    // show). The last answer of a batch, sent with the buffer empty, pushes
    // it all; one still held at the end of a loop iteration that sent
    // nothing more on this stream, or before a poll that may wait, is
    // pushed by push_held. Only for a stream owned by a shared_ptr, which
    // the push needs to find it. MSG_NOSIGNAL: a peer that went away gives
    // EPIPE, not SIGPIPE.
    bool more = options_.batch_pipelined_writes && read_buffer_size() > 0 &&
                !weak_from_this().expired();
    ssize_t n = ::send(socket_, data, size, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n > 0 && more) {
        held_iteration_ = io_loop_->iteration();
        if (!held_) {
            held_ = true;
            schedule_push();
        }
    } else if (n > 0) {
        held_ = false;  // this send pushed what was held
    }
    return n;
}

void IOStream::schedule_push() {
    io_loop_->add_before_poll([weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            static_cast<IOStream&>(*self).push_held();
        }
    });
}

void IOStream::push_held() {
    if (!held_ || socket_ < 0) {
        held_ = false;
        return;
    }
    if (held_iteration_ == io_loop_->iteration() && !io_loop_->poll_will_wait()) {
        // It sent in this iteration and the loop goes on at once (the
        // request loop's gen.moment before the next request): the batch
        // may go on.
        schedule_push();
        return;
    }
    held_ = false;
    // Setting TCP_NODELAY pushes the held segments (Linux
    // tcp_push_pending_frames); Nagle's algorithm is put back if it was on.
    int on = 1;
    ::setsockopt(socket_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (!nodelay_) {
        int off = 0;
        ::setsockopt(socket_, IPPROTO_TCP, TCP_NODELAY, &off, sizeof off);
    }
}

// Tornado: tornado/iostream.py:1066 IOStream.connect
Future<void> IOStream::connect(const sockaddr* address, socklen_t address_len,
                               std::string server_hostname) {
    TRACE_SPAN("IOStream.connect", {"fd", socket_});
    connecting_ = true;
    server_hostname_ = std::move(server_hostname);
    connect_future_ = Future<void>::make();
    connect_future_.set_origin("IOStream.connect");
    Future<void> future = connect_future_;
    try {
        _ensure_family(address->sa_family);
    } catch (...) {
        close(std::current_exception());
        return future;
    }
    _connect_to(address, address_len);
    return future;
}

void IOStream::_connect_to(const sockaddr* address, socklen_t address_len) {
    if (::connect(socket_, address, address_len) < 0) {
        int err = errno;
        if (err != EINPROGRESS && err != EWOULDBLOCK) {
            close(os_error(err, "connect"));
            return;
        }
    }
    _add_io_state(IOLoop::WRITE);
}

// Tornado: tornado/iostream.py:1066 IOStream.connect (an (host, port) address)
// C++: a name goes to the Resolver (off the loop) instead of blocking in
// socket.connect; numeric addresses connect at once, as before.
Future<void> IOStream::connect(const std::string& host, int port, std::string server_hostname) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof(sockaddr_in6);
    }
    if (len != 0) {
        return connect(reinterpret_cast<const sockaddr*>(&ss), len, std::move(server_hostname));
    }
    std::weak_ptr<BaseIOStream> weak = weak_from_this();
    if (weak.expired()) {
        throw std::logic_error("IOStream::connect to a host name needs a shared_ptr-owned stream");
    }
    TRACE_SPAN("IOStream.connect", {"fd", socket_}, {"port", port});
    connecting_ = true;
    server_hostname_ = std::move(server_hostname);
    connect_future_ = Future<void>::make();
    connect_future_.set_origin("IOStream.connect");
    Future<void> future = connect_future_;
    Future<netutil::Resolver::Result> addresses;
    try {
        addresses = resolver()->resolve(host, port, AF_UNSPEC);
    } catch (...) {
        close(std::current_exception());
        return future;
    }
    addresses.add_done_callback([weak](const Future<netutil::Resolver::Result>& f) {
        if (auto self = weak.lock()) {
            static_cast<IOStream*>(self.get())->_handle_resolved(f);
        }
        // else: the stream is gone, and nobody waits for the connect.
    });
    return future;
}

// C++ only: the second half of connect(host, port), once the Resolver has
// answered (Tornado's blocking socket.connect had both halves in one call).
void IOStream::_handle_resolved(const Future<netutil::Resolver::Result>& addresses) {
    if (closed()) {
        return;  // closed while resolving: close() failed the Future
    }
    try {
        const netutil::Resolver::Result& found = addresses.result();
        if (found.empty()) {
            throw netutil::GAIError(EAI_NONAME, ::gai_strerror(EAI_NONAME));
        }
        const netutil::Address& address = found.front().second;
        TRACE_SPAN("IOStream.connect", {"fd", socket_}, {"family", address.family()});
        _ensure_family(address.family());
        _connect_to(reinterpret_cast<const sockaddr*>(&address.storage), address.length);
    } catch (...) {
        // Tornado: the gaierror of socket.connect becomes error().
        close(std::current_exception());
    }
}

std::shared_ptr<netutil::Resolver> IOStream::resolver() const {
    return resolver_ ? resolver_ : netutil::Resolver::configured();
}

std::shared_ptr<IOStream> IOStream::create(int family, IOLoop* io_loop, Options options) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    return std::make_shared<IOStream>(fd, io_loop, options);
}

void IOStream::_ensure_family(int family) {
    int current = 0;
    socklen_t len = sizeof current;
    if (socket_ < 0 || ::getsockopt(socket_, SOL_SOCKET, SO_DOMAIN, &current, &len) < 0 ||
        current == family) {
        return;
    }
    int fresh = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fresh < 0) {
        throw std::system_error(errno, std::generic_category(), "socket");
    }
    // The old socket leaves epoll when its last descriptor closes: take the
    // handler off first and put it back on the new socket.
    std::uint32_t state = state_;
    if (state_ != 0) {
        io_loop_->remove_handler(socket_);
        state_ = 0;
    }
    // Same fd number, so that anything that noted fileno() stays right.
    int rc = ::dup3(fresh, socket_, O_CLOEXEC);
    int err = errno;
    ::close(fresh);
    if (rc < 0) {
        throw std::system_error(err, std::generic_category(), "dup3");
    }
    if (nodelay_) {
        nodelay_ = false;
        set_nodelay(true);
    }
    if (state != 0) {
        _add_io_state(state & ~IOLoop::ERROR);
    }
}

// Tornado: tornado/iostream.py:1216 IOStream._handle_connect
void IOStream::_handle_connect() {
    TRACE_SPAN("IOStream._handle_connect", {"fd", socket_});
    int err = get_fd_error();
    if (err != 0) {
        error_ = os_error(err, "connect");
        close();
        return;
    }
    if (connect_future_.valid()) {
        Future<void> future = std::exchange(connect_future_, Future<void>());
        future.set_result();
    }
    connecting_ = false;
}

// Tornado: tornado/iostream.py:1239 IOStream.set_nodelay
void IOStream::set_nodelay(bool value) {
    if (socket_ < 0 || nodelay_ == value) {
        return;  // C++: remembers the setting and skips the repeat syscall
    }
    int on = value ? 1 : 0;
    // Fails on Unix sockets (no Nagle there): ignored, as in Tornado.
    if (::setsockopt(socket_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) {
        nodelay_ = value;
    }
}

}  // namespace tornado::iostream
