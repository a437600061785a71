// tornado.template: every construct of the subset, the whitespace modes,
// errors with file:line, loaders and their cache; the output compared byte
// for byte with Debian's Tornado 6.2 (/usr/bin/python3) over the demo
// templates and edge cases; and RequestHandler.render over real HTTP.
#include "tornado/template.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tornado/web.h"

#include "httpserver/raw_client.h"

extern char** environ;

namespace tornado::template_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using template_::DictLoader;
using template_::Loader;
using template_::Namespace;
using template_::ParseError;
using template_::RenderError;
using template_::Template;

// --- Helpers -------------------------------------------------------------------

std::string render(std::string_view text, const json& values = json::object(),
                   const std::string& name = "t.html") {
    return Template(text, name).generate(Namespace::from_json(values));
}

// The ParseError message for `text`, or "" if it parses.
std::string parse_error(std::string_view text, const std::string& name = "t.html") {
    try {
        Template t(text, name);
    } catch (const ParseError& e) {
        return e.what();
    }
    return "";
}

std::string render_error(std::string_view text, const json& values = json::object()) {
    try {
        render(text, values);
    } catch (const RenderError& e) {
        return e.what();
    }
    return "";
}

// The fixed helpers both engines get, as in the demo app.
Namespace fake_helpers() {
    Namespace ns;
    ns.set_function("static_url", [](const std::vector<json>& args) {
        // std::string(...) + ...: "literal" + std::string&& draws a false
        // -Wrestrict from g++ 12 at -O3.
        return std::string("/static/") + args.at(0).get<std::string>() + "?v=abc123";
    });
    ns.set_function("reverse_url", [](const std::vector<json>& args) {
        std::string url;
        for (const json& part : args) {
            url += '/';
            url += part.get<std::string>();
        }
        return url;
    });
    auto xsrf = [](const std::vector<json>&) {
        return std::string(R"(<input type="hidden" name="_xsrf" value="tok&en"/>)");
    };
    ns.set_function("xsrf_form_html", xsrf);
    ns.set_module("xsrf_form_html", xsrf);
    return ns;
}

// The same helpers in Python, and Tornado's Loader over the same files:
// argv is root, namespace JSON file, output dir, template names.
constexpr const char* kPythonRender = R"PY(
import json, os, sys
from tornado.template import Loader
from tornado.util import ObjectDict
root, ns_file, out_dir = sys.argv[1:4]
with open(ns_file) as f:
    ns = dict(json.load(f, object_hook=ObjectDict))
def static_url(path, include_host=False):
    return "/static/" + path + "?v=abc123"
def reverse_url(name, *args):
    return "/" + name + "".join("/" + a for a in args)
def xsrf_form_html():
    return '<input type="hidden" name="_xsrf" value="tok&en"/>'
ns.update(static_url=static_url, reverse_url=reverse_url, xsrf_form_html=xsrf_form_html,
          _tt_modules=ObjectDict(xsrf_form_html=xsrf_form_html))
loader = Loader(root)
for i, name in enumerate(sys.argv[4:]):
    with open(os.path.join(out_dir, "%d.out" % i), "wb") as f:
        f.write(loader.load(name).generate(**ns))
)PY";

