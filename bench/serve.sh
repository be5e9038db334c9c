#!/usr/bin/env bash
# Benchmark (not a test): skopeo pulls the bench set (~1 GB, 8 images sharing a 200 MB
# base) from `outrider serve` and from the distribution registry serving the same images
# from its own storage, in one run: one image at a time, then all 8 at once. Each round
# starts a fresh `serve`, so every blob is hashed as it is first served. Prints the median
# wall time of 3 rounds, the ratio serve / distribution (target ≤ 1.0), and each server's
# peak RSS. Needs root or sudo to install missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

source "$root/bench/lib.sh"
bench_setup


src=$(start_registry src)
src_pid=$(head -1 "$work/pids")
seed_set "$src"
"$bin" -q pack --platform linux/amd64 -o "$work/bundle.zip" "${images[@]}"
pulled=$(( $(size "$work/seed/base.bin") * 8 + $(cat "$work"/seed/app?.bin | wc -c) ))

start_serve() { # → sets serve_host, serve_pid
  local port; port=$(free_port)
  "$bin" serve "$work/bundle.zip" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
  serve_pid=$!
  echo "$serve_pid" >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  serve_host="127.0.0.1:$port"
}
peak_mb() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
one_at_a_time() { # host
  for i in $(seq 1 8); do
    skopeo copy -q --src-tls-verify=false "docker://$1/bench/app$i:v1" "dir:$work/pull/$i" || return 1
  done
}
all_at_once() { # host
  local pids=() i
  for i in $(seq 1 8); do
    skopeo copy -q --src-tls-verify=false "docker://$1/bench/app$i:v1" "dir:$work/pull/$i" & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || return 1; done
}
export -f one_at_a_time all_at_once
export work

serve_peaks=()
for round in 1 2 3; do
  start_serve
  for mode in one_at_a_time all_at_once; do
    rm -rf "$work/pull"; mkdir -p "$work/pull"
    measure "distribution → skopeo, $mode" "$pulled" bash -c "$mode $src"
    rm -rf "$work/pull"; mkdir -p "$work/pull"
    measure "outrider serve → skopeo, $mode" "$pulled" bash -c "$mode $serve_host"
  done
  serve_peaks+=("$(peak_mb "$serve_pid")")
  kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
done
rm -rf "$work/pull"

table "distribution" "× distribution"
echo
echo "peak RSS of the servers: outrider serve ${serve_peaks[*]} MB (one per round, a fresh server each); distribution $(peak_mb "$src_pid") MB (the whole run, seeding included)"
echo "the skopeo rows' RSS column is the client's; requests logged by serve in the last round: $(grep -c 'request' "$work/serve.log")"
