#!/usr/bin/env bash
# Side-by-side figures for one concat case: adcat vs anndata.concat (in memory) vs
# anndata.experimental.concat_on_disk, on the same inputs, wall time and peak RSS each.
# Inputs: K CSR float32 stores (Zarr v2 as anndata writes them) of ROWS x COLS at DENSITY,
# with gene panels overlapping by 90 %.
# Usage: benches/concat_vs_anndata.sh [K] [ROWS] [COLS] [DENSITY] [JOIN]
set -euo pipefail
cd "$(dirname "$0")/.."
k="${1:-2}"; rows="${2:-50000}"; cols="${3:-10000}"; density="${4:-0.05}"; join="${5:-inner}"
dir="${ADCAT_BENCH_DIR:-target/bench-data}/concat_${k}x${rows}x${cols}_${density}"
mkdir -p "$dir"
if [ ! -e "$dir/in$((k - 1)).zarr" ]; then
  .venv/bin/python benches/gen_csr.py "$dir" "$k" "$rows" "$cols" "$density"
fi
cargo build --release -q
inputs=$(for i in $(seq 0 $((k - 1))); do printf '%s ' "$dir/in$i.zarr"; done)
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
rm -rf "$dir/out_adcat.zarr"
read -r t_adcat m_adcat < <(measure target/release/adcat concat $inputs -o "$dir/out_adcat.zarr" --join "$join" --quiet)
py() {
  rm -rf "$dir/out_py.zarr"
  measure .venv/bin/python -c "
import sys, warnings, anndata as ad
warnings.simplefilter('ignore')
paths = sys.argv[2:]
if sys.argv[1] == 'memory':
    ad.concat([ad.read_zarr(p) for p in paths], join='$join').write_zarr('$dir/out_py.zarr')
else:
    ad.experimental.concat_on_disk(paths, '$dir/out_py.zarr', join='$join')
" "$1" $inputs || echo "failed 0"
}
read -r t_mem m_mem < <(py memory)
read -r t_disk m_disk < <(py disk)
printf '| case | tool | wall s | peak RSS MiB |\n|---|---|---|---|\n'
for row in "adcat $t_adcat $m_adcat" "anndata.concat+write_zarr $t_mem $m_mem" "concat_on_disk $t_disk $m_disk"; do
  set -- $row
  printf '| %s×%s×%s d=%s %s | %s | %s | %s |\n' "$k" "$rows" "$cols" "$density" "$join" "$1" "$2" "$(( ${3:-0} / 1024 ))"
done
