#include "tornado/template.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <utility>

#include "tornado/escape.h"
#include "tornado/trace.h"

namespace tornado::template_ {

namespace {

using nlohmann::json;

constexpr trace::Module kTraceModule{"web", "tornado/template.py"};

// Templates and loaders are not traced objects: their events carry only the
// step, and the view puts them under the handler's render that called them.
trace::Context trace_context() {
    return {};
}

// --- Python's notion of whitespace, over UTF-8 ------------------------------

// The code point starting at s[i] and its length in bytes (a lone byte of
// invalid UTF-8 counts as itself; templates are checked to be UTF-8 first).
std::pair<char32_t, std::size_t> decode_utf8(std::string_view s, std::size_t i) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    if (len == 1 || i + len > s.size()) {
        return {b, 1};
    }
    char32_t cp = b & (0x7fU >> len);
    for (std::size_t k = 1; k < len; ++k) {
        cp = (cp << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3fU);
    }
    return {cp, len};
}

// str.isspace() (and so the regex class \s and str.strip()).
bool is_py_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

// The length of the run of Python whitespace starting at s[i].
std::size_t space_run(std::string_view s, std::size_t i) {
    std::size_t j = i;
    while (j < s.size()) {
        auto [cp, len] = decode_utf8(s, j);
        if (!is_py_space(cp)) {
            break;
        }
        j += len;
    }
    return j - i;
}

// Python's str.strip() with no argument.
std::string_view py_strip(std::string_view s) {
    s.remove_prefix(space_run(s, 0));
    std::size_t end = 0;  // one past the last non-space code point
    for (std::size_t i = 0; i < s.size();) {
        auto [cp, len] = decode_utf8(s, i);
        i += len;
        if (!is_py_space(cp)) {
            end = i;
        }
    }
    return s.substr(0, end);
}

// str.strip(chars) for one ASCII character.
std::string_view strip_char(std::string_view s, char c) {
    while (!s.empty() && s.front() == c) {
        s.remove_prefix(1);
    }
    while (!s.empty() && s.back() == c) {
        s.remove_suffix(1);
    }
    return s;
}

// --- Python's str() of the JSON values ----------------------------------------

// repr(float): the shortest round-trip digits, positional for exponents
// -4..15 and scientific ("1e+16", "1.5e-05") outside.
std::string python_float_repr(double v) {
    if (std::isnan(v)) {
        return "nan";
    }
    if (std::isinf(v)) {
        return v < 0 ? "-inf" : "inf";
    }
    char buf[64];
    auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(result.ptr - buf));
    std::string sign;
    if (sci.front() == '-') {
        sign = "-";
        sci.remove_prefix(1);
    }
    std::size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e)) {
        if (c != '.') {
            digits.push_back(c);
        }
    }
    int exponent = std::stoi(std::string(sci.substr(e + 1)));
    auto ndigits = static_cast<int>(digits.size());
    if (exponent >= -4 && exponent < 16) {
        int decpt = exponent + 1;  // digits before the decimal point
        if (decpt <= 0) {
            return sign + "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
        }
        if (decpt >= ndigits) {
            return sign + digits + std::string(static_cast<std::size_t>(decpt - ndigits), '0') +
                   ".0";
        }
        return sign + digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
               digits.substr(static_cast<std::size_t>(decpt));
    }
    std::string mantissa = digits.substr(0, 1);
    if (ndigits > 1) {
        mantissa += "." + digits.substr(1);
    }
    return fmt::format("{}{}e{}{:02d}", sign, mantissa, exponent < 0 ? '-' : '+',
                       std::abs(exponent));
}

// What the generated code's `str(_tt_tmp)` gives, for the JSON values whose
// str() is simple; a list or dict (Python's repr syntax) is refused.
std::optional<std::string> python_str(const json& value) {
    switch (value.type()) {
        case json::value_t::string:
            return value.get<std::string>();
        case json::value_t::boolean:
            return value.get<bool>() ? "True" : "False";
        case json::value_t::null:
            return "None";
        case json::value_t::number_integer:
            return std::to_string(value.get<std::int64_t>());
        case json::value_t::number_unsigned:
            return std::to_string(value.get<std::uint64_t>());
        case json::value_t::number_float:
            return python_float_repr(value.get<double>());
        default:
            return std::nullopt;
    }
}

const char* python_type_name(const json& value) {
    switch (value.type()) {
        case json::value_t::string:
            return "str";
        case json::value_t::boolean:
            return "bool";
        case json::value_t::null:
            return "NoneType";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "int";
        case json::value_t::number_float:
            return "float";
        case json::value_t::array:
            return "list";
        case json::value_t::object:
            return "dict";
        default:
            return "object";
    }
}

// bool(value) in Python: None, False, 0, 0.0, "", [] and {} are false.
bool python_truth(const json& value) {
    switch (value.type()) {
        case json::value_t::null:
            return false;
        case json::value_t::boolean:
            return value.get<bool>();
        case json::value_t::number_integer:
            return value.get<std::int64_t>() != 0;
        case json::value_t::number_unsigned:
            return value.get<std::uint64_t>() != 0;
        case json::value_t::number_float:
            return value.get<double>() != 0.0;
        case json::value_t::string:
            // (json::empty() is false for every string, so ask the string.)
            return !value.get_ref<const std::string&>().empty();
        case json::value_t::array:
        case json::value_t::object:
            return !value.empty();
        default:
            return true;
    }
}

// --- Paths (posixpath) ---------------------------------------------------------

std::string normpath(std::string_view path) {
    if (path.empty()) {
        return ".";
    }
    bool absolute = path.front() == '/';
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i <= path.size()) {
        std::size_t slash = path.find('/', i);
        if (slash == std::string_view::npos) {
            slash = path.size();
        }
        std::string_view part = path.substr(i, slash - i);
        i = slash + 1;
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == ".." && ((!absolute && (parts.empty() || parts.back() == "..")) ||
                             (absolute && parts.empty()))) {
            if (!absolute) {
                parts.push_back(part);
            }
            continue;
        }
        if (part == "..") {
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out = absolute ? "/" : "";
    for (std::size_t k = 0; k < parts.size(); ++k) {
        out += (k > 0 ? "/" : "");
        out += parts[k];
    }
    return out.empty() ? "." : out;
}

std::string path_join(std::string_view a, std::string_view b) {
    if (b.starts_with('/') || a.empty()) {
        return std::string(b);
    }
    return std::string(a) + (a.ends_with('/') ? "" : "/") + std::string(b);
}

