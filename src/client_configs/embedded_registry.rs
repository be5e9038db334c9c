//! k3s's and RKE2's embedded registry mirror (Spegel): with `embedded-registry: true` on
//! the servers, every node shares the images its containerd holds with the others for the
//! registries `registries.yaml` lists under `mirrors`. One node seeded from the bundle
//! (`unpack --k3s`) then serves the rest of the cluster with no registry at all. The
//! registries are listed by the k3s `registries.yaml` writer; this is the server setting that
//! turns the sharing on, written as a `config.yaml.d` drop-in so the node's own
//! `config.yaml` stays untouched.

/// The drop-in (`/etc/rancher/k3s/config.yaml.d/outrider.yaml`, or under `rke2`).
pub const K3S_EMBEDDED_REGISTRY: &str = "# Written by outrider: share images between nodes (Spegel) for the registries in registries.yaml.\nembedded-registry: true\n";
