#!/usr/bin/env bash
# Lint (and build, and format-check) the protos with buf, offline.
#
# buf's schema registry is unreachable here, so buf.yaml declares no `deps:`.
# Instead the googleapis protos (google/api/*.proto, google/rpc/**/*.proto) are
# copied from the installed googleapis-common-protos wheel into
# build/protodeps/, which buf.yaml lists as a second, never-linted module.
#
# buf itself comes from the npm package @bufbuild/buf (run `npm ci` first).
#
# Usage: scripts/buf_lint.sh              # build + format check + lint
#        scripts/buf_lint.sh --build-only # build only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DEPS_DIR="$ROOT/build/protodeps"

if [[ -x "$ROOT/node_modules/.bin/buf" ]]; then
  BUF=("$ROOT/node_modules/.bin/buf")
elif command -v npx >/dev/null 2>&1 && npx --no-install buf --version >/dev/null 2>&1; then
  BUF=(npx --no-install buf)
else
  echo "buf not found: run 'npm ci' (devDependency @bufbuild/buf) in $ROOT" >&2
  exit 1
fi

if [[ ! -x "$PYTHON" ]]; then
  echo "python not found at $PYTHON (set PYTHON=...)" >&2
  exit 1
fi

# Where the wheel keeps google/api/*.proto: the site-packages dir holding the
# `google.api` package of googleapis-common-protos.
GOOGLEAPIS_ROOT="$("$PYTHON" -c '
import os, google.api.annotations_pb2 as m
print(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(m.__file__)))))
')"

# Refresh build/protodeps from the wheel (idempotent: rebuilt every run, so a
# new googleapis-common-protos version is picked up and nothing stale stays).
rm -rf "$DEPS_DIR"
mkdir -p "$DEPS_DIR"
(
  cd "$GOOGLEAPIS_ROOT"
  find google/api google/rpc -name '*.proto' -print0 |
    while IFS= read -r -d '' f; do
      mkdir -p "$DEPS_DIR/$(dirname "$f")"
      cp "$f" "$DEPS_DIR/$f"
    done
)

echo "+ buf build" >&2
"${BUF[@]}" build

if [[ "${1:-}" == "--build-only" ]]; then
  exit 0
fi

echo "+ buf format --diff --exit-code protos" >&2
"${BUF[@]}" format --diff --exit-code protos

echo "+ buf lint" >&2
"${BUF[@]}" lint
echo "buf lint: no findings" >&2
