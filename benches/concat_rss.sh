#!/usr/bin/env bash
# Peak RSS of `adcat concat` against --max-memory, on inputs whose uncompressed payload is
# many times the budget (2 CSR stores of 50,000 x 10,000 at density 0.05: 390 MB).
# Usage: benches/concat_rss.sh [BUDGET...]   (default: 12MiB 32MiB 64MiB 512MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${ADCAT_BENCH_DIR:-target/bench-data}/concat_2x50000x10000_0.05"
mkdir -p "$dir"
[ -e "$dir/in1.zarr" ] || .venv/bin/python benches/gen_csr.py "$dir" 2 50000 10000 0.05
cargo build --release -q
budgets=("$@"); [ ${#budgets[@]} -gt 0 ] || budgets=(12MiB 32MiB 64MiB 512MiB)
printf '| --max-memory | join | wall s | peak RSS MiB | payload MB |\n|---|---|---|---|---|\n'
for b in "${budgets[@]}"; do
  for join in inner outer; do
    rm -rf "$dir/out_rss.zarr"
    read -r t m < <(/usr/bin/time -f "%e %M" target/release/adcat concat "$dir/in0.zarr" "$dir/in1.zarr" \
      -o "$dir/out_rss.zarr" --join "$join" --max-memory "$b" --device cpu --quiet \
      --report-json "$dir/rss.json" 2>&1 >/dev/null | tail -1)
    payload=$(.venv/bin/python -c "import json,sys;print(json.load(open(sys.argv[1]))['payload_bytes']//10**6)" "$dir/rss.json")
    printf '| %s | %s | %s | %s | %s |\n' "$b" "$join" "$t" "$((m / 1024))" "$payload"
  done
done
