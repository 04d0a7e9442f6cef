// The public API (jinja.h): parsing, rendering, and turning the renderer's
// internal failures into the typed errors with their source positions.
#include <fmt/format.h>

#include "templates/runtime.h"

namespace vkcls::templates {

struct Template::Impl {
  TemplateOptions options;
  std::string source;
  detail::TemplateAst ast;
};

std::string format_error_position(const std::string& message, int line, int column) {
  if (line <= 0) return message;
  return fmt::format("line {}, column {}: {}", line, column, message);
}

const char* render_error_kind_name(RenderErrorKind kind) {
  switch (kind) {
    case RenderErrorKind::Undefined:
      return "UndefinedError";
    case RenderErrorKind::Type:
      return "TypeError";
    case RenderErrorKind::Value:
      return "ValueError";
    case RenderErrorKind::Security:
      return "SecurityError";
    case RenderErrorKind::ZeroDivision:
      return "ZeroDivisionError";
    case RenderErrorKind::Overflow:
      return "OverflowError";
    case RenderErrorKind::Runtime:
      return "TemplateRuntimeError";
  }
  return "TemplateRuntimeError";
}

const char* template_limit_name(TemplateLimit limit) {
  switch (limit) {
    case TemplateLimit::TemplateBytes:
      return "max_template_bytes";
    case TemplateLimit::Nesting:
      return "max_nesting";
    case TemplateLimit::CallDepth:
      return "max_call_depth";
    case TemplateLimit::RenderDepth:
      return "max_render_depth";
    case TemplateLimit::OutputBytes:
      return "max_output_bytes";
    case TemplateLimit::Steps:
      return "max_steps";
  }
  return "limit";
}

Template Template::parse(std::string_view source, const TemplateOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->source = std::string(source);
  impl->ast = detail::parse_template(source, impl->options);
  return Template(std::move(impl));
}

const TemplateOptions& Template::options() const {
  return impl_->options;
}
const std::string& Template::source() const {
  return impl_->source;
}

namespace {

std::string render_value(const Template::Impl& impl, const detail::Value& context) {
  using namespace detail;
  RenderState state(impl.options.limits);
  state.clock = impl.options.clock ? &impl.options.clock : nullptr;
  RenderState* previous = render_state();
  set_render_state(&state);
  // Break reference cycles (macro <-> its scope, namespaces holding themselves)
  // whatever way the render ends.
  struct Cleanup {
    RenderState& st;
    RenderState* previous;
    ~Cleanup() {
      for (auto& w : st.scopes)
        if (auto s = w.lock()) s->clear();
      for (auto& w : st.namespaces)
        if (auto n = w.lock()) n->clear();
      set_render_state(previous);
    }
  } cleanup{state, previous};
  Pos p;
  try {
    return render_body(impl.ast.body, context, state, p);
  } catch (const RaisedFailure& f) {
    throw TemplateRaisedError(f.message, p.line, p.column);
  } catch (const RenderFailure& f) {
    throw TemplateRenderError(f.kind, f.message, p.line, p.column);
  } catch (const LimitFailure& f) {
    throw TemplateLimitError(f.limit, f.value, f.message, p.line, p.column);
  }
}

template <class Json>
std::string render_json(const Template::Impl& impl, const Json& context) {
  if (!context.is_object())
    throw TemplateRenderError(RenderErrorKind::Type, "the render context must be a JSON object", 0,
                              0);
  detail::Value ctx;
  try {
    ctx = detail::from_json(context);
  } catch (const detail::RenderFailure& f) {
    throw TemplateRenderError(f.kind, f.message, 0, 0);
  }
  return render_value(impl, ctx);
}

}  // namespace

std::string Template::render(const nlohmann::ordered_json& context) const {
  return render_json(*impl_, context);
}

std::string Template::render(const nlohmann::json& context) const {
  return render_json(*impl_, context);
}

}  // namespace vkcls::templates
