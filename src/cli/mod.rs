//! Command-line types (clap derive) and nothing else.

mod registry;
mod report;
mod trust;

pub use registry::{
    PushTarget, RegistryArgs, parse_advertise, parse_listen, parse_prefix, parse_push_target,
    parse_registry,
};
pub use report::{DiffArgs, LineageArgs, PackLineageArgs, ReportArgs, ReportFormat};
pub use trust::{CosignArgs, TrustArgs};

use clap::{Args, Parser, Subcommand};
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

/// The heading the global options stand under in every command's help, apart from the
/// command's own options.
const GLOBAL: &str = "Global options";

const PACK_EXAMPLES: &str = "Examples:
  outrider pack nginx:1.27 ghcr.io/org/app:2.3 -o site.bundle.zip
  outrider pack -f images.txt --platform linux/arm64 -o site.bundle.zip
  outrider pack -f images.txt --since site.receipt.json -o week2.zip     (only what is new)
  outrider pack -c config.yaml --volume-size fat32 -o site.bundle.zip   (FAT32 volumes)
  outrider pack oci:./layout:1.0 -o hello.zip                           (an OCI layout)
  outrider pack 'docker-archive:app.tar as reg.site/team/app:2' -o app.zip (a docker save tar)";

const UNPACK_EXAMPLES: &str = "Examples:
  outrider unpack site.bundle.zip --push localhost:5000 --prefix mirror
  outrider unpack site.bundle.zip --docker-save images.tar.zst
  outrider unpack site.bundle.zip --docker-save out/ --per-image
  outrider unpack site.bundle.zip --k3s                      (k3s airgap images directory)
  outrider unpack week2.zip --docker-save all.tar --base week1.zip
  outrider unpack site.bundle.zip -c config.yaml --dry-run   (deploy over SSH: the plan)";

const PLAN_EXAMPLES: &str = "Examples:
  outrider plan -f images.txt
  outrider plan -f images.txt --since site.receipt.json --volume-size fat32";

const DEPLOY_EXAMPLES: &str = "Examples:
  outrider validate -c config.yaml
  outrider deploy -c config.yaml --dry-run
  outrider deploy -c config.yaml --parallel 8";

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read images from registries, OCI layouts and archives, docker save tars into one bundle.
    #[command(after_help = PACK_EXAMPLES)]
    Pack(PackArgs),
    /// What a pack would carry: bytes per image, already at the far side, to carry, and
    /// volumes; reads manifests only.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Put a bundle's images somewhere: bundle → registry (--push).
    #[command(after_help = UNPACK_EXAMPLES)]
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
    #[command(after_help = DEPLOY_EXAMPLES)]
    Deploy(DeployArgs),
    /// Serve bundles as a read-only registry, as they lie on disk: bundle → registry clients.
    #[command(after_help = SERVE_EXAMPLES)]
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

const SERVE_EXAMPLES: &str = "Examples:
  outrider serve site.bundle.zip
  outrider serve base.zip update.zip --listen 0.0.0.0:5000 --tls-self-signed /etc/outrider/tls
  outrider serve site.bundle.zip --write-k3s-registries /etc/rancher/k3s/registries.yaml
  outrider serve site.001.zip --write-containerd-hosts /etc/containerd/certs.d";

/// `serve` arguments.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Bundles or volumes to serve (the other volumes of a set are found beside the one
    /// named). A later bundle's tags win over an earlier one's.
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Address and port to listen on. Loopback by default: serving other hosts is a
    /// choice, e.g. `--listen 0.0.0.0:5000`. Port 0: any free port (the server says which).
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDRESS:PORT", value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,
    /// `host:port` clients reach this server at, for the configuration written and the
    /// certificate made (default: the listen address, or this host's name when listening
    /// on every address).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_advertise)]
    pub advertise: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "CERT", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY", conflicts_with = "tls_self_signed")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate signed by a private CA kept in DIR (made on first
    /// use, reused after; clients trust `DIR/ca.pem`).
    #[arg(long, value_name = "DIR")]
    pub tls_self_signed: Option<PathBuf>,
    /// Path prepended to every repository name, as `unpack --push --prefix` does.
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// Serve each image under its source registry as the first path component
    /// (`quay.io/library/conf`), as `unpack --registry-path` pushes it; a bundle packed
    /// with `--registry-path` is served so without it.
    #[arg(long)]
    pub registry_path: bool,
    /// Write (merge) a k3s `registries.yaml` mirroring every source registry of the
    /// bundles to this server.
    #[arg(long, value_name = "FILE")]
    pub write_k3s_registries: Option<PathBuf>,
    /// Write `DIR/<registry>/hosts.toml` for containerd (config_path, `ctr --hosts-dir`)
    /// mirroring every source registry of the bundles to this server.
    #[arg(long, value_name = "DIR")]
    pub write_containerd_hosts: Option<PathBuf>,
    /// Keys every bundle served must be signed by.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
    /// Print every pullable name (`HOST:PORT/repository:tag`) and exit without serving.
    #[arg(long)]
    pub list: bool,
}

