// Shared by the template tests: reading the golden JSON files that
// gen_fixtures.py made, running a render and comparing its outcome (text, or
// the kind of error) with what transformers / jinja2 produced.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "templates/chat_template.h"
#include "templates/jinja.h"

namespace vkcls::templates::testing {

using ojson = nlohmann::ordered_json;

inline std::string fixture_path(const std::string& name) {
  return std::string(VKCLS_TEMPLATE_FIXTURES) + "/" + name;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline ojson read_fixture(const std::string& name) {
  return ojson::parse(read_text(fixture_path(name)));
}

// The instant gen_fixtures.py fixes strftime_now at (noon UTC, 2024-07-26).
inline TemplateOptions fixed_clock_options(const ojson& versions) {
  TemplateOptions o;
  auto t = std::chrono::system_clock::from_time_t(versions.at("fixed_time").get<std::time_t>());
  o.clock = [t] { return t; };
  return o;
}

struct Outcome {
  bool ok = false;
  std::string output;
  std::string kind;  // raise, render, chat, syntax, limit
  std::string type;
  std::string message;
};

inline Outcome run(const std::function<std::string()>& fn) {
  Outcome o;
  try {
    o.output = fn();
    o.ok = true;
  } catch (const TemplateRaisedError& e) {
    o.kind = "raise";
    o.message = e.message();
  } catch (const TemplateRenderError& e) {
    o.kind = "render";
    o.type = render_error_kind_name(e.kind());
    o.message = e.what();
  } catch (const TemplateSyntaxError& e) {
    o.kind = "syntax";
    o.message = e.what();
  } catch (const TemplateLimitError& e) {
    o.kind = "limit";
    o.message = e.what();
  } catch (const ChatTemplateError& e) {
    o.kind = "chat";
    o.message = e.what();
  }
  return o;
}

// jinja2 raises a few Python exceptions the renderer reports as its generic kind.
inline bool same_error_type(const std::string& python, const std::string& ours) {
  if (python == ours) return true;
  return ours == "TemplateRuntimeError" &&
         (python == "IndexError" || python == "KeyError" || python == "AttributeError" ||
          python == "AssertionError" || python == "FilterArgumentError" ||
          python == "RuntimeError");
}

// Empty when they agree, else a description of the difference.
inline std::string compare(const ojson& expected, const Outcome& got) {
  if (expected.contains("output")) {
    std::string want = expected["output"].get<std::string>();
    if (got.ok && got.output == want) return "";
    if (!got.ok)
      return "expected output " + ojson(want).dump() + "\n got " + got.kind +
             " error: " + got.message;
    size_t i = 0;
    while (i < want.size() && i < got.output.size() && want[i] == got.output[i]) ++i;
    return "output differs at byte " + std::to_string(i) +
           "\n want: " + ojson(want.substr(i > 40 ? i - 40 : 0, 120)).dump() +
           "\n got:  " + ojson(got.output.substr(i > 40 ? i - 40 : 0, 120)).dump();
  }
  const ojson& err = expected["error"];
  std::string kind = err["kind"].get<std::string>();
  if (got.ok) return "expected a " + kind + " error, got output " + ojson(got.output).dump();
  if (got.kind != kind)
    return "expected a " + kind + " error, got " + got.kind + ": " + got.message;
  if (kind == "raise" || kind == "chat") {
    std::string want = err["message"].get<std::string>();
    if (got.message != want) return "message differs\n want: " + want + "\n got:  " + got.message;
  }
  if (kind == "render" && !same_error_type(err["type"].get<std::string>(), got.type))
    return "expected " + err["type"].get<std::string>() + ", got " + got.type + ": " + got.message;
  return "";
}

}  // namespace vkcls::templates::testing
