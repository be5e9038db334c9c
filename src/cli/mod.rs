//! Command-line types (clap derive) and nothing else: every command's arguments, with the
//! options several commands share defined once (`RegistryArgs`, `TrustArgs`) and every
//! option under a help heading (`heading.rs`). Value parsers check what users write
//! (`address.rs`, `units.rs`) so a bad value is a usage error naming the option.

mod about;
mod address;
mod connection;
mod deploy;
mod destination;
mod examples;
pub mod found;
mod heading;
pub mod keyless;
mod receipt;
mod report;
mod trust;
mod units;
mod usage;

pub use about::{CompletionsArgs, ManArgs, VersionArgs};
pub use address::{
    PushTarget, parse_advertise, parse_listen, parse_prefix, parse_push_target, parse_registry,
};
pub use connection::{AuthArgs, RegistryArgs};
pub use deploy::{DeployArgs, ValidateArgs};
pub use destination::{ClientConfigArgs, NameMapArgs};
pub use receipt::ReceiptArgs;
pub use report::{DiffArgs, LineageArgs, PackLineageArgs, ReportArgs, ReportFormat};
pub use trust::{CosignArgs, TrustArgs};
pub use usage::UsageError;

use clap::{Args, Parser, Subcommand};
use heading::{
    CLIENTS, GLOBAL, INPUT, LISTEN, NAMES, OPTIONS, OUTPUT, SELECTION, TO_DOCKER, TO_K3S,
    TO_REGISTRY, TO_TARGETS, TO_TARS, TRUST,
};
use std::path::PathBuf;

/// Carry container images into air-gapped networks: registry → one zip bundle → registry.
#[derive(Parser, Debug)]
#[command(name = "outrider", version, about, max_term_width = 100)]
pub struct Cli {
    /// More detail on stderr (-v debug, -vv trace; RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors on stderr; no progress.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read images from registries, OCI layouts and archives, docker save tars and
    /// docker-charon payloads into one bundle.
    #[command(after_help = examples::PACK)]
    Pack(PackArgs),
    /// What a pack would carry: bytes per image, already at the far side, to carry, and
    /// volumes; reads manifests only.
    #[command(after_help = examples::PLAN)]
    Plan(PlanArgs),
    /// The images charts and Kubernetes manifests name, each with where it was found, to
    /// review before `pack --with-images` (nothing is rendered).
    #[command(after_help = examples::IMAGES)]
    Images(ImagesArgs),
    /// Put a bundle's images somewhere: bundle → registry (--push).
    #[command(after_help = examples::UNPACK)]
    Unpack(UnpackArgs),
    /// List a bundle's images, platforms and sizes.
    Inspect(InspectArgs),
    /// Re-hash every blob of a bundle and check every manifest's references.
    Verify(VerifyArgs),
    /// Write a receipt of what a registry holds, for sites that lost theirs: registry → receipt.
    Receipt(ReceiptArgs),
    /// Check a config file: every error with its field path and line:column.
    Validate(ValidateArgs),
    /// The original one-phase deploy: the config's images → targets over SSH (pack to a
    /// temporary bundle, then what `unpack -c` does).
    #[command(after_help = examples::DEPLOY)]
    Deploy(DeployArgs),
    /// Serve bundles as a read-only registry, as they lie on disk: bundle → registry clients.
    #[command(after_help = examples::SERVE)]
    Serve(ServeArgs),
    /// What this binary is: version, commit, target, build date, bundle formats it reads.
    Version(VersionArgs),
    /// Print a shell completion script: `outrider completions bash > /etc/bash_completion.d/outrider`.
    Completions(CompletionsArgs),
    /// Write man pages for outrider and every command into a folder.
    Man(ManArgs),
    /// The approver's document: what crosses, with provenance, verdicts and lineage.
    Report(ReportArgs),
    /// What changed between two bundles: images new, changed, unchanged, dropped.
    Diff(DiffArgs),
}

