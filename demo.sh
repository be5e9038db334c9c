#!/usr/bin/env bash
# The main job end to end on one machine, no network needed: pack the fixture OCI layout
# into a bundle, inspect and verify it, then unpack it into a throwaway local registry
# (started here on a free loopback port, removed at exit) and read the image back.
#   ./demo.sh                      builds target/release/outrider and runs it
#   OUTRIDER=path/to/outrider ./demo.sh   runs that binary instead (CI: the portable one)
set -euo pipefail
cd "$(dirname "$0")"
# What the demo runs besides outrider (command → Debian package), installed with apt-get
# when missing, as run-tests.sh does; where that cannot be done, the demo says what is
# missing and stops.
declare -A needs=(
  [docker-registry]=docker-registry   # the throwaway registry unpack pushes into
  [skopeo]=skopeo                     # reads the image back, independently of outrider
  [python3]=python3                   # finds a free loopback port
)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null 2>&1 || { [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "demo.sh needs ${missing[*]} (Debian/Ubuntu package names) and cannot install them here" \
      "(it uses apt-get, as root or through sudo); install them and run it again" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ -n "${OUTRIDER:-}" ]; then
  bin=$OUTRIDER
else
  if ! command -v cargo >/dev/null 2>&1; then
    echo "demo.sh builds outrider with cargo (Rust 1.89+), which is not on PATH; install Rust" \
      "(https://rustup.rs), or run a built binary: OUTRIDER=path/to/outrider ./demo.sh" >&2
    exit 1
  fi
  cargo build --release --locked
  bin=target/release/outrider
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

set -x
$bin pack oci:fixtures/hello-oci:1.0 -o "$work/hello.bundle.zip"
$bin inspect "$work/hello.bundle.zip"
$bin verify "$work/hello.bundle.zip"
$bin unpack "$work/hello.bundle.zip" --push "127.0.0.1:$port"
skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/outrider/hello:1.0"