/// `version` arguments.
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `completions` arguments.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// The folder to write `outrider.1` and `outrider-<command>.1` into.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// `deploy` arguments.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The config file (images, transport, targets, post_instructions).
    #[arg(short = 'c', long)]
    pub config: PathBuf,
    /// Print the plan per target and touch nothing: manifests are read, no blob is.
    #[arg(long)]
    pub dry_run: bool,
    /// Targets worked on at once (default: the config's `parallel`, else 4).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Skip the checks made on every target before anything is pulled (host key, login,
    /// room, the plugin's command; any failing one stops the run), so each target fails
    /// on its own during the deploy and the others go on.
    #[arg(long)]
    pub no_target_checks: bool,
    /// Write the temporary bundle and tar even when the temporary folder looks too small
    /// for them: by default deploy refuses before pulling.
    #[arg(long)]
    pub no_space_check: bool,
    /// Platform for multi-platform images (default: the config's `platforms`, else this host's).
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Blobs of 1 MiB and more downloaded at once; smaller blobs go four times as many at
    /// once, as a round trip costs them more than their bytes.
    #[arg(short, long, default_value_t = crate::copy::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `validate` arguments.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The config file.
    #[arg(short = 'c', long)]
    pub config: PathBuf,
}

/// `verify` arguments.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The bundle, or volumes of a set: each checked as given (one volume alone is fine).
    #[arg(required = true, num_args = 1..)]
    pub bundle: Vec<PathBuf>,
    /// For a volume set: find the other volumes beside the first and check the whole set;
    /// a missing volume is then a fault.
    #[arg(long)]
    pub set: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Keys each image's cosign signature must verify with.
    #[command(flatten)]
    pub cosign: CosignArgs,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
}

/// `receipt` arguments.
#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The registry to read (host[:port]).
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_registry)]
    pub registry: String,
    /// Only repositories under this path.
    #[arg(long)]
    pub prefix: Option<String>,
    /// The receipt to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}

