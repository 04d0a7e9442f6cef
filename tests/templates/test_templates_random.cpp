// Seeded random templates and contexts (the in-suite companion of the
// libFuzzer target in fuzz/): grammar-built templates, some with bytes
// mutated, rendered with small limits. Every failure must be a typed
// template error; any other exception, a crash or a hang fails the suite.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "fixtures.h"

namespace vkcls::templates::testing {
namespace {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }
  template <size_t N>
  const char* one(const char* const (&xs)[N]) {
    return xs[pick(static_cast<int>(N))];
  }

  std::string literal() {
    static const char* const kLits[] = {"0",
                                        "1",
                                        "-3",
                                        "2.5",
                                        "1e3",
                                        "none",
                                        "true",
                                        "false",
                                        "'a'",
                                        "\"b c\"",
                                        "'\\n'",
                                        "'é🙂'",
                                        "''",
                                        "[]",
                                        "{}",
                                        "[1, 'x', none]",
                                        "{'k': 1, 'j': [2]}",
                                        "(1, 2)",
                                        "'%s-%d'",
                                        "'{}:{}'",
                                        "'  pad  '",
                                        "'a,b,c'",
                                        "'<think>x</think>y'"};
    return one(kLits);
  }

  std::string name() {
    static const char* const kNames[] = {"messages",  "m",    "x", "ns", "loop", "tools",
                                         "nope",      "s",    "n", "l",  "d",    "f",
                                         "bos_token", "item", "k", "v"};
    return one(kNames);
  }

  std::string expr(int depth) {
    if (depth <= 0 || chance(25)) return chance(50) ? literal() : name();
    static const char* const kBin[] = {"+",  "-",  "*",  "/", "//", "%",  "**", "~",  "and",
                                       "or", "==", "!=", "<", ">",  "<=", ">=", "in", "not in"};
    static const char* const kFilters[] = {"length",
                                           "trim",
                                           "tojson",
                                           "string",
                                           "lower",
                                           "upper",
                                           "title",
                                           "capitalize",
                                           "first",
                                           "last",
                                           "list",
                                           "items",
                                           "join(', ')",
                                           "default('d')",
                                           "default(x, true)",
                                           "int",
                                           "float",
                                           "abs",
                                           "round",
                                           "round(1)",
                                           "indent(2)",
                                           "safe",
                                           "e",
                                           "unique",
                                           "sort",
                                           "reverse",
                                           "sum",
                                           "min",
                                           "max",
                                           "map(attribute='content')",
                                           "map('upper')",
                                           "selectattr('role')",
                                           "selectattr('role', 'equalto', 'user')",
                                           "rejectattr('x', 'defined')",
                                           "select('odd')",
                                           "dictsort",
                                           "batch(2)",
                                           "slice(2)",
                                           "wordcount",
                                           "replace('a', 'b')",
                                           "center(9)",
                                           "truncate(5)",
                                           "format(1, 2)",
                                           "tojson(indent=2)",
                                           "attr('x')",
                                           "groupby('role')",
                                           "striptags",
                                           "urlencode",
                                           "count",
                                           "d",
                                           "pprint",
                                           "xmlattr",
                                           "filesizeformat"};
    static const char* const kTests[] = {
        "defined",  "undefined", "none",  "string",        "number", "mapping",    "iterable",
        "sequence", "odd",       "even",  "divisibleby 3", "eq 1",   "in [1, 2]",  "true",
        "false",    "integer",   "float", "callable",      "lower",  "sameas none"};
    static const char* const kMethods[] = {
        "strip()",     "split()",           "split(',')",
        "upper()",     "startswith('a')",   "endswith(('x', 'y'))",
        "get('k')",    "items()",           "keys()",
        "values()",    "replace('a', 'b')", "format(1)",
        "lstrip('<')", "find('a')",         "count('a')",
        "title()",     "rsplit(none, 1)",   "append(1)",
        "index(1)"};
    switch (pick(13)) {
      case 0:
        return "(" + expr(depth - 1) + " " + one(kBin) + " " + expr(depth - 1) + ")";
      case 1:
        return expr(depth - 1) + "|" + one(kFilters);
      case 2:
        return expr(depth - 1) + " is " + (chance(30) ? "not " : "") + one(kTests);
      case 3:
        return expr(depth - 1) + "." + name();
      case 4:
        return expr(depth - 1) + "[" + expr(depth - 1) + "]";
      case 5: {
        static const char* const kSlices[] = {"[1:]",  "[:-1]",   "[::-1]",
                                              "[::2]", "[1:3:2]", "[-2:]"};
        return expr(depth - 1) + one(kSlices);
      }
      case 6:
        return expr(depth - 1) + "." + one(kMethods);
      case 7:
        return "(" + expr(depth - 1) + " if " + expr(depth - 1) +
               (chance(70) ? " else " + expr(depth - 1) : "") + ")";
      case 8:
        return "[" + expr(depth - 1) + ", " + expr(depth - 1) + "]";
      case 9:
        return "{" + expr(depth - 1) + ": " + expr(depth - 1) + "}";
      case 10:
        return std::string(chance(50) ? "not " : "-") + expr(depth - 1);
      case 11: {
        static const char* const kCalls[] = {"range(3)",
                                             "range(1, 9, 2)",
                                             "namespace(a=1)",
                                             "dict(a=1)",
                                             "m()",
                                             "macro_a(1)",
                                             "macro_b()",
                                             "raise_exception('boom')",
                                             "cycler(1, 2).next()",
                                             "strftime_now('%Y')",
                                             "loop.cycle(1, 2)"};
        return one(kCalls);
      }
      default:
        return "(" + expr(depth - 1) + ")";
    }
  }

