#!/usr/bin/env python3
"""Writes a valid outrider bundle of N single-platform images (each: an OCI manifest, a
config, LAYERS small layers, default 1) without a registry, for measuring how the readers
scale with entries: `bench/scale-readers.sh`, `bench/scale.sh`.
Usage: synthetic_bundle.py N OUT.zip [LAYERS]"""
import hashlib, json, sys, zipfile

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    images, manifests, blobs, entries = [], [], [], []
    for i in range(n):
        repo = f"bench/app{i}"
        layers = [f"layer {i} {k}\n".encode() * 8 for k in range(per)]
        lds = [digest(l) for l in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": lds}, "n": i}).encode()
        cd = digest(config)
        manifest = json.dumps({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(l)}
                       for ld, l in zip(lds, layers)]},
            separators=(",", ":")).encode()
        md = digest(manifest)
        entries += [(md, manifest), (cd, config)] + list(zip(lds, layers))
        images.append({"requested": f"localhost:5000/{repo}:1", "reference": f"localhost:5000/{repo}:1",
            "source": "localhost:5000", "repository": repo, "tag": "1", "digest": md,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "platforms": [{"os": "linux", "architecture": "amd64"}]})
        manifests.append({"digest": md, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"},
            "blobs": [cd] + lds, "entry": "blobs/sha256/" + md[7:]})
        for d, b, t in [(cd, config, "application/vnd.oci.image.config.v1+json")] + [
                (ld, l, "application/vnd.oci.image.layer.v1.tar") for ld, l in zip(lds, layers)]:
            blobs.append({"digest": d, "size": len(b), "mediaType": t, "repositories": [repo],
                          "entry": "blobs/sha256/" + d[7:]})
    index = {"format": "outrider-bundle", "formatVersion": 1, "tool": "synthetic",
             "images": images, "manifests": manifests, "blobs": blobs}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for d, b in entries:
            z.writestr(zipfile.ZipInfo("blobs/sha256/" + d[7:], (1980, 1, 1, 0, 0, 0)), b)
        z.writestr(zipfile.ZipInfo("outrider.json", (1980, 1, 1, 0, 0, 0)), json.dumps(index).encode())

main()
