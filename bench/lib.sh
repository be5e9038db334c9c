# Shared by the benchmark scripts: set-up, registries on free ports, images seeded with
# curl from random bytes, and `measure` (wall time and peak RSS of one command). Expects
# `$root` (the checkout).

# Installs the Debian packages the benchmarks call (root or sudo), builds the release
# binary into `bin`, and makes `work`, removed on exit with every server started in it
# stopped. Registries are started inside $(…) subshells, so their pids go to a file.
bench_setup() {
  local need=() pair sudo=""
  for pair in docker-registry:docker-registry skopeo:skopeo curl:curl /usr/bin/time:time python3:python3; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
  fi
  [ -n "${BENCH_PREBUILT:-}" ] || cargo build --release --locked -q  # BENCH_PREBUILT=1: use the one built
  bin=$root/target/release/outrider
  work=${BENCH_DIR:-$(mktemp -d /var/tmp/outrider-bench.XXXX)}
  trap bench_cleanup EXIT
}

bench_cleanup() { [ -f "$work/pids" ] && xargs -r kill < "$work/pids" 2>/dev/null; rm -rf "$work"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # name → prints host; its request count: `registry_requests name`
  local name=$1 port debug; port=$(free_port); debug=$(free_port)
  mkdir -p "$work/$name"
  echo "$debug" > "$work/$name/debug-port"
  # Requests are counted by the registry's Prometheus counter: an access log to a file
  # slows distribution's small requests tenfold.
  printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s, debug: {addr: 127.0.0.1:%s, prometheus: {enabled: true, path: /metrics}}}\n' "$work/$name/data" "$port" "$debug" > "$work/$name/config.yml"
  docker-registry serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  echo "127.0.0.1:$port"
}

registry_requests() { # name → requests the registry has answered so far
  curl -sS "http://127.0.0.1:$(cat "$work/$1/debug-port")/metrics" |
    awk '/^registry_http_requests_total/ {n += $NF} END {print n + 0}'
}

registry_blob_bytes() { # name → blob bytes the registry has sent so far
  curl -sS "http://127.0.0.1:$(cat "$work/$1/debug-port")/metrics" |
    awk '/^registry_http_response_size_bytes_sum\{handler="blob"\}/ {n += $NF} END {printf "%.0f\n", n}'
}

push_blob() { # host repo file digest
  local loc
  loc=$(curl -sS -X POST -D - -o /dev/null "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case $loc in http*) ;; *) loc="http://$1$loc" ;; esac
  curl -sS -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$3" "$loc&digest=$4"
}
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
size() { stat -c %s "$1"; }

make_layer() { # name MiB → $work/seed/name.bin (gzip of random bytes) and name.diff (its diff_id)
  local raw="$work/seed/$1.raw"
  head -c $(($2 << 20)) /dev/urandom > "$raw"
  echo "sha256:$(sha256sum "$raw" | cut -d' ' -f1)" > "$work/seed/$1.diff"
  gzip -1 -c "$raw" > "$work/seed/$1.bin"
  rm -f "$raw"
}

seed_image() { # host repo tag layer-files...
  local host=$1 repo=$2 tag=$3; shift 3
  local layers_json="" diff_ids="" f d
  for f in "$@"; do
    d=$(sha "$f"); push_blob "$host" "$repo" "$f" "$d"
    layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"$d\",\"size\":$(size "$f")}"
    diff_ids+="${diff_ids:+,}\"$(cat "${f%.bin}.diff")\""
  done
  local cfg="$work/seed/$repo-$tag.config.json"; mkdir -p "$(dirname "$cfg")"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff_ids" > "$cfg"
  push_blob "$host" "$repo" "$cfg" "$(sha "$cfg")"
  local man="$cfg.manifest"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"%s","size":%s},"layers":[%s]}' "$(sha "$cfg")" "$(size "$cfg")" "$layers_json" > "$man"
  curl -sS -f -o /dev/null -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary "@$man" "http://$host/v2/$repo/manifests/$tag"
}

results=()
# label bytes command... → appends "label|wall|rss|bytes" to `results` (cold page cache) and
# leaves the run's figures in `wall` (s), `rss` (KB) and `cpu` (user + system s, children
# included); a failed command leaves `wall` empty.
measure() {
  local label=$1 bytes=$2 user sys; shift 2
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  wall=""
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/out.log" 2>&1 || { echo "$label failed:" >&2; tail -5 "$work/out.log" >&2; return 0; }
  read -r wall rss user sys < "$work/time"
  cpu=$(python3 -c "print(round($user + $sys, 2))")
  results+=("$label|$wall|$rss|$bytes")
  echo "  $label: ${wall}s, ${cpu} CPU s, peak RSS $((rss / 1024)) MB" >&2
}

