#!/usr/bin/env bash
# Test-only Python tools that Debian 12 does not package (the official `openai` client,
# which one server test drives vkcls with), installed from PyPI into a venv.
#   tools/install-test-tools.sh VENV_DIR
# Not a build dependency: without network the venv stays without them and that test
# reports itself skipped. Safe to run twice.
set -uo pipefail
venv=${1:?usage: install-test-tools.sh VENV_DIR}
if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c "import openai" 2>/dev/null; then exit 0; fi
python3 -m venv "$venv" || { echo "install-test-tools: python3 -m venv failed" >&2; exit 0; }
if ! "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "openai>=1.30,<3" 2>"$venv/pip.err"; then
  echo "install-test-tools: could not install openai ($(tail -1 "$venv/pip.err")); its test will be skipped" >&2
fi
exit 0
