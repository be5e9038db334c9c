//! A Sigstore-like trust made in the test: a root and intermediate CA, Fulcio-style leaves
//! with an embedded SCT, a Rekor-like log (signed entry timestamps, checkpoints), an RFC
//! 3161 timestamp authority run by `openssl ts`; and cosign's two keyless signature forms
//! made with them.

use crate::support::artifacts::{
    Artifact, OCI_MANIFEST, SIGSTORE_BUNDLE, simple_signing, simple_signing_payload,
};
use crate::support::images::Blob;
use base64::Engine;
use der::{Decode, Encode};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::{Digest as _, Sha256};
use std::path::Path;

pub const LOG_URL: &str = "https://log.test";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub fn sign(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let sig: DerSignature = key.sign(data);
    sig.as_bytes().to_vec()
}

pub fn spki(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_public_key_der()
        .expect("spki")
        .as_bytes()
        .to_vec()
}

pub fn pem(der: &[u8]) -> String {
    let body = b64(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A Unix time as rcgen's date type (which rcgen does not name).
macro_rules! time {
    ($t:expr) => {
        rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs($t as u64)
    };
}

pub fn p256_key() -> (KeyPair, SigningKey) {
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let signing = SigningKey::from_pkcs8_der(&pair.serialize_der()).expect("pkcs8");
    (pair, signing)
}

/// A certificate authority (root and intermediate), a CT log key and a Rekor log key.
pub struct Pki {
    pub root_der: Vec<u8>,
    root_key_pem: String,
    pub intermediate_der: Vec<u8>,
    intermediate: Issuer<'static, KeyPair>,
    intermediate_spki: Vec<u8>,
    ct: SigningKey,
    pub log: SigningKey,
}

pub fn ca_params(name: &str, start: i64) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "outrider.test");
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = time!(start);
    p.not_after = time!(start + 10 * 365 * 86_400);
    p
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let start = now() - 30 * 86_400;
        let (root_key, _) = p256_key();
        let root_params = ca_params(&format!("{name} root"), start);
        let root_cert = root_params.self_signed(&root_key).expect("root");
        let root_key_pem = root_key.serialize_pem();
        let root = Issuer::new(root_params, root_key);
        let (int_key, int_signing) = p256_key();
        let mut int_params = ca_params(&format!("{name} intermediate"), start);
        int_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let int_cert = int_params.signed_by(&int_key, &root).expect("intermediate");
        Pki {
            root_der: root_cert.der().to_vec(),
            root_key_pem,
            intermediate_der: int_cert.der().to_vec(),
            intermediate: Issuer::new(int_params, int_key),
            intermediate_spki: spki(&int_signing),
            ct: p256_key().1,
            log: p256_key().1,
        }
    }

    /// The Sigstore trusted root naming this CA, CT log and transparency log, and `tsa`'s
    /// certificate (DER) as its timestamp authority.
    pub fn trusted_root(&self, tsa: &[u8]) -> String {
        let start = "2020-01-01T00:00:00Z";
        let log = |key: &SigningKey, url: &str| {
            serde_json::json!({
                "baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": { "rawBytes": b64(&spki(key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                               "validFor": { "start": start } },
                "logId": { "keyId": b64(&Sha256::digest(spki(key))) }
            })
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(&self.log, LOG_URL)],
            "certificateAuthorities": [{
                "subject": { "organization": "outrider.test", "commonName": "test" },
                "uri": "https://fulcio.test",
                "certChain": { "certificates": [
                    { "rawBytes": b64(&self.intermediate_der) }, { "rawBytes": b64(&self.root_der) }
                ] },
                "validFor": { "start": start }
            }],
            "ctlogs": [log(&self.ct, "https://ct.test")],
            "timestampAuthorities": [{
                "subject": { "organization": "outrider.test", "commonName": "tsa" },
                "uri": "https://tsa.test",
                "certChain": { "certificates": [
                    { "rawBytes": b64(tsa) }, { "rawBytes": b64(&self.root_der) }
                ] },
                "validFor": { "start": start }
            }]
        })
        .to_string()
    }

    /// A Fulcio-like leaf for `identity` from `issuer`, valid for ten minutes from
    /// `start`, with an SCT from this PKI's CT log embedded: (DER, its key).
    pub fn leaf(&self, identity: &str, issuer: &str, start: i64) -> (Vec<u8>, SigningKey) {
        let (key, signing) = p256_key();
        let params = |sct: Option<Vec<u8>>| {
            let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
            p.distinguished_name = DistinguishedName::new();
            p.subject_alt_names = vec![SanType::URI(identity.try_into().expect("ia5"))];
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
            p.serial_number = Some(vec![1, 2, 3, 4].into());
            p.not_before = time!(start);
            p.not_after = time!(start + 600);
            let utf8 = der::asn1::Utf8StringRef::new(issuer)
                .expect("utf8")
                .to_der()
                .expect("der");
            p.custom_extensions = vec![
                CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                    issuer.as_bytes().to_vec(),
                ),
                CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8], utf8),
            ];
            if let Some(sct) = sct {
                p.custom_extensions.push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                    sct,
                ));
            }
            p
        };
        let precert = params(None)
            .signed_by(&key, &self.intermediate)
            .expect("precert");
        let tbs = x509_cert::Certificate::from_der(precert.der())
            .expect("parse")
            .tbs_certificate()
            .to_der()
            .expect("tbs");
        let millis = (start as u64 + 1) * 1000;
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&millis.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&Sha256::digest(&self.intermediate_spki));
        signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&0u16.to_be_bytes());
        let signature = sign(&self.ct, &signed);
        let mut sct = vec![0u8];
        sct.extend_from_slice(&Sha256::digest(spki(&self.ct)));
        sct.extend_from_slice(&millis.to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes());
        sct.extend_from_slice(&[4, 3]);
        sct.extend_from_slice(&(signature.len() as u16).to_be_bytes());
        sct.extend_from_slice(&signature);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend_from_slice(&sct);
        let octets = der::asn1::OctetString::new(list)
            .expect("octets")
            .to_der()
            .expect("der");
        let cert = params(Some(octets))
            .signed_by(&key, &self.intermediate)
            .expect("leaf");
        (cert.der().to_vec(), signing)
    }

    /// A log entry for `body` signed by this PKI's log: with `integrated` a signed entry
    /// timestamp (Rekor v1), and always an inclusion proof in a one-leaf tree with a signed
    /// checkpoint.
    pub fn entry(
        &self,
        kind: &str,
        body: &serde_json::Value,
        integrated: Option<i64>,
    ) -> serde_json::Value {
        let body = serde_json::to_vec(body).expect("json");
        let log_id = Sha256::digest(spki(&self.log));
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&body);
        let root = Sha256::digest(&leaf);
        let note = format!("log.test - 1\n1\n{}\n", b64(&root));
        let mut sig = log_id[..4].to_vec();
        sig.extend(sign(&self.log, note.as_bytes()));
        let checkpoint = format!("{note}\n\u{2014} log.test {}\n", b64(&sig));
        let mut entry = serde_json::json!({
            "logIndex": "0", "logId": { "keyId": b64(&log_id) },
            "kindVersion": { "kind": kind, "version": "0.0.1" },
            "inclusionProof": { "logIndex": "0", "rootHash": b64(&root), "treeSize": "1",
                                "hashes": [], "checkpoint": { "envelope": checkpoint } },
            "canonicalizedBody": b64(&body),
        });
        if let Some(t) = integrated {
            let set = format!(
                r#"{{"body":"{}","integratedTime":{t},"logID":"{}","logIndex":0}}"#,
                b64(&body),
                hex::encode(log_id)
            );
            entry["integratedTime"] = serde_json::json!(t.to_string());
            entry["inclusionPromise"] = serde_json::json!({ "signedEntryTimestamp": b64(&sign(&self.log, set.as_bytes())) });
        }
        entry
    }
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An RFC 3161 timestamp authority run by `openssl ts`, its certificate issued by the
/// PKI's root with openssl (critical extended key usage timeStamping).
pub struct Tsa {
    dir: std::path::PathBuf,
    pub cert_der: Vec<u8>,
}