# Timings kept by label in the caller's `declare -A secs` (warm cache, no cache drop).
best() { # label command… → best wall seconds of 3, recorded as secs[label]
  local label=$1 b=999999 t; shift
  for _ in 1 2 3; do
    /usr/bin/time -f "%e" -o "$work/time" "$@" >"$work/out.log" 2>&1 || { echo "$label failed:" >&2; tail -5 "$work/out.log" >&2; exit 1; }
    t=$(cat "$work/time"); b=$(python3 -c "print(min($b, $t))")
  done
  secs[$label]=$b
  echo "  $label: ${b}s" >&2
}
keep_best() { # label command… → runs it once; secs[label] keeps the best wall seconds so far
  # Timed with bash's microsecond clock: /usr/bin/time gives hundredths, 6 % of a 0.16 s run.
  local label=$1 t0 t1; shift
  t0=$EPOCHREALTIME
  "$@" >"$work/out.log" 2>&1 || { echo "$label failed:" >&2; tail -5 "$work/out.log" >&2; exit 1; }
  t1=$EPOCHREALTIME
  secs[$label]=$(python3 -c "print(round(min(${secs[$label]:-999999}, $t1 - $t0), 3))")
}
once() { # label command… → wall seconds of one run, recorded as secs[label]
  local label=$1; shift
  /usr/bin/time -f "%e" -o "$work/time" "$@" >"$work/out.log" 2>&1 || { echo "$label failed:" >&2; tail -5 "$work/out.log" >&2; exit 1; }
  secs[$label]=$(cat "$work/time")
  echo "  $label: ${secs[$label]}s" >&2
}

# One row per label (median wall of its runs, max RSS); ratios against the row before it
# whose label starts with $1 (column title $2).
table() {
  printf '%s\n' "${results[@]}" | BASE="$1" TITLE="$2" python3 -c '
import os, sys, statistics
rows = {}
for line in sys.stdin.read().split("\n"):
    if not line: continue
    label, wall, rss, size = line.split("|")
    r = rows.setdefault(label, {"walls": [], "rss": 0, "size": int(size)})
    r["walls"].append(float(wall)); r["rss"] = max(r["rss"], int(rss))
title, base = os.environ["TITLE"], os.environ["BASE"]
print(f"\n| run | runs | wall s (median) | MB/s | peak RSS MB | {title} |\n|---|---:|---:|---:|---:|---:|")
limit = None
for label, r in rows.items():
    wall = statistics.median(r["walls"])
    if label.startswith(base): limit = wall
    ratio = f"{wall / limit:.2f}" if limit else "-"
    runs, size, rss = len(r["walls"]), r["size"], r["rss"]
    print(f"| {label} | {runs} | {wall:.2f} | {size / wall / 1e6:.0f} | {rss / 1024:.0f} | {ratio} |")
'
}

# The bench set: ~1 GB in 8 repositories sharing a 200 MB base layer, seeded into registry
# $1; sets `images` (references) and `total` (layer bytes).
seed_set() {
  echo "seeding ~1 GB into 8 repositories (shared 200 MB base) ..." >&2
  mkdir -p "$work/seed"
  make_layer base 200
  images=()
  for i in $(seq 1 8); do
    make_layer "app$i" 100
    seed_image "$1" "bench/app$i" v1 "$work/seed/base.bin" "$work/seed/app$i.bin"
    images+=("$1/bench/app$i:v1")
  done
  total=$(cat "$work"/seed/*.bin | wc -c)
}

# An OpenSSH sshd on a free loopback port, as tests/it/support/sshd.rs starts one (own host
# key, root logs in with the keys in $2); needs root. name authorized_keys → prints its port
# and appends its known_hosts line to $work/known_hosts.
start_sshd() {
  local d="$work/$1" port; port=$(free_port)
  mkdir -p "$d" /run/sshd
  ssh-keygen -q -t ed25519 -N "" -C outrider-bench -f "$d/host_ed25519"
  printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nPermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n' \
    "$port" "$d/host_ed25519" "$d/sshd.pid" "$2" > "$d/sshd_config"
  /usr/sbin/sshd -D -e -f "$d/sshd_config" >"$d/log" 2>&1 &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >> "$work/known_hosts"
  echo "$port"
}
