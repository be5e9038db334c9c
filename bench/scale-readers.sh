#!/usr/bin/env bash
# Benchmark (not a test): how `inspect`, `verify` and `serve`'s start-up (until it answers
# `/v2/`, every image checked) grow with the entries of a bundle.
# Writes synthetic bundles of N and 4N images (3 entries each, see synthetic_bundle.py),
# times each command (best of 3) next to `unzip -t` of the same file, and prints the
# 4N/N ratio: linear is 4, quadratic 16.   bench/scale-readers.sh [N]   (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
cargo build --release --locked -q
bin=$PWD/target/release/outrider
work=$(mktemp -d /var/tmp/outrider-scale.XXXX)
trap 'rm -rf "$work"' EXIT
best() { # command… → best wall seconds of 3
  local best=999999 t TIMEFORMAT=%R
  for _ in 1 2 3; do
    t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
    best=$(python3 -c "print(min($best, $t))")
  done
  echo "$best"
}
serve_start() { # bundle → starts serve, waits until it answers, stops it
  local port pid
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" -q serve "$1" --listen "127.0.0.1:$port" & pid=$!
  until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.02; done
  kill "$pid"; wait "$pid" || true
}
export -f serve_start
export bin
declare -A secs
for size in "$n" "$((4 * n))"; do
  python3 bench/synthetic_bundle.py "$size" "$work/b$size.zip"
  secs[unzip,$size]=$(best unzip -tq "$work/b$size.zip")
  secs[inspect,$size]=$(best "$bin" -q inspect "$work/b$size.zip")
  secs[verify,$size]=$(best "$bin" -q verify "$work/b$size.zip")
  secs[serve,$size]=$(best bash -c "serve_start $work/b$size.zip")
done
printf '%-8s %10s %10s %8s %14s\n' command "${n} img" "$((4 * n)) img" "4N/N" "× unzip -t 4N"
for c in unzip inspect verify serve; do
  a=${secs[$c,$n]}; b=${secs[$c,$((4 * n))]}
  python3 -c "print(f'%-8s %9.2fs %9.2fs %8.1f %14.1f' % ('$c', $a, $b, $b / max($a, 0.01), $b / max(${secs[unzip,$((4 * n))]}, 0.01)))"
done