std::string read_file(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

class TempDirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "template_test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Tornado 6.2's output for each of `names` under `root`.
    std::vector<std::string> python_render(const fs::path& root, const json& values,
                                           const std::vector<std::string>& names) {
        fs::path out = dir_ / "python-out";
        fs::create_directories(out);
        fs::path ns_file = dir_ / "namespace.json";
        write_file(ns_file, values.dump());
        std::vector<std::string> args = {
            "python3", "-c", kPythonRender, root.string(), ns_file.string(), out.string()};
        args.insert(args.end(), names.begin(), names.end());
        std::vector<char*> argv;
        for (std::string& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        pid_t pid = 0;
        EXPECT_EQ(::posix_spawn(&pid, "/usr/bin/python3", nullptr, nullptr, argv.data(), environ),
                  0);
        int status = 0;
        EXPECT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "python3 failed";
        std::vector<std::string> outputs;
        for (std::size_t i = 0; i < names.size(); ++i) {
            outputs.push_back(read_file(out / (std::to_string(i) + ".out")));
        }
        return outputs;
    }

    // Ours and Tornado's output for `names` under `root` must be identical.
    void expect_same_as_tornado(const fs::path& root, const json& values,
                                const std::vector<std::string>& names) {
        std::vector<std::string> theirs = python_render(root, values, names);
        Loader loader(root.string());
        Namespace ns = fake_helpers();
        ns.update(Namespace::from_json(values));
        for (std::size_t i = 0; i < names.size(); ++i) {
            EXPECT_EQ(loader.load(names[i])->generate(ns), theirs.at(i))
                << names[i] << " with " << values.dump();
        }
    }

    fs::path dir_;
};

// --- Constructs ------------------------------------------------------------------

class TemplateTest : public ::testing::Test {};

TEST_F(TemplateTest, ExpressionIsEscapedWithXhtmlEscape) {
    EXPECT_EQ(render("<b>{{ name }}</b>", {{"name", R"(<a href="x">&'</a>)"}}),
              "<b>&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;</b>");
}

TEST_F(TemplateTest, RawAndModuleAreNotEscaped) {
    Namespace ns;
    ns.set("note", "<i>hi</i>");
    ns.set_module("widget", [](const std::vector<json>& args) {
        return "<w " + args.at(0).get<std::string>() + ">";
    });
    EXPECT_EQ(Template("{% raw note %}|{% module widget('a') %}").generate(ns), "<i>hi</i>|<w a>");
}

TEST_F(TemplateTest, AutoescapeNoneTurnsEscapingOff) {
    EXPECT_EQ(render("{% autoescape None %}{{ x }}", {{"x", "<>"}}), "<>");
    template_::TemplateOptions options;
    options.autoescape = std::optional<std::string>();
    Template t("{{ x }}", "t.html", nullptr, options);
    EXPECT_EQ(t.generate(Namespace().set("x", "<>")), "<>");
}

TEST_F(TemplateTest, IfElifElseChoosesTheFirstTrueBranch) {
    const char* text = "{% if a %}A{% elif b %}B{% else %}C{% end %}";
    EXPECT_EQ(render(text, {{"a", 1}, {"b", 1}}), "A");
    EXPECT_EQ(render(text, {{"a", 0}, {"b", "x"}}), "B");
    EXPECT_EQ(render(text, {{"a", ""}, {"b", nullptr}}), "C");
}

TEST_F(TemplateTest, TruthinessIsPythons) {
    json values = json::array({0, 1, "", "a", json::array(), json::array({1}), json::object(),
                               json{{"k", 1}}, nullptr, true, false, 0.0, 0.5});
    EXPECT_EQ(render("{% for v in vs %}{% if v %}T{% else %}F{% end %}{% end %}", {{"vs", values}}),
              "FTFTFTFTFTFFT");
    EXPECT_EQ(render("{{ not x }} {{ not not x }}", {{"x", json::array()}}), "True False");
}

TEST_F(TemplateTest, ForLoopsOverListsDictKeysAndStringsAndRunsElseAfter) {
    EXPECT_EQ(render("{% for x in xs %}[{{ x }}]{% else %}done{% end %}", {{"xs", {1, "b", 2.5}}}),
              "[1][b][2.5]done");
    EXPECT_EQ(render("{% for k in d %}{{ k }}={{ d[k] }};{% end %}", {{"d", {{"a", 1}, {"b", 2}}}}),
              "a=1;b=2;");
    EXPECT_EQ(render("{% for c in s %}<{{ c }}>{% end %}", {{"s", "h\xc3\xa9"}}), "<h><\xc3\xa9>");
    // The loop variable stays set after the loop, as in Python.
    EXPECT_EQ(render("{% for x in xs %}{% end %}{{ x }}", {{"xs", {1, 2}}}), "2");
}

TEST_F(TemplateTest, LookupsLiteralsAndCalls) {
    Namespace ns = Namespace::from_json(
        {{"user", {{"name", "Ann"}, {"tags", {"a", "b", "c"}}}}, {"key", "name"}});
    ns.set_function("join", [](const std::vector<json>& args) {
        std::string out;
        for (const json& a : args) {
            out += a.is_string() ? a.get<std::string>() : a.dump();
        }
        return out;
    });
    Template t(
        "{{ user.name }} {{ user['name'] }} {{ user[key] }} {{ user.tags[0] }} "
        "{{ user.tags[-1] }} {{ join(\"x\", 'y\\'', 3, -4, 1.5, True, None, user.name) }} "
        "{{ (user).name }}");
    EXPECT_EQ(t.generate(ns), "Ann Ann Ann a c xy&#39;3-41.5truenullAnn Ann");
}

TEST_F(TemplateTest, NumbersAndConstantsPrintAsPythonsStr) {
    json values = {{"i", 42},          {"neg", -7},      {"f", 1.0},          {"big", 1e16},
                   {"small", 1.5e-05}, {"tiny", 0.0001}, {"mid", 123456.789}, {"nz", -0.0},
                   {"t", true},        {"n", nullptr}};
    EXPECT_EQ(render("{{ i }} {{ neg }} {{ f }} {{ big }} {{ small }} {{ tiny }} {{ mid }} "
                     "{{ nz }} {{ t }} {{ n }}",
                     values),
              "42 -7 1.0 1e+16 1.5e-05 0.0001 123456.789 -0.0 True None");
}

TEST_F(TemplateTest, CommentsAndBangEscapes) {
    EXPECT_EQ(render("a{# no {{ output }} #}b{{! x }}{%! y %}{# #}c"), "ab{{ x }}{% y %}c");
    EXPECT_EQ(render("{{{ v }}}", {{"v", 1}}), "{1}");
    EXPECT_EQ(render("{% comment anything %}x"), "x");
}

// --- Whitespace --------------------------------------------------------------------

TEST_F(TemplateTest, FilterWhitespaceModesMatchTornado) {
    using template_::filter_whitespace;
    std::string text = "  a \t b  \n\n   c \r\n\td \f e";
    EXPECT_EQ(filter_whitespace("all", text), text);
    EXPECT_EQ(filter_whitespace("single", text), " a b\nc\nd \f e");
    EXPECT_EQ(filter_whitespace("oneline", text), " a b c d e");
    // U+00A0 is whitespace to Python's \s.
    EXPECT_EQ(filter_whitespace("oneline",
                                "a\xc2\xa0\xc2\xa0"
                                "b"),
              "a b");
    EXPECT_THROW(filter_whitespace("none", ""), std::invalid_argument);
}

TEST_F(TemplateTest, WhitespaceDefaultsByFileNameAndPreIsKept) {
    EXPECT_EQ(render("a  \n  b", {}, "x.html"), "a\nb");
    EXPECT_EQ(render("a  \n  b", {}, "x.js"), "a\nb");
    EXPECT_EQ(render("a  \n  b", {}, "x.txt"), "a  \n  b");
    EXPECT_EQ(render("<pre>a  \n  b</pre>", {}, "x.html"), "<pre>a  \n  b</pre>");
    EXPECT_EQ(render("a  \n  b{% whitespace oneline %}c  \n  d", {}, "x.html"), "a\nbc d");
    template_::TemplateOptions options;
    options.whitespace = "all";
    Template t("a  \n  b", "x.html", nullptr, options);
    EXPECT_EQ(t.generate(), "a  \n  b");
}

// --- Errors --------------------------------------------------------------------------

TEST_F(TemplateTest, ExpressionOutsideTheSubsetIsAParseErrorWithFileAndLine) {
    EXPECT_NE(parse_error("line one\n{{ a + b }}").find("at t.html:2"), std::string::npos);
    for (const char* text : {"{{ a or b }}", "{{ x if y else z }}", "{{ a.b() }}", "{{ f(x=1) }}",
                             "{{ [1] }}", "{{ 1e5 }}", "{{ 'a' 'b' }}", "{{ a == b }}",
                             "{{ lambda: 1 }}", "{% if a and b %}{% end %}",
                             "{% for a, b in c %}{% end %}", "{% raw a | b %}", "{% module x %}"}) {
        EXPECT_NE(parse_error(text).find("at t.html:1"), std::string::npos) << text;
    }
}

TEST_F(TemplateTest, BadBlockStructureIsAParseErrorWithFileAndLine) {
    EXPECT_EQ(parse_error("\n\n{% end %}"), "Extra {% end %} block at t.html:3");
    EXPECT_EQ(parse_error("{% if a %}\nx"), "Missing {% end %} block for if at t.html:1");
    EXPECT_EQ(parse_error("{% bogus %}"), "unknown operator: 'bogus' at t.html:1");
    EXPECT_EQ(parse_error("\n{% set x = 1 %}"),
              "{% set %} is not supported by tornado-cpp templates at t.html:2");
    EXPECT_EQ(parse_error("{% else %}"),
              "else outside {'if', 'for', 'while', 'try'} block at t.html:1");
    EXPECT_EQ(parse_error("{% block b %}{% else %}{% end %}"),
              "else block cannot be attached to block block at t.html:1");
    EXPECT_EQ(parse_error("{% for x in y %}{% elif z %}{% end %}"),
              "elif block cannot be attached to for block at t.html:1");
    EXPECT_EQ(parse_error("x\n{% extends \"base.html\" %}"),
              "{% extends %} must be the first tag of the template at t.html:2");
    EXPECT_EQ(parse_error("{{ }}"), "Empty expression at t.html:1");
    std::string deep;
    for (int i = 0; i < 200; ++i) {
        deep += "{% if x %}";
    }
    EXPECT_EQ(parse_error(deep), "blocks nested too deeply at t.html:1");
    EXPECT_NE(parse_error("{{ " + std::string(200, '(') + "x" + std::string(200, ')') + " }}"), "");
    EXPECT_EQ(parse_error("{{ x"), "Missing end expression }} at t.html:1");
    EXPECT_EQ(parse_error("{% include 'x.html' %}"),
              "{% include %} block found, but no template loader at t.html:1");
}

TEST_F(TemplateTest, RenderErrorsNameTheFileAndLine) {
    EXPECT_EQ(render_error("\n{{ missing }}"), "name 'missing' is not defined at t.html:2");
    std::string list_error = render_error("{{ xs }}", {{"xs", {1}}});
    EXPECT_NE(list_error.find("cannot print a list"), std::string::npos) << list_error;
    EXPECT_TRUE(list_error.ends_with(" at t.html:1")) << list_error;
    EXPECT_NE(render_error("{{ d.nope }}", {{"d", json::object()}}).find("at t.html:1"),
              std::string::npos);
    EXPECT_NE(render_error("{{ xs[5] }}", {{"xs", {1}}}).find("list index out of range"),
              std::string::npos);
    EXPECT_NE(render_error("{% for x in n %}{% end %}", {{"n", 3}}).find("not iterable"),
              std::string::npos);
}

// --- Loaders -------------------------------------------------------------------------

class LoaderTest : public TempDirTest {};

TEST_F(LoaderTest, ExtendsBlocksAndIncludeOverFiles) {
    write_file(dir_ / "base.html",
               "<t>{% block title %}Base{% end %}</t>{% block body %}{% end %}");
    write_file(
        dir_ / "mid.html",
        "{% extends \"base.html\" %}{% block body %}[mid {% block inner %}i{% end %}]{% end %}");
    write_file(dir_ / "sub/page.html",
               "{% extends \"../mid.html\" %}\n{% block title %}{{ t }}{% end %}"
               "{% block inner %}{% include \"part.html\" %}{% end %}");
    write_file(dir_ / "sub/part.html", "<p>{{ t }}</p>");
    Loader loader(dir_.string());
    EXPECT_EQ(loader.load("sub/page.html")->generate(Namespace().set("t", "T&")),
              "<t>T&amp;</t>[mid <p>T&amp;</p>]");
    EXPECT_EQ(loader.load("mid.html")->generate(), "<t>Base</t>[mid i]");
}

TEST_F(LoaderTest, CachesTemplatesUntilReset) {
    write_file(dir_ / "a.html", "one");
    Loader loader(dir_.string());
    auto first = loader.load("a.html");
    write_file(dir_ / "a.html", "two");
    EXPECT_EQ(loader.load("a.html"), first);
    EXPECT_EQ(loader.load("a.html")->generate(), "one");
    loader.reset();
    EXPECT_NE(loader.load("a.html"), first);
    EXPECT_EQ(loader.load("a.html")->generate(), "two");
}

TEST_F(LoaderTest, ErrorsInIncludedFilesAndCyclesAreParseErrors) {
    write_file(dir_ / "a.html", "{% include \"b.html\" %}");
    write_file(dir_ / "b.html", "ok\n{{ 1 + 1 }}");
    write_file(dir_ / "c.html", "x\n{% include \"c.html\" %}");
    Loader loader(dir_.string());
    try {
        loader.load("a.html");
        ADD_FAILURE() << "no ParseError";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.filename(), "b.html");
        EXPECT_EQ(e.lineno(), 2);
    }
    try {
        loader.load("c.html");
        ADD_FAILURE() << "no ParseError";
    } catch (const ParseError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "c.html includes or extends itself (through c.html) at c.html:2");
    }
    EXPECT_THROW(loader.load("missing.html"), std::runtime_error);
}

