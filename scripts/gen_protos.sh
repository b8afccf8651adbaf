#!/usr/bin/env bash
# Generate the Python code and the descriptor set from protos/.
#
# Output (generated only, never edited by hand, gitignored):
#   econtract/<pkg>/v1/<name>_pb2.py, _pb2.pyi, _pb2_grpc.py  importable as
#       econtract.identity.v1.identity_pb2 etc. from the repo root
#   econtract/**/__init__.py                                  in every package dir
#   econtract/descriptor_set.binpb                            all files + imports,
#       with source info (comments), read by the gateway for REST transcoding
#       and its OpenAPI descriptions
#
# Include paths: protos/, the googleapis .proto sources shipped inside the
# installed googleapis-common-protos wheel (google/api, google/rpc), and
# grpc_tools' bundled well-known types. Idempotent: generates into a scratch
# directory and then replaces econtract/ as a whole, so nothing stale remains.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PROTO_DIR="protos"
OUT_PKG="econtract"

if [[ ! -x "$PYTHON" ]]; then
  echo "python not found at $PYTHON (set PYTHON=...)" >&2
  exit 1
fi

# site-packages dir holding google/api/*.proto (googleapis-common-protos), and
# grpc_tools' _proto dir (google/protobuf/*.proto).
mapfile -t INCLUDES < <("$PYTHON" -c '
import os
import google.api.annotations_pb2 as api
import grpc_tools
print(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(api.__file__)))))
print(os.path.join(os.path.dirname(os.path.abspath(grpc_tools.__file__)), "_proto"))
')
GOOGLEAPIS_INCLUDE="${INCLUDES[0]}"
GRPC_TOOLS_INCLUDE="${INCLUDES[1]}"
for f in "$GOOGLEAPIS_INCLUDE/google/api/annotations.proto" "$GRPC_TOOLS_INCLUDE/google/protobuf/descriptor.proto"; do
  if [[ ! -f "$f" ]]; then
    echo "missing $f (is googleapis-common-protos / grpcio-tools installed in the venv?)" >&2
    exit 1
  fi
done

mapfile -t PROTOS < <(find "$PROTO_DIR" -name '*.proto' | LC_ALL=C sort)
if [[ ${#PROTOS[@]} -eq 0 ]]; then
  echo "no .proto files under $PROTO_DIR" >&2
  exit 1
fi

mkdir -p build
SCRATCH="$(mktemp -d "$ROOT/build/gen_protos.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/$OUT_PKG"

"$PYTHON" -m grpc_tools.protoc \
  -I "$PROTO_DIR" \
  -I "$GOOGLEAPIS_INCLUDE" \
  -I "$GRPC_TOOLS_INCLUDE" \
  --python_out="$SCRATCH" \
  --grpc_python_out="$SCRATCH" \
  --pyi_out="$SCRATCH" \
  --include_imports \
  --include_source_info \
  --descriptor_set_out="$SCRATCH/$OUT_PKG/descriptor_set.binpb" \
  "${PROTOS[@]}" \
  || { echo "protoc failed" >&2; exit 1; }

# Make every generated directory a regular package.
find "$SCRATCH/$OUT_PKG" -type d -exec touch {}/__init__.py \;

rm -rf "$ROOT/$OUT_PKG"
mv "$SCRATCH/$OUT_PKG" "$ROOT/$OUT_PKG"

echo "generated $(find "$ROOT/$OUT_PKG" -name '*_pb2.py' | wc -l) modules into $OUT_PKG/ and $OUT_PKG/descriptor_set.binpb" >&2
