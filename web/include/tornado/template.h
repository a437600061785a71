// tornado.template: the part of Tornado's template language the demo uses.
//
// A Template is parsed once (when it is loaded) into a tree of nodes:
// text, {{ expressions }}, {% if %}/{% for %} blocks, named blocks,
// {% include %} and {% extends %}. generate() walks that tree over a
// Namespace of JSON values and functions and returns the output bytes.
// Anything outside the supported subset is a ParseError at load time that
// names the file and line: never output that silently differs from Tornado.
//
// C++: Tornado compiles each template into Python source and exec()s it; we
// do not generate code, we evaluate the node tree. The namespace is
// `template_` because `template` is a C++ keyword (as web.h's delete_()).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace tornado::template_ {

/// A function a template may call: `static_url("x")`. It gets the evaluated
/// arguments and returns text (Tornado's helpers all return str).
using Function = std::function<std::string(const std::vector<nlohmann::json>& args)>;

/// The names a template sees: JSON values and functions (Tornado's
/// namespace dict), plus the `{% module %}` functions (its `_tt_modules`).
class Namespace {
  public:
    using Entry = std::variant<nlohmann::json, Function>;

    Namespace() = default;
    /// Every member of the JSON object `values` as a name (render's kwargs).
    /// Throws std::invalid_argument when `values` is not an object (or null).
    static Namespace from_json(const nlohmann::json& values);

    Namespace& set(const std::string& name, nlohmann::json value);
    Namespace& set_function(const std::string& name, Function function);
    /// A function for `{% module name(...) %}`; its output is not escaped.
    Namespace& set_module(const std::string& name, Function function);
    /// Adds the names of `other`, replacing those already here (dict.update).
    void update(const Namespace& other);

    /// The entry for `name`, or null.
    const Entry* find(std::string_view name) const;
    /// The module function `name`, or null.
    const Function* find_module(std::string_view name) const;

  private:
    std::map<std::string, Entry, std::less<>> entries_;
    std::map<std::string, Function, std::less<>> modules_;
};

// Tornado: tornado/template.py:662 ParseError
/// A template syntax error, or a construct outside our subset; what() is
/// "<message> at <filename>:<lineno>" as Tornado's str(ParseError).
class ParseError : public std::runtime_error {
  public:
    ParseError(const std::string& message, const std::string& filename, int lineno);
    const std::string& message() const { return message_; }
    const std::string& filename() const { return filename_; }
    int lineno() const { return lineno_; }

  private:
    std::string message_;
    std::string filename_;
    int lineno_;
};

/// An error while generating: an undefined name, a missing key, a value
/// that cannot be printed (Python's NameError, KeyError, TypeError);
/// what() ends with " at <filename>:<lineno>".
class RenderError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Tornado: tornado/template.py:221 filter_whitespace
/// Transforms whitespace in `text` by `mode`: "all" keeps it, "single"
/// collapses runs of spaces and tabs to one space and runs of whitespace
/// holding a newline to one newline, "oneline" makes every run one space.
/// Throws std::invalid_argument for another mode.
std::string filter_whitespace(std::string_view mode, std::string_view text);

class BaseLoader;

namespace detail {
class File;
class NamedBlock;
class Parser;
}  // namespace detail

/// Template's keyword arguments that have defaults (Tornado's _UNSET).
struct TemplateOptions {
    /// Deprecated in Tornado: true is whitespace "single", false "all".
    std::optional<bool> compress_whitespace;
    /// Unset: the loader's (or "xhtml_escape"); set to nullopt: no escaping.
    std::optional<std::optional<std::string>> autoescape;
    /// Unset: the loader's, else "single" for .html and .js, else "all".
    std::optional<std::string> whitespace;
};

// Tornado: tornado/template.py:246 Template
/// A parsed template. Construction parses it and loads (through `loader`)
/// the templates it extends and includes; errors throw ParseError.
class Template {
  public:
    // Tornado: tornado/template.py:255 Template.__init__
    explicit Template(std::string_view template_string, std::string name = "<string>",
                      BaseLoader* loader = nullptr, TemplateOptions options = {});
    ~Template();
    Template(const Template&) = delete;
    Template& operator=(const Template&) = delete;

    // Tornado: tornado/template.py:323 Template.generate
    /// The output for the names in `kwargs` (over the builtins and the
    /// loader's namespace). Throws RenderError.
    std::string generate(const Namespace& kwargs = {}) const;

    const std::string& name() const { return name_; }
    const std::optional<std::string>& autoescape() const { return autoescape_; }
    /// The parsed tree (Tornado's `template.file`).
    const detail::File& file() const { return *file_; }

