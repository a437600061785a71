#include "tornado/walkthrough/demo_app.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

#include "tornado/escape.h"
#include "tornado/gen.h"

namespace tornado::walkthrough {

namespace {

using web::RequestHandler;

class HelloHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("Hello, world");
        return {};
    }
};

class IndexHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("index");
        return {};
    }
};

class PathHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("id=" + path_args.at(0) + " name=" + path_args.at(1));
        return {};
    }
};

class NamedHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("year=" + path_kwargs.at("year") + " slug=" + path_kwargs.at("slug"));
        return {};
    }
};

class JsonHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(nlohmann::ordered_json{{"message", "hello"}, {"items", {1, 2, 3}}});
        return {};
    }
};

class ChunkedHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        auto self = shared_from_this();
        write("part1");
        co_await flush();
        write("part2");
        co_await flush();
        finish("part3").quiet();
    }
};

class AsyncHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        auto self = shared_from_this();
        co_await gen::sleep(0.05);
        finish("done after 50ms").quiet();
    }
};

class ErrorCodeHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw web::HTTPError(std::stoi(path_args.at(0))); }
};

class ExceptionHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override { throw std::runtime_error("boom"); }
};

class RedirectingHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        redirect("/", !get_argument("permanent", "").empty());
        return {};
    }
};

class EtagHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("etag-body");
        return {};
    }
};

class EchoHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> post() override {
        set_header("Content-Type", "application/octet-stream");
        write(request->body);
        return {};
    }
    Future<void> put() override { return post(); }
};

class MethodsHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> answer() {
        write(request->method);
        return {};
    }
    Future<void> get() override { return answer(); }
    Future<void> head() override { return answer(); }
    Future<void> post() override { return answer(); }
    Future<void> put() override { return answer(); }
    Future<void> delete_() override { return answer(); }
    Future<void> patch() override { return answer(); }
    Future<void> options() override { return answer(); }
};

class BigHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        static const std::string body = [] {
            const std::string line =
                "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
            std::string b;
            b.reserve(line.size() * 16384);
            for (int i = 0; i < 16384; ++i) {
                b += line;
            }
            return b;
        }();
        set_header("Content-Type", "text/plain");
        write(body);
        return {};
    }
};

class HeadersHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        // Header values are latin-1 text in Tornado: each byte one character.
        std::string out = "{";
        const auto& headers = *request->headers;
        for (const std::string& name : headers.keys()) {
            std::string joined;
            for (const std::string& v : headers.get_list(name)) {
                joined += (joined.empty() ? "" : ",") + v;
            }
            out += (out.size() > 1 ? ", " : "") + escape::json_string(name, false) + ": " +
                   escape::json_string(joined, false);
        }
        out += "}";
        set_header("Content-Type", "application/json; charset=UTF-8");
        write(out);
        return {};
    }
};

class IpHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(nlohmann::ordered_json{{"remote_ip", request->remote_ip},
                                     {"protocol", request->protocol}});
        return {};
    }
};

// Arguments as JSON, values decoded as UTF-8 with replacement characters
// as the reference's _decode does. Names are text in Tornado: latin-1 for
// urlencoded ones, UTF-8 for multipart ones (`utf8_names`).
std::string arguments_json(const httputil::Arguments& args, bool utf8_names = false) {
    std::string out = "{";
    for (const auto& [name, values] : args) {
        out += (out.size() > 1 ? ", " : "") + escape::json_string(name, utf8_names) + ": [";
        for (std::size_t i = 0; i < values.size(); ++i) {
            out += (i > 0 ? ", " : "") + escape::json_string(values[i]);
        }
        out += "]";
    }
    return out + "}";
}

// Uploaded files as JSON: field -> [{filename, content_type, size}].
std::string files_json(const httputil::Files& files) {
    std::string out = "{";
    for (const auto& [name, list] : files) {
        out += (out.size() > 1 ? ", " : "") + escape::json_string(name) + ": [";
        for (std::size_t i = 0; i < list.size(); ++i) {
            const httputil::HTTPFile& f = list[i];
            out += (i > 0 ? ", " : "");
            out += "{\"filename\": " + escape::json_string(f.filename) +
                   ", \"content_type\": " + escape::json_string(f.content_type) +
                   ", \"size\": " + std::to_string(f.body.size()) + "}";
        }
        out += "]";
    }
    return out + "}";
}

class ArgsHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        set_header("Content-Type", "application/json; charset=UTF-8");
        bool multipart = request->headers->get("Content-Type", "").starts_with("multipart/form-data");
        write("{\"query\": " + arguments_json(request->query_arguments) +
              ", \"body\": " + arguments_json(request->body_arguments, multipart) +
              ", \"files\": " + files_json(request->files) + "}");
        return {};
    }
    Future<void> post() override { return get(); }
};

class StreamHandler : public RequestHandler {
  public:
    static constexpr bool stream_request_body = true;
    using RequestHandler::RequestHandler;
    Future<void> prepare() override {
        received_ = 0;
        return {};
    }
    Future<void> data_received(std::string chunk) override {
        received_ += chunk.size();
        return {};
    }
    Future<void> post() override {
        write("received " + std::to_string(received_) + " bytes");
        return {};
    }
    Future<void> put() override { return post(); }

  private:
    std::size_t received_ = 0;
};

