#!/usr/bin/env bash
# Benchmark (not a test): planning and packing many small images from a registry that is a
# round trip away, as a registry across a WAN is.
#   bench/latency.sh [N] [RTT_MS]     N images of 2 small layers (default 200), RTT default 50
#   PEER=/path/to/outrider bench/latency.sh …   also times another build, for a ratio
# The registry is reached through delay_proxy.py, which holds every byte RTT/2 in each
# direction (this kernel has no netem); the catalog is pushed to the registry directly. For
# N and 2N images it times `plan` (manifests only) and `pack`, and prints each as seconds,
# as round trips per image (time / (images × RTT)), and 2N/N. Planning one image at a time
# costs about 4 round trips an image (manifest, config, cosign's tags, the referrers tag).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source "$root/bench/lib.sh"
bench_setup
n=${1:-200}
rtt=${2:-50}
direct=$(start_registry reg)
port=$(free_port)
python3 bench/delay_proxy.py "$port" "$direct" "$(python3 -c "print($rtt / 2)")" &
echo $! >> "$work/pids"
reg=127.0.0.1:$port
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

echo "pushing $((2 * n)) images ..." >&2
python3 bench/synthetic_bundle.py "$((2 * n))" "$work/syn.zip" 2
"$bin" -q unpack "$work/syn.zip" --push "http://$direct" >/dev/null
t0=$(date +%s.%N); curl -sf -o /dev/null "http://$reg/v2/"; t1=$(date +%s.%N)
echo "one request through the proxy: $(python3 -c "print(round(($t1 - $t0) * 1000))") ms (new connection: 2 round trips)" >&2

declare -A secs
run() { # label binary size command… → seconds, recorded as secs[label,size]
  local label=$1 b=$2 size=$3; shift 3
  head -n "$size" "$work/all.txt" > "$work/images.txt"
  rm -f "$work/out.zip"
  /usr/bin/time -f "%e" -o "$work/time" "$b" -q "$@" --plain-http "$reg" --images-file "$work/images.txt" >"$work/out.log" 2>&1 ||
    { echo "$label failed:" >&2; tail -5 "$work/out.log" >&2; exit 1; }
  secs[$label,$size]=$(cat "$work/time")
  echo "  $label, $size images: ${secs[$label,$size]}s" >&2
}
for i in $(seq 0 $((2 * n - 1))); do echo "$reg/bench/app$i:1"; done > "$work/all.txt"
labels=()
for who in this ${PEER:+peer}; do
  b=$bin; [ "$who" = peer ] && b=$PEER
  for size in "$n" "$((2 * n))"; do
    run "plan ($who)" "$b" "$size" plan
    run "pack ($who)" "$b" "$size" pack -o "$work/out.zip"
  done
  labels+=("plan ($who)" "pack ($who)")
done
echo
echo "RTT ${rtt} ms"
echo "| command | $n images | $((2 * n)) images | round trips per image at 2N | 2N/N |"
echo "|---|---:|---:|---:|---:|"
for l in "${labels[@]}"; do
  a=${secs[$l,$n]}; b=${secs[$l,$((2 * n))]}
  python3 -c "print(f'| $l | {$a:.1f} s | {$b:.1f} s | {$b * 1000 / ($rtt * 2 * $n):.2f} | {$b / max($a, 0.01):.2f} |')"
done