/// `serve` arguments.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Bundles or volumes to serve (the other volumes of a set are found beside the one
    /// named). A later bundle's tags win over an earlier one's.
    #[arg(required = true, value_name = "BUNDLE", help_heading = OPTIONS)]
    pub bundles: Vec<PathBuf>,
    /// Address and port to listen on. Loopback by default: serving other hosts is a
    /// choice, e.g. `--listen 0.0.0.0:5000`. Port 0: any free port (the server says which).
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDRESS:PORT", value_parser = parse_listen, help_heading = LISTEN)]
    pub listen: std::net::SocketAddr,
    /// `host:port` clients reach this server at, for the configuration written and the
    /// certificate made (default: the listen address, or this host's name when listening
    /// on every address).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_advertise, help_heading = LISTEN)]
    pub advertise: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "CERT", conflicts_with = "tls_self_signed", help_heading = LISTEN)]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY", conflicts_with = "tls_self_signed", help_heading = LISTEN)]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate signed by a private CA kept in DIR (made on first
    /// use, reused after; clients trust `DIR/ca.pem`).
    #[arg(long, value_name = "DIR", help_heading = LISTEN)]
    pub tls_self_signed: Option<PathBuf>,
    /// Path prepended to every repository name, as `unpack --push --prefix` does.
    #[arg(long, value_name = "PATH", help_heading = NAMES)]
    pub prefix: Option<String>,
    /// Serve each image under its source registry as the first path component
    /// (`quay.io/library/conf`), as `unpack --registry-path` pushes it; a bundle packed
    /// with `--registry-path` is served so without it.
    #[arg(long, help_heading = NAMES)]
    pub registry_path: bool,
    /// `--map`, `--max-depth`: names mapped as `unpack --push` maps them.
    #[command(flatten)]
    pub names: NameMapArgs,
    /// Write (merge) a k3s `registries.yaml` mirroring every source registry of the
    /// bundles to this server.
    #[arg(long, value_name = "FILE", help_heading = CLIENTS)]
    pub write_k3s_registries: Option<PathBuf>,
    /// Write `DIR/<registry>/hosts.toml` for containerd (config_path, `ctr --hosts-dir`)
    /// mirroring every source registry of the bundles to this server.
    #[arg(long, value_name = "DIR", help_heading = CLIENTS)]
    pub write_containerd_hosts: Option<PathBuf>,
    /// `--write-client-config KIND=PATH`: more client configurations.
    #[command(flatten)]
    pub client_configs: ClientConfigArgs,
    /// Keys every bundle served must be signed by.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: TrustArgs,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
    /// Print every pullable name (`HOST:PORT/repository:tag`) and exit without serving.
    #[arg(long, help_heading = OPTIONS)]
    pub list: bool,
    /// Keyless signatures every image served must carry.
    #[command(flatten)]
    pub keyless: keyless::KeylessArgs,
}

/// `verify` arguments.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The bundle, or volumes of a set: each checked as given (one volume alone is fine).
    #[arg(required = true, num_args = 1.., help_heading = OPTIONS)]
    pub bundle: Vec<PathBuf>,
    /// For a volume set: find the other volumes beside the first and check the whole set;
    /// a missing volume is then a fault.
    #[arg(long, help_heading = OPTIONS)]
    pub set: bool,
    /// Print JSON on stdout.
    #[arg(long, help_heading = OPTIONS)]
    pub json: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: TrustArgs,
    /// Keys each image's cosign signature must verify with.
    #[command(flatten, next_help_heading = TRUST)]
    pub cosign: CosignArgs,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
    /// Keyless signatures each image must carry.
    #[command(flatten)]
    pub keyless: keyless::KeylessArgs,
}