TEST_F(LoaderTest, DictLoaderResolvesRelativeNames) {
    DictLoader loader({{"a/x.html", "{% include '../b.html' %}!"}, {"b.html", "B"}});
    EXPECT_EQ(loader.load("a/x.html")->generate(), "B!");
}

// --- Byte for byte against Tornado 6.2 -------------------------------------------------

class TornadoComparisonTest : public TempDirTest {};

TEST_F(TornadoComparisonTest, DemoTemplatesRenderAsTornadoDoes) {
    fs::path demo = fs::path(TORNADO_SHARED_DIR) / "demo-templates";
    ASSERT_TRUE(fs::exists(demo / "form.html")) << demo;
    json with_items = {{"name", "Ann <&> \"'"},
                       {"items", {"one", "<two>", "thr\xc3\xa9\xc3\xa9"}},
                       {"title", "T & <b>"},
                       {"note", "<em>raw</em>"}};
    expect_same_as_tornado(demo, with_items,
                           {"form.html", "done.html", "footer.html", "base.html"});
    json empty = {{"name", ""}, {"items", json::array()}, {"title", ""}, {"note", ""}};
    expect_same_as_tornado(demo, empty, {"form.html", "done.html"});
}

TEST_F(TornadoComparisonTest, WhitespaceEdgeCasesRenderAsTornadoDoes) {
    std::string ws =
        "  lead \t tabs  \n\n   after blank \r\n\tcr lf \f ff \x0b vt  \n"
        "nbsp\xc2\xa0\xc2\xa0x em\xe2\x80\x83 \n \xe2\x80\xa8 ls\n"
        "<pre>  kept  \n\n  as is</pre>\n  {{ v }}  \n"
        "    {% if v %}\n      yes\n    {% else %}\n  no\n    {% end %}\n"
        "  {% for x in xs %}\n    <li> {{ x }} </li>\n  {% end %}\n \t \n";
    write_file(dir_ / "ws.html", ws);
    write_file(dir_ / "ws.txt", ws);
    write_file(dir_ / "ws.js", ws);
    write_file(dir_ / "oneline.html",
               "a  \n b {% whitespace oneline %} c \n\n d {% whitespace all %} e \n\n f");
    write_file(dir_ / "trailing.html", "x {");
    write_file(dir_ / "curly.html",
               "{ {{{ v }}} }}{%! x %}{{! y }}{# c #} {} {x} {{{{ v }}}}\n"
               "{% if v %}  a  {% elif xs %}\t b \t{% else %}\n c \n{% end %}  \n"
               "{%   raw    v   %}{{v}}{%if not v%}n{%end%}");
    expect_same_as_tornado(
        dir_, {{"v", "<v>"}, {"xs", {1, "b"}}},
        {"ws.html", "ws.txt", "ws.js", "oneline.html", "trailing.html", "curly.html"});
    expect_same_as_tornado(dir_, {{"v", ""}, {"xs", json::array()}}, {"ws.html", "ws.txt"});
}

