#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the integration tests start or call
# (when any is missing), then runs cargo test. Safe to run again; needs root or sudo only
# when something must be installed.
set -euo pipefail
cd "$(dirname "$0")"
# dockerd, containerd and runc live in sbin directories that a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# command → Debian package
declare -A needs=(
  [docker-registry]=docker-registry   # the CNCF distribution registry the tests start
  [skopeo]=skopeo                     # independent client that checks what we pushed
  [htpasswd]=apache2-utils            # basic-auth registry
  [openssl]=openssl                   # test CA, TLS certificates, token signing
  [curl]=curl                         # seeds test images independently of outrider
  [unzip]=unzip                       # checks bundles with the stock zip tool
  [containerd]=containerd             # ctr images import: must keep manifest digests
  [dockerd]=docker.io                 # docker load into an engine the tests start
  [runc]=runc                         # the runtime containerd and dockerd expect
  [podman]=podman                     # podman load
  [sshd]=openssh-server               # the deploy tests' SSH targets
  [ssh-keygen]=openssh-client         # their host and client keys
  [sudo]=sudo                         # the docker plugin's sudo password path
  [chromium]=chromium                 # renders the HTML report to PNG and PDF
)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# docker-charon (PyPI): makes the payloads that `unpack` must read as sites hold them.
if ! command -v docker-charon >/dev/null 2>&1; then
  echo "installing: docker-charon (pip)" >&2
  python3 -m pip install --quiet docker-charon==0.4.3
  hash -r
fi

exec cargo test --locked "$@"