/// `outrider images`: the charts and manifests to search.
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Charts: `chart:https://REPO/NAME[:VERSION]`, `chart:FILE.tgz`, `chart:DIR`, `oci://…`.
    #[arg(value_name = "CHART", help_heading = OPTIONS)]
    pub charts: Vec<String>,
    /// Manifests, values overrides.
    #[command(flatten)]
    pub search: found::SearchArgs,
    /// Print JSON (json-output.md).
    #[arg(long, help_heading = OPTIONS)]
    pub json: bool,
    /// Reaching the registries and chart repositories charts are read from.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// What to carry: images, platforms, what the far side has, how to reach registries.
/// Shared by `pack` and `plan`.
#[derive(Args, Debug)]
pub struct Selection {
    /// Images: `nginx:1.27`, `ghcr.io/org/app@sha256:…` (an index digest carries every
    /// platform), `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`,
    /// `docker-charon:PAYLOAD.zip[:REF]`; charts: `chart:https://REPO/NAME[:VERSION]`,
    /// `chart:FILE.tgz`, `chart:DIR`, `oci://…`; files: `file:PATH`,
    /// `https://URL#sha256=HEX`;
    /// `"SOURCE as REGISTRY/REPO:TAG"` names one.
    #[arg(help_heading = OPTIONS)]
    pub images: Vec<String>,
    /// File with one image per line (`#` comments and blank lines ignored); repeatable.
    #[arg(short = 'f', long = "images-file", value_name = "FILE", help_heading = INPUT)]
    pub images_file: Vec<PathBuf>,
    /// YAML config whose `images:` list is packed.
    #[arg(short = 'c', long, value_name = "FILE", help_heading = INPUT)]
    pub config: Option<PathBuf>,
    /// Images found in charts and manifests; files by URL.
    #[command(flatten)]
    pub found: found::FoundArgs,
    /// Platform to take from multi-platform images (os/arch[/variant]); repeatable.
    /// Default: linux/<this host's architecture>.
    #[arg(long = "platform", value_name = "OS/ARCH", conflicts_with = "all_platforms", help_heading = SELECTION)]
    pub platforms: Vec<String>,
    /// Take every platform, keeping indexes byte-exact.
    #[arg(long, help_heading = SELECTION)]
    pub all_platforms: bool,
    /// Carry images only: leave their signatures, attestations, SBOMs and other referrers
    /// behind (carried by default).
    #[arg(long, conflicts_with = "referrers_types", help_heading = SELECTION)]
    pub no_referrers: bool,
    /// Carry only referrers of this artifact type (`application/spdx+json`,
    /// `application/vnd.dev.cosign.simplesigning.v1+json` for cosign signatures); repeatable.
    #[arg(long = "referrers-type", value_name = "TYPE", help_heading = SELECTION)]
    pub referrers_types: Vec<String>,
    /// Skip what the far side holds, from a receipt (`unpack --receipt`, `outrider
    /// receipt`) or an earlier bundle; repeatable.
    #[arg(long, value_name = "RECEIPT.json|BUNDLE.zip", help_heading = SELECTION)]
    pub since: Vec<PathBuf>,
    /// An image the far side already has: its blobs and manifests are listed, not stored;
    /// repeatable.
    #[arg(long, value_name = "IMAGE", help_heading = SELECTION)]
    pub already_transferred: Vec<String>,
    /// A file of images the far side already has (same format as --images-file).
    #[arg(long, value_name = "FILE", help_heading = SELECTION)]
    pub already_transferred_file: Vec<PathBuf>,
    /// Keep each image's source registry as the first path component of its far-side name
    /// (`quay.io/library/conf:1` is pushed and served as `quay.io/library/conf:1` under the
    /// destination, not `library/conf:1`), so images of two registries with one
    /// `repo:tag` land apart. Recorded in the bundle: `unpack` and `serve` follow it.
    #[arg(long, help_heading = OUTPUT)]
    pub registry_path: bool,
    /// Split the bundle into stand-alone volumes of at most this size, zip headers included
    /// (`4GiB-1`, `700MiB`, `fat32`): `NAME.001.zip`, `NAME.002.zip`, …
    #[arg(long, value_name = "SIZE", value_parser = units::size_as_written, help_heading = OUTPUT)]
    pub volume_size: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long, help_heading = OPTIONS)]
    pub json: bool,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `pack` arguments.