TEST_F(TornadoComparisonTest, ValuesLookupsAndBlocksRenderAsTornadoDoes) {
    write_file(dir_ / "values.html",
               "{{ i }} {{ neg }} {{ f }} {{ big }} {{ small }} {{ tiny }} {{ mid }} {{ nz }} "
               "{{ t }} {{ fl }} {{ n }} {{ not t }} {{ -3 }} {{ 2.50 }} {{ 'q\"' }}\n"
               "{{ user.name }} {{ user['name'] }} {{ user.tags[-1] }} {{ user.tags[0] }}\n"
               "{% for k in user %}{{ k }},{% end %}{% for c in user.name %}[{{ c }}]{% end %}\n"
               "{% for v in mixed %}{% if v %}T{% elif not v %}F{% end %}{% else %}!{% end %}\n"
               "{% raw user.html %} {{ user.html }} {% module xsrf_form_html() %}\n"
               "{{ static_url(\"a b.css\") }} {{ reverse_url(\"named\", \"2024\", user.name) }}");
    write_file(dir_ / "layout.html",
               "<h>{% block head %}H{% end %}</h>\n{% block body %}B{% end %}\n{% include "
               "\"inc/f.html\" %}");
    write_file(dir_ / "inc/f.html", "<f>{% block foot %}F{{ t }}{% end %}</f>");
    write_file(
        dir_ / "page.html",
        "{% extends \"layout.html\" %}\n{% block body %}  <b>\n    {% block inner %}I{% end %}\n"
        "  </b>{% end %}{% block foot %}{% autoescape None %}{{ user.html }}{% end %}");
    write_file(dir_ / "leaf.html",
               "{% extends \"page.html\" %}{% block inner %}{{ user.name }}{% end %}");
    json values = {{"i", 42},
                   {"neg", -7},
                   {"f", 1.0},
                   {"big", 1e16},
                   {"small", 1.5e-05},
                   {"tiny", 0.0001},
                   {"mid", 123456.789},
                   {"nz", -0.0},
                   {"t", true},
                   {"fl", false},
                   {"n", nullptr},
                   {"user", {{"name", "Zo\xc3\xab"}, {"tags", {"x", "y"}}, {"html", "<i>&</i>"}}},
                   {"mixed", {0, 1, "", "a", json::array(), json::object(), nullptr, 0.0, 2.5}}};
    expect_same_as_tornado(dir_, values, {"values.html", "layout.html", "page.html", "leaf.html"});
}

