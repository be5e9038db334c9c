#!/usr/bin/env bash
# Benchmark (not a test): times outrider against its peers on the same bytes, in one run.
#   bench/run.sh            ~1 GB in 8 repositories sharing a base layer
#   BIG=1 bench/run.sh      also packs one image with a 5 GiB layer (RSS must stay flat)
# Prints wall time, MB/s, peak RSS and the ratio to the disk limit (`cat` of the same blob
# bytes into one file, synced). Needs root or sudo to install missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
for pair in docker-registry:docker-registry skopeo:skopeo curl:curl /usr/bin/time:time python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
fi
cargo build --release --locked -q
bin=$root/target/release/outrider
venv=$root/bench/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q docker-charon || echo "docker-charon unavailable; its rows will be skipped" >&2
fi

work=${BENCH_DIR:-$(mktemp -d /var/tmp/outrider-bench.XXXX)}
# Registries are started inside $(…) subshells, so their pids go to a file, not a variable.
cleanup() { [ -f "$work/pids" ] && xargs -r kill < "$work/pids" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # name → prints host
  local name=$1 port; port=$(free_port)
  mkdir -p "$work/$name"
  printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work/$name/data" "$port" > "$work/$name/config.yml"
  docker-registry serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  echo "127.0.0.1:$port"
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
measure() { # label bytes command... → appends "label wall rss bytes"
  local label=$1 bytes=$2; shift 2
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out.log" 2>&1 || { echo "$label failed:"; tail -5 "$work/out.log"; return 0; }
  read -r wall rss < "$work/time"
  results+=("$label|$wall|$rss|$bytes")
  echo "  $label: ${wall}s, peak RSS $((rss / 1024)) MB" >&2
}

echo "seeding ~1 GB into 8 repositories (shared 200 MB base) ..." >&2
mkdir -p "$work/seed"
src=$(start_registry src)
make_layer base 200
images=()
for i in $(seq 1 8); do
  make_layer "app$i" 100
  seed_image "$src" "bench/app$i" v1 "$work/seed/base.bin" "$work/seed/app$i.bin"
  images+=("$src/bench/app$i:v1")
done
total=$(cat "$work"/seed/*.bin | wc -c)

# The disk limit swings with writeback from the run before, so cat and pack alternate
# three times each and the table reports the median of each.
for round in 1 2 3; do
  rm -f "$work/cat.out" "$work/bundle.zip"
  measure "cat (disk limit)" "$total" sh -c "cat '$work'/seed/*.bin > '$work/cat.out' && sync '$work/cat.out'"
  measure "outrider pack" "$total" "$bin" -q pack --platform linux/amd64 -o "$work/bundle.zip" "${images[@]}"
done
rm -f "$work/cat.out"
# The same pack into 150 MiB volumes: the 200 MiB base layer is cut into parts.
for round in 1 2 3; do
  rm -f "$work"/vol.*.zip
  measure "outrider pack --volume-size 150MiB" "$total" "$bin" -q pack --platform linux/amd64 --volume-size 150MiB -o "$work/vol.zip" "${images[@]}"
done
volumes="volumes: $(ls "$work"/vol.*.zip | wc -l) files, largest $(stat -c %s "$work"/vol.*.zip | sort -n | tail -1) bytes"
rm -f "$work"/vol.*.zip
measure "outrider unpack --docker-save (one tar)" "$total" "$bin" -q unpack "$work/bundle.zip" --docker-save "$work/save.tar" --platform linux/amd64
rm -f "$work/save.tar"
per_image=$(( $(size "$work/seed/base.bin") * 8 + $(cat "$work"/seed/app?.bin | wc -c) ))
measure "outrider unpack --docker-save --per-image (8 tars)" "$per_image" "$bin" -q unpack "$work/bundle.zip" --docker-save "$work/save" --per-image --platform linux/amd64
rm -rf "$work/save"
measure "skopeo copy → docker-archive (8 tars)" "$per_image" sh -c "for i in \$(seq 1 8); do skopeo copy -q --src-tls-verify=false docker://$src/bench/app\$i:v1 docker-archive:$work/sk\$i.tar:bench/app\$i:v1 || exit 1; done"
rm -f "$work"/sk*.tar
dst=$(start_registry dst)
measure "outrider unpack --push" "$total" "$bin" -q unpack "$work/bundle.zip" --push "$dst"
dst2=$(start_registry dst2)
sync_args=()
for i in $(seq 1 8); do sync_args+=("$src/bench/app$i"); done
measure "skopeo sync registry→dir" "$total" sh -c "for r in ${sync_args[*]}; do skopeo sync --src docker --dest dir --src-tls-verify=false \$r '$work/skopeo'; done"
measure "skopeo sync dir→registry" "$total" skopeo sync --src dir --dest docker --dest-tls-verify=false "$work/skopeo" "$dst2/bench"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import docker_charon' 2>/dev/null; then
  names=$(printf '"bench/app%s:v1",' $(seq 1 8))
  measure "docker-charon make_payload" "$total" "$venv/bin/python" -c "import docker_charon; docker_charon.make_payload('$work/charon.zip', [${names%,}], registry='$src', secure=False)"
  dst3=$(start_registry dst3)
  measure "docker-charon push_payload" "$total" "$venv/bin/python" -c "import docker_charon; docker_charon.push_payload('$work/charon.zip', registry='$dst3', secure=False)"
fi

echo "update bundle: week 2 adds one image (new 100 MiB layer on the shared base) ..." >&2
make_layer app9 100
seed_image "$src" bench/app9 v1 "$work/seed/base.bin" "$work/seed/app9.bin"
week2=("${images[@]}" "$src/bench/app9:v1")
measure "outrider pack week 2 --since week 1" "$(size "$work/seed/app9.bin")" "$bin" -q pack --platform linux/amd64 --since "$work/bundle.zip" -o "$work/week2.zip" "${week2[@]}"
measure "outrider pack week 2 in full" "$(cat "$work"/seed/*.bin | wc -c)" "$bin" -q pack --platform linux/amd64 -o "$work/full2.zip" "${week2[@]}"
"$bin" -q unpack "$work/full2.zip" --docker-save "$work/save2.tar"
sizes="update bundle sizes: week 2 since week 1 $(size "$work/week2.zip") bytes; full week 2 bundle $(size "$work/full2.zip") bytes; docker-save tar of week 2 $(size "$work/save2.tar") bytes"
rm -f "$work/week2.zip" "$work/full2.zip" "$work/save2.tar" "$work/seed/app9.bin"

if [ "${BIG:-0}" = 1 ]; then
  echo "seeding one image with a 5 GiB layer ..." >&2
  rm -f "$work/cat.out" "$work/seed/app"*.bin; rm -rf "$work/skopeo" "$work/charon.zip"
  head -c $((5 << 30)) /dev/urandom > "$work/seed/big.bin"
  echo "sha256:$(sha256sum "$work/seed/big.bin" | cut -d' ' -f1)" > "$work/seed/big.diff"
  seed_image "$src" bench/big v1 "$work/seed/big.bin"
  measure "cat 5 GiB (disk limit)" $((5 << 30)) sh -c "cat '$work/seed/big.bin' > '$work/cat.out' && sync '$work/cat.out'"
  rm -f "$work/cat.out"
  measure "outrider pack 5 GiB layer" $((5 << 30)) "$bin" -q pack -o "$work/big.zip" "$src/bench/big:v1"
  measure "outrider verify 5 GiB bundle" $((5 << 30)) "$bin" -q verify "$work/big.zip"
fi

# One row per label (median wall of its runs, max RSS); ratios against the cat row before it.
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin.read().split("\n"):
    if not line: continue
    label, wall, rss, size = line.split("|")
    r = rows.setdefault(label, {"walls": [], "rss": 0, "size": int(size)})
    r["walls"].append(float(wall)); r["rss"] = max(r["rss"], int(rss))
print("\n| run | runs | wall s (median) | MB/s | peak RSS MB | × cat time |\n|---|---:|---:|---:|---:|---:|")
limit = None
for label, r in rows.items():
    wall = statistics.median(r["walls"])
    if label.startswith("cat"): limit = wall
    ratio = f"{wall / limit:.2f}" if limit else "-"
    runs, size, rss = len(r["walls"]), r["size"], r["rss"]
    print(f"| {label} | {runs} | {wall:.2f} | {size / wall / 1e6:.0f} | {rss / 1024:.0f} | {ratio} |")
'
echo
echo "$sizes"
echo "$volumes"
