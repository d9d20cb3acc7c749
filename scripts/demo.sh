#!/usr/bin/env bash
# The main job on a generated default: builds adcat, writes three batches of an example
# atlas (.h5ad, Zarr v2, Zarr v3), concatenates them along obs with an outer join into a
# sharded Zarr v3 store, shows it, and checks it against anndata.concat of the same files.
# Usage: scripts/demo.sh [OUT_DIR] [CELLS_PER_BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --release -q
out="${1:-target/demo}"
cells="${2:-5000}"
mkdir -p "$out"
[ -e "$out/batch2.zarr" ] || .venv/bin/python scripts/make_example.py "$out" "$cells" >/dev/null
bin=target/release/adcat
"$bin" concat "$out/batch0.h5ad" "$out/batch1.zarr" "$out/batch2.zarr" -o "$out/atlas.zarr" \
  --join outer --label batch --keys b0,b1,b2 --index-unique - --merge same --uns-merge same \
  --overwrite --report-json "$out/report.json"
"$bin" inspect "$out/atlas.zarr"
"$bin" convert "$out/atlas.zarr" "$out/atlas.h5ad" --overwrite
.venv/bin/python - "$out" <<'PY'
import sys, warnings, anndata as ad
from anndata.tests.helpers import assert_equal
warnings.simplefilter("ignore")
d = sys.argv[1]
inputs = [ad.read_h5ad(f"{d}/batch0.h5ad"), ad.read_zarr(f"{d}/batch1.zarr"), ad.read_zarr(f"{d}/batch2.zarr")]
expected = ad.concat(inputs, join="outer", label="batch", keys=["b0", "b1", "b2"], index_unique="-", merge="same", uns_merge="same")
expected.strings_to_categoricals()  # what anndata's own writer does before writing
for path in (f"{d}/atlas.zarr", f"{d}/atlas.h5ad"):
    got = ad.read_zarr(path) if path.endswith(".zarr") else ad.read_h5ad(path)
    assert_equal(got, expected)
print(f"adcat concat output equals anndata.concat: {expected.shape}, also after convert to .h5ad")
PY
