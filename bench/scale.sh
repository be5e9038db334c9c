#!/usr/bin/env bash
# Benchmark (not a test): how each command's cost grows with a catalog's entries.
#   bench/scale.sh [N] [LAYERS]    N images of LAYERS small layers each (default 350 × 100,
#                                  35,701 entries), then 2N; prints 2N/N per command
# Each catalog is written as a synthetic bundle (synthetic_bundle.py), pushed into a fresh
# registry with `unpack --push` (requests per second from the registry's access log), packed
# back out of that registry with `pack`, and the packed bundle inspected, verified and written
# as one docker-save tar. inspect and verify are set against `unzip -t` of the same file.
# Linear is 2.0, quadratic 4.0. Needs root or sudo to install missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source "$root/bench/lib.sh"
bench_setup
n=${1:-350}
layers=${2:-100}

declare -A secs reqs entries
for size in "$n" "$((2 * n))"; do
  echo "catalog of $size images × $layers layers ..." >&2
  python3 bench/synthetic_bundle.py "$size" "$work/syn$size.zip" "$layers"
  reg=$(start_registry "reg$size")
  once "push,$size" "$bin" -q unpack "$work/syn$size.zip" --push "http://$reg"
  reqs[push,$size]=$(registry_requests "reg$size")
  images=()
  for i in $(seq 0 $((size - 1))); do images+=("$reg/bench/app$i:1"); done
  printf '%s\n' "${images[@]}" > "$work/images$size.txt"
  before=$(registry_requests "reg$size")
  once "pack,$size" "$bin" -q pack --plain-http "$reg" --images-file "$work/images$size.txt" -o "$work/b$size.zip"
  reqs[pack,$size]=$(( $(registry_requests "reg$size") - before ))
  best "unzip -t,$size" unzip -tq "$work/b$size.zip"
  best "inspect,$size" "$bin" -q inspect "$work/b$size.zip"
  best "verify,$size" "$bin" -q verify "$work/b$size.zip"
  best "docker-save,$size" sh -c "rm -f '$work/save.tar'; '$bin' -q unpack '$work/b$size.zip' --docker-save '$work/save.tar'"
  rm -f "$work/save.tar" "$work/syn$size.zip"
  entries[$size]=$(unzip -l "$work/b$size.zip" | tail -1 | awk '{print $2}')
done
m=$((2 * n))
echo
echo "| command | $n images (${entries[$n]} entries) | $m images (${entries[$m]} entries) | 2N/N | × unzip -t at 2N | requests/s at 2N |"
echo "|---|---:|---:|---:|---:|---:|"
for c in "unzip -t" inspect verify docker-save pack push; do
  a=${secs[$c,$n]}; b=${secs[$c,$m]}
  rate="-"; [ -n "${reqs[$c,$m]:-}" ] && rate=$(python3 -c "print(round(${reqs[$c,$m]} / max($b, 0.01)))")
  python3 -c "print(f'| $c | {$a:.2f} s | {$b:.2f} s | {$b / max($a, 0.01):.2f} | {$b / max(${secs[unzip -t,$m]}, 0.01):.1f} | $rate |')"
done
