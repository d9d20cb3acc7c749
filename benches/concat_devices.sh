#!/usr/bin/env bash
# adcat concat on the CPU and on the GPU backend, side by side on the same inputs in one
# run (wall time, peak RSS, and the backend each report names). On a machine without a
# hardware GPU, --device gpu runs on Mesa's lavapipe, which proves correctness, not speed.
# Usage: benches/concat_devices.sh [K] [ROWS] [COLS] [DENSITY]
set -euo pipefail
cd "$(dirname "$0")/.."
k="${1:-2}"; rows="${2:-50000}"; cols="${3:-10000}"; density="${4:-0.05}"
dir="${ADCAT_BENCH_DIR:-target/bench-data}/concat_${k}x${rows}x${cols}_${density}"
mkdir -p "$dir"
[ -e "$dir/in$((k - 1)).zarr" ] || .venv/bin/python benches/gen_csr.py "$dir" "$k" "$rows" "$cols" "$density"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/adcat-xdg.XXXXXX)}"
chmod 700 "$XDG_RUNTIME_DIR"
cargo build --release -q
inputs=$(for i in $(seq 0 $((k - 1))); do printf '%s ' "$dir/in$i.zarr"; done)
printf '| join | device | backend | wall s | peak RSS MiB |\n|---|---|---|---|---|\n'
for join in inner outer; do
  for dev in cpu gpu; do
    rm -rf "$dir/out_$dev.zarr"
    read -r t m < <(/usr/bin/time -f "%e %M" target/release/adcat concat $inputs -o "$dir/out_$dev.zarr" \
      --join "$join" --device "$dev" --quiet --report-json "$dir/$dev.json" 2>&1 >/dev/null | tail -1)
    name=$(.venv/bin/python -c "import json,sys;print(json.load(open(sys.argv[1]))['device'])" "$dir/$dev.json")
    printf '| %s | %s | %s | %s | %s |\n' "$join" "$dev" "$name" "$t" "$((m / 1024))"
  done
  cmp -s <(cd "$dir/out_cpu.zarr" && find . -type f | sort | xargs cat) \
         <(cd "$dir/out_gpu.zarr" && find . -type f | sort | xargs cat) \
    && echo "($join: CPU and GPU outputs identical)" || echo "($join: OUTPUTS DIFFER)"
done
