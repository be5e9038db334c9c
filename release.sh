#!/usr/bin/env bash
# Builds release archives into dist/ for the hosts air gaps run on:
#   ./release.sh                                   both default targets
#   ./release.sh x86_64-unknown-linux-gnu          only that one
# Each target is built against glibc 2.17 with cargo-zigbuild (zig as the linker, from the
# `ziglang` Python package), so the binary starts on RHEL/CentOS 7 and 8, Ubuntu 18.04+ and
# Debian 9+; musl would be fully static, but glibc keeps the system allocator's speed and
# needs nothing the targets lack. Output: dist/outrider-<version>-<target>.tar.gz (binary,
# README.md, bundle-format.md, config.example.yaml, LICENSE, completions/, man/) and
# dist/SHA256SUMS. Installs what it needs when missing. Checks: no binary needs a glibc
# symbol newer than 2.17, and the x86_64 binary runs `--version`.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
glibc=2.17
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

# Tools: zig (the linker), cargo-zigbuild, the Rust targets, readelf (binutils).
python3 -m ziglang version >/dev/null 2>&1 || python3 -m pip install --quiet ziglang
command -v cargo-zigbuild >/dev/null 2>&1 || cargo install --locked cargo-zigbuild
command -v readelf >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends binutils
}
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# Release builds are reproducible: the build date is the commit's.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

# Newest GLIBC_x.y symbol version a binary needs (readelf reads any architecture's ELF).
glibc_needed() {
  readelf -W --dyn-syms "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1
}

mkdir -p dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
host_bin=""
for t in "${targets[@]}"; do
  echo "building $t (glibc $glibc)" >&2
  cargo zigbuild --release --locked --target "$t.$glibc"
  bin=target/$t/release/outrider
  need=$(glibc_needed "$bin")
  if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
    echo "error: $bin needs GLIBC_$need, newer than $glibc" >&2
    exit 1
  fi
  echo "$t: needs GLIBC_${need:-none} (limit $glibc)" >&2
  if [ "$t" = "$(rustc -vV | sed -n 's/^host: //p')" ]; then
    "$bin" --version
    host_bin=$root/$bin
  fi
done
# Completions and man pages come from the CLI definitions; any build of this version
# writes the same ones, so the host's binary (or a plain host build) writes them once.
if [ -z "$host_bin" ]; then
  cargo build --release --locked -q
  host_bin=$root/target/release/outrider
fi
mkdir -p "$stage/extras/completions" "$stage/extras/man"
"$host_bin" -q man --dir "$stage/extras/man"
"$host_bin" completions bash > "$stage/extras/completions/outrider.bash"
"$host_bin" completions zsh > "$stage/extras/completions/_outrider"
"$host_bin" completions fish > "$stage/extras/completions/outrider.fish"
"$host_bin" completions powershell > "$stage/extras/completions/_outrider.ps1"

for t in "${targets[@]}"; do
  name=outrider-$version-$t
  dir=$stage/$name
  mkdir -p "$dir"
  cp "target/$t/release/outrider" README.md bundle-format.md config.example.yaml LICENSE "$dir/"
  cp -r "$stage/extras/completions" "$stage/extras/man" "$dir/"
  # Deterministic archives: sorted names, fixed owner and time.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -cf - "$name" | gzip -n > "dist/$name.tar.gz"
  echo "wrote dist/$name.tar.gz" >&2
done
(cd dist && sha256sum outrider-*.tar.gz > SHA256SUMS && cat SHA256SUMS)
