//! The examples each command's `--help` ends with: the common runs, one line each.

/// `pack --help`.
pub const PACK: &str = "Examples:
  outrider pack nginx:1.27 ghcr.io/org/app:2.3 -o site.bundle.zip
  outrider pack -f images.txt --platform linux/arm64 -o site.bundle.zip
  outrider pack -f images.txt --since site.receipt.json -o week2.zip     (only what is new)
  outrider pack -c config.yaml --volume-size fat32 -o site.bundle.zip   (FAT32 volumes)
  outrider pack oci:./layout:1.0 -o hello.zip                           (an OCI layout)
  outrider pack 'docker-archive:app.tar as reg.site/team/app:2' -o app.zip (a docker save tar)
  outrider pack docker-charon:payload.zip:ubuntu:22.04 -o u.zip         (from a docker-charon payload)";

/// `unpack --help`.
pub const UNPACK: &str = "Examples:
  outrider unpack site.bundle.zip --push localhost:5000 --prefix mirror
  outrider unpack site.bundle.zip --docker-save images.tar.zst
  outrider unpack site.bundle.zip --docker-save out/ --per-image
  outrider unpack site.bundle.zip --k3s                      (k3s airgap images directory)
  outrider unpack week2.zip --docker-save all.tar --base week1.zip
  outrider unpack site.bundle.zip -c config.yaml --dry-run   (deploy over SSH: the plan)";

/// `plan --help`.
pub const PLAN: &str = "Examples:
  outrider plan -f images.txt
  outrider plan -f images.txt --since site.receipt.json --volume-size fat32";

/// `deploy --help`.
pub const DEPLOY: &str = "Examples:
  outrider validate -c config.yaml
  outrider deploy -c config.yaml --dry-run
  outrider deploy -c config.yaml --parallel 8";

/// `serve --help`.
pub const SERVE: &str = "Examples:
  outrider serve site.bundle.zip
  outrider serve base.zip update.zip --listen 0.0.0.0:5000 --tls-self-signed /etc/outrider/tls
  outrider serve site.bundle.zip --write-k3s-registries /etc/rancher/k3s/registries.yaml
  outrider serve site.001.zip --write-containerd-hosts /etc/containerd/certs.d";