impl Tsa {
    pub fn new(pki: &Pki, dir: &Path) -> Tsa {
        let dir = dir.join("tsa");
        std::fs::create_dir_all(&dir).expect("tsa dir");
        std::fs::write(dir.join("root.pem"), pem(&pki.root_der)).expect("root");
        std::fs::write(dir.join("root.key"), &pki.root_key_pem).expect("root key");
        std::fs::write(
            dir.join("ext.cnf"),
            "extendedKeyUsage = critical,timeStamping\n",
        )
        .expect("ext");
        std::fs::write(
            dir.join("ts.cnf"),
            "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = tsaserial\nsigner_digest = sha256\n\
             default_policy = 1.2.3.4.1\ndigests = sha256\nordering = no\ntsa_name = no\n\
             ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
        )
        .expect("ts.cnf");
        std::fs::write(dir.join("tsaserial"), "01\n").expect("serial");
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "tsa.key",
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-new",
                "-key",
                "tsa.key",
                "-subj",
                "/O=outrider.test/CN=tsa",
                "-out",
                "tsa.csr",
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-set_serial",
                "7",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-outform",
                "DER",
                "-out",
                "tsa.der",
            ],
        );
        openssl(
            &dir,
            &[
                "x509", "-inform", "DER", "-in", "tsa.der", "-out", "tsa.pem",
            ],
        );
        Tsa {
            cert_der: std::fs::read(dir.join("tsa.der")).expect("tsa cert"),
            dir,
        }
    }

    /// `openssl ts -reply` over `data` (a signature): the DER TimeStampResp.
    pub fn stamp(&self, data: &[u8]) -> Vec<u8> {
        std::fs::write(self.dir.join("data"), data).expect("data");
        openssl(
            &self.dir,
            &[
                "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "req.tsq",
            ],
        );
        openssl(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-queryfile",
                "req.tsq",
                "-inkey",
                "tsa.key",
                "-signer",
                "tsa.pem",
                "-config",
                "ts.cnf",
                "-out",
                "resp.tsr",
            ],
        );
        std::fs::read(self.dir.join("resp.tsr")).expect("response")
    }
}

