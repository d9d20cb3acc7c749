#!/usr/bin/env bash
# The main job on a generated default: builds adcat, writes an example AnnData file,
# converts it to a sharded Zarr v3 store and back to .h5ad, and shows both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --release -q
out="${1:-target/demo}"
mkdir -p "$out"
[ -e "$out/example.h5ad" ] || .venv/bin/python scripts/make_example.py "$out" 5000 >/dev/null
bin=target/release/adcat
"$bin" convert "$out/example.h5ad" "$out/example.zarr" --overwrite
"$bin" inspect "$out/example.zarr"
"$bin" convert "$out/example.zarr" "$out/roundtrip.h5ad" --overwrite
.venv/bin/python - "$out" <<'PY'
import sys, anndata as ad
from anndata.tests.helpers import assert_equal
d = sys.argv[1]
a, b = ad.read_h5ad(f"{d}/example.h5ad"), ad.read_h5ad(f"{d}/roundtrip.h5ad")
assert_equal(a, b, exact=True)
print(f"round trip h5ad -> zarr v3 -> h5ad equal in anndata: {a.shape}")
PY
