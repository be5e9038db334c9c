//! The kinds of client configuration outrider writes, as `--write-client-config KIND=PATH`
//! names them.

/// One client configuration format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// containers-registries.conf(5) drop-in (podman, CRI-O, skopeo).
    RegistriesConf,
    /// containers-policy.json(5), merged into an existing one.
    Policy,
    /// containers-registries.d(5): `use-sigstore-attachments`.
    RegistriesD,
    /// containerd `DIR/<registry>/hosts.toml`.
    ContainerdHosts,
    /// k3s/RKE2 `registries.yaml`, merged.
    K3sRegistries,
    /// k3s/RKE2 embedded registry (Spegel) config drop-in.
    K3sEmbeddedRegistry,
    /// OpenShift `ImageDigestMirrorSet`.
    OpenshiftIdms,
    /// OpenShift `ImageTagMirrorSet`.
    OpenshiftItms,
    /// Talos machine-config patch.
    Talos,
}

/// Every kind, in the order their names are listed.
pub const KINDS: [Kind; 9] = [
    Kind::RegistriesConf,
    Kind::Policy,
    Kind::RegistriesD,
    Kind::ContainerdHosts,
    Kind::K3sRegistries,
    Kind::K3sEmbeddedRegistry,
    Kind::OpenshiftIdms,
    Kind::OpenshiftItms,
    Kind::Talos,
];

impl Kind {
    /// The name `--write-client-config` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RegistriesConf => "registries-conf",
            Kind::Policy => "policy",
            Kind::RegistriesD => "registries-d",
            Kind::ContainerdHosts => "containerd-hosts",
            Kind::K3sRegistries => "k3s-registries",
            Kind::K3sEmbeddedRegistry => "k3s-embedded-registry",
            Kind::OpenshiftIdms => "openshift-idms",
            Kind::OpenshiftItms => "openshift-itms",
            Kind::Talos => "talos",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Kind, String> {
        KINDS.into_iter().find(|k| k.name() == text).ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
            format!(
                "`{text}` is not a client configuration kind: {}",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_by_its_name_and_others_are_listed() {
        for kind in KINDS {
            assert_eq!(kind.name().parse::<Kind>(), Ok(kind));
        }
        let e = "hosts".parse::<Kind>().expect_err("unknown");
        assert!(e.contains("containerd-hosts") && e.contains("talos"), "{e}");
    }
}