#[derive(Args, Debug)]
pub struct PackArgs {
    /// What to carry.
    #[command(flatten)]
    pub select: Selection,
    /// The bundle to write.
    #[arg(short, long, value_name = "BUNDLE", help_heading = OUTPUT, display_order = 0)]
    pub output: PathBuf,
    /// Sign the bundle's index with this private key: ECDSA P-256 in PKCS#8 PEM (`openssl
    /// genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) or a cosign key (password
    /// from COSIGN_PASSWORD, or asked). The far side checks it with --trusted-key.
    #[arg(long, value_name = "KEY", help_heading = TRUST)]
    pub sign: Option<PathBuf>,
    /// Blobs of 1 MiB and more downloaded at once; smaller blobs go four times as many at
    /// once, as a round trip costs them more than their bytes.
    #[arg(short, long, value_name = "N", default_value_t = crate::copy::DEFAULT_JOBS, help_heading = OPTIONS)]
    pub jobs: usize,
    /// Start over, even when an interrupted pack of the same images left `-o`'s
    /// `.partial` file and journal (`<output>.journal`) to resume from.
    #[arg(long, help_heading = OPTIONS)]
    pub no_resume: bool,
    /// Write no `SHA256SUMS` beside the bundle and skip the read-back pass that sums each
    /// file (sizes are still printed).
    #[arg(long, help_heading = OUTPUT)]
    pub no_checksums: bool,
    /// Write even when the output's file system looks too small (or its per-file limit,
    /// FAT32's 4 GiB, too low) for the bundle: by default pack refuses before fetching.
    #[arg(long, help_heading = OPTIONS)]
    pub no_space_check: bool,
    /// Keyless signatures checked before the bundle is kept (--verify-signatures).
    #[command(flatten)]
    pub keyless: keyless::PackKeylessArgs,
    /// Lineage: --series, --sequence, --expires.
    #[command(flatten)]
    pub lineage: PackLineageArgs,
}

/// `plan` arguments.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// What would be carried.
    #[command(flatten)]
    pub select: Selection,
}

