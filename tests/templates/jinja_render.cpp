// jinja_render TEMPLATE_FILE [CONTEXT_JSON_FILE]: renders a template with the
// vkcls renderer and prints the text (or the error and exit code 1). A tool for
// comparing by hand with jinja2 while working on the renderer.
#include <fstream>
#include <iostream>
#include <sstream>

#include "templates/jinja.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: jinja_render TEMPLATE_FILE [CONTEXT_JSON_FILE]\n";
    return 2;
  }
  auto read = [](const char* path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  try {
    auto t = vkcls::templates::Template::parse(read(argv[1]));
    nlohmann::ordered_json ctx =
        argc > 2 ? nlohmann::ordered_json::parse(read(argv[2])) : nlohmann::ordered_json::object();
    std::cout << t.render(ctx);
  } catch (const vkcls::templates::TemplateError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
