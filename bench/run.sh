#!/usr/bin/env bash
# Benchmark (not a test): times outrider against its peers on the same bytes, in one run.
#   bench/run.sh            ~1 GB in 8 repositories sharing a base layer
#   BIG=1 bench/run.sh      also packs one image with a 5 GiB layer (RSS must stay flat)
# Prints wall time, MB/s, peak RSS and the ratio to the disk limit (`cat` of the same blob
# bytes into one file, synced). Needs root or sudo to install missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

source "$root/bench/lib.sh"
bench_setup
venv=$root/bench/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q docker-charon || echo "docker-charon unavailable; its rows will be skipped" >&2
fi

src=$(start_registry src)
seed_set "$src"

# The disk limit swings with writeback from the run before, so cat and pack alternate
# three times each and the table reports the median of each.
for round in 1 2 3; do
  rm -f "$work/cat.out" "$work/bundle.zip"
  measure "cat (disk limit)" "$total" sh -c "cat '$work'/seed/*.bin > '$work/cat.out' && sync '$work/cat.out'"
  measure "outrider pack" "$total" "$bin" -q pack --platform linux/amd64 -o "$work/bundle.zip" "${images[@]}"
done
rm -f "$work/cat.out"
# Resume: a pack killed with SIGKILL once half its bytes are on disk, then run again. The
# figure is the blob bytes the registry sent the rerun, over the bytes the bundle carries.
"$bin" -q pack --platform linux/amd64 -o "$work/resume.zip" "${images[@]}" & pid=$!
until [ "$(du -B1 "$work/resume.zip.partial" 2>/dev/null | cut -f1)" -ge $((total / 2)) ] 2>/dev/null; do sleep 0.02; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
on_disk=$(du -B1 "$work/resume.zip.partial" | cut -f1)
before=$(registry_blob_bytes src)
measure "outrider pack, rerun after kill -9 at half" "$total" "$bin" -q pack --platform linux/amd64 -o "$work/resume.zip" "${images[@]}"
refetched=$(( $(registry_blob_bytes src) - before ))
cmp -s "$work/resume.zip" "$work/bundle.zip" && same="byte-identical to the uninterrupted pack" || same="DIFFERS from the uninterrupted pack"
resume="resume: killed with $on_disk bytes on disk; the rerun fetched $refetched of $total bytes ($(python3 -c "print(f'{$refetched / $total:.2f}')") of the total); $same"
rm -f "$work/resume.zip"
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

table "cat" "× cat time"
echo
echo "$sizes"
echo "$volumes"
echo "$resume"
