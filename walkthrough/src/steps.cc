#include "tornado/walkthrough/steps.h"

#include <algorithm>
#include <map>

namespace tornado::walkthrough {

namespace detail {
// docs/steps.md, written into a generated source file by the build
// (walkthrough/cmake/embed_text.cmake).
extern const char kStepsMarkdown[];
}  // namespace detail

namespace {

// The steps the notes name, in the order a request meets them. Membership
// decides what `--view chain` keeps; the explanations come from the
// sections of docs/steps.md (see build below).
struct Entry {
    const char* step;
    const char* layer;
    const char* py_file;
};

constexpr Entry kSteps[] = {
    // The client of note 004 (Tornado 2.4.1's simple client, on our IOStream).
    {"Client.fetch", "client", ""},
    {"IOStream.connect", "iostream", "tornado/iostream.py"},
    {"IOStream._handle_connect", "iostream", "tornado/iostream.py"},
    // Accepting a connection (note 001).
    {"netutil.accept_handler", "iostream", "tornado/netutil.py"},
    {"TCPServer._handle_connection", "iostream", "tornado/tcpserver.py"},
    // TLS (the tls scenario): the handshake runs on READ and WRITE events.
    {"SSLIOStream._do_ssl_handshake", "iostream", "tornado/iostream.py"},
    {"HTTPServer.handle_stream", "httpserver", "tornado/httpserver.py"},
    {"HTTP1ServerConnection.start_serving", "httpserver", "tornado/http1connection.py"},
    {"HTTP1ServerConnection._server_request_loop", "httpserver", "tornado/http1connection.py"},
    {"HTTP1Connection.read_response", "httpserver", "tornado/http1connection.py"},
    {"HTTP1Connection._read_message", "httpserver", "tornado/http1connection.py"},
    // Reading (notes 001 and 002).
    {"BaseIOStream.read_until_regex", "iostream", "tornado/iostream.py"},
    {"BaseIOStream.read_until", "iostream", "tornado/iostream.py"},
    {"BaseIOStream.read_bytes", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._try_inline_read", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._handle_events", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._handle_read", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._read_from_buffer", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._run_read_callback", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._add_io_state", "iostream", "tornado/iostream.py"},
    // Routing and the handler (notes 001 and 003). Left out so that one GET
    // fits a screen: _HandlerDelegate.headers_received (it only decides
    // whether the body streams), HTTP1Connection._read_body (it only picks
    // _read_fixed_body or _read_chunked_body, which are kept) and
    // HTTP1Connection.finish (the bookkeeping after RequestHandler.finish).
    {"_RoutingDelegate.headers_received", "web", "tornado/routing.py"},
    {"HTTP1Connection._read_fixed_body", "httpserver", "tornado/http1connection.py"},
    {"HTTP1Connection._read_chunked_body", "httpserver", "tornado/http1connection.py"},
    {"_HandlerDelegate.data_received", "web", "tornado/web.py"},
    {"_HandlerDelegate.finish", "web", "tornado/web.py"},
    {"_HandlerDelegate.execute", "web", "tornado/web.py"},
    {"RequestHandler._execute", "web", "tornado/web.py"},
    {"RequestHandler.get", "web", "tornado/web.py"},
    {"RequestHandler.post", "web", "tornado/web.py"},
    {"RequestHandler.check_xsrf_cookie", "web", "tornado/web.py"},
    {"RequestHandler.send_error", "web", "tornado/web.py"},
    {"RequestHandler.redirect", "web", "tornado/web.py"},
    // Rendering a template (the xsrf-form scenario).
    {"RequestHandler.render", "web", "tornado/web.py"},
    {"BaseLoader.load", "web", "tornado/template.py"},
    {"Template.generate", "web", "tornado/template.py"},
    // Writing the answer (notes 000 and 003).
    {"RequestHandler.flush", "web", "tornado/web.py"},
    {"RequestHandler.finish", "web", "tornado/web.py"},
    {"GZipContentEncoding.transform_first_chunk", "web", "tornado/web.py"},
    {"HTTP1Connection.write_headers", "httpserver", "tornado/http1connection.py"},
    {"HTTP1Connection.write", "httpserver", "tornado/http1connection.py"},
    {"HTTP1Connection._format_chunk", "httpserver", "tornado/http1connection.py"},
    {"BaseIOStream.write", "iostream", "tornado/iostream.py"},
    {"BaseIOStream._handle_write", "iostream", "tornado/iostream.py"},
    {"BaseIOStream.close", "iostream", "tornado/iostream.py"},
    // Time (note 003's asynchronous handler; the header timeout).
    {"PollIOLoop.add_timeout", "ioloop", "tornado/ioloop.py"},
    {"gen.with_timeout", "ioloop", "tornado/gen.py"},
};

std::vector<StepInfo> build() {
    std::map<std::string, std::string, std::less<>> texts;
    for (StepSection& s : parse_steps_document(steps_document())) {
        texts.emplace(std::move(s.step), std::move(s.text));
    }
    std::vector<StepInfo> out;
    for (const Entry& e : kSteps) {
        std::string py = e.py_file[0] != '\0' ? std::string(e.py_file) + " " + e.step : "";
        auto it = texts.find(std::string_view(e.step));
        out.push_back({e.step, e.layer, py, it == texts.end() ? "" : it->second});
    }
    return out;
}

std::string_view trim_blank_lines(std::string_view s) {
    while (!s.empty() && (s.front() == '\n' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string_view method_of(std::string_view step) {
    auto dot = step.rfind('.');
    return dot == std::string_view::npos ? step : step.substr(dot + 1);
}

}  // namespace

const std::vector<StepInfo>& notes_steps() {
    static const std::vector<StepInfo> steps = build();
    return steps;
}

const StepInfo* find_step(std::string_view step) {
    const StepInfo* by_method = nullptr;
    int matches = 0;
    for (const StepInfo& s : notes_steps()) {
        if (s.step == step) {
            return &s;
        }
        if (method_of(s.step) == step) {
            by_method = &s;
            ++matches;
        }
    }
    return matches == 1 ? by_method : nullptr;
}

bool is_notes_step(std::string_view step) {
    return std::any_of(notes_steps().begin(), notes_steps().end(),
                       [&](const StepInfo& s) { return s.step == step; });
}

std::vector<std::string> nearest_steps(std::string_view step, std::size_t n) {
    std::vector<std::pair<std::size_t, std::string>> scored;
    for (const StepInfo& s : notes_steps()) {
        std::size_t d =
            std::min(edit_distance(step, s.step), edit_distance(step, method_of(s.step)));
        scored.emplace_back(d, s.step);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (std::size_t i = 0; i < scored.size() && i < n; ++i) {
        out.push_back(scored[i].second);
    }
    return out;
}

std::vector<std::string> steps_with_method(std::string_view method) {
    std::vector<std::string> out;
    for (const StepInfo& s : notes_steps()) {
        if (method_of(s.step) == method) {
            out.push_back(s.step);
        }
    }
    return out;
}

std::string_view steps_document() {
    return detail::kStepsMarkdown;
}

std::vector<StepSection> parse_steps_document(std::string_view markdown) {
    std::vector<StepSection> out;
    std::size_t text_start = std::string_view::npos;
    auto close_section = [&](std::size_t end) {
        if (!out.empty() && text_start != std::string_view::npos) {
            out.back().text =
                std::string(trim_blank_lines(markdown.substr(text_start, end - text_start)));
        }
    };
    std::size_t pos = 0;
    bool in_code = false;
    while (pos < markdown.size()) {
        std::size_t end = markdown.find('\n', pos);
        std::size_t next = end == std::string_view::npos ? markdown.size() : end + 1;
        std::string_view line = markdown.substr(pos, next - pos);
        if (line.starts_with("```")) {
            in_code = !in_code;  // a "## " inside a code block is not a heading
        }
        if (!in_code && line.starts_with("## ")) {
            close_section(pos);
            std::string_view name = trim_blank_lines(line.substr(3));
            // A heading may quote its step: ## `BaseIOStream.write`
            if (name.size() >= 2 && name.front() == '`' && name.back() == '`') {
                name = name.substr(1, name.size() - 2);
            }
            out.push_back({std::string(name), ""});
            text_start = next;
        } else if (!in_code && line.starts_with("# ")) {
            close_section(pos);  // a top-level heading ends a section too
            text_start = std::string_view::npos;
        }
        pos = next;
    }
    close_section(markdown.size());
    return out;
}

}  // namespace tornado::walkthrough
