// tornado.log: the named loggers Tornado's modules write to.
//
// C++: a small leveled logger on stderr instead of Python's logging module.
// The loggers keep Tornado's names (`tornado.access`, `tornado.application`,
// `tornado.general`) so that messages read the same. A test or the CLI can
// capture messages with set_handler.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace tornado::log {

enum class Level { Debug = 10, Info = 20, Warning = 30, Error = 40, Off = 100 };

/// Receives every record at or above the threshold level.
using Handler = std::function<void(std::string_view logger, Level level, std::string_view message)>;

/// The lowest level written (default Info; Warning when TORNADO_LOG_QUIET is set).
void set_level(Level level);
Level level();
/// Replaces the default stderr handler; an empty function restores it.
void set_handler(Handler handler);

class Logger {
  public:
    explicit constexpr Logger(const char* name) : name_(name) {}

    bool enabled_for(Level lvl) const { return lvl >= level(); }

    template <class... Args>
    void log(Level lvl, fmt::format_string<Args...> f, Args&&... args) const {
        if (enabled_for(lvl)) {
            write(lvl, fmt::format(f, std::forward<Args>(args)...));
        }
    }
    template <class... Args>
    void debug(fmt::format_string<Args...> f, Args&&... args) const {
        log(Level::Debug, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void info(fmt::format_string<Args...> f, Args&&... args) const {
        log(Level::Info, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void warning(fmt::format_string<Args...> f, Args&&... args) const {
        log(Level::Warning, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void error(fmt::format_string<Args...> f, Args&&... args) const {
        log(Level::Error, f, std::forward<Args>(args)...);
    }

    const char* name() const { return name_; }

  private:
    void write(Level lvl, const std::string& message) const;
    const char* name_;
};

/// Tornado's three loggers.
inline constexpr Logger access_log{"tornado.access"};
inline constexpr Logger app_log{"tornado.application"};
inline constexpr Logger gen_log{"tornado.general"};

/// The message of the exception in `e` ("unknown exception" otherwise).
std::string describe(const std::exception_ptr& e);

}  // namespace tornado::log
