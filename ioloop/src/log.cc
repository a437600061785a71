#include "tornado/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <mutex>

namespace tornado::log {

namespace {

Level initial_level() {
    const char* quiet = std::getenv("TORNADO_LOG_QUIET");
    return quiet != nullptr && *quiet != '\0' ? Level::Warning : Level::Info;
}

std::atomic<Level> g_level{initial_level()};

struct HandlerSlot {
    std::mutex mu;
    Handler handler;
};

HandlerSlot& slot() {
    static HandlerSlot* s = new HandlerSlot();  // leaked: usable during exit
    return *s;
}

const char* level_letter(Level lvl) {
    switch (lvl) {
        case Level::Debug:
            return "D";
        case Level::Info:
            return "I";
        case Level::Warning:
            return "W";
        case Level::Error:
            return "E";
        case Level::Off:
            break;
    }
    return "?";
}

}  // namespace

void set_level(Level lvl) {
    g_level.store(lvl);
}
Level level() {
    return g_level.load(std::memory_order_relaxed);
}

void set_handler(Handler handler) {
    std::lock_guard<std::mutex> lock(slot().mu);
    slot().handler = std::move(handler);
}

void Logger::write(Level lvl, const std::string& message) const {
    HandlerSlot& s = slot();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.handler) {
        s.handler(name_, lvl, message);
        return;
    }
    // Tornado's LogFormatter layout: [L yymmdd hh:mm:ss module] message
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    std::string line = fmt::format("[{} {:02}{:02}{:02} {:02}:{:02}:{:02} {}] {}\n",
                                   level_letter(lvl), tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday,
                                   tm.tm_hour, tm.tm_min, tm.tm_sec, name_, message);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string describe(const std::exception_ptr& e) {
    if (!e) {
        return "no exception";
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace tornado::log