/// `unpack` arguments.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).multiple(true).args(["push", "docker_save", "k3s", "docker", "config", "files"]))]
pub struct UnpackArgs {
    /// The bundle to read; for a volume set, any volume (the others are found beside it)
    /// or all of them, in any order. With -c, the config's `bundle` when none is given.
    #[arg(num_args = 0.., help_heading = OPTIONS)]
    pub bundle: Vec<PathBuf>,
    /// Earlier bundles that hold this bundle's external blobs (for tars); repeatable.
    #[arg(long, value_name = "BUNDLE", help_heading = INPUT)]
    pub base: Vec<PathBuf>,
    /// A registry that holds this bundle's external blobs (for tars), read for what no
    /// bundle stores. Looked up in the repository the bundle names, else the image's own
    /// (under --prefix when given).
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_registry, help_heading = INPUT)]
    pub from_registry: Option<String>,
    /// Only these images (as the bundle names them, or as requested at pack time); repeatable.
    #[arg(long = "image", value_name = "REF", help_heading = SELECTION)]
    pub images: Vec<String>,
    /// Push every image into this registry: bundle → registry. `HOST[:PORT]`, optionally
    /// with a path that becomes the --prefix (`HOST:5000/mirror`); `https://`, `docker://`
    /// and `http://` (plain HTTP) prefixes are understood.
    // Parsed by `unpack` (`parse_push_target`), not by clap: clap would echo a mistyped
    // `user:pw@host` into the error.
    #[arg(long, value_name = "HOST[:PORT][/PATH]", help_heading = TO_REGISTRY)]
    pub push: Option<String>,
    /// Write docker-save tars (for docker/podman load, ctr import): bundle → docker-archive.
    /// One file (compressed by its extension: .tar, .tar.zst, .tar.gz), or a directory
    /// with --per-image.
    #[arg(long, value_name = "PATH", help_heading = TO_TARS)]
    pub docker_save: Option<PathBuf>,
    /// Write the plain files the bundle carries (`file:`, URLs) into this folder by
    /// their titles, each checked, never outside it.
    #[arg(long, value_name = "DIR", help_heading = heading::TO_FILES)]
    pub files: Option<PathBuf>,
    /// With --docker-save DIR: one tar per image.
    #[arg(long, requires = "docker_save", help_heading = TO_TARS)]
    pub per_image: bool,
    /// Compression of every tar written (--docker-save, --k3s, --docker, -c), overriding
    /// the file extension and k3s's zstd.
    #[arg(long, value_enum, help_heading = TO_TARS)]
    pub compress: Option<CompressArg>,
    /// The platform `manifest.json` names for multi-platform images in every tar written
    /// (--docker-save, --k3s, --docker, -c; docker load takes one). Default:
    /// linux/<this host's architecture>.
    #[arg(long, value_name = "OS/ARCH", help_heading = TO_TARS)]
    pub platform: Option<String>,
    /// Write a .tar.zst into k3s's airgap images directory, and import it now when k3s runs.
    #[arg(long, help_heading = TO_K3S)]
    pub k3s: bool,
    /// k3s's airgap images directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/rancher/k3s/agent/images", help_heading = TO_K3S)]
    pub k3s_images_dir: PathBuf,
    /// Command that runs containerd's `ctr` for the import (e.g. `ctr -a /run/containerd.sock`);
    /// default `k3s ctr` when k3s is running.
    #[arg(long, value_name = "COMMAND", help_heading = TO_K3S)]
    pub k3s_ctr: Option<String>,
    /// With --k3s and --push: the k3s registries file to write or merge (a backup of the
    /// old one is kept beside it), so the nodes pull through the registry pushed to.
    #[arg(long, value_name = "FILE", default_value = "/etc/rancher/k3s/registries.yaml", help_heading = TO_K3S)]
    pub k3s_registries: PathBuf,
    /// Load the images into the local Docker engine (DOCKER_HOST respected).
    #[arg(long, help_heading = TO_DOCKER)]
    pub docker: bool,
    /// The docker client to run for --docker.
    #[arg(long, value_name = "COMMAND", default_value = "docker", help_heading = TO_DOCKER)]
    pub docker_cmd: String,
    /// Deploy to the targets of this config over SSH: docker-archive → targets, then its
    /// `post_instructions` plugin on each.
    #[arg(short = 'c', long, value_name = "FILE", help_heading = TO_TARGETS)]
    pub config: Option<PathBuf>,
    /// Touch nothing: with -c, print the plan per target; with --push, list per image
    /// what the registry lacks (HEAD requests), and whether it may write
    /// there (one upload session per repository, opened and cancelled at once).
    #[arg(long, help_heading = OPTIONS)]
    pub dry_run: bool,
    /// With -c: targets worked on at once (default: the config's `parallel`, else 4).
    #[arg(long, value_name = "N", requires = "config", help_heading = TO_TARGETS)]
    pub parallel: Option<usize>,
    /// With -c: skip the checks made on every target before anything is read (host key,
    /// login, room, the plugin's command; any failing one stops the run), so each target
    /// fails on its own during the deploy and the others go on.
    #[arg(long, requires = "config", help_heading = TO_TARGETS)]
    pub no_target_checks: bool,
    /// Write the tars (--docker-save, --k3s, -c) even when their file system looks too
    /// small for them: by default unpack refuses before writing.
    #[arg(long, help_heading = OPTIONS)]
    pub no_space_check: bool,
    /// Path prepended to every destination repository (--push): lowercase components
    /// joined by `/`, e.g. `mirror` or `team/mirror`.
    #[arg(long, value_name = "PATH", value_parser = parse_prefix, help_heading = TO_REGISTRY)]
    pub prefix: Option<String>,
    /// Keep each image's source registry as the first path component of its destination
    /// repository (`quay.io/library/conf` → `PREFIX/quay.io/library/conf`), so images of
    /// two registries with one `repo:tag` land apart. A bundle packed with
    /// `--registry-path` is pushed so without it.
    #[arg(long, help_heading = TO_REGISTRY)]
    pub registry_path: bool,
    /// `--map`, `--max-depth`: destination names mapped further (boxed: `Command`'s
    /// variants stay near one size).
    #[command(flatten)]
    pub names: Box<NameMapArgs>,
    /// What to do with a tag the registry already has for another image: `overwrite`
    /// (move it), `keep` (leave it, and say so), `fail` (report the image failed). A tag
    /// already naming the same image is never written again ("identical").
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = crate::copy::to_registry::ExistingTags::Overwrite, help_heading = TO_REGISTRY)]
    pub existing_tags: crate::copy::to_registry::ExistingTags,
    /// Create each missing namespace first where the registry documents an API for it
    /// (Harbor projects: `POST /api/v2.0/projects`, private, with the push credentials).
    #[arg(long, requires = "push", help_heading = TO_REGISTRY)]
    pub create_repositories: bool,
    /// `--write-client-config KIND=PATH` (with --push): configurations for the nodes.
    #[command(flatten)]
    pub client_configs: Box<ClientConfigArgs>,
    /// Write (or merge into) this receipt of what the registry now holds, for the next
    /// `pack --since`.
    #[arg(long, value_name = "FILE", requires = "push", help_heading = TO_REGISTRY)]
    pub receipt: Option<PathBuf>,
    /// Fail before writing anything if any image would be skipped: a blob the bundle
    /// expects at the destination (external) is missing there, or, with --cosign-key, an
    /// image has no valid signature. Default: go on with the others, and exit 1.
    #[arg(long, help_heading = OPTIONS)]
    pub strict: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: TrustArgs,
    /// Keys each image's cosign signature must verify with before it is pushed, loaded
    /// or written.
    #[command(flatten, next_help_heading = TRUST)]
    pub cosign: CosignArgs,
    /// Keyless signatures each image must carry before it is pushed, loaded or written.
    #[command(flatten)]
    pub keyless: keyless::KeylessArgs,
    /// Blobs pushed at once.
    #[arg(short, long, value_name = "N", default_value_t = crate::copy::DEFAULT_JOBS, help_heading = OPTIONS)]
    pub jobs: usize,
    /// Blobs larger than this are uploaded in chunks (`1GiB`, `500MB`, or bytes).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = units::size, help_heading = TO_REGISTRY)]
    pub chunk_threshold: u64,
    /// Chunk size for chunked uploads (`8MiB`, `10MB`, or bytes).
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = units::size, help_heading = TO_REGISTRY)]
    pub chunk_size: u64,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
    /// Print the result as JSON on stdout.
    #[arg(long, help_heading = OPTIONS)]
    pub json: bool,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `inspect` / `verify` arguments.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The bundle to read.
    #[arg(help_heading = OPTIONS)]
    pub bundle: PathBuf,
    /// Print JSON on stdout.
    #[arg(long, help_heading = OPTIONS)]
    pub json: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: TrustArgs,
    /// Write each SBOM and attestation into DIR as the file a scanner reads.
    #[arg(long, value_name = "DIR")]
    pub extract_artifacts: Option<PathBuf>,
    /// Only images of this repository or reference (`library/nginx`, `nginx:1.27`); repeatable.
    #[arg(long = "image", value_name = "REPO")]
    pub images: Vec<String>,
}

/// `--compress`: the tars' compression as users name it (turned into the sinks' own
/// value in `commands/`, so no clap type reaches them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressArg {
    /// Plain tar.
    None,
    /// zstd (window ≤ 32 MiB, which k3s's decoder requires).
    Zstd,
    /// gzip.
    Gzip,
}
