#!/usr/bin/env python3
"""Differential fuzzing: random templates and contexts rendered by jinja2 (as
transformers configures it) and by the vkcls renderer (build/tests/templates/
jinja_render --batch); prints every case where they disagree (different text,
or a different kind of error). Findings become unit cases in unit_cases.py.

Usage: python3 tests/templates/diff_fuzz.py [--cases N] [--seed S] [--binary PATH]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures  # noqa: E402  (installs the fixed strftime_now clock)
import transformers.utils.chat_template_utils as ctu  # noqa: E402

LITERALS = ["0", "1", "-3", "2.5", "1e3", "none", "true", "false", "'a'", '"b c"', "'\\n'", "'é🙂'",
            "''", "[]", "{}", "[1, 'x', none]", "{'k': 1, 'j': [2]}", "(1, 2)", "'%s-%d'", "'{}:{}'",
            "'  pad  '", "'a,b,c'", "'<think>x</think>y'", "10", "0.1", "'ABC def'", "[3, 1, 2]",
            "['b', 'A', 'a']", "[{'role': 'user', 'content': 'c'}, {'role': 'x'}]"]
NAMES = ["messages", "m", "x", "ns", "loop", "tools", "nope", "s", "n", "l", "d", "f", "bos_token"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "and", "or", "==", "!=", "<", ">", "<=", ">=",
          "in", "not in"]
FILTERS = ["length", "trim", "tojson", "string", "lower", "upper", "title", "capitalize", "first",
           "last", "list", "items|list", "join(', ')", "default('d')", "default(x, true)", "int",
           "float", "abs", "round", "round(1)", "indent(2)", "safe", "e", "unique|list", "sort",
           "reverse|list", "sum", "min", "max", "map(attribute='content')|list", "map('upper')|list",
           "selectattr('role')|list", "selectattr('role', 'equalto', 'user')|list",
           "rejectattr('x', 'defined')|list", "select('odd')|list", "dictsort", "batch(2)|list",
           "slice(2)|list", "wordcount", "replace('a', 'b')", "center(9)", "truncate(5)",
           "tojson(indent=2)", "count", "d", "trim('a')", "join", "list|length", "string|length",
           "tojson(sort_keys=true)", "title|tojson", "int(5)", "float(1.5)", "first|string"]
TESTS = ["defined", "undefined", "none", "string", "number", "mapping", "iterable", "sequence",
         "odd", "even", "divisibleby 3", "eq 1", "in [1, 2]", "true", "false", "integer", "float",
         "lower", "upper", "sameas none", "boolean", "ne 'a'", "gt 0", "callable"]
METHODS = ["strip()", "split()", "split(',')", "upper()", "startswith('a')", "endswith(('x', 'y'))",
           "get('k')", "items()|list", "keys()|list", "values()|list", "replace('a', 'b')", "format(1)",
           "lstrip('<')", "find('a')", "count('a')", "title()", "rsplit(none, 1)", "index(1)",
           "lower()", "capitalize()", "rstrip()", "split('a', 1)", "join(['x', 'y'])", "zfill(4)",
           "partition(',')", "isdigit()", "get('content', 'dflt')"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def one(self, xs):
        return self.r.choice(xs)

    def chance(self, p):
        return self.r.random() < p

    def expr(self, depth):
        if depth <= 0 or self.chance(0.25):
            return self.one(LITERALS) if self.chance(0.5) else self.one(NAMES)
        k = self.r.randrange(12)
        e = self.expr
        if k == 0:
            return f"({e(depth - 1)} {self.one(BINOPS)} {e(depth - 1)})"
        if k == 1:
            return f"{e(depth - 1)}|{self.one(FILTERS)}"
        if k == 2:
            return f"{e(depth - 1)} is {'not ' if self.chance(0.3) else ''}{self.one(TESTS)}"
        if k == 3:
            return f"{e(depth - 1)}.{self.one(NAMES)}"
        if k == 4:
            return f"{e(depth - 1)}[{e(depth - 1)}]"
        if k == 5:
            return e(depth - 1) + self.one(["[1:]", "[:-1]", "[::-1]", "[::2]", "[1:3:2]", "[-2:]"])
        if k == 6:
            return f"{e(depth - 1)}.{self.one(METHODS)}"
        if k == 7:
            tail = f" else {e(depth - 1)}" if self.chance(0.7) else ""
            return f"({e(depth - 1)} if {e(depth - 1)}{tail})"
        if k == 8:
            return f"[{e(depth - 1)}, {e(depth - 1)}]"
        if k == 9:
            return f"{{{self.one(LITERALS[:12])}: {e(depth - 1)}}}"
        if k == 10:
            return ("not " if self.chance(0.5) else "-") + e(depth - 1)
        return f"({e(depth - 1)})"

    def block(self, inner):
        return "{%" + self.one(["", "", "-", "+"]) + " " + inner + " " + self.one(["", "", "-", "+"]) + "%}"

    def stmts(self, depth, in_loop):
        return "".join(self.stmt(depth, in_loop) for _ in range(1 + self.r.randrange(4)))

    def stmt(self, depth, in_loop):
        text = ["text", " ", "\n", "  \n  ", "<|im_start|>", "\t", "\n\n"]
        if depth <= 0:
            return self.one(text) if self.chance(0.5) else "{{ " + self.expr(2) + " }}"
        k = self.r.randrange(12)
        b, s = self.block, self.stmts
        if k < 3:
            return "{{" + self.one(["", "-", "+"]) + " " + self.expr(3) + " " + self.one(["", "-"]) + "}}"
        if k == 3:
            return self.one(text)
        if k == 4:
            out = b("if " + self.expr(2)) + s(depth - 1, in_loop)
            if self.chance(0.4):
                out += b("elif " + self.expr(2)) + s(depth - 1, in_loop)
            if self.chance(0.4):
                out += b("else") + s(depth - 1, in_loop)
            return out + b("endif")
        if k == 5:
            target = "k, v" if self.chance(0.2) else "item"
            cond = " if " + self.expr(1) if self.chance(0.2) else ""
            out = b(f"for {target} in {self.expr(2)}{cond}") + s(depth - 1, True)
            if self.chance(0.2):
                out += b("else") + s(depth - 1, in_loop)
            return out + b("endfor") + "{{ loop.index if loop is defined }}"
        if k == 6:
            return b(f"set {self.one(NAMES[1:])} = {self.expr(2)}")
        if k == 7:
            return b(f"set ns = namespace(a={self.expr(1)})") + b(f"set ns.a = {self.expr(2)}") + "{{ ns.a }}"
        if k == 8:
            return (b("macro mac(p, q=" + self.one(LITERALS) + ")") + s(depth - 1, False) + "{{ p }}{{ q }}" +
                    b("endmacro") + "{{ mac(" + self.expr(1) + ") }}")
        if k == 9:
            return b("filter upper") + s(depth - 1, in_loop) + b("endfilter")
        if k == 10:
            return b("set blk") + s(depth - 1, in_loop) + b("endset") + "{{ blk }}"
        return b(self.one(["break", "continue"])) if in_loop else "{# c #}"

    def value(self, depth):
        k = self.r.randrange(6 if depth <= 0 else 8)
        if k == 0:
            return None
        if k == 1:
            return self.chance(0.5)
        if k == 2:
            return self.r.randrange(-100, 100)
        if k == 3:
            return self.r.randrange(1000) / 8.0
        if k == 4:
            return self.one(["", "user", "assistant", "a b", "é🙂", "<tag>", "  x  ", "1", "ABC"])
        if k == 5:
            return f"content {self.r.randrange(100)}"
        if k == 6:
            return [self.value(depth - 1) for _ in range(self.r.randrange(4))]
        return {self.one(["role", "content", "x", "k", "name", "items"]): self.value(depth - 1)
                for _ in range(self.r.randrange(4))}

    def context(self):
        msgs = [{"role": self.one(["user", "assistant", "system"]), "content": self.value(1)}
                for _ in range(self.r.randrange(5))]
        ctx = {"messages": msgs}
        for _ in range(self.r.randrange(5)):
            ctx[self.one(["x", "s", "n", "l", "d", "f", "tools", "m"])] = self.value(3)
        return ctx


def python_outcome(src, ctx):
    try:
        t = ctu._compile_jinja_template(src)
    except Exception as e:  # noqa: BLE001
        return {"error": gen_fixtures.classify(e)}
    return gen_fixtures.outcome(lambda: t.render(**ctx))


def expected_deviation(py, cc):
    """The renderer refuses unknown filters / tests at parse; jinja2 only when it
    compiles them outside conditional branches (inside, it fails when run)."""
    msg = cc.get("error", {}).get("message", "")
    return cc.get("error", {}).get("kind") == "syntax" and ("No filter named" in msg or "No test named" in msg)


def same(py, cc):
    if expected_deviation(py, cc):
        return True
    if "output" in py:
        return "output" in cc and cc["output"] == py["output"]
    if "error" not in cc:
        return False
    pk, ck = py["error"]["kind"], cc["error"]["kind"]
    if pk != ck:
        # jinja2 compiles lazily in spots (unknown filters in untaken branches) where the
        # renderer refuses at parse; those are expected.
        return False
    if pk == "raise":
        return py["error"]["message"] == cc["error"]["message"]
    if pk == "render":
        t, o = py["error"]["type"], cc["error"]["type"]
        return t == o or (o == "TemplateRuntimeError" and t in ("IndexError", "KeyError", "AttributeError",
                                                                  "AssertionError", "FilterArgumentError"))
    return True


def main():
    warnings.filterwarnings("ignore")  # Python's compile warnings about jinja2's generated code
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--binary", default="build/tests/templates/jinja_render")
    ap.add_argument("--show", type=int, default=20)
    args = ap.parse_args()
    g = Gen(args.seed)
    cases = []
    for _ in range(args.cases):
        cases.append((g.stmts(3, False), g.context()))
    payload = "".join(json.dumps({"template": s, "context": c}, ensure_ascii=False) + "\n" for s, c in cases)
    proc = subprocess.run([args.binary, "--batch"], input=payload.encode(), capture_output=True, timeout=600)
    lines = proc.stdout.decode().splitlines()
    if len(lines) != len(cases):
        print("renderer output lines:", len(lines), "cases:", len(cases), proc.stderr.decode()[-2000:])
        return 1
    bad = 0
    kinds = {}
    for (src, ctx), line in zip(cases, lines):
        cc = json.loads(line)
        py = python_outcome(src, ctx)
        key = "output" if "output" in py else py["error"]["kind"]
        kinds[key] = kinds.get(key, 0) + 1
        if not same(py, cc):
            bad += 1
            if bad <= args.show:
                print("=" * 80)
                print("TEMPLATE:", src)
                print("CONTEXT:", json.dumps(ctx, ensure_ascii=False))
                print("JINJA2:", json.dumps(py, ensure_ascii=False)[:600])
                print("VKCLS: ", json.dumps(cc, ensure_ascii=False)[:600])
    print(f"{len(cases)} cases, {bad} disagreements; jinja2 outcomes {kinds}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