std::string dirname(std::string_view path) {
    std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return "";
    }
    std::string_view head = path.substr(0, slash + 1);
    // posixpath.dirname keeps a root of slashes and strips trailing ones.
    std::string_view stripped = head;
    while (stripped.size() > 1 && stripped.back() == '/') {
        stripped.remove_suffix(1);
    }
    return std::string(stripped.find_first_not_of('/') == std::string_view::npos ? head : stripped);
}

std::string abspath(std::string_view path) {
    if (path.starts_with('/')) {
        return normpath(path);
    }
    char* cwd = ::getcwd(nullptr, 0);
    std::string base = cwd != nullptr ? cwd : "/";
    std::free(cwd);  // NOLINT(cppcoreguidelines-no-malloc): getcwd's buffer
    return normpath(path_join(base, path));
}

}  // namespace

// ---------------------------------------------------------------------------
// Namespace

Namespace Namespace::from_json(const json& values) {
    Namespace ns;
    if (values.is_null()) {
        return ns;
    }
    if (!values.is_object()) {
        throw std::invalid_argument("template keyword arguments must be a JSON object");
    }
    for (const auto& [name, value] : values.items()) {
        ns.set(name, value);
    }
    return ns;
}

Namespace& Namespace::set(const std::string& name, json value) {
    entries_.insert_or_assign(name, Entry(std::move(value)));
    return *this;
}

Namespace& Namespace::set_function(const std::string& name, Function function) {
    entries_.insert_or_assign(name, Entry(std::move(function)));
    return *this;
}

Namespace& Namespace::set_module(const std::string& name, Function function) {
    modules_.insert_or_assign(name, std::move(function));
    return *this;
}

void Namespace::update(const Namespace& other) {
    for (const auto& [name, entry] : other.entries_) {
        entries_.insert_or_assign(name, entry);
    }
    for (const auto& [name, function] : other.modules_) {
        modules_.insert_or_assign(name, function);
    }
}

const Namespace::Entry* Namespace::find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
}