  // Whitespace control marks: `{%+`, `+%}` and `{{+` exist, `+}}` does not.
  std::string ws(bool open, bool block = true) {
    static const char* const kMarks[] = {"", "", "-", "+"};
    std::string m = one(kMarks);
    return !open && !block && m == "+" ? "" : m;
  }

  std::string block(const std::string& inner) {
    return "{%" + ws(true) + " " + inner + " " + ws(false) + "%}";
  }

  std::string stmts(int depth, bool in_loop) {
    std::string out;
    int n = 1 + pick(4);
    for (int i = 0; i < n; ++i) out += stmt(depth, in_loop);
    return out;
  }

  std::string stmt(int depth, bool in_loop) {
    static const char* const kText[] = {"text", " ", "\n", "  \n  ", "<|im_start|>", "\t"};
    if (depth <= 0) return chance(50) ? one(kText) : "{{" + ws(true) + " " + expr(2) + " }}";
    switch (pick(14)) {
      case 0:
      case 1:
        return "{{" + ws(true) + " " + expr(3) + " " + ws(false, false) + "}}";
      case 2:
        return one(kText);
      case 3:
        return block("if " + expr(2)) + stmts(depth - 1, in_loop) +
               (chance(40) ? block("elif " + expr(2)) + stmts(depth - 1, in_loop) : "") +
               (chance(40) ? block("else") + stmts(depth - 1, in_loop) : "") + block("endif");
      case 4:
        return block("for " + std::string(chance(20) ? "k, v" : "item") + " in " + expr(2) +
                     (chance(20) ? " if " + expr(1) : "")) +
               stmts(depth - 1, true) +
               (chance(20) ? block("else") + stmts(depth - 1, in_loop) : "") + block("endfor");
      case 5:
        return block("set " + name() + " = " + expr(2));
      case 6:
        return block("set ns = namespace(a=" + expr(1) + ")") + block("set ns.a = " + expr(2));
      case 7:
        return block("macro macro_a(p, q=" + literal() + ")") + stmts(depth - 1, false) +
               block("endmacro");
      case 8:
        return block("macro macro_b()") + "[{{ caller() if caller is defined else 'none' }}]" +
               block("endmacro") + block("call macro_b()") + stmts(depth - 1, false) +
               block("endcall");
      case 9:
        return block("filter upper") + stmts(depth - 1, in_loop) + block("endfilter");
      case 10:
        return block("set blk") + stmts(depth - 1, in_loop) + block("endset");
      case 11:
        return in_loop ? block(chance(50) ? "break" : "continue") : "{# comment #}";
      case 12:
        return "{% raw %}{{ raw }}{% endraw %}";
      default:
        return block("generation") + stmts(depth - 1, in_loop) + block("endgeneration");
    }
  }

