#!/usr/bin/env python3
"""Flips every bit of a bundle's `outrider.json` in turn (leaving the zip's CRC as it was)
and runs `outrider verify` on each copy: counts how many pass (should be none), how many
are refused, and how many crash (exit other than 0, 1 or 2; should be none).
Usage: bench/index-bitflips.py BUNDLE.zip [OUTRIDER]   e.g. after
  target/release/outrider pack oci:fixtures/hello-oci:1.0 -o /tmp/hello.zip"""
import os, subprocess, sys, tempfile, zipfile, struct
src = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/outrider"
scratch = os.path.join(tempfile.mkdtemp(), "f.zip")
data = bytearray(open(src, "rb").read())
z = zipfile.ZipFile(src)
info = z.getinfo("outrider.json")
# data offset: local header 30 + name + extra
off = info.header_offset
n, e = struct.unpack("<HH", data[off + 26: off + 30])
start = off + 30 + n + e
length = info.file_size
passed = refused = crashed = 0
for bit in range(length * 8):
    d = bytearray(data)
    d[start + bit // 8] ^= 1 << (bit % 8)
    open(scratch, "wb").write(d)
    r = subprocess.run([binary, "-q", "verify", scratch], capture_output=True)
    if r.returncode == 0: passed += 1
    elif r.returncode in (1, 2): refused += 1
    else: crashed += 1
print(f"bits {length*8}: passed {passed}, refused {refused}, crashed {crashed}")