// The digits of a base-10 integer as Python's int() reads a str: ASCII
// whitespace around, one optional sign, single underscores between digits;
// nullopt where int() raises ValueError. Python's numbers have no bound,
// save the 4300 digits of its conversion limit; so the value stays a
// string: {negative, digits without leading zeros}.
std::optional<std::pair<bool, std::string>> python_int(std::string_view text) {
    constexpr std::string_view space = " \t\n\v\f\r";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos) {
        return std::nullopt;
    }
    text = text.substr(first, text.find_last_not_of(space) - first + 1);
    bool negative = false;
    if (text.front() == '+' || text.front() == '-') {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    std::string digits;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            digits += c;
        } else if (c != '_' || i == 0 || i + 1 == text.size() || text[i + 1] == '_') {
            return std::nullopt;
        }
    }
    if (digits.empty() || digits.size() > 4300) {
        return std::nullopt;
    }
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    return std::pair{negative && digits != "0", digits};
}

// str() of the int whose sign and digits these are.
std::string python_int_str(bool negative, const std::string& digits) {
    if (digits.size() > 4300) {
        // Python's str() of an int refuses more digits than its limit.
        throw std::runtime_error("Exceeds the limit (4300 digits) for integer string conversion");
    }
    return (negative ? "-" : "") + digits;
}

// The decimal digits of |value| + 1 (non-negative) or |value| - 1.
std::string add_one_to_digits(std::string digits, bool up) {
    for (std::size_t i = digits.size(); i-- > 0;) {
        if (up ? digits[i] != '9' : digits[i] != '0') {
            digits[i] = static_cast<char>(digits[i] + (up ? 1 : -1));
            break;
        }
        digits[i] = up ? '0' : '9';
        if (i == 0 && up) {
            digits.insert(digits.begin(), '1');
        }
    }
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    return digits;
}

class CookieHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        // Python's int(): a value that is not a number counts as 0; a number
        // has any size (the counter is kept as decimal digits).
        auto n = python_int(get_cookie("visits", "0").value_or("0"))
                     .value_or(std::pair{false, std::string("0")});
        // n + 1: below zero the magnitude shrinks (-1 + 1 is 0).
        const bool next_negative = n.first && n.second != "1";
        const std::string next = add_one_to_digits(n.second, !n.first);
        set_cookie("visits", python_int_str(next_negative, next));
        write("visits=" + python_int_str(n.first, n.second));
        return {};
    }
};

class FormHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        return render("form.html",
                      {{"name", get_argument("name", "student")}, {"items", get_arguments("item")}});
    }
    Future<void> post() override {
        check_xsrf_cookie();
        return render("done.html", {{"title", get_body_argument("title")},
                                    {"note", "<em>rendered by the demo app</em>"}});
    }
};

class ReverseHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(reverse_url("named", {"2024", "hello-world"}) + " " + reverse_url("form"));
        return {};
    }
};

class SecureCookieHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        std::vector<std::string> set = get_arguments("set");
        if (!set.empty()) {
            set_secure_cookie("user", set.back());
            write("set");
            return {};
        }
        std::optional<std::string> got = get_secure_cookie("user");
        if (got && !escape::is_valid_utf8(*got)) {
            // The reference's got.decode() raises: a 500.
            throw std::runtime_error("secure cookie value is not UTF-8");
        }
        write(got ? *got : "none");
        return {};
    }
};

class XsrfHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(xsrf_token());
        return {};
    }
    Future<void> post() override {
        check_xsrf_cookie();
        write("ok");
        return {};
    }
};

class AdminHandler : public RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write("admin");
        return {};
    }
};

}  // namespace

std::shared_ptr<web::Application> make_demo_app(const DemoOptions& options) {
    using web::url;
    web::ApplicationSettings settings;
    settings.compress_response = true;
    settings.static_path = options.static_path;
    settings.template_path = options.template_path;
    settings.cookie_secret = "demo-cookie-secret";
    settings.log_requests = options.log_requests;
    settings.debug = options.debug;
    if (options.autoreload) {
        settings.autoreload = true;
    }
    auto app = web::Application::create(
        {
            url<HelloHandler>("/"),
            url<IndexHandler>("/index"),
            url<web::RedirectHandler>("/python/(?P<day>[a-zA-Z0-9]+)/(?P<title>[a-zA-Z]+)",
                                      std::string("/index"), true),
            url<PathHandler>("/path/([0-9]+)/([a-z]+)"),
            url<NamedHandler>("/named/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)").named("named"),
            url<ArgsHandler>("/args"),
            url<JsonHandler>("/json"),
            url<ChunkedHandler>("/chunked"),
            url<AsyncHandler>("/async"),
            url<ErrorCodeHandler>("/error/([0-9]+)"),
            url<ExceptionHandler>("/exception"),
            url<RedirectingHandler>("/redirect"),
            url<EtagHandler>("/etag"),
            url<CookieHandler>("/cookie"),
            url<SecureCookieHandler>("/secure-cookie"),
            url<XsrfHandler>("/xsrf"),
            url<StreamHandler>("/stream"),
            url<EchoHandler>("/echo"),
            url<MethodsHandler>("/methods"),
            url<HeadersHandler>("/headers"),
            url<IpHandler>("/ip"),
            url<BigHandler>("/big"),
            url<FormHandler>("/form").named("form"),
            url<ReverseHandler>("/reverse"),
        },
        settings);
    app->add_handlers(R"(admin\.example\.com)", {url<AdminHandler>("/")});
    return app;
}

httpserver::HTTPServerSettings demo_server_settings() {
    httpserver::HTTPServerSettings s;
    s.xheaders = true;
    s.decompress_request = true;
    s.max_header_size = 8192;
    s.max_body_size = 1048576;
    s.idle_connection_timeout = 5;
    s.body_timeout = 5;
    return s;
}

}  // namespace tornado::walkthrough
