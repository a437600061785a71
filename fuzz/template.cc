// Fuzz target: the template language (tornado.template subset), parsing and
// generating arbitrary template text.
//
// The input is the text of "page.html" in a DictLoader that also holds a
// fixed "base.html" and "part.html" (so extends and include can succeed).
// Asserts, beyond "no crash", no hang and no stack overflow (inputs with more
// than four "for" are skipped: see too_many_loops): the only
// failures are ParseError (at load), a missing included or extended
// template (at load) and RenderError (at generate), and a
// template that loads generates the same output twice.
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tornado/template.h"

#include "fuzz_check.h"

namespace tmpl = tornado::template_;

// Loops nest: k loops over `items` run 5^k times, in Tornado too. Templates
// are the application's own code, not client input, so inputs with more than
// a few possible loops are skipped rather than reported as timeouts.
bool too_many_loops(const std::string& text) {
    int loops = 0;
    for (std::size_t at = text.find("for"); at != std::string::npos; at = text.find("for", at + 3)) {
        if (++loops > 4) {
            return true;
        }
    }
    return false;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    if (too_many_loops(text)) {
        return 0;
    }
    tmpl::DictLoader loader({
        {"page.html", text},
        {"base.html", "<title>{% block title %}t{% end %}</title>{% block body %}{% end %}"},
        {"part.html", "<p>{{ name }}</p>"},
    });
    std::shared_ptr<tmpl::Template> t;
    try {
        t = loader.load("page.html");
    } catch (const tmpl::ParseError&) {
        return 0;
    } catch (const std::runtime_error& e) {
        // {% include %} or {% extends %} of a name the loader does not have.
        FUZZ_CHECK(std::string_view(e.what()).starts_with("no template named"));
        return 0;
    }
    tmpl::Namespace ns = tmpl::Namespace::from_json(nlohmann::json{
        {"name", "<b>&'\""},
        {"items", {"a", "b", 3, nullptr, true}},
        {"empty", nlohmann::json::array()},
        {"obj", {{"k", {{"v", 1.5}}}}},
    });
    auto echo = [](const std::vector<nlohmann::json>& args) {
        std::string out;
        for (const auto& a : args) {
            out += a.dump();
        }
        return out;
    };
    ns.set_function("static_url", echo);
    ns.set_function("reverse_url", echo);
    ns.set_module("xsrf_form_html", echo);
    std::string first;
    try {
        first = t->generate(ns);
    } catch (const tmpl::RenderError&) {
        return 0;
    }
    FUZZ_CHECK(t->generate(ns) == first);
    return 0;
}
