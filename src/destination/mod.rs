//! The one rule for the name an image gets at the far side: the repository `unpack --push`
//! pushes to, the repository `serve` answers under, the mirror entries written for it, and
//! the clash check that keeps two images off one name. Every far-side path asks here, so a
//! name decided in one place cannot differ from the name checked in another.
//!
//! An image's *origin* is the registry and repository of its name (`docker.io` and
//! `library/nginx` for `docker.io/library/nginx:1.27`), whatever it was read from: a local
//! layout or archive named `reg.example/ci/alpine:3` has the origin `reg.example`. Where it
//! was read from (`oci:DIR`, `docker-archive:FILE`) is provenance only.
//!
//! Below this facade: `origin` (an image's registry and repository), `path_map`
//! (`--map` and the depth flattening), `naming` (the rule itself), `clash` (two images
//! on one name), each importing only the ones before it.

mod clash;
mod naming;
mod origin;
mod path_map;

pub use clash::{Clash, Named, check, clashes, reference, refusal};
pub use naming::{Naming, registry_component};
pub use origin::Origin;
pub use path_map::{NamingError, PathMap, flatten};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::index::ImageEntry;

    fn origin(registry: &str, repository: &str) -> Origin {
        Origin {
            registry: registry.into(),
            repository: repository.into(),
        }
    }

    #[test]
    fn maps_replace_the_longest_matching_prefix_under_the_prefix() {
        let naming = Naming::new(Some("site"), true).with_maps(vec![
            PathMap::parse("docker.io=hub").expect("map"),
            PathMap::parse("docker.io/library=lib").expect("map"),
        ]);
        assert_eq!(
            naming.repository_of(&origin("docker.io", "library/nginx")),
            "site/lib/nginx"
        );
        assert_eq!(
            naming.repository_of(&origin("docker.io", "org/app")),
            "site/hub/org/app"
        );
        // Not on a component boundary, and other registries: the usual rule.
        assert_eq!(
            naming.repository_of(&origin("docker.io", "libraryx/a")),
            "site/hub/libraryx/a"
        );
        assert_eq!(
            naming.repository_of(&origin("quay.io", "org/app")),
            "site/quay.io/org/app"
        );
        assert!(!naming.is_per_registry());
    }

    #[test]
    fn deep_paths_are_flattened_with_the_separator() {
        let naming = Naming::new(Some("mirror"), false)
            .with_max_depth(2, "-")
            .expect("depth");
        assert_eq!(
            naming.repository_of(&origin("ghcr.io", "a/b/c")),
            "mirror/a-b-c"
        );
        assert_eq!(naming.repository_of(&origin("ghcr.io", "a")), "mirror/a");
        assert_eq!(flatten("a/b/c/d", 3, "__"), "a/b/c__d");
        assert_eq!(flatten("a/b/c/d", 1, "-"), "a-b-c-d");
        assert_eq!(
            Naming::default().with_max_depth(0, "-"),
            Err(NamingError::Depth)
        );
        assert!(Naming::default().with_max_depth(2, "/").is_err());
    }

    #[test]
    fn bad_maps_are_named() {
        assert!(matches!(
            PathMap::parse("docker.io"),
            Err(NamingError::MapShape(_))
        ));
        let e = PathMap::parse("docker.io/library=Lib").expect_err("uppercase");
        assert!(e.to_string().contains("`Lib`"), "{e}");
        assert!(PathMap::parse("docker.io/library=").is_ok());
        assert!(PathMap::parse("=lib").is_err());
    }

    #[test]
    fn a_map_that_lands_two_images_on_one_name_is_a_clash() {
        let a = image("a.io/x/app:1", "a.io/x/app:1", "x/app", "1", 'a');
        let b = image("b.io/y/app:1", "b.io/y/app:1", "y/app", "1", 'b');
        let naming = Naming::default().with_maps(vec![
            PathMap::parse("a.io/x=apps").expect("map"),
            PathMap::parse("b.io/y=apps").expect("map"),
        ]);
        let refusal = check(&[a, b], &naming).expect_err("clash");
        assert!(
            refusal.contains("apps/app:1") && refusal.contains("--map a.io/x=apps"),
            "{refusal}"
        );
    }

    fn image(requested: &str, reference: &str, repo: &str, tag: &str, digest: char) -> ImageEntry {
        ImageEntry {
            requested: requested.into(),
            reference: reference.into(),
            source: "oci:/somewhere".into(),
            repository: repo.into(),
            tag: Some(tag.into()),
            digest: format!("sha256:{}", digest.to_string().repeat(64))
                .parse()
                .expect("digest"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platforms: vec![],
        }
    }

    #[test]
    fn names_come_from_the_reference_not_the_source() {
        let i = image(
            "oci:d:3 as reg.example/ci/alpine:3",
            "reg.example/ci/alpine:3",
            "ci/alpine",
            "3",
            'a',
        );
        assert_eq!(Origin::of(&i).registry, "reg.example");
        assert_eq!(Naming::new(None, false).repository(&i), "ci/alpine");
        assert_eq!(
            Naming::new(Some("/m/"), true).repository(&i),
            "m/reg.example/ci/alpine"
        );
        assert_eq!(
            Naming::new(None, true).repository(&i),
            "reg.example/ci/alpine"
        );
        assert_eq!(registry_component("[::1]:5000"), "1-5000");
        assert_eq!(registry_component("Reg.Example"), "reg.example");
        for r in ["[::1]:5000", "a-.example", "-x.com:80", "Reg.Example:443"] {
            let c = registry_component(r);
            assert!(crate::oci::reference::valid_repository(&c), "{r} → {c}");
        }
        let local = image("x", "localhost:5000/app:1", "app", "1", 'b');
        assert_eq!(
            Naming::new(None, true).repository(&local),
            "localhost_5000/app"
        );
    }

    #[test]
    fn two_registries_on_one_name_clash_unless_kept_apart() {
        let a = image("a", "docker.io/library/conf:1", "library/conf", "1", 'a');
        let b = image("b", "quay.io/library/conf:1", "library/conf", "1", 'b');
        let same = image("c", "quay.io/library/conf:1", "library/conf", "1", 'b');
        let flat = Naming::new(None, false);
        let kept = Naming::new(None, true);
        let named = |n| {
            move |(i, bundle)| Named {
                image: i,
                bundle,
                naming: n,
            }
        };
        let found = clashes([(&a, 0), (&b, 0)].into_iter().map(named(&flat)));
        assert_eq!(found.len(), 1);
        assert!(found[0].registries_differ);
        assert!(found[0].to_string().contains("--registry-path"));
        assert!(clashes([(&a, 0), (&b, 0)].into_iter().map(named(&kept))).is_empty());
        // The same image twice is no clash.
        assert!(clashes([(&b, 0), (&same, 0)].into_iter().map(named(&flat))).is_empty());
        // A later bundle moving a tag of the same origin is an update, not a clash...
        let newer = image("n", "quay.io/library/conf:1", "library/conf", "1", 'c');
        assert!(clashes([(&b, 0), (&newer, 1)].into_iter().map(named(&flat))).is_empty());
        // ...but within one bundle it is.
        assert_eq!(
            clashes([(&b, 0), (&newer, 0)].into_iter().map(named(&flat))).len(),
            1
        );
        // Across bundles, another registry on the same name still clashes.
        assert_eq!(
            clashes([(&a, 0), (&b, 1)].into_iter().map(named(&flat))).len(),
            1
        );
        // Two registries agreeing in bundle 0, then one of them updated: the update no
        // longer agrees with the other registry's image there.
        let a_same = image("a2", "docker.io/library/conf:1", "library/conf", "1", 'b');
        let a_new = image("a3", "docker.io/library/conf:1", "library/conf", "1", 'c');
        let found = clashes(
            [(&a_same, 0), (&b, 0), (&a_new, 1)]
                .into_iter()
                .map(named(&flat)),
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
