#!/usr/bin/env bash
# Test-only Python tools that Debian 12 does not package, installed from PyPI into a venv: the
# official `openai` client (one server test drives vkcls with it) and Ray Data (the
# examples/ray test runs a local Ray cluster).
#   tools/install-test-tools.sh VENV_DIR
# Not a build dependency: without network the venv stays without them and their tests report
# themselves skipped. Safe to run twice: a tool already there is not installed again.
set -uo pipefail
venv=${1:?usage: install-test-tools.sh VENV_DIR}
if [ ! -x "$venv/bin/python3" ]; then
  python3 -m venv "$venv" || { echo "install-test-tools: python3 -m venv failed" >&2; exit 0; }
fi
# module to import : pip requirement
tools=("openai:openai>=1.30,<3" "ray.data:ray[data]==2.60.0")
for tool in "${tools[@]}"; do
  module=${tool%%:*} requirement=${tool#*:}
  "$venv/bin/python3" -c "import $module" 2>/dev/null && continue
  if ! "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "$requirement" \
       2>"$venv/pip.err"; then
    echo "install-test-tools: could not install $requirement ($(tail -1 "$venv/pip.err")); its test will be skipped" >&2
  fi
done
exit 0
