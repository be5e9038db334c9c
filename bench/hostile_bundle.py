#!/usr/bin/env python3
"""Writes a bundle for `bench/serve_hostile.sh` without a registry: `h/big:1`, whose
manifest is padded (an annotation) to just under the 4 MiB limit and whose layer is LAYER
MiB of random bytes, and `h/small:1`, a 2 KiB manifest over a 64 KiB layer.
Usage: hostile_bundle.py OUT.zip [LAYER_MIB]"""
import hashlib, json, os, sys, zipfile

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

def image(repo, layer, manifest_size):
    ld = digest(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
    cd = digest(config)
    def manifest(pad):
        return json.dumps({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}],
            "annotations": {"pad": "x" * pad}}, separators=(",", ":")).encode()
    m = manifest(max(0, manifest_size - len(manifest(0))))
    md = digest(m)
    return repo, md, m, cd, config, ld, layer

def main():
    out = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    made = [image("h/big", os.urandom(mib << 20), 4_000_000),
            image("h/small", os.urandom(64 << 10), 2048)]
    images, manifests, blobs, entries = [], [], [], []
    for repo, md, m, cd, config, ld, layer in made:
        entries += [(md, m), (cd, config), (ld, layer)]
        images.append({"requested": f"localhost:5000/{repo}:1", "reference": f"localhost:5000/{repo}:1",
            "source": "localhost:5000", "repository": repo, "tag": "1", "digest": md,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "platforms": [{"os": "linux", "architecture": "amd64"}]})
        manifests.append({"digest": md, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": len(m), "platform": {"os": "linux", "architecture": "amd64"},
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
    for repo, md, *_ in made:
        print(repo, md, made[[r for r, *_ in made].index(repo)][5])

main()