/// A cosign 3 signature as a Sigstore bundle v0.3 referrer of `subject`: a DSSE in-toto
/// statement naming `signs` (the subject, unless a test moves a signature), signed with
/// the leaf's key, logged as a dsse entry.
pub fn bundle_referrer(
    log: &Pki,
    (leaf, key): &(Vec<u8>, SigningKey),
    (subject, signs): (&Blob, &Blob),
    integrated: Option<i64>,
    tsa: Option<&Tsa>,
) -> Artifact {
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "app", "digest": { "sha256": signs.digest.trim_start_matches("sha256:") } }],
        "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}
    }))
    .expect("json");
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    let signature = sign(key, &pae);
    let body = serde_json::json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "payloadHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(&statement)) },
            "signatures": [{ "signature": b64(&signature), "verifier": b64(pem(leaf).as_bytes()) }]
        }
    });
    let mut material = serde_json::json!({
        "certificate": { "rawBytes": b64(leaf) },
        "tlogEntries": [log.entry("dsse", &body, integrated)]
    });
    if let Some(tsa) = tsa {
        material["timestampVerificationData"] = serde_json::json!({ "rfc3161Timestamps": [{ "signedTimestamp": b64(&tsa.stamp(&signature)) }] });
    }
    let bundle = serde_json::to_vec(&serde_json::json!({
        "mediaType": SIGSTORE_BUNDLE,
        "verificationMaterial": material,
        "dsseEnvelope": { "payload": b64(&statement), "payloadType": payload_type,
                          "signatures": [{ "sig": b64(&signature), "keyid": "" }] }
    }))
    .expect("json");
    let layer = Blob::new(bundle, SIGSTORE_BUNDLE);
    let empty = Blob::new(b"{}".to_vec(), "application/vnd.oci.empty.v1+json");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGSTORE_BUNDLE,
        "config": empty.descriptor(), "layers": [layer.descriptor()], "subject": subject.descriptor(),
    }))
    .expect("json");
    Artifact {
        manifest: Blob::new(manifest, OCI_MANIFEST),
        blobs: vec![empty, layer],
    }
}

/// A legacy keyless `.sig`: simple signing with the certificate, chain and Rekor bundle
/// annotations cosign 2 writes.
pub fn legacy_sig(
    pki: &Pki,
    (leaf, key): &(Vec<u8>, SigningKey),
    host_repo: &str,
    subject: &str,
    t: i64,
) -> Artifact {
    let payload = simple_signing_payload(host_repo, subject);
    let signature = sign(key, &payload);
    let body = serde_json::json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload)) } },
            "signature": { "content": b64(&signature), "publicKey": { "content": b64(pem(leaf).as_bytes()) } }
        }
    });
    let entry = pki.entry("hashedrekord", &body, Some(t));
    let rekor = serde_json::json!({
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": { "body": entry["canonicalizedBody"], "integratedTime": t, "logIndex": 0,
                     "logID": hex::encode(Sha256::digest(spki(&pki.log))) }
    });
    let plain = simple_signing(payload, &b64(&signature));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&plain.manifest.bytes).expect("json");
    let a = &mut manifest["layers"][0]["annotations"];
    a["dev.sigstore.cosign/certificate"] = serde_json::json!(pem(leaf));
    a["dev.sigstore.cosign/chain"] = serde_json::json!(format!(
        "{}{}",
        pem(&pki.intermediate_der),
        pem(&pki.root_der)
    ));
    a["dev.sigstore.cosign/bundle"] = serde_json::json!(rekor.to_string());
    Artifact {
        manifest: Blob::new(serde_json::to_vec(&manifest).expect("json"), OCI_MANIFEST),
        blobs: plain.blobs,
    }
}