  private:
    friend class detail::Parser;  // {% autoescape %} sets autoescape_ while parsing
    void _generate_python(BaseLoader* loader);
    std::vector<const detail::File*> _get_ancestors(BaseLoader* loader);

    std::string name_;
    std::optional<std::string> autoescape_;
    Namespace namespace_;
    std::unique_ptr<detail::File> file_;
    // C++: what Tornado's _generate_python resolves once, kept for generate:
    // the parents (kept alive), the files root first, the winning blocks.
    std::vector<std::shared_ptr<Template>> parents_;
    std::vector<const detail::File*> ancestors_;
    std::map<std::string, const detail::NamedBlock*, std::less<>> named_blocks_;
};

/// BaseLoader's keyword arguments.
struct LoaderOptions {
    /// The escaping function's name for {{ }}; nullopt turns escaping off.
    std::optional<std::string> autoescape = "xhtml_escape";
    /// Names added to every template's namespace.
    Namespace namespace_;
    /// The default whitespace mode (unset: by file name).
    std::optional<std::string> whitespace;
};

// Tornado: tornado/template.py:378 BaseLoader
/// Loads templates by name and caches them until reset().
class BaseLoader {
  public:
    explicit BaseLoader(LoaderOptions options = {});
    virtual ~BaseLoader() = default;
    BaseLoader(const BaseLoader&) = delete;
    BaseLoader& operator=(const BaseLoader&) = delete;

    // Tornado: tornado/template.py:413 BaseLoader.reset
    /// Forgets the cached templates: the next load reads and parses again.
    void reset();
    // Tornado: tornado/template.py:418 BaseLoader.resolve_path
    /// `name` relative to the template `parent_path` that names it.
    virtual std::string resolve_path(const std::string& name,
                                     const std::string& parent_path = "") const = 0;
    // Tornado: tornado/template.py:422 BaseLoader.load
    /// The template `name` (from the cache, or created and cached). Throws
    /// ParseError, or std::runtime_error when it cannot be read.
    std::shared_ptr<Template> load(const std::string& name, const std::string& parent_path = "");
    /// load() for the {% include %} / {% extends %} at `filename`:`lineno`
    /// of a template being built; a cycle is a ParseError there.
    std::shared_ptr<Template> _load_nested(const std::string& name, const std::string& filename,
                                           int lineno);

    const std::optional<std::string>& autoescape() const { return autoescape_; }
    const Namespace& namespace_() const { return loader_namespace_; }
    const std::optional<std::string>& whitespace() const { return whitespace_; }

  protected:
    // Tornado: tornado/template.py:430 BaseLoader._create_template
    virtual std::shared_ptr<Template> _create_template(const std::string& name) = 0;

  private:
    std::optional<std::string> autoescape_;
    Namespace loader_namespace_;
    std::optional<std::string> whitespace_;
    std::map<std::string, std::shared_ptr<Template>, std::less<>> templates_;
    // Reentrant: a template loads the templates it extends and includes.
    std::recursive_mutex lock_;
    // C++: names being created, to refuse an include/extends cycle (Python
    // would end in a RecursionError).
    std::set<std::string, std::less<>> loading_;
};

// Tornado: tornado/template.py:434 Loader
/// Loads templates from files under `root_directory`.
class Loader : public BaseLoader {
  public:
    // Tornado: tornado/template.py:437 Loader.__init__
    explicit Loader(const std::string& root_directory, LoaderOptions options = {});
    // Tornado: tornado/template.py:441 Loader.resolve_path
    std::string resolve_path(const std::string& name,
                             const std::string& parent_path = "") const override;
    const std::string& root() const { return root_; }

  protected:
    // Tornado: tornado/template.py:452 Loader._create_template
    std::shared_ptr<Template> _create_template(const std::string& name) override;

  private:
    std::string root_;
};

// Tornado: tornado/template.py:459 DictLoader
/// Loads templates from a map of name to text.
class DictLoader : public BaseLoader {
  public:
    explicit DictLoader(std::map<std::string, std::string> dict, LoaderOptions options = {});
    // Tornado: tornado/template.py:465 DictLoader.resolve_path
    std::string resolve_path(const std::string& name,
                             const std::string& parent_path = "") const override;

  protected:
    // Tornado: tornado/template.py:473 DictLoader._create_template
    std::shared_ptr<Template> _create_template(const std::string& name) override;

  private:
    std::map<std::string, std::string> dict_;
};

}  // namespace tornado::template_
