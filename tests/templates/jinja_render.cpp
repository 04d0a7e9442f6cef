// jinja_render TEMPLATE_FILE [CONTEXT_JSON_FILE]: renders a template with the
// vkcls renderer and prints the text (or the error, exit code 1).
// jinja_render --batch: reads JSON lines {"template": ..., "context": ...} on
// stdin and writes one JSON line per case, {"output": ...} or {"error": {"kind",
// "type", "message"}}; diff_fuzz.py compares these with jinja2.
#include <fstream>
#include <iostream>
#include <sstream>

#include "templates/jinja.h"

namespace {

using ojson = nlohmann::ordered_json;
using namespace vkcls::templates;

ojson run(const std::string& src, const ojson& ctx) {
  try {
    return {{"output", Template::parse(src).render(ctx)}};
  } catch (const TemplateRaisedError& e) {
    return {{"error", {{"kind", "raise"}, {"message", e.message()}}}};
  } catch (const TemplateRenderError& e) {
    return {
        {"error",
         {{"kind", "render"}, {"type", render_error_kind_name(e.kind())}, {"message", e.what()}}}};
  } catch (const TemplateSyntaxError& e) {
    return {{"error", {{"kind", "syntax"}, {"message", e.what()}}}};
  } catch (const TemplateLimitError& e) {
    return {{"error", {{"kind", "limit"}, {"message", e.what()}}}};
  }
}

std::string read(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: jinja_render TEMPLATE_FILE [CONTEXT_JSON_FILE] | --batch\n";
    return 2;
  }
  if (std::string(argv[1]) == "--batch") {
    std::string line;
    while (std::getline(std::cin, line)) {
      ojson c = ojson::parse(line);
      std::cout << run(c["template"].get<std::string>(), c["context"])
                       .dump(-1, ' ', false, ojson::error_handler_t::replace)
                << "\n";
    }
    return 0;
  }
  ojson ctx = argc > 2 ? ojson::parse(read(argv[2])) : ojson::object();
  ojson r = run(read(argv[1]), ctx);
  if (r.contains("output")) {
    std::cout << r["output"].get<std::string>();
    return 0;
  }
  std::cerr << "error: " << r["error"]["message"].get<std::string>() << "\n";
  return 1;
}