// --- RequestHandler.render over HTTP -----------------------------------------------------

class FormHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    template_::Namespace get_template_namespace() override {
        template_::Namespace ns = RequestHandler::get_template_namespace();
        ns.update(fake_helpers());
        return ns;
    }
    Future<void> get() override {
        return render(get_argument("t", "form.html"),
                      {{"name", get_argument("name", "world")}, {"items", {"a", "<b>"}}});
    }
};

class RequestHandlerRenderTest : public httpserver_test::ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        std::string pattern = (fs::temp_directory_path() / "render_test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        ServerTest::TearDown();
        fs::remove_all(dir_);
    }
    void start_app(const std::string& template_path, bool debug = false) {
        web::ApplicationSettings settings;
        settings.template_path = template_path;
        settings.debug = debug;
        settings.log_requests = false;
        start_server(web::Application::create({web::url<FormHandler>("/form")}, settings));
    }
    httpserver_test::RawResponse get(const std::string& path) {
        return fetch("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n");
    }
    fs::path dir_;
};

TEST_F(RequestHandlerRenderTest, RenderFinishesTheResponseWithTheTemplate) {
    fs::path demo = fs::path(TORNADO_SHARED_DIR) / "demo-templates";
    start_app(demo.string());
    httpserver_test::RawResponse r = get("/form?name=A%26B");
    EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=UTF-8");
    Loader loader(demo.string());
    Namespace ns = fake_helpers();
    ns.update(Namespace::from_json({{"name", "A&B"}, {"items", {"a", "<b>"}}}));
    EXPECT_EQ(r.body, loader.load("form.html")->generate(ns));
    EXPECT_NE(r.body.find("<h1>Hello, A&amp;B</h1>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<li>&lt;b&gt;</li>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"(<input type="hidden" name="_xsrf" value="tok&en"/>)"),
              std::string::npos);
}

TEST_F(RequestHandlerRenderTest, TemplateErrorsAnswer500) {
    write_file(dir_ / "bad.html", "{{ a + b }}");
    write_file(dir_ / "undefined.html", "{{ nobody }}");
    start_app(dir_.string());
    EXPECT_EQ(get("/form?t=bad.html").code(), 500);
    EXPECT_EQ(get("/form?t=undefined.html").code(), 500);
    EXPECT_EQ(get("/form?t=absent.html").code(), 500);
}

TEST_F(RequestHandlerRenderTest, TemplatesAreCachedUnlessDebug) {
    write_file(dir_ / "v.html", "one {{ name }}");
    start_app(dir_.string());
    EXPECT_EQ(get("/form?t=v.html").body, "one world");
    write_file(dir_ / "v.html", "two {{ name }}");
    EXPECT_EQ(get("/form?t=v.html").body, "one world");
}

TEST_F(RequestHandlerRenderTest, DebugReloadsTemplatesOnEveryRequest) {
    write_file(dir_ / "v.html", "one {{ name }}");
    start_app(dir_.string(), true);
    EXPECT_EQ(get("/form?t=v.html").body, "one world");
    write_file(dir_ / "v.html", "two {{ name }}");
    EXPECT_EQ(get("/form?t=v.html").body, "two world");
}

}  // namespace
}  // namespace tornado::template_test
