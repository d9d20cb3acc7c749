#!/usr/bin/env bash
# Peak memory of `adcat convert` on a dense store of about 1 GB (float64), Zarr v2 as
# anndata writes it -> Zarr v3 (adcat's default layout). Prints wall time and peak RSS.
# Usage: benches/convert_rss.sh [ROWS] [COLS] [extra adcat flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-12500}"; cols="${2:-10000}"; shift 2 || true
dir="${ADCAT_BENCH_DIR:-target/bench-data}"
mkdir -p "$dir"
src="$dir/dense_${rows}x${cols}.zarr"
if [ ! -e "$src" ]; then
  .venv/bin/python - "$src" "$rows" "$cols" <<'PY'
import sys, numpy as np, anndata as ad, zarr
path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ad.settings.zarr_write_format = 2
rng = np.random.default_rng(0)
X = np.empty((rows, cols), dtype=np.float64)
for s in range(0, rows, 1000):
    X[s:s+1000] = rng.poisson(0.3, (min(1000, rows - s), cols))
ad.AnnData(X=X).write_zarr(path)
PY
fi
cargo build --release -q
out="$dir/dense_out.zarr"
rm -rf "$out"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" target/release/adcat convert "$src" "$out" --quiet "$@"
du -sh "$src" "$out"
