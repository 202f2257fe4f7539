#!/usr/bin/env bash
# Generate Python protobuf/gRPC code (with mypy stubs) from proto/ into libs/annotary-proto/src.
# Usage: scripts/gen_proto.sh [OUT_DIR]   (CI compares a fresh generation with the committed one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$(realpath -s "${PYTHON:-$root/.venv/bin/python}")
export PATH="$(dirname "$py"):$PATH"  # the protoc-gen-mypy plugins live beside the interpreter
out=$(realpath -m "${1:-$root/libs/annotary-proto/src}")
rm -rf "$out/annotary"
mkdir -p "$out"
cd "$root/proto"
mapfile -t files < <(find annotary -name '*.proto' | sort)
"$py" -m grpc_tools.protoc -I . \
  --python_out="$out" --grpc_python_out="$out" --mypy_out="$out" --mypy_grpc_out="$out" \
  "${files[@]}"
touch "$out/annotary/py.typed"