/// What to carry: images, platforms, what the far side has, how to reach registries.
/// Shared by `pack` and `plan`.
#[derive(Args, Debug)]
pub struct Selection {
    /// Images: `nginx:1.27`, `ghcr.io/org/app@sha256:…` (an index digest carries every
    /// platform), `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`;
    /// `"SOURCE as REGISTRY/REPO:TAG"` names one.
    pub images: Vec<String>,
    /// File with one image per line (`#` comments and blank lines ignored); repeatable.
    #[arg(short = 'f', long = "images-file")]
    pub images_file: Vec<PathBuf>,
    /// YAML config whose `images:` list is packed.
    #[arg(short = 'c', long)]
    pub config: Option<PathBuf>,
    /// Platform to take from multi-platform images (os/arch[/variant]); repeatable.
    /// Default: linux/<this host's architecture>.
    #[arg(long = "platform", conflicts_with = "all_platforms")]
    pub platforms: Vec<String>,
    /// Take every platform, keeping indexes byte-exact.
    #[arg(long)]
    pub all_platforms: bool,
    /// Carry images only: leave their signatures, attestations, SBOMs and other referrers
    /// behind (carried by default).
    #[arg(long, conflicts_with = "referrers_types")]
    pub no_referrers: bool,
    /// Carry only referrers of this artifact type (`application/spdx+json`,
    /// `application/vnd.dev.cosign.simplesigning.v1+json` for cosign signatures); repeatable.
    #[arg(long = "referrers-type", value_name = "TYPE")]
    pub referrers_types: Vec<String>,
    /// Skip what the far side holds, from a receipt (`unpack --receipt`, `outrider
    /// receipt`) or an earlier bundle; repeatable.
    #[arg(long, value_name = "RECEIPT.json|BUNDLE.zip")]
    pub since: Vec<PathBuf>,
    /// An image the far side already has: its blobs and manifests are listed, not stored;
    /// repeatable.
    #[arg(long, value_name = "IMAGE")]
    pub already_transferred: Vec<String>,
    /// A file of images the far side already has (same format as --images-file).
    #[arg(long, value_name = "FILE")]
    pub already_transferred_file: Vec<PathBuf>,
    /// Keep each image's source registry as the first path component of its far-side name
    /// (`quay.io/library/conf:1` is pushed and served as `quay.io/library/conf:1` under the
    /// destination, not `library/conf:1`), so images of two registries with one
    /// `repo:tag` land apart. Recorded in the bundle: `unpack` and `serve` follow it.
    #[arg(long)]
    pub registry_path: bool,
    /// Split the bundle into stand-alone volumes of at most this size, zip headers included
    /// (`4GiB-1`, `700MiB`, `fat32`): `NAME.001.zip`, `NAME.002.zip`, …
    #[arg(long, value_name = "SIZE")]
    pub volume_size: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
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
    #[arg(short, long)]
    pub output: PathBuf,
    /// Sign the bundle's index with this private key: ECDSA P-256 in PKCS#8 PEM (`openssl
    /// genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) or a cosign key (password
    /// from COSIGN_PASSWORD, or asked). The far side checks it with --trusted-key.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Blobs of 1 MiB and more downloaded at once; smaller blobs go four times as many at
    /// once, as a round trip costs them more than their bytes.
    #[arg(short, long, default_value_t = crate::copy::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Start over, even when an interrupted pack of the same images left `-o`'s
    /// `.partial` file and journal (`<output>.journal`) to resume from.
    #[arg(long)]
    pub no_resume: bool,
    /// Write no `SHA256SUMS` beside the bundle and skip the read-back pass that sums each
    /// file (sizes are still printed).
    #[arg(long)]
    pub no_checksums: bool,
    /// Write even when the output's file system looks too small (or its per-file limit,
    /// FAT32's 4 GiB, too low) for the bundle: by default pack refuses before fetching.
    #[arg(long)]
    pub no_space_check: bool,
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
#[command(group = clap::ArgGroup::new("target").required(true).multiple(true).args(["push", "docker_save", "k3s", "docker", "config"]))]
pub struct UnpackArgs {
    /// The bundle to read; for a volume set, any volume (the others are found beside it)
    /// or all of them, in any order. With -c, the config's `bundle` when none is given.
    #[arg(num_args = 0..)]
    pub bundle: Vec<PathBuf>,
    /// Push every image into this registry: bundle → registry. `HOST[:PORT]`, optionally
    /// with a path that becomes the --prefix (`HOST:5000/mirror`); `https://`, `docker://`
    /// and `http://` (plain HTTP) prefixes are understood.
    // Parsed by `unpack` (`parse_push_target`), not by clap: clap would echo a mistyped
    // `user:pw@host` into the error.
    #[arg(long, value_name = "HOST[:PORT][/PATH]")]
    pub push: Option<String>,
    /// Write docker-save tars (for docker/podman load, ctr import): bundle → docker-archive.
    /// One file (compressed by its extension: .tar, .tar.zst, .tar.gz), or a directory
    /// with --per-image.
    #[arg(long, value_name = "PATH")]
    pub docker_save: Option<PathBuf>,
    /// With --docker-save DIR: one tar per image.
    #[arg(long, requires = "docker_save")]
    pub per_image: bool,
    /// Compression of the tars, overriding the file extension.
    #[arg(long, value_enum)]
    pub compress: Option<crate::copy::to_archive::Compress>,
    /// The platform `manifest.json` names for multi-platform images (docker load takes
    /// one). Default: linux/<this host's architecture>.
    #[arg(long)]
    pub platform: Option<String>,
    /// Write a .tar.zst into k3s's airgap images directory, and import it now when k3s runs.
    #[arg(long)]
    pub k3s: bool,
    /// k3s's airgap images directory.
    #[arg(long, default_value = "/var/lib/rancher/k3s/agent/images")]
    pub k3s_images_dir: PathBuf,
    /// Command that runs containerd's `ctr` for the import (e.g. `ctr -a /run/containerd.sock`);
    /// default `k3s ctr` when k3s is running.
    #[arg(long, value_name = "COMMAND")]
    pub k3s_ctr: Option<String>,
    /// With --k3s and --push: the k3s registries file to write or merge (a backup of the
    /// old one is kept beside it), so the nodes pull through the registry pushed to.
    #[arg(long, default_value = "/etc/rancher/k3s/registries.yaml")]
    pub k3s_registries: PathBuf,
    /// Deploy to the targets of this config over SSH: docker-archive → targets, then its
    /// `post_instructions` plugin on each.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Touch nothing: with -c, print the plan per target; with --push, list per image
    /// what the registry lacks (HEAD requests), and whether it may write
    /// there (one upload session per repository, opened and cancelled at once).
    #[arg(long)]
    pub dry_run: bool,
    /// With -c: targets worked on at once (default: the config's `parallel`, else 4).
    #[arg(long, requires = "config")]
    pub parallel: Option<usize>,
    /// With -c: skip the checks made on every target before anything is read (host key,
    /// login, room, the plugin's command; any failing one stops the run), so each target
    /// fails on its own during the deploy and the others go on.
    #[arg(long, requires = "config")]
    pub no_target_checks: bool,
    /// Load the images into the local Docker engine (DOCKER_HOST respected).
    #[arg(long)]
    pub docker: bool,
    /// Write the tars (--docker-save, --k3s, -c) even when their file system looks too
    /// small for them: by default unpack refuses before writing.
    #[arg(long)]
    pub no_space_check: bool,
    /// The docker client to run for --docker.
    #[arg(long, default_value = "docker")]
    pub docker_cmd: String,
    /// Only these images (as the bundle names them, or as requested at pack time); repeatable.
    #[arg(long = "image", value_name = "REF")]
    pub images: Vec<String>,
    /// Earlier bundles that hold this bundle's external blobs (for tars); repeatable.
    #[arg(long, value_name = "BUNDLE")]
    pub base: Vec<PathBuf>,
    /// A registry that holds this bundle's external blobs (for tars), read for what no
    /// bundle stores. Looked up in the repository the bundle names, else the image's own
    /// (under --prefix when given).
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_registry)]
    pub from_registry: Option<String>,
    /// Path prepended to every destination repository (--push): lowercase components
    /// joined by `/`, e.g. `mirror` or `team/mirror`.
    #[arg(long, value_parser = parse_prefix)]
    pub prefix: Option<String>,
    /// Keep each image's source registry as the first path component of its destination
    /// repository (`quay.io/library/conf` → `PREFIX/quay.io/library/conf`), so images of
    /// two registries with one `repo:tag` land apart. A bundle packed with
    /// `--registry-path` is pushed so without it.
    #[arg(long)]
    pub registry_path: bool,
    /// Write (or merge into) this receipt of what the registry now holds, for the next
    /// `pack --since`.
    #[arg(long, value_name = "FILE", requires = "push")]
    pub receipt: Option<PathBuf>,
    /// Fail before writing anything if any image would be skipped: a blob the bundle
    /// expects at the destination (external) is missing there, or, with --cosign-key, an
    /// image has no valid signature. Default: go on with the others, and exit 1.
    #[arg(long)]
    pub strict: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Keys each image's cosign signature must verify with before it is pushed, loaded
    /// or written.
    #[command(flatten)]
    pub cosign: CosignArgs,
    /// Blobs pushed at once.
    #[arg(short, long, default_value_t = crate::copy::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Blobs larger than this many bytes are uploaded in chunks.
    #[arg(long, default_value_t = 1 << 30)]
    pub chunk_threshold: u64,
    /// Chunk size for chunked uploads, in bytes.
    #[arg(long, default_value_t = 256 << 20)]
    pub chunk_size: u64,
    /// Lineage: the state folder, --allow-rollback, --allow-expired.
    #[command(flatten)]
    pub lineage: LineageArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `inspect` / `verify` arguments.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The bundle to read.
    pub bundle: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keys the bundle must be signed by.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Write each SBOM and attestation into DIR as the file a scanner reads.
    #[arg(long, value_name = "DIR")]
    pub extract_artifacts: Option<PathBuf>,
    /// Only images of this repository or reference (`library/nginx`, `nginx:1.27`); repeatable.
    #[arg(long = "image", value_name = "REPO")]
    pub images: Vec<String>,
}
