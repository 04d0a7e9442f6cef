// A Jinja2 renderer for the chat and score templates Hugging Face models ship,
// matching jinja2 3.1 as transformers configures it (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, its tojson filter, raise_exception
// and strftime_now) byte for byte.
//
//   auto t = vkcls::templates::Template::parse(source);   // TemplateSyntaxError here
//   std::string text = t.render(context);                  // context: a JSON object
//
// Everything the template can get wrong is found at parse: syntax, unknown
// statements, filters and tests, and methods Python has that this renderer
// does not. Rendering is bounded (TemplateLimits): recursion, output size and
// the total work each raise TemplateLimitError naming the limit.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace vkcls::templates {

struct TemplateLimits {
  size_t max_template_bytes = size_t{1} << 20;  // source text
  int max_nesting = 100;        // parse: statements and expressions nested in each other
  int max_call_depth = 64;      // render: macro / caller() calls nested in each other
  int max_render_depth = 1000;  // render: nested evaluation frames (keeps the C++ stack bounded)
  size_t max_output_bytes = size_t{16}
                            << 20;  // the rendered text, and any one string or list built
  uint64_t max_steps = 20'000'000;  // render: nodes evaluated, loop iterations, items and bytes
                                    // processed (one step per 64 bytes built)
};

struct TemplateOptions {
  // transformers' environment: trim_blocks=True, lstrip_blocks=True.
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;  // jinja2's default: one trailing newline is dropped
  TemplateLimits limits;
  // The clock strftime_now() reads (local time); empty means the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Base of every error. message() is the bare message; what() adds the
// position ("line L, column C: message") except for TemplateRaisedError.
// Lines and columns are 1-based (columns count bytes), 0 when unknown.
class TemplateError : public std::runtime_error {
 public:
  TemplateError(const std::string& what, std::string message, int line, int column)
      : std::runtime_error(what), message_(std::move(message)), line_(line), column_(column) {}
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  std::string message_;
  int line_;
  int column_;
};

// "line L, column C: message", or the message alone when the line is unknown.
std::string format_error_position(const std::string& message, int line, int column);

// Refused at parse.
class TemplateSyntaxError : public TemplateError {
 public:
  TemplateSyntaxError(const std::string& message, int line, int column)
      : TemplateError(format_error_position(message, line, column), message, line, column) {}
};

// The template called raise_exception(message): what() is the message verbatim
// (transformers raises jinja2.TemplateError(message)).
class TemplateRaisedError : public TemplateError {
 public:
  TemplateRaisedError(const std::string& message, int line, int column)
      : TemplateError(message, message, line, column) {}
};

// The Python exception jinja2 would raise for the same mistake.
enum class RenderErrorKind {
  Undefined,     // jinja2.UndefinedError: using an undefined value
  Type,          // TypeError: wrong types for an operation, filter or call
  Value,         // ValueError: e.g. unpacking the wrong number of items
  Security,      // jinja2.SecurityError: the sandbox refused (list.append, range too big, ...)
  ZeroDivision,  // ZeroDivisionError
  Overflow,      // OverflowError: an integer beyond 64 bits
  Runtime,       // jinja2.TemplateRuntimeError and other failures
};
const char* render_error_kind_name(RenderErrorKind kind);  // "UndefinedError", "TypeError", ...

class TemplateRenderError : public TemplateError {
 public:
  TemplateRenderError(RenderErrorKind kind, const std::string& message, int line, int column)
      : TemplateError(format_error_position(message, line, column), message, line, column),
        kind_(kind) {}
  RenderErrorKind kind() const { return kind_; }

 private:
  RenderErrorKind kind_;
};

enum class TemplateLimit { TemplateBytes, Nesting, CallDepth, RenderDepth, OutputBytes, Steps };
const char* template_limit_name(TemplateLimit limit);  // "max_nesting", ...

// A limit of TemplateLimits was reached: what() names it and its value.
class TemplateLimitError : public TemplateError {
 public:
  TemplateLimitError(TemplateLimit limit, uint64_t value, const std::string& message, int line,
                     int column)
      : TemplateError(format_error_position(message, line, column), message, line, column),
        limit_(limit),
        value_(value) {}
  TemplateLimit limit() const { return limit_; }
  uint64_t limit_value() const { return value_; }

 private:
  TemplateLimit limit_;
  uint64_t value_;
};

class Template {
 public:
  // Throws TemplateSyntaxError, or TemplateLimitError (TemplateBytes, Nesting).
  static Template parse(std::string_view source, const TemplateOptions& options = {});

  // `context` must be an object; its keys are the template's variables, in
  // their JSON order (ordered_json keeps the order tojson and items() see).
  // Throws TemplateRaisedError, TemplateRenderError or TemplateLimitError.
  // Thread-safe: a parsed Template can render from many threads at once.
  std::string render(const nlohmann::ordered_json& context) const;
  // Same, with nlohmann's sorted key order.
  std::string render(const nlohmann::json& context) const;

  const TemplateOptions& options() const;
  const std::string& source() const;  // the text it was parsed from

  struct Impl;

 private:
  explicit Template(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace vkcls::templates