const Function* Namespace::find_module(std::string_view name) const {
    auto it = modules_.find(name);
    return it == modules_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------
// Errors and filter_whitespace

// Tornado: tornado/template.py:671 ParseError.__init__
ParseError::ParseError(const std::string& message, const std::string& filename, int lineno)
    : std::runtime_error(fmt::format("{} at {}:{}", message, filename, lineno)),
      message_(message),
      filename_(filename),
      lineno_(lineno) {}

// Tornado: tornado/template.py:221 filter_whitespace
std::string filter_whitespace(std::string_view mode, std::string_view text) {
    if (mode == "all") {
        return std::string(text);
    }
    if (mode != "single" && mode != "oneline") {
        throw std::invalid_argument(fmt::format("invalid whitespace mode {}", mode));
    }
    // C++: one pass over the runs of whitespace instead of Tornado's two
    // re.sub calls. "single": a run holding a newline becomes "\n" (what
    // \s*\n\s* matches), else its [\t ]+ pieces become " ". "oneline":
    // every run becomes " ".
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t run = space_run(text, i);
        if (run == 0) {
            out.push_back(text[i]);
            ++i;
            continue;
        }
        std::string_view ws = text.substr(i, run);
        i += run;
        if (mode == "oneline") {
            out.push_back(' ');
        } else if (ws.find('\n') != std::string_view::npos) {
            out.push_back('\n');
        } else {
            for (std::size_t k = 0; k < ws.size();) {
                if (ws[k] == ' ' || ws[k] == '\t') {
                    out.push_back(' ');
                    k = ws.find_first_not_of(" \t", k);
                    k = k == std::string_view::npos ? ws.size() : k;
                } else {
                    out.push_back(ws[k]);
                    ++k;
                }
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------
// The node tree

namespace detail {

using NamedBlocks = std::map<std::string, const NamedBlock*, std::less<>>;

// C++: Tornado's _CodeWriter writes Python; ours is the state of one
// generate() call: the output, the template whose autoescape applies, and
// the loop variables (one scope, as the single generated _tt_execute has).
struct Writer {
    const NamedBlocks& named_blocks;
    const Template* current_template;
    const Namespace& namespace_;
    std::map<std::string, json, std::less<>> locals;
    std::string out;
    int depth = 0;

    [[noreturn]] void fail(const std::string& message, int line) const {
        throw RenderError(fmt::format("{} at {}:{}", message, current_template->name(), line));
    }
};

// --- Expressions ---------------------------------------------------------------

// The value of an expression: JSON, or a function named in the namespace.
struct Value {
    json value;
    const Function* function = nullptr;
};

// A parsed expression of the small grammar:
//   expr    := "not" expr | postfix
//   postfix := atom ( "." NAME | "[" expr "]" )*  |  NAME "(" [expr ("," expr)*] ")" ...
//   atom    := NAME | STRING | NUMBER | "-" NUMBER | True | False | None | "(" expr ")"
struct Expr {  // NOLINT(bugprone-exception-escape): json's default constructor
    enum class Kind { Name, Literal, Attribute, Index, Call, Not };
    Kind kind = Kind::Literal;
    std::string name;  // Name, Attribute (the member), Call (the function)
    json literal;
    std::vector<std::unique_ptr<Expr>> children;  // object / index / args / operand

    Value evaluate(Writer& writer, int line) const;
};

Value lookup_name(Writer& writer, const std::string& name, int line) {
    if (auto it = writer.locals.find(name); it != writer.locals.end()) {
        return Value{it->second};
    }
    const Namespace::Entry* entry = writer.namespace_.find(name);
    if (entry == nullptr) {
        writer.fail(fmt::format("name '{}' is not defined", name), line);
    }
    if (const auto* function = std::get_if<Function>(entry)) {
        return Value{json(), function};
    }
    return Value{std::get<json>(*entry)};
}

json require_json(Writer& writer, const Value& v, int line) {
    if (v.function != nullptr) {
        writer.fail("a function is used as a value (call it)", line);
    }
    return v.value;
}

Value Expr::evaluate(Writer& writer, int line) const {
    switch (kind) {
        case Kind::Literal:
            return Value{literal};
        case Kind::Name:
            return lookup_name(writer, name, line);
        case Kind::Not: {
            Value v = children[0]->evaluate(writer, line);
            return Value{json(v.function == nullptr && !python_truth(v.value))};
        }
        case Kind::Attribute: {
            // C++: JSON objects stand for Tornado's ObjectDict: a.b is a["b"].
            json object = require_json(writer, children[0]->evaluate(writer, line), line);
            if (!object.is_object()) {
                writer.fail(fmt::format("'{}' object has no attribute '{}'",
                                        python_type_name(object), name),
                            line);
            }
            auto it = object.find(name);
            if (it == object.end()) {
                writer.fail(fmt::format("no attribute '{}'", name), line);
            }
            return Value{*it};
        }
        case Kind::Index: {
            json object = require_json(writer, children[0]->evaluate(writer, line), line);
            json index = require_json(writer, children[1]->evaluate(writer, line), line);
            if (object.is_array() && index.is_number_integer()) {
                auto size = static_cast<std::int64_t>(object.size());
                std::int64_t i = index.get<std::int64_t>();
                i = i < 0 ? i + size : i;  // Python's negative indices
                if (i < 0 || i >= size) {
                    writer.fail("list index out of range", line);
                }
                return Value{object[static_cast<std::size_t>(i)]};
            }
            if (object.is_object() && index.is_string()) {
                auto it = object.find(index.get<std::string>());
                if (it == object.end()) {
                    writer.fail(fmt::format("KeyError: {}", index.dump()), line);
                }
                return Value{*it};
            }
            writer.fail(fmt::format("cannot index a {} with a {}", python_type_name(object),
                                    python_type_name(index)),
                        line);
        }
        case Kind::Call: {
            Value callee = lookup_name(writer, name, line);
            if (callee.function == nullptr) {
                writer.fail(
                    fmt::format("'{}' object is not callable", python_type_name(callee.value)),
                    line);
            }
            std::vector<json> args;
            for (const auto& arg : children) {
                args.push_back(require_json(writer, arg->evaluate(writer, line), line));
            }
            return Value{json((*callee.function)(args))};
        }
    }
    return {};
}

// Parses the text of one expression; errors name the template and line.
class ExpressionParser {
  public:
    ExpressionParser(std::string_view text, const std::string& filename, int line)
        : text_(text), filename_(filename), line_(line) {}

    std::unique_ptr<Expr> parse_all() {
        auto e = parse_expr();
        skip_space();
        if (pos_ != text_.size()) {
            unsupported();
        }
        return e;
    }

  private:
    [[noreturn]] void unsupported() const {
        throw ParseError(
            fmt::format("unsupported expression '{}' (tornado-cpp templates support names, "
                        ".attribute and [index] lookups, string and number literals, calls "
                        "of namespace functions and 'not')",
                        text_),
            filename_, line_);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool accept(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    void expect(char c) {
        if (!accept(c)) {
            unsupported();
        }
    }

    static bool is_name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

    std::string parse_name() {
        skip_space();
        if (pos_ >= text_.size() || !is_name_start(text_[pos_])) {
            unsupported();
        }
        std::size_t start = pos_;
        while (pos_ < text_.size() && is_name_char(text_[pos_])) {
            ++pos_;
        }
        return std::string(text_.substr(start, pos_ - start));
    }

    // True if the next token is the keyword `word`.
    bool peek_keyword(std::string_view word) {
        skip_space();
        if (text_.substr(pos_, word.size()) != word) {
            return false;
        }
        std::size_t after = pos_ + word.size();
        return after >= text_.size() || !is_name_char(text_[after]);
    }

    std::unique_ptr<Expr> parse_expr() {
        // Bounded, so that a pathological template cannot exhaust the stack.
        if (++depth_ > kMaxDepth) {
            unsupported();
        }
        auto e = parse_not();
        --depth_;
        return e;
    }

    std::unique_ptr<Expr> parse_not() {
        if (peek_keyword("not")) {
            pos_ += 3;
            auto e = std::make_unique<Expr>();
            e->kind = Expr::Kind::Not;
            e->children.push_back(parse_expr());
            return e;
        }
        return parse_postfix();
    }

    std::unique_ptr<Expr> parse_postfix() {
        auto e = parse_atom();
        while (true) {
            if (accept('.')) {
                auto a = std::make_unique<Expr>();
                a->kind = Expr::Kind::Attribute;
                a->name = parse_name();
                a->children.push_back(std::move(e));
                e = std::move(a);
            } else if (accept('[')) {
                auto i = std::make_unique<Expr>();
                i->kind = Expr::Kind::Index;
                i->children.push_back(std::move(e));
                i->children.push_back(parse_expr());
                expect(']');
                e = std::move(i);
            } else if (accept('(')) {
                // Only a namespace function may be called: f(...), not a.b(...).
                if (e->kind != Expr::Kind::Name) {
                    unsupported();
                }
                e->kind = Expr::Kind::Call;
                if (!accept(')')) {
                    do {
                        e->children.push_back(parse_expr());
                    } while (accept(','));
                    expect(')');
                }
            } else {
                return e;
            }
        }
    }

    std::unique_ptr<Expr> parse_atom() {
        skip_space();
        if (pos_ >= text_.size()) {
            unsupported();
        }
        char c = text_[pos_];
        auto e = std::make_unique<Expr>();
        if (c == '(') {
            ++pos_;
            e = parse_expr();
            expect(')');
            return e;
        }
        if (c == '"' || c == '\'') {
            e->literal = parse_string();
            return e;
        }
        if ((c >= '0' && c <= '9') || c == '-') {
            e->literal = parse_number();
            return e;
        }
        std::string name = parse_name();
        if (name == "True" || name == "False") {
            e->literal = name == "True";
        } else if (name == "None") {
            e->literal = nullptr;
        } else if (kPythonKeywords.contains(name)) {
            unsupported();  // and, or, in, is, lambda, if ... else
        } else {
            e->kind = Expr::Kind::Name;
            e->name = std::move(name);
        }
        return e;
    }

    // A '...' or "..." literal with the escapes \\ \' \" \n \t.
    std::string parse_string() {
        char quote = text_[pos_++];
        std::string out;
        while (pos_ < text_.size() && text_[pos_] != quote) {
            char c = text_[pos_++];
            if (c == '\n') {
                unsupported();
            }
            if (c == '\\') {
                if (pos_ >= text_.size()) {
                    unsupported();
                }
                char esc = text_[pos_++];
                switch (esc) {
                    case '\\':
                    case '\'':
                    case '"':
                        out.push_back(esc);
                        break;
                    case 'n':
                        out.push_back('\n');
                        break;
                    case 't':
                        out.push_back('\t');
                        break;
                    default:
                        unsupported();
                }
                continue;
            }
            out.push_back(c);
        }
        if (pos_ >= text_.size()) {
            unsupported();
        }
        ++pos_;
        return out;
    }

    // A decimal integer or a float with a fraction ("1.5"), maybe negative.
    json parse_number() {
        std::size_t start = pos_;
        if (text_[pos_] == '-') {
            ++pos_;
        }
        std::size_t digits = pos_;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            ++pos_;
        }
        bool is_float = false;
        if (pos_ < text_.size() && text_[pos_] == '.') {
            is_float = true;
            ++pos_;
            std::size_t fraction = pos_;
            while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
                ++pos_;
            }
            if (pos_ == fraction) {
                unsupported();
            }
        }
        std::string_view number = text_.substr(start, pos_ - start);
        // No 0x, 1e5, 1_000, or a leading zero (a syntax error in Python 3).
        if (pos_ == digits || (pos_ < text_.size() && is_name_char(text_[pos_])) ||
            (text_[digits] == '0' && digits + 1 < pos_ && text_[digits + 1] != '.')) {
            unsupported();
        }
        if (is_float) {
            return json(std::stod(std::string(number)));
        }
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
        if (ec != std::errc() || end != number.data() + number.size()) {
            unsupported();  // outside int64: Python would have it, we do not
        }
        return json(value);
    }

    static inline const std::set<std::string, std::less<>> kPythonKeywords = {
        "and",    "as",    "assert", "async", "await",  "break",   "class",    "continue",
        "def",    "del",   "elif",   "else",  "except", "finally", "for",      "from",
        "global", "if",    "import", "in",    "is",     "lambda",  "nonlocal", "or",
        "pass",   "raise", "return", "try",   "while",  "with",    "yield"};

    std::string_view text_;
    const std::string& filename_;
    int line_;
    std::size_t pos_ = 0;
    static constexpr int kMaxDepth = 100;
    int depth_ = 0;
};

std::unique_ptr<Expr> parse_expression(std::string_view text, const std::string& filename,
                                       int line) {
    return ExpressionParser(text, filename, line).parse_all();
}

// --- Nodes ------------------------------------------------------------------------

// Tornado: tornado/template.py:477 _Node
class Node {
  public:
    virtual ~Node() = default;
    // Tornado: tornado/template.py:481 _Node.generate
    // C++: writes this node's output for the current namespace, instead of
    // writing the Python code that would.
    virtual void generate(Writer& writer) const = 0;
    // Tornado: tornado/template.py:484 _Node.find_named_blocks
    virtual void find_named_blocks(NamedBlocks& /*named_blocks*/) const {}
    // C++: loads the templates this node's {% include %}s name (Tornado
    // loads them while compiling); the default is a node without any.
    virtual void resolve_includes(BaseLoader* /*loader*/) {}
};

// Tornado: tornado/template.py:507 _ChunkList
class ChunkList : public Node {
  public:
    std::vector<std::unique_ptr<Node>> chunks;

    // Tornado: tornado/template.py:511 _ChunkList.generate
    void generate(Writer& writer) const override {
        for (const auto& chunk : chunks) {
            chunk->generate(writer);
        }
    }
    void find_named_blocks(NamedBlocks& named_blocks) const override {
        for (const auto& chunk : chunks) {
            chunk->find_named_blocks(named_blocks);
        }
    }
    void resolve_includes(BaseLoader* loader) override {
        for (auto& chunk : chunks) {
            chunk->resolve_includes(loader);
        }
    }
};

// Tornado: tornado/template.py:489 _File
class File : public Node {
  public:
    File(const Template* owner, std::unique_ptr<ChunkList> file_body)
        : template_(owner), body(std::move(file_body)) {}
    // Tornado: tornado/template.py:495 _File.generate
    void generate(Writer& writer) const override { body->generate(writer); }
    void find_named_blocks(NamedBlocks& named_blocks) const override {
        body->find_named_blocks(named_blocks);
    }
    void resolve_includes(BaseLoader* loader) override { body->resolve_includes(loader); }

    const Template* template_;
    std::unique_ptr<ChunkList> body;
};

// Tornado: tornado/template.py:519 _NamedBlock
class NamedBlock : public Node {
  public:
    NamedBlock(std::string block_name, std::unique_ptr<ChunkList> block_body, const Template* owner,
               int lineno)
        : name(std::move(block_name)),
          body(std::move(block_body)),
          template_(owner),
          line(lineno) {}

    // Tornado: tornado/template.py:529 _NamedBlock.generate
    /// Writes the body of the block of this name that wins (the most
    /// derived template's), with that template's autoescape.
    void generate(Writer& writer) const override {
        const NamedBlock* block = writer.named_blocks.at(name);
        if (++writer.depth > kMaxDepth) {
            writer.fail("blocks nested too deeply", line);
        }
        const Template* saved = writer.current_template;
        writer.current_template = block->template_;
        block->body->generate(writer);
        writer.current_template = saved;
        --writer.depth;
    }
    // Tornado: tornado/template.py:534 _NamedBlock.find_named_blocks
    void find_named_blocks(NamedBlocks& named_blocks) const override {
        named_blocks.insert_or_assign(name, this);
        body->find_named_blocks(named_blocks);
    }
    void resolve_includes(BaseLoader* loader) override { body->resolve_includes(loader); }

    static constexpr int kMaxDepth = 100;
    std::string name;
    std::unique_ptr<ChunkList> body;
    const Template* template_;
    int line;
};

// Tornado: tornado/template.py:539 _ExtendsBlock
class ExtendsBlock : public Node {
  public:
    ExtendsBlock(std::string parent_name, int lineno)
        : name(std::move(parent_name)), line(lineno) {}
    // Writes nothing: extends is resolved when the template is built.
    void generate(Writer& /*writer*/) const override {}

    std::string name;
    int line;
};

// Tornado: tornado/template.py:544 _IncludeBlock
class IncludeBlock : public Node {
  public:
    IncludeBlock(std::string included_name, std::string including_name, int lineno)
        : name(std::move(included_name)), template_name(std::move(including_name)), line(lineno) {}

    // Tornado: tornado/template.py:554 _IncludeBlock.generate
    void generate(Writer& writer) const override {
        const Template* saved = writer.current_template;
        writer.current_template = included.get();
        included->file().body->generate(writer);
        writer.current_template = saved;
    }
    // Tornado: tornado/template.py:550 _IncludeBlock.find_named_blocks
    void find_named_blocks(NamedBlocks& named_blocks) const override {
        included->file().find_named_blocks(named_blocks);
    }
    void resolve_includes(BaseLoader* loader) override {
        if (loader == nullptr) {
            throw ParseError("{% include %} block found, but no template loader", template_name,
                             line);
        }
        included = loader->_load_nested(name, template_name, line);
    }

    std::string name;
    std::string template_name;  // the including template, for resolve_path
    int line;
    // C++: loaded when the including template is built (Tornado loads it
    // while compiling that template), kept alive here.
    std::shared_ptr<Template> included;
};

// Tornado: tornado/template.py:582 _ControlBlock
/// {% if %} and {% for %}; the branches after {% elif %} / {% else %} are
/// split out of the body (Tornado leaves them to Python's syntax).
class ControlBlock : public Node {
  public:
    struct Branch {
        std::string keyword;         // "if", "elif", "else", "for"
        std::unique_ptr<Expr> test;  // if / elif: the condition; for: the iterable
        std::unique_ptr<ChunkList> body;
    };

    // Tornado: tornado/template.py:591 _ControlBlock.generate
    void generate(Writer& writer) const override {
        if (branches.front().keyword == "for") {
            generate_for(writer);
            return;
        }
        for (const Branch& branch : branches) {
            if (branch.keyword == "else" || is_true(branch.test->evaluate(writer, line))) {
                branch.body->generate(writer);
                return;
            }
        }
    }
    void find_named_blocks(NamedBlocks& named_blocks) const override {
        for (const Branch& branch : branches) {
            branch.body->find_named_blocks(named_blocks);
        }
    }
    void resolve_includes(BaseLoader* loader) override {
        for (Branch& branch : branches) {
            branch.body->resolve_includes(loader);
        }
    }

    std::string target;  // the loop variable of a for
    int line = 0;
    std::vector<Branch> branches;

  private:
    static bool is_true(const Value& v) { return v.function != nullptr || python_truth(v.value); }

    void generate_for(Writer& writer) const {
        Value iterable = branches.front().test->evaluate(writer, line);
        json items = require_json(writer, iterable, line);
        auto run = [&](json item) {
            writer.locals.insert_or_assign(target, std::move(item));
            branches.front().body->generate(writer);
        };
        if (items.is_array()) {
            for (const json& item : items) {
                run(item);
            }
        } else if (items.is_object()) {
            // C++: a dict iterates its keys; nlohmann::json keeps them sorted.
            for (const auto& [key, unused] : items.items()) {
                run(json(key));
            }
        } else if (items.is_string()) {
            const auto& s = items.get_ref<const std::string&>();
            for (std::size_t i = 0; i < s.size();) {
                std::size_t len = decode_utf8(s, i).second;
                run(json(s.substr(i, len)));
                i += len;
            }
        } else {
            writer.fail(fmt::format("'{}' object is not iterable", python_type_name(items)), line);
        }
        // for ... else: without break, the else branch always runs after.
        if (branches.size() > 1) {
            branches[1].body->generate(writer);
        }
    }
};

// Tornado: tornado/template.py:619 _Expression
/// {{ expr }} (escaped with the template's autoescape), {% raw expr %}.
class Expression : public Node {
  public:
    Expression(std::unique_ptr<Expr> expr, int lineno, bool is_raw)
        : expression(std::move(expr)), line(lineno), raw(is_raw) {}

    // Tornado: tornado/template.py:625 _Expression.generate
    void generate(Writer& writer) const override {
        json value = require_json(writer, evaluate(writer), line);
        std::optional<std::string> text = python_str(value);
        if (!text) {
            writer.fail(fmt::format("tornado-cpp templates cannot print a {} (Python's repr "
                                    "syntax); print its items",
                                    python_type_name(value)),
                        line);
        }
        const std::optional<std::string>& autoescape = writer.current_template->autoescape();
        if (!raw && autoescape) {
            Value escape = lookup_name(writer, *autoescape, line);
            if (escape.function == nullptr) {
                writer.fail(fmt::format("autoescape '{}' is not a function", *autoescape), line);
            }
            writer.out += (*escape.function)({json(*text)});
            return;
        }
        writer.out += *text;
    }

    virtual Value evaluate(Writer& writer) const { return expression->evaluate(writer, line); }

    std::unique_ptr<Expr> expression;
    int line;
    bool raw;
};

// Tornado: tornado/template.py:638 _Module
/// {% module f(args) %}: f from the namespace's modules, not escaped.
class Module : public Expression {
  public:
    Module(std::unique_ptr<Expr> expr, int lineno) : Expression(std::move(expr), lineno, true) {}

    Value evaluate(Writer& writer) const override {
        const Function* module = writer.namespace_.find_module(expression->name);
        if (module == nullptr) {
            writer.fail(fmt::format("no module named '{}'", expression->name), line);
        }
        std::vector<json> args;
        for (const auto& arg : expression->children) {
            args.push_back(require_json(writer, arg->evaluate(writer, line), line));
        }
        return Value{json((*module)(args))};
    }
};

// Tornado: tornado/template.py:644 _Text
class Text : public Node {
  public:
    // Tornado: tornado/template.py:645 _Text.__init__
    // C++: the whitespace filter runs here, once, instead of in generate.
    Text(std::string_view text, int lineno, std::string_view whitespace)
        : value(text.find("<pre>") == std::string_view::npos  // Tornado's guard for <pre>
                    ? filter_whitespace(whitespace, text)
                    : std::string(text)),
          line(lineno) {}
    // Tornado: tornado/template.py:650 _Text.generate
    void generate(Writer& writer) const override { writer.out += value; }

    std::string value;
    int line;
};

// Tornado: tornado/template.py:731 _TemplateReader
struct TemplateReader {
    std::string name;
    std::string_view text;
    std::string whitespace;
    int line = 1;
    std::size_t pos = 0;

    // Tornado: tornado/template.py:739 _TemplateReader.find
    /// The offset of `needle` from the current position, or npos.
    std::size_t find(std::string_view needle, std::size_t start = 0) const {
        std::size_t index = text.find(needle, pos + start);
        return index == std::string_view::npos ? index : index - pos;
    }
    // Tornado: tornado/template.py:753 _TemplateReader.consume
    std::string_view consume(std::size_t count = std::string_view::npos) {
        count = std::min(count, text.size() - pos);
        std::string_view s = text.substr(pos, count);
        for (char c : s) {
            line += c == '\n' ? 1 : 0;
        }
        pos += count;
        return s;
    }
    // Tornado: tornado/template.py:762 _TemplateReader.remaining
    std::size_t remaining() const { return text.size() - pos; }
    char operator[](std::size_t key) const { return text[pos + key]; }
    // Tornado: tornado/template.py:787 _TemplateReader.raise_parse_error
    [[noreturn]] void raise_parse_error(const std::string& msg) const {
        throw ParseError(msg, name, line);
    }
};

// Tornado: tornado/template.py:797 _parse
/// The recursive-descent parse of a template body into chunks.
class Parser {
  public:
    Parser(TemplateReader& reader, Template& owner) : reader_(reader), template_(owner) {}

    // Tornado: tornado/template.py:797 _parse
    std::unique_ptr<ChunkList> _parse(const std::string& in_block = "",
                                      ControlBlock* control = nullptr);

  private:
    bool parse_block(ChunkList& body, std::string_view contents, int line,
                     const std::string& in_block, ControlBlock* control);
    void add_intermediate(std::string_view operator_, std::string_view suffix, int line,
                          const std::string& in_block, ControlBlock* control);
    std::unique_ptr<Node> parse_control(std::string_view operator_, std::string_view suffix,
                                        int line);
    void check_extends_first(const ChunkList& body, const std::string& in_block) const;

    TemplateReader& reader_;
    Template& template_;
    static constexpr int kMaxDepth = 100;
    int depth_ = 0;
};

std::unique_ptr<ChunkList> Parser::_parse(const std::string& in_block, ControlBlock* control) {
    // C++: a bound on nesting keeps a pathological template off the stack's end.
    if (++depth_ > kMaxDepth) {
        reader_.raise_parse_error("blocks nested too deeply");
    }
    auto body = std::make_unique<ChunkList>();
    // The chunks of the current branch of `control` go to its last branch;
    // `current` is where they are appended.
    ChunkList* current = body.get();
    if (control != nullptr) {
        current = control->branches.back().body.get();
    }
    while (true) {
        // Find the next template directive.
        std::size_t curly = 0;
        while (true) {
            curly = reader_.find("{", curly);
            if (curly == std::string_view::npos || curly + 1 == reader_.remaining()) {
                if (!in_block.empty()) {
                    reader_.raise_parse_error(
                        fmt::format("Missing {{% end %}} block for {}", in_block));
                }
                current->chunks.push_back(
                    std::make_unique<Text>(reader_.consume(), reader_.line, reader_.whitespace));
                --depth_;
                return body;
            }
            char next = reader_[curly + 1];
            if (next != '{' && next != '%' && next != '#') {
                curly += 1;
                continue;
            }
            // With more than two curlies in a row, the innermost pair counts.
            if (curly + 2 < reader_.remaining() && next == '{' && reader_[curly + 2] == '{') {
                curly += 1;
                continue;
            }
            break;
        }
        if (curly > 0) {
            std::string_view cons = reader_.consume(curly);
            current->chunks.push_back(
                std::make_unique<Text>(cons, reader_.line, reader_.whitespace));
        }
        std::string_view start_brace = reader_.consume(2);
        int line = reader_.line;
        // "{{!" and "{%!" write the braces themselves.
        if (reader_.remaining() > 0 && reader_[0] == '!') {
            reader_.consume(1);
            current->chunks.push_back(
                std::make_unique<Text>(start_brace, line, reader_.whitespace));
            continue;
        }
        if (start_brace == "{#") {
            std::size_t end = reader_.find("#}");
            if (end == std::string_view::npos) {
                reader_.raise_parse_error("Missing end comment #}");
            }
            reader_.consume(end);
            reader_.consume(2);
            continue;
        }
        if (start_brace == "{{") {
            std::size_t end = reader_.find("}}");
            if (end == std::string_view::npos) {
                reader_.raise_parse_error("Missing end expression }}");
            }
            std::string_view contents = py_strip(reader_.consume(end));
            reader_.consume(2);
            if (contents.empty()) {
                reader_.raise_parse_error("Empty expression");
            }
            current->chunks.push_back(std::make_unique<Expression>(
                parse_expression(contents, reader_.name, line), line, false));
            continue;
        }
        // A block: {% ... %}.
        std::size_t end = reader_.find("%}");
        if (end == std::string_view::npos) {
            reader_.raise_parse_error("Missing end block %}");
        }
        std::string_view contents = py_strip(reader_.consume(end));
        reader_.consume(2);
        if (contents.empty()) {
            reader_.raise_parse_error("Empty block tag ({% %})");
        }
        if (contents.substr(0, contents.find(' ')) == "end") {
            if (in_block.empty()) {
                reader_.raise_parse_error("Extra {% end %} block");
            }
            --depth_;
            return body;
        }
        if (parse_block(*current, contents, line, in_block, control) && control != nullptr) {
            // An {% elif %} / {% else %} opened a new branch.
            current = control->branches.back().body.get();
        }
    }
}

// One {% operator suffix %} tag other than end; true if it opened a branch.
bool Parser::parse_block(ChunkList& body, std::string_view contents, int line,
                         const std::string& in_block, ControlBlock* control) {
    std::size_t space = contents.find(' ');
    std::string_view operator_ = contents.substr(0, space);
    std::string_view suffix =
        space == std::string_view::npos ? std::string_view() : py_strip(contents.substr(space + 1));

    if (operator_ == "else" || operator_ == "elif" || operator_ == "except" ||
        operator_ == "finally") {
        add_intermediate(operator_, suffix, line, in_block, control);
        return true;
    }
    if (operator_ == "comment") {
        return false;
    }
    if (operator_ == "extends" || operator_ == "include") {
        if (operator_ == "extends") {
            check_extends_first(body, in_block);
        }
        std::string path(strip_char(strip_char(suffix, '"'), '\''));
        if (path.empty()) {
            reader_.raise_parse_error(fmt::format("{} missing file path", operator_));
        }
        if (operator_ == "extends") {
            body.chunks.push_back(std::make_unique<ExtendsBlock>(std::move(path), line));
        } else {
            body.chunks.push_back(
                std::make_unique<IncludeBlock>(std::move(path), reader_.name, line));
        }
        return false;
    }
    if (operator_ == "autoescape") {
        // Tornado: the last {% autoescape %} applies to the whole template.
        std::string fn(suffix);
        template_.autoescape_ =
            fn == "None" ? std::nullopt : std::optional<std::string>(std::move(fn));
        return false;
    }
    if (operator_ == "whitespace") {
        try {
            filter_whitespace(suffix, "");
        } catch (const std::invalid_argument& e) {
            reader_.raise_parse_error(e.what());
        }
        reader_.whitespace = std::string(suffix);
        return false;
    }
    if (operator_ == "raw" || operator_ == "module") {
        auto expr = parse_expression(suffix, reader_.name, line);
        if (operator_ == "raw") {
            body.chunks.push_back(std::make_unique<Expression>(std::move(expr), line, true));
        } else {
            if (expr->kind != Expr::Kind::Call) {
                reader_.raise_parse_error("{% module %} needs a call: {% module name(...) %}");
            }
            body.chunks.push_back(std::make_unique<Module>(std::move(expr), line));
        }
        return false;
    }
    if (operator_ == "block") {
        if (suffix.empty()) {
            reader_.raise_parse_error("block missing name");
        }
        auto block_body = _parse("block");
        body.chunks.push_back(std::make_unique<NamedBlock>(
            std::string(suffix), std::move(block_body), &template_, line));
        return false;
    }
    if (operator_ == "if" || operator_ == "for") {
        body.chunks.push_back(parse_control(operator_, suffix, line));
        return false;
    }
    if (operator_ == "set" || operator_ == "import" || operator_ == "from" ||
        operator_ == "apply" || operator_ == "try" || operator_ == "while" ||
        operator_ == "break" || operator_ == "continue") {
        reader_.raise_parse_error(
            fmt::format("{{% {} %}} is not supported by tornado-cpp templates", operator_));
    }
    reader_.raise_parse_error(fmt::format("unknown operator: '{}'", operator_));
}

// {% else %} / {% elif %}: checked as Tornado does, then a new branch.
void Parser::add_intermediate(std::string_view operator_, std::string_view suffix, int line,
                              const std::string& in_block, ControlBlock* control) {
    static const std::map<std::string_view, std::string_view> kAllowedParents = {
        {"else", "{'if', 'for', 'while', 'try'}"},
        {"elif", "{'if'}"},
        {"except", "{'try'}"},
        {"finally", "{'try'}"}};
    std::string_view allowed = kAllowedParents.at(operator_);
    if (in_block.empty()) {
        reader_.raise_parse_error(fmt::format("{} outside {} block", operator_, allowed));
    }
    bool attaches =
        control != nullptr && ((operator_ == "else" && (in_block == "if" || in_block == "for")) ||
                               (operator_ == "elif" && in_block == "if"));
    if (!attaches) {
        reader_.raise_parse_error(
            fmt::format("{} block cannot be attached to {} block", operator_, in_block));
    }
    if (control->branches.back().keyword == "else") {
        reader_.raise_parse_error(fmt::format("{} after else", operator_));
    }
    ControlBlock::Branch branch{std::string(operator_), nullptr, std::make_unique<ChunkList>()};
    if (operator_ == "elif") {
        branch.test = parse_expression(suffix, reader_.name, line);
    } else if (!suffix.empty()) {
        reader_.raise_parse_error("else takes no expression");
    }
    control->branches.push_back(std::move(branch));
}

// {% if expr %} or {% for name in expr %}, parsed to its {% end %}.
std::unique_ptr<Node> Parser::parse_control(std::string_view operator_, std::string_view suffix,
                                            int line) {
    auto block = std::make_unique<ControlBlock>();
    block->line = line;
    std::string_view test = suffix;
    if (operator_ == "for") {
        // One loop variable: "name in expr" (no tuple unpacking).
        std::size_t in = suffix.find(" in ");
        std::string_view target =
            in == std::string_view::npos ? "" : py_strip(suffix.substr(0, in));
        bool name_ok = !target.empty() && !(target[0] >= '0' && target[0] <= '9');
        for (char c : target) {
            name_ok = name_ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '_');
        }
        if (!name_ok) {
            reader_.raise_parse_error(
                fmt::format("unsupported for loop '{}' (tornado-cpp templates support "
                            "{{% for name in expression %}})",
                            suffix));
        }
        block->target = std::string(target);
        test = suffix.substr(in + 4);
    }
    if (py_strip(test).empty()) {
        reader_.raise_parse_error(fmt::format("{} missing expression", operator_));
    }
    block->branches.push_back(ControlBlock::Branch{std::string(operator_),
                                                   parse_expression(test, reader_.name, line),
                                                   std::make_unique<ChunkList>()});
    // _parse puts the chunks into the branches; what it returns stays empty.
    _parse(std::string(operator_), block.get());
    return block;
}

// C++: {% extends %} must come first (whitespace aside), once, at the top
// level. Tornado takes it anywhere at the top and drops the text before it.
void Parser::check_extends_first(const ChunkList& body, const std::string& in_block) const {
    bool only_space = in_block.empty();
    for (const auto& chunk : body.chunks) {
        const auto* text = dynamic_cast<const Text*>(chunk.get());
        only_space = only_space && text != nullptr && py_strip(text->value).empty();
    }
    if (!only_space) {
        reader_.raise_parse_error("{% extends %} must be the first tag of the template");
    }
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Template

namespace {

// The escaping helpers of Template.generate's namespace take one string.
Function string_function(std::string name, std::string (*f)(std::string_view)) {
    return [name = std::move(name), f](const std::vector<json>& args) {
        if (args.size() != 1 || !args[0].is_string()) {
            throw RenderError(name + "() takes one string");
        }
        return f(args[0].get_ref<const std::string&>());
    };
}

std::string url_escape_plus(std::string_view value) {
    return escape::url_escape(value, true);
}

const Namespace& builtin_namespace() {
    static const Namespace ns = [] {
        Namespace n;
        n.set_function("escape", string_function("escape", escape::xhtml_escape));
        n.set_function("xhtml_escape", string_function("xhtml_escape", escape::xhtml_escape));
        n.set_function("url_escape", string_function("url_escape", url_escape_plus));
        return n;
    }();
    return ns;
}

}  // namespace

// Tornado: tornado/template.py:255 Template.__init__
Template::Template(std::string_view template_string, std::string name, BaseLoader* loader,
                   TemplateOptions options)
    : name_(std::move(name)) {
    std::optional<std::string> whitespace = options.whitespace;
    if (options.compress_whitespace) {
        if (whitespace) {
            throw std::invalid_argument("cannot set both whitespace and compress_whitespace");
        }
        whitespace = *options.compress_whitespace ? "single" : "all";
    }
    if (!whitespace) {
        if (loader != nullptr && loader->whitespace() && !loader->whitespace()->empty()) {
            whitespace = loader->whitespace();
        } else {
            // The default follows the file name.
            bool html = name_.ends_with(".html") || name_.ends_with(".js");
            whitespace = html ? "single" : "all";
        }
    }
    filter_whitespace(*whitespace, "");  // validates the mode
    if (options.autoescape) {
        autoescape_ = *options.autoescape;
    } else if (loader != nullptr) {
        autoescape_ = loader->autoescape();
    } else {
        autoescape_ = "xhtml_escape";
    }
    if (loader != nullptr) {
        namespace_ = loader->namespace_();
    }
    // C++: Tornado decodes the template as UTF-8 (UnicodeDecodeError).
    if (!escape::is_valid_utf8(template_string)) {
        throw ParseError("template is not valid UTF-8", name_, 1);
    }
    detail::TemplateReader reader{name_, template_string, *whitespace};
    file_ = std::make_unique<detail::File>(this, detail::Parser(reader, *this)._parse());
    _generate_python(loader);
}

Template::~Template() = default;

// Tornado: tornado/template.py:323 Template.generate
std::string Template::generate(const Namespace& kwargs) const {
    TRACE_SPAN_AS(span, "Template.generate", {"template", name_});
    Namespace ns = builtin_namespace();
    ns.update(namespace_);
    ns.update(kwargs);
    detail::Writer writer{named_blocks_, ancestors_.front()->template_, ns, {}, {}};
    ancestors_.front()->generate(writer);
    span.end({{"bytes", writer.out.size()}});
    return std::move(writer.out);
}

// Tornado: tornado/template.py:350 Template._generate_python
// C++: no Python is generated; what its compile step resolves is kept: the
// included templates, the chain of parents and the blocks that win.
void Template::_generate_python(BaseLoader* loader) {
    file_->resolve_includes(loader);
    ancestors_ = _get_ancestors(loader);
    for (const detail::File* ancestor : ancestors_) {
        ancestor->find_named_blocks(named_blocks_);
    }
}

// Tornado: tornado/template.py:366 Template._get_ancestors
// C++: returned root first (Tornado builds it the other way, then reverses).
std::vector<const detail::File*> Template::_get_ancestors(BaseLoader* loader) {
    std::vector<const detail::File*> ancestors;
    for (const auto& chunk : file_->body->chunks) {
        const auto* extends = dynamic_cast<const detail::ExtendsBlock*>(chunk.get());
        if (extends == nullptr) {
            continue;
        }
        if (loader == nullptr) {
            throw ParseError("{% extends %} block found, but no template loader", name_,
                             extends->line);
        }
        std::shared_ptr<Template> parent =
            loader->_load_nested(extends->name, name_, extends->line);
        ancestors = parent->ancestors_;
        parents_.push_back(std::move(parent));
    }
    ancestors.push_back(file_.get());
    return ancestors;
}

// ---------------------------------------------------------------------------
// Loaders

BaseLoader::BaseLoader(LoaderOptions options)
    : autoescape_(std::move(options.autoescape)),
      loader_namespace_(std::move(options.namespace_)),
      whitespace_(std::move(options.whitespace)) {}

// Tornado: tornado/template.py:413 BaseLoader.reset
void BaseLoader::reset() {
    std::lock_guard lock(lock_);
    templates_.clear();
}

// Tornado: tornado/template.py:422 BaseLoader.load
std::shared_ptr<Template> BaseLoader::load(const std::string& name,
                                           const std::string& parent_path) {
    TRACE_SPAN_AS(span, "BaseLoader.load", {"name", name});
    std::string resolved = resolve_path(name, parent_path);
    std::lock_guard lock(lock_);
    if (auto it = templates_.find(resolved); it != templates_.end()) {
        span.end({{"cached", true}});
        return it->second;
    }
    loading_.insert(resolved);
    std::shared_ptr<Template> created;
    try {
        created = _create_template(resolved);
    } catch (...) {
        loading_.erase(resolved);
        throw;
    }
    loading_.erase(resolved);
    templates_.insert_or_assign(resolved, created);
    span.end({{"cached", false}});
    return created;
}

std::shared_ptr<Template> BaseLoader::_load_nested(const std::string& name,
                                                   const std::string& filename, int lineno) {
    std::lock_guard lock(lock_);
    std::string resolved = resolve_path(name, filename);
    if (loading_.contains(resolved)) {
        throw ParseError(fmt::format("{} includes or extends itself (through {})", resolved, name),
                         filename, lineno);
    }
    return load(name, filename);
}

// Tornado: tornado/template.py:437 Loader.__init__
Loader::Loader(const std::string& root_directory, LoaderOptions options)
    : BaseLoader(std::move(options)), root_(abspath(root_directory)) {}

// Tornado: tornado/template.py:441 Loader.resolve_path
std::string Loader::resolve_path(const std::string& name, const std::string& parent_path) const {
    if (!parent_path.empty() && !parent_path.starts_with('<') && !parent_path.starts_with('/') &&
        !name.starts_with('/')) {
        std::string current_path = path_join(root_, parent_path);
        std::string file_dir = dirname(abspath(current_path));
        std::string relative_path = abspath(path_join(file_dir, name));
        // Tornado's test is a string prefix, not a path prefix.
        if (relative_path.starts_with(root_)) {
            return relative_path.substr(std::min(relative_path.size(), root_.size() + 1));
        }
    }
    return name;
}

// Tornado: tornado/template.py:452 Loader._create_template
std::shared_ptr<Template> Loader::_create_template(const std::string& name) {
    std::string path = path_join(root_, name);
    std::ifstream f(path, std::ios::binary);
    std::ostringstream contents;
    if (!f || !(contents << f.rdbuf())) {
        throw std::runtime_error(fmt::format("cannot read template '{}' ({})", name, path));
    }
    return std::make_shared<Template>(contents.str(), name, this);
}

DictLoader::DictLoader(std::map<std::string, std::string> dict, LoaderOptions options)
    : BaseLoader(std::move(options)), dict_(std::move(dict)) {}

// Tornado: tornado/template.py:465 DictLoader.resolve_path
std::string DictLoader::resolve_path(const std::string& name,
                                     const std::string& parent_path) const {
    if (!parent_path.empty() && !parent_path.starts_with('<') && !parent_path.starts_with('/') &&
        !name.starts_with('/')) {
        return normpath(path_join(dirname(parent_path), name));
    }
    return name;
}

// Tornado: tornado/template.py:473 DictLoader._create_template
std::shared_ptr<Template> DictLoader::_create_template(const std::string& name) {
    auto it = dict_.find(name);
    if (it == dict_.end()) {
        throw std::runtime_error(fmt::format("no template named '{}'", name));
    }
    return std::make_shared<Template>(it->second, name, this);
}

}  // namespace tornado::template_
