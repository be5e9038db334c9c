#!/usr/bin/env python3
"""Writes a valid outrider bundle of N single-platform images (each: an OCI manifest, a
config, a small layer) without a registry, for measuring how the readers scale with
entries: `bench/scale-readers.sh`. Usage: synthetic_bundle.py N OUT.zip"""
import hashlib, json, sys, zipfile

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    images, manifests, blobs, entries = [], [], [], []
    for i in range(n):
        repo = f"bench/app{i}"
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}, "n": i}).encode()
        layer = f"layer {i}\n".encode() * 8
        cd, ld = digest(config), digest(layer)
        manifest = json.dumps({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]},
            separators=(",", ":")).encode()
        md = digest(manifest)
        entries += [(md, manifest), (cd, config), (ld, layer)]
        images.append({"requested": f"localhost:5000/{repo}:1", "reference": f"localhost:5000/{repo}:1",
            "source": "localhost:5000", "repository": repo, "tag": "1", "digest": md,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "platforms": [{"os": "linux", "architecture": "amd64"}]})
        manifests.append({"digest": md, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"},
            "blobs": [cd, ld], "entry": "blobs/sha256/" + md[7:]})
        for d, b, t in [(cd, config, "application/vnd.oci.image.config.v1+json"),
                        (ld, layer, "application/vnd.oci.image.layer.v1.tar")]:
            blobs.append({"digest": d, "size": len(b), "mediaType": t, "repositories": [repo],
                          "entry": "blobs/sha256/" + d[7:]})
    index = {"format": "outrider-bundle", "formatVersion": 1, "tool": "synthetic",
             "images": images, "manifests": manifests, "blobs": blobs}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for d, b in entries:
            z.writestr(zipfile.ZipInfo("blobs/sha256/" + d[7:], (1980, 1, 1, 0, 0, 0)), b)
        z.writestr(zipfile.ZipInfo("outrider.json", (1980, 1, 1, 0, 0, 0)), json.dumps(index).encode())

main()