  ojson value(int depth) {
    switch (depth <= 0 ? pick(6) : pick(8)) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 1;
      case 2:
        return pick(200) - 100;
      case 3:
        return pick(1000) / 7.0;
      case 4: {
        static const char* const kStrs[] = {"",       "user",  "assistant", "a b",
                                            "é🙂", "<tag>", "  x  ",     "1"};
        return one(kStrs);
      }
      case 5:
        return "content " + std::to_string(pick(100));
      case 6: {
        ojson a = ojson::array();
        for (int i = pick(4); i > 0; --i) a.push_back(value(depth - 1));
        return a;
      }
      default: {
        ojson o = ojson::object();
        static const char* const kKeys[] = {"role",       "content", "x",    "k",
                                            "tool_calls", "name",    "items"};
        for (int i = pick(4); i > 0; --i) o[one(kKeys)] = value(depth - 1);
        return o;
      }
    }
  }

  ojson context() {
    ojson c = ojson::object();
    ojson msgs = ojson::array();
    for (int i = pick(5); i > 0; --i) {
      ojson m = {{"role", chance(50) ? "user" : "assistant"}, {"content", value(1)}};
      if (chance(20)) m["tool_calls"] = value(2);
      msgs.push_back(m);
    }
    c["messages"] = msgs;
    static const char* const kNames[] = {"x", "s", "n", "l", "d", "f", "tools", "m"};
    for (int i = pick(5); i > 0; --i) c[one(kNames)] = value(3);
    return c;
  }

  // Byte-level damage: drop, duplicate or insert a character.
  std::string mutate(std::string s) {
    static const char kBytes[] = "{}%#-+()[]|.,:'\"\\ \nab0\xc3\xa9";
    for (int i = pick(3); i > 0 && !s.empty(); --i) {
      size_t at = static_cast<size_t>(pick(static_cast<int>(s.size())));
      switch (pick(3)) {
        case 0:
          s.erase(at, 1);
          break;
        case 1:
          s.insert(at, 1, s[at]);
          break;
        default:
          s.insert(at, 1, kBytes[pick(static_cast<int>(sizeof kBytes - 1))]);
      }
    }
    return s;
  }

 private:
  std::mt19937 rng_;
};

TEST(TemplateRandom, SeededTemplatesFailOnlyWithTypedErrors) {
  TemplateOptions o;
  o.limits.max_nesting = 40;
  o.limits.max_call_depth = 12;
  o.limits.max_render_depth = 200;
  o.limits.max_output_bytes = 64 * 1024;
  o.limits.max_steps = 50000;
  Gen g(20240726);
  int rendered = 0, syntax = 0, render_errors = 0, limits = 0, raised = 0;
  auto start = std::chrono::steady_clock::now();
  const int kCases = 4000;
  for (int i = 0; i < kCases; ++i) {
    std::string src = g.stmts(3, false);
    if (g.chance(30)) src = g.mutate(src);
    ojson ctx = g.context();
    try {
      Template t = Template::parse(src, o);
      std::string out = t.render(ctx);
      EXPECT_LE(out.size(), o.limits.max_output_bytes);
      ++rendered;
    } catch (const TemplateSyntaxError& e) {
      if (std::getenv("VKCLS_SHOW_SYNTAX") && syntax < 15)
        std::cout << e.what() << "\n  " << src << "\n";
      ++syntax;
    } catch (const TemplateRaisedError&) {
      ++raised;
    } catch (const TemplateRenderError&) {
      ++render_errors;
    } catch (const TemplateLimitError&) {
      ++limits;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "untyped exception " << e.what() << " for template:\n"
                    << src << "\ncontext: " << ctx.dump();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "  " << kCases << " cases in " << secs << " s: " << rendered << " rendered, "
            << syntax << " syntax errors, " << render_errors << " render errors, " << raised
            << " raised, " << limits << " limits\n";
  // The generator must reach the renderer, not only the parser.
  EXPECT_GT(rendered, kCases / 5);
  EXPECT_GT(render_errors, kCases / 20);
  EXPECT_GT(syntax, kCases / 50);
}

}  // namespace
}  // namespace vkcls::templates::testing
