#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets.

`qr_reassembly`: see below. `envelope_decode` and `bundle_import`: the envelopes and
bundles of the checked-in test vectors (tests/vectors/), genuine and negative, so the
fuzzer starts from inputs that get past the strict decoder.


An independent implementation of the QR frame format (docs/protocol.md, "QR
frames"), written from the spec only, so the seeds also cross-check the Rust code.
Run from anywhere: python3 fuzz/gen_corpus.py

Fuzz input format (see fuzz_targets/qr_reassembly.rs):
  mode byte, then
  mode & 1 == 0: records `u16 BE length | frame bytes`, each pushed to a Reassembler
                 (mode & 2: the target first repairs magic, version and check);
  mode & 1 == 1: `u16 BE max_frame selector | u64 BE seed | bundle bytes`: split,
                 shuffled, duplicated (mode & 2: bit-flipped copies injected) and
                 reassembled.
"""
import hashlib
import json
import os
import struct

OVERHEAD = 24


def frames(bundle: bytes, max_frame: int) -> list:
    p = max_frame - OVERHEAD
    count = max(1, -(-len(bundle) // p))
    bundle_id = hashlib.sha256(bundle).digest()[:8]
    out = []
    for i in range(count):
        body = (b"CVQ\x01" + bundle_id + struct.pack(">HHI", i, count, len(bundle))
                + bundle[i * p:(i + 1) * p])
        out.append(body + hashlib.sha256(body).digest()[:4])
    return out


def records(fs) -> bytes:
    return b"".join(struct.pack(">H", len(f)) + f for f in fs)


def main() -> None:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "qr_reassembly")
    os.makedirs(here, exist_ok=True)
    bundle = bytes((i * 37 + 11) % 256 for i in range(150))
    fs = frames(bundle, 64)  # 4 frames: 40, 40, 40, 30 payload bytes
    seeds = {
        "single_empty": b"\x00" + records(frames(b"", 64)),
        "single_hello": b"\x00" + records(frames(b"hello", 1000)),
        "four_in_order": b"\x00" + records(fs),
        "four_shuffled_dups": b"\x00" + records([fs[2], fs[0], fs[2], fs[3], fs[1], fs[0]]),
        "four_missing_one": b"\x00" + records([fs[3], fs[1], fs[0]]),
        "two_bundles": b"\x00" + records([fs[0], frames(bytes(150), 64)[1], fs[1]]),
        "fixup_mode": b"\x02" + records(fs),
        "round_trip": b"\x01" + struct.pack(">HQ", 0, 42) + bundle,
        "round_trip_large_frames": b"\x03" + struct.pack(">HQ", 936, 7) + bytes(range(256)) * 8,
    }
    for name, data in seeds.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
    # Test vector printed for docs/protocol.md and the Rust unit test.
    print("hello, max_frame 64:", frames(b"hello", 64)[0].hex())
    two = frames(bytes(range(50)), 64)
    print("0x00..0x31, max_frame 64:", [f.hex() for f in two])


def vector_seeds() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    corpus = os.path.join(root, "fuzz", "corpus")
    with open(os.path.join(root, "tests", "vectors", "envelope.json")) as f:
        env = json.load(f)
    out = os.path.join(corpus, "envelope_decode")
    os.makedirs(out, exist_ok=True)
    for v in env["vectors"]:
        write(out, "vector_" + v["name"], bytes.fromhex(v["envelope"]))
    for n in env["negative"]:
        write(out, "negative_" + n["name"], bytes.fromhex(n["envelope"]))
    with open(os.path.join(root, "tests", "vectors", "bundle.json")) as f:
        bundle = json.load(f)
    out = os.path.join(corpus, "bundle_import")
    os.makedirs(out, exist_ok=True)
    write(out, "vector_bundle", bytes.fromhex(bundle["bundle"]))
    for n in bundle["negative"]:
        write(out, "negative_" + n["name"], bytes.fromhex(n["bundle"]))
    # Mode 0x01: the target's own genuine bundle with these bytes XORed over it.
    write(out, "genuine_unchanged", b"\x01")
    write(out, "genuine_flip_first_byte", b"\x01\x01")
    write(out, "genuine_flip_in_body", b"\x01" + bytes(60) + b"\x80")


def write(folder: str, name: str, data: bytes) -> None:
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
    vector_seeds()
