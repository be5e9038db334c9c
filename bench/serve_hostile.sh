#!/usr/bin/env bash
# Benchmark (not a test): `outrider serve` against clients that would starve it, on
# loopback, with a bundle written by bench/hostile_bundle.py (a 4 MiB manifest over a
# 64 MiB layer, and a 2 KiB manifest). Prints, for each binary:
#   - idle flood: 1,100 idle sockets against a server limited to 256 descriptors, then
#     a new client pulls a manifest and the 64 MiB layer (60 s at most);
#   - slowloris: seconds until a connection sending its headers a byte a second is closed
#     (and one sending nothing), 60 s at most;
#   - slow first reader: the first GET of the (not yet verified) layer reads nothing; the
#     seconds a second client takes to get the layer whole (60 s at most);
#   - peak RSS (VmHWM) with 200 stalled reads of the 4 MiB manifest, and with 300 stalled
#     reads of the layer;
#   - manifest GETs per second, 4 MiB and 2 KiB (two curl clients, keep-alive).
# OLD_BIN=/path/to/an/older/outrider adds a "before" column (build one from an older
# commit with `git worktree add` and `cargo build --release`); BIN=/path measures that
# binary instead of this checkout's release build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

source "$root/bench/lib.sh"
bench_setup
bin=${BIN:-$bin}

python3 "$root/bench/hostile_bundle.py" "$work/h.zip" 64 > "$work/digests"
big_layer=$(awk '$1 == "h/big" {print $3}' "$work/digests")
big=/v2/h/big/manifests/1
small=/v2/h/small/manifests/1
layer=/v2/h/big/blobs/$big_layer

cat > "$work/clients.py" <<'EOF'
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
cmd, host = sys.argv[1], sys.argv[2]
addr = (host.split(":")[0], int(host.split(":")[1]))
held = []
def closed(s, within, tick):
    s.settimeout(1)
    start = time.time()
    while time.time() - start < within:
        try:
            if s.recv(4096) == b"":
                return "%.0f s" % (time.time() - start)
        except socket.timeout:
            pass
        except OSError:
            return "%.0f s" % (time.time() - start)
        tick(s)
    return "still open after %d s" % within
if cmd == "flood":  # N idle sockets, connecting without waiting, held until killed
    for _ in range(int(sys.argv[3])):
        s = socket.socket(); s.setblocking(False); s.connect_ex(addr); held.append(s)
    print("ready", flush=True); time.sleep(3600)
elif cmd == "stall":  # N GETs of PATH, never read, held until killed
    for _ in range(int(sys.argv[4])):
        s = socket.create_connection(addr)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET {sys.argv[3]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()); held.append(s)
    print("ready", flush=True); time.sleep(3600)
elif cmd == "slowloris":
    s = socket.create_connection(addr); s.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {host}\r\n".encode())
    def byte(s):
        try: s.sendall(b"X")
        except OSError: pass
    print(closed(s, 60, byte))
elif cmd == "idle":
    print(closed(socket.create_connection(addr), 60, lambda s: None))
EOF
clients() { python3 "$work/clients.py" "$@"; }
# Starts a client that holds its sockets; returns once they are open.
holding() { # → holding_pid
  rm -f "$work/holding"
  python3 "$work/clients.py" "$@" > "$work/holding" & holding_pid=$!
  echo "$holding_pid" >> "$work/pids"
  for _ in $(seq 600); do grep -q ready "$work/holding" 2>/dev/null && return; sleep 0.1; done
}
start() { # bin [nofile] → serve_host, serve_pid
  local port; port=$(free_port)
  local limit=(); [ -n "${2:-}" ] && limit=(prlimit "--nofile=$2:$2")
  "${limit[@]}" "$1" serve "$work/h.zip" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
  serve_pid=$!
  echo "$serve_pid" >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  serve_host="127.0.0.1:$port"
}
stop() { kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; }
peak_mb() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
# The seconds `curl` took to fetch every path given (whole), or a failure.
pull() { # paths...
  local t0 t1 p; t0=$(date +%s.%N)
  for p in "$@"; do
    curl -sf --max-time 60 -o /dev/null "http://$serve_host$p" || { echo "failed (60 s)"; return; }
  done
  t1=$(date +%s.%N); echo "$(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s"
}
# GETs per second of PATH: two curl clients, N requests each on a keep-alive connection.
rate() { # path n
  local t0 t1; t0=$(date +%s.%N)
  curl -sf "http://$serve_host$1?r=[1-$2]" > /dev/null & local a=$!
  curl -sf "http://$serve_host$1?r=[1-$2]" > /dev/null & local b=$!
  wait "$a" "$b"
  t1=$(date +%s.%N); echo "$2 * 2 / ($t1 - $t0)" | bc -l | xargs printf '%.0f\n'
}

run() { # bin → one result per line, in the order of `rows`
  local bin=$1
  start "$bin" 256
  holding flood "$serve_host" 1100
  pull "$small" "$layer"
  kill "$holding_pid"; wait "$holding_pid" 2>/dev/null || true; stop

  start "$bin"
  clients slowloris "$serve_host"
  clients idle "$serve_host"
  stop

  start "$bin"
  holding stall "$serve_host" "$layer" 1
  pull "$layer"
  kill "$holding_pid"; wait "$holding_pid" 2>/dev/null || true; stop

  start "$bin"
  holding stall "$serve_host" "$big" 200
  curl -sf -o /dev/null --max-time 60 "http://$serve_host/v2/" || true
  sleep 3; echo "$(peak_mb "$serve_pid") MB"
  kill "$holding_pid"; wait "$holding_pid" 2>/dev/null || true; stop

  start "$bin"
  curl -sf -o /dev/null "http://$serve_host$layer"
  holding stall "$serve_host" "$layer" 300
  curl -sf -o /dev/null --max-time 60 "http://$serve_host/v2/" || true
  sleep 3; echo "$(peak_mb "$serve_pid") MB"
  kill "$holding_pid"; wait "$holding_pid" 2>/dev/null || true; stop

  start "$bin"
  curl -sf -o /dev/null "http://$serve_host$big"
  rate "$big" 100
  rate "$small" 2000
  stop
}

rows=(
  "idle flood (1,100 sockets, 256 descriptors): a new client pulls"
  "slowloris (a header byte a second): closed after"
  "idle socket: closed after"
  "slow first reader: a second client gets the 64 MiB layer in"
  "200 stalled 4 MiB manifest reads: peak RSS"
  "300 stalled 64 MiB layer reads: peak RSS"
  "4 MiB manifest: GET/s"
  "2 KiB manifest: GET/s"
)
mapfile -t after < <(run "$bin")
if [ -n "${OLD_BIN:-}" ]; then
  mapfile -t before < <(run "$OLD_BIN")
  printf '| %s | %s | %s |\n|---|---:|---:|\n' "measure" "before ($OLD_BIN)" "after"
  for i in "${!rows[@]}"; do printf '| %s | %s | %s |\n' "${rows[$i]}" "${before[$i]:-}" "${after[$i]:-}"; done
else
  printf '| %s | %s |\n|---|---:|\n' "measure" "outrider serve"
  for i in "${!rows[@]}"; do printf '| %s | %s |\n' "${rows[$i]}" "${after[$i]:-}"; done
fi
