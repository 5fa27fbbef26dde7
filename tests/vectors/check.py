#!/usr/bin/env python3
"""An independent check of tests/vectors/*.json against docs/protocol.md.

Python standard library only, and nothing from caravan-core: Ed25519 (RFC 8032,
verification with the plain equation of protocol section 7), X25519 (RFC 7748),
ChaCha20-Poly1305 (RFC 8439) and the CBOR encoding of protocol section 8.1 are written
out below from their specifications. It re-derives from the vectors' inputs, as the
protocol text says: record CBOR from the record's fields, record hashes, every
signature input and signature, the records digest and the set order it follows, the
meta digest, device PKCS#8 and X25519 keys, sealed epoch keys (opened with the
recipient's X25519 secret), the mailbox outbox name, the join request, its text and
code; and for the older files the group id, invitation keys, routing tags and
envelope keys. It exits non-zero on the first mismatch and prints
"check.py: N passed, 0 failed" otherwise.

Run: python3 tests/vectors/check.py   (tests/run.sh runs it)
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = 0


def ok(cond, what):
    global CHECKS
    if not cond:
        print("check.py: FAILED:", what)
        print("check.py: %d passed, 1 failed" % CHECKS)
        sys.exit(1)
    CHECKS += 1


def h(s):
    return bytes.fromhex(s)


def sha256(b):
    return hashlib.sha256(b).digest()


def hkdf(salt, ikm, info, n=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def b32(data):
    return base64.b32encode(data).decode().rstrip("=")


# ----- Ed25519 (RFC 8032), verification with the plain equation ----------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
I = pow(2, (P - 1) // 4, P)


def _xrecover(y, sign):
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P != 0:
        x = x * I % P
    if (x * x - xx) % P != 0:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x


BY = 4 * pow(5, P - 2, P) % P
BASE = (_xrecover(BY, 0), BY, 1, _xrecover(BY, 0) * BY % P)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, hh = b - a, d - c, d + c, b + a
    return (e * f % P, g * hh % P, f * g % P, e * hh % P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _encode(p):
    zi = pow(p[2], P - 2, P)
    x, y = p[0] * zi % P, p[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(b):
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    x = _xrecover(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ed25519_public(seed):
    a = bytearray(hashlib.sha512(seed).digest()[:32])
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    return _encode(_mul(int.from_bytes(a, "little"), BASE))


def ed25519_verify(public, msg, sig):
    """RFC 8032 5.1.7 without the cofactor: R must equal the encoding of [s]B - [k]A."""
    if len(sig) != 64 or len(public) != 32:
        return False
    a = _decode(public)
    s = int.from_bytes(sig[32:], "little")
    if a is None or s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % L
    neg_a = (P - a[0], a[1], a[2], P - a[3])
    return _encode(_add(_mul(s, BASE), _mul(k, neg_a))) == sig[:32]


# ----- X25519 (RFC 7748) --------------------------------------------------------------


def x25519(k, u):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        kt = (k >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % P, c * b % P
        x3 = (da + cb) ** 2 % P
        z3 = x1 * (da - cb) ** 2 % P
        x2 = aa * bb % P
        z2 = e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


# ----- ChaCha20-Poly1305 (RFC 8439) ---------------------------------------------------


def _chacha_block(key, counter, nonce):
    def rotl(v, n):
        return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF

    st = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    st += list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))
    x = st[:]

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = rotl(x[b] ^ x[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return struct.pack("<16I", *[(x[i] + st[i]) & 0xFFFFFFFF for i in range(16)])


def _chacha(key, counter, nonce, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        block = _chacha_block(key, counter + i // 64, nonce)
        out += bytes(a ^ b for a, b in zip(data[i : i + 64], block))
    return bytes(out)


def _poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    acc, p = 0, (1 << 130) - 5
    for i in range(0, len(msg), 16):
        n = int.from_bytes(msg[i : i + 16] + b"\x01", "little")
        acc = (acc + n) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def aead_open(key, nonce, aad, sealed):
    ct, tag = sealed[:-16], sealed[-16:]
    otk = _chacha_block(key, 0, nonce)[:32]

    def pad(b):
        return b + b"\x00" * (-len(b) % 16)

    mac = pad(aad) + pad(ct) + struct.pack("<QQ", len(aad), len(ct))
    if not hmac.compare_digest(_poly1305(otk, mac), tag):
        return None
    return _chacha(key, 1, nonce, ct)


def open_from(label, context, sealed, x_secret):
    """protocol section 10.4 / 11.1: eph public (32) ‖ AEAD(k, nonce 0, label ‖ context)."""
    eph = sealed[:32]
    shared = x25519(x_secret, eph)
    if shared == bytes(32):
        return None
    x_public = x25519(x_secret, (9).to_bytes(32, "little"))
    k = hkdf(label, shared, eph + x_public)
    return aead_open(k, bytes(12), label + context, sealed[32:])


# ----- CBOR as protocol section 8.1 encodes it -----------------------------------------


def _head(major, n):
    m = major << 5
    if n < 24:
        return bytes([m | n])
    for ai, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([m | ai]) + n.to_bytes(width, "big")
    raise ValueError(n)


class Raw(bytes):
    """Bytes that are already CBOR."""


class Bytes16Array(bytes):
    """A [u8; 16] without a bytes adapter: an array of 16 uints."""


def cbor(v):
    if v is None:
        return b"\xf6"
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, Bytes16Array):
        return _head(4, len(v)) + b"".join(_head(0, x) for x in v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        e = v.encode()
        return _head(3, len(e)) + e
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):  # Python keeps insertion (= declaration) order
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(type(v))


ROLES = ["Coordinator", "FieldWorker", "Partner"]
OPS = ["Invite", "Keys", "SetRole", "Revoke", "Rekey", "Assign", "Resolve", "InviteOnce", "Admit"]
RECORDS = ["Genesis", "Invite", "Join", "Op"]


def op_value(op):
    """The MemberOp of a vector as (CBOR value, order key) per sections 8.2 and 10.3."""
    k = op["kind"]
    if k in ("Invite", "InviteOnce"):
        fields = {"invite": h(op["invite"]), "role": op["role"]}
        key = (h(op["invite"]), ROLES.index(op["role"]))
    elif k == "Keys":
        fields = {"x25519": h(op["x25519"]), "epoch": op["epoch"]}
        key = (h(op["x25519"]), op["epoch"])
    elif k == "SetRole":
        fields = {"member": h(op["member"]), "role": op["role"]}
        key = (h(op["member"]), ROLES.index(op["role"]))
    elif k == "Revoke":
        fields = {"member": h(op["member"])}
        key = (h(op["member"]),)
    elif k == "Rekey":
        pairs = [[h(d), h(s)] for d, s in op["keys"]]
        fields = {"epoch": op["epoch"], "keys": pairs}
        key = (op["epoch"], [tuple(p) for p in pairs])
    elif k == "Assign":
        fields = {"case": h(op["case"]), "member": h(op["member"]), "assigned": op["assigned"]}
        key = (h(op["case"]), h(op["member"]), op["assigned"])
    elif k == "Resolve":
        changes = [h(c) for c in op["changes"]]
        fields = {"case": h(op["case"]), "changes": changes, "accept": op["accept"]}
        key = (h(op["case"]), changes, op["accept"])
    elif k == "Admit":
        fields = {
            "invite": h(op["invite"]),
            "member": h(op["member"]),
            "x25519": h(op["x25519"]),
            "epoch": op["epoch"],
            "key": h(op["key"]),
        }
        key = tuple(fields.values())
        # `at` (optional, Unix seconds): omitted from the map when absent; absent
        # orders before present.
        if "at" in op:
            fields["at"] = op["at"]
            key = key + ((1, op["at"]),)
        else:
            key = key + ((0,),)
    else:
        raise ValueError(k)
    return {k: fields}, (OPS.index(k), key)


def record_value(r):
    """A MemberRecord of a vector as (CBOR value, set-order key)."""
    kind = r["record"]
    g = Bytes16Array(h(r["group"]))
    if kind == "Genesis":
        f = {
            "group": g,
            "nonce": Bytes16Array(h(r["nonce"])),
            "creator": h(r["creator"]),
            "name": r["name"],
            "creator_name": r["creator_name"],
            "sig": h(r["sig"]),
        }
        key = (bytes(g), h(r["nonce"]), h(r["creator"]), r["name"].encode(), r["creator_name"].encode(), h(r["sig"]))
    elif kind == "Invite":
        f = {"group": g, "by": h(r["by"]), "invite": h(r["invite"]), "sig": h(r["sig"])}
        key = (bytes(g), h(r["by"]), h(r["invite"]), h(r["sig"]))
    elif kind == "Join":
        f = {
            "group": g,
            "member": h(r["member"]),
            "name": r["name"],
            "invite": h(r["invite"]),
            "invite_sig": h(r["invite_sig"]),
            "sig": h(r["sig"]),
        }
        key = (bytes(g), h(r["member"]), r["name"].encode(), h(r["invite"]), h(r["invite_sig"]), h(r["sig"]))
    else:
        op, opkey = op_value(r["op"])
        parents = [h(p) for p in r["parents"]]
        f = {"group": g, "parents": parents, "author": h(r["author"]), "op": op, "sig": h(r["sig"])}
        key = (bytes(g), parents, h(r["author"]), opkey, h(r["sig"]))
    return {kind: f}, (RECORDS.index(kind), key)


def signature_input(r):
    g = h(r["group"])
    kind = r["record"]
    if kind == "Genesis":
        name = r["name"].encode()
        return b"caravan/genesis/v1" + g + h(r["nonce"]) + struct.pack(">I", len(name)) + name + r["creator_name"].encode()
    if kind == "Invite":
        return b"caravan/invite/v1" + g + h(r["invite"])
    if kind == "Join":
        return b"caravan/join/v1" + g + h(r["member"]) + h(r["invite"]) + r["name"].encode()
    op, _ = op_value(r["op"])
    return b"caravan/member-op/v1" + cbor([Bytes16Array(g), [h(p) for p in r["parents"]], h(r["author"]), op])


# ----- the files ----------------------------------------------------------------------


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def check_membership():
    v = load("membership.json")
    x_secrets = {}
    for dev in v["devices"]:
        seed = h(dev["seed"])
        pub = ed25519_public(seed)
        ok(pub == h(dev["public_key"]), "%s: public key from seed" % dev["name"])
        pkcs8 = bytes.fromhex("3051020101300506032b657004220420") + seed + b"\x81\x21\x00" + pub
        ok(pkcs8 == h(dev["pkcs8"]), "%s: PKCS#8 v2 form of section 10.4" % dev["name"])
        ok(sha256(pub)[:16] == h(dev["actor"]), "%s: actor id" % dev["name"])
        xs = hkdf(b"caravan/x25519/v1", pkcs8, b"static")
        ok(xs == h(dev["x25519_secret"]), "%s: X25519 secret" % dev["name"])
        ok(x25519(xs, (9).to_bytes(32, "little")) == h(dev["x25519_public"]), "%s: X25519 public" % dev["name"])
        x_secrets[pub] = xs
    inv = v["invitation"]
    secret = h(inv["secret"])
    ok(hkdf(b"caravan/invite/v1", secret, b"sign") == h(inv["sign_seed"]), "invitation sign seed (11)")
    ok(hkdf(b"caravan/invite/v1", secret, b"welcome") == h(inv["welcome_key"]), "invitation welcome key (11)")
    ok(ed25519_public(h(inv["sign_seed"])) == h(inv["public_key"]), "invitation key")

    g = v["group"]
    creator = h(v["devices"][0]["public_key"])
    ok(sha256(b"caravan/group/v1" + creator + h(g["nonce"]))[:16] == h(g["id"]), "group id")

    records = v["records"]
    hashes = {}
    keys = []
    digest = hashlib.sha256()
    for r in records:
        what = "%s %s" % (r["record"], r.get("op", {}).get("kind", ""))
        value, key = record_value(r)
        enc = cbor(value)
        ok(enc == h(r["cbor"]), what + ": CBOR from its fields (section 8.2)")
        ok(sha256(enc) == h(r["hash"]), what + ": hash = SHA-256(CBOR)")
        inp = signature_input(r)
        ok(inp == h(r["signature_input"]), what + ": signature input (section 10.1)")
        ok(ed25519_verify(h(r["signer"]), inp, h(r["sig"])), what + ": signature verifies")
        bad = bytearray(h(r["sig"]))
        bad[5] ^= 1
        ok(not ed25519_verify(h(r["signer"]), inp, bytes(bad)), what + ": a changed signature fails")
        s_plus_l = (int.from_bytes(h(r["sig"])[32:], "little") + L).to_bytes(32, "little")
        ok(not ed25519_verify(h(r["signer"]), inp, h(r["sig"])[:32] + s_plus_l), what + ": s + l is refused")
        if r["record"] == "Join":
            ok(ed25519_verify(h(r["invite"]), inp, h(r["invite_sig"])), what + ": invitation signature")
        hashes[h(r["hash"])] = r
        keys.append(key)
        digest.update(struct.pack("<Q", len(enc)) + enc)
    ok(keys == sorted(keys), "records are in the set order of section 10.3")
    ok(digest.digest() == h(v["records_digest"]), "records digest (section 10.3)")
    for r in records:
        for p in r.get("parents", []):
            ok(h(p) in hashes, "every parent is a record of the log")
    ok(sorted(h(x) for x in v["creation_order"]) == sorted(hashes), "creation order lists every record")
    kinds = {r["op"]["kind"] for r in records if r["record"] == "Op"}
    ok(kinds == set(OPS), "every Op kind appears: %s" % sorted(set(OPS) - kinds))

    erased = [h(e) for e in v["meta"]["erased"]]
    ok(erased == sorted(erased), "erased cases ascending")
    ok(sha256(h(v["records_digest"]) + b"".join(erased)) == h(v["meta"]["meta_digest"]), "meta digest (13.1)")

    for s in v["sealed_keys"]:
        sealed = h(s["sealed"])
        ok(len(sealed) == 80, "sealed key is 80 bytes")
        ok(x25519(h(s["ephemeral_secret"]), (9).to_bytes(32, "little")) == sealed[:32], "ephemeral public")
        context = h(g["id"]) + struct.pack(">I", s["epoch"]) + h(s["recipient"])
        xs = x_secrets[h(s["recipient"])]
        ok(open_from(b"caravan/rekey/v1", context, sealed, xs) == h(s["epoch_key"]), "sealed key opens (10.4)")
        other = h(g["id"]) + struct.pack(">I", s["epoch"] + 1) + h(s["recipient"])
        ok(open_from(b"caravan/rekey/v1", other, sealed, xs) is None, "sealed key bound to its epoch")
        in_record = [
            r for r in records
            if r["record"] == "Op" and r["op"]["kind"] == s["in"]
            and (s["sealed"] == r["op"].get("key") or [s["recipient"], s["sealed"]] in r["op"].get("keys", []))
        ]
        ok(len(in_record) == 1, "the sealed key is the one in its %s record" % s["in"])

    o = v["outbox"]
    name = hmac.new(h(o["epoch_key"]), b"caravan/outbox/v1" + h(o["device"]), hashlib.sha256).digest()[:8].hex()
    ok(name == o["name"], "mailbox outbox name (section 15)")

    check_key_update_bundle(v, x_secrets)

    # The in-person invitation: a welcome without keys, holding the records up to the
    # InviteOnce; its Join is in the log, after the InviteOnce of its key.
    wk = h(inv["welcome_key"])
    welcome = open_envelope(wk, 0, h(inv["sealed_welcome"]))
    ok(welcome == h(inv["welcome_cbor"]), "welcome envelope opens with the welcome key")
    by_hash = {r["hash"]: r for r in records}
    wrecs = [by_hash[x] for x in inv["welcome_records"]]
    ok([r["hash"] for r in wrecs] == [r["hash"] for r in records if r["hash"] in inv["welcome_records"]],
       "welcome records in set order")
    want = cbor({"id": Bytes16Array(h(g["id"])), "name": g["name"], "keys": [],
                 "records": Raw(_head(4, len(wrecs)) + b"".join(h(r["cbor"]) for r in wrecs))})
    ok(welcome == want, "welcome = GroupState with no key (11)")
    ok(any(r["record"] == "Op" and r["op"]["kind"] == "InviteOnce" and r["op"]["invite"] == inv["public_key"]
           for r in wrecs), "the welcome holds the InviteOnce of its key")
    raw = secret + h(inv["sealed_welcome"])
    ok(inv["text"] == "caravan-invite:" + b32(raw), "invitation text")
    c = b32(sha256(b"caravan/invite-code/v1" + raw)[:5])
    ok(inv["code"] == c[:4] + "-" + c[4:8], "invitation verification code")
    # The join message (member: its Join and Keys) and the admission update
    # (coordinator: the Join and the Admit) under the welcome key, no key, no case.
    member_pub, coord_pub = h(v["devices"][1]["public_key"]), h(v["devices"][0]["public_key"])
    for name, sender, kinds in (("join_message", member_pub, ("Join", "Keys")),
                                ("admission_update", coord_pub, ("Join", "Admit"))):
        m = v[name]
        ok(h(m["epoch_key"]) == wk and m["epoch"] == 0, name + ": under the welcome key, epoch 0")
        got_sender, payload = open_message(wk, 0, h(m["envelope"]), name)
        ok(got_sender == sender, name + ": sender")
        recs = [r for r in records if r["record"] == "Join"] + [
            r for r in records if r["record"] == "Op" and r["op"]["kind"] == kinds[1]
            and (kinds[1] != "Keys" or h(r["author"]) == member_pub)]
        want = cbor({"cases": [], "tombstones": [],
                     "members": Raw(_head(4, 2) + b"".join(h(r["cbor"]) for r in recs)), "live": None})
        ok(payload == want, name + ": payload holds only its two records (section 11)")
    joins = [r for r in records if r["record"] == "Join"]
    ok(len(joins) == 1 and joins[0]["invite"] == inv["public_key"] and joins[0]["name"] == inv["joiner_name"],
       "the log's Join uses the invitation")

    jr = v["join_request"]
    inp = b"caravan/join-request/v1" + h(jr["device"]) + h(jr["x25519"]) + h(jr["nonce"]) + jr["name"].encode()
    ok(inp == h(jr["signature_input"]), "join request signature input (11.1)")
    body = h(jr["cbor"])
    sig = body[-64:]
    enc = cbor({"device": h(jr["device"]), "x25519": h(jr["x25519"]), "name": jr["name"],
                "nonce": Bytes16Array(h(jr["nonce"])), "sig": sig})
    ok(enc == body, "join request CBOR (11.1)")
    ok(ed25519_verify(h(jr["device"]), inp, sig), "join request signature")
    ok(jr["text"] == "caravan-request:" + b32(body), "join request text")
    c = b32(sha256(b"caravan/request-code/v1" + body)[:10])
    ok(jr["code"] == "-".join(c[i : i + 4] for i in range(0, 16, 4)), "join request code")


def split_envelopes(data):
    """Section 14: envelopes back to back, each one's length from its header (epoch < 24)."""
    out = []
    while data:
        ok(data[0] == 0x87 and data[20] < 24, "an envelope with a one-byte epoch")
        rest = data[72:]
        ai = rest[0] & 31
        width = 0 if ai < 24 else 1 << (ai - 24)
        n = ai if ai < 24 else int.from_bytes(rest[1 : 1 + width], "big")
        end = 72 + 1 + width + n
        out.append(data[:end])
        data = data[end:]
    return out


def open_message(key, epoch, env, what):
    """Sections 6 and 7: the sender, the signature check, the payload CBOR."""
    signed = open_envelope(key, epoch, env)
    ok(signed is not None, what + ": envelope opens")
    # Signed = {"sender": bstr(32), "body": bstr, "sig": bstr(64)}, keys in this order.
    pre = bytes([0xA3]) + cbor("sender")
    ok(signed.startswith(pre), what + ": Signed starts with its sender")
    sender = signed[len(pre) + 2 : len(pre) + 34]
    pos = len(pre) + 34 + len(cbor("body"))
    ai = signed[pos] & 31
    width = 0 if ai < 24 else 1 << (ai - 24)
    n = ai if ai < 24 else int.from_bytes(signed[pos + 1 : pos + 1 + width], "big")
    body = signed[pos + 1 + width : pos + 1 + width + n]
    sig = signed[-64:]
    ok(cbor({"sender": sender, "body": body, "sig": sig}) == signed, what + ": Signed CBOR")
    tag = hmac.new(key, b"caravan/route/v1" + struct.pack(">I", epoch), hashlib.sha256).digest()[:16]
    ok(ed25519_verify(sender, b"caravan/message/v1" + tag + struct.pack(">I", epoch) + body, sig),
       what + ": message signature")
    if body[0] == 0:
        payload = body[1:]
    else:
        ok(body[0] == 1, what + ": body encoding byte 0 or 1")
        payload = zlib.decompress(body[1:], -15)
    return sender, payload


def check_key_update_bundle(v, x_secrets):
    kb = v["key_update_bundle"]
    parts = split_envelopes(h(kb["bundle"]))
    ok(len(parts) == 2, "the bundle has two envelopes")
    ku, main = kb["key_update"], kb["main"]
    ok(parts[0] == h(ku["envelope"]) and parts[1] == h(main["envelope"]), "key update first, main last")
    sender, payload = open_message(h(ku["epoch_key"]), ku["epoch"], parts[0], "key update")
    ok(payload == h(ku["payload_cbor"]), "key update payload")
    sealed_entries = [s for s in v["sealed_keys"] if s["in"] == "Rekey"]
    sealed = h(sealed_entries[0]["sealed"])
    want = cbor({"cases": [], "tombstones": [], "members": [], "live": None, "keys": [[1, sealed]]})
    ok(payload == want, "key update payload = only keys (section 14)")
    context = h(v["group"]["id"]) + struct.pack(">I", 1) + sender
    k1 = open_from(b"caravan/rekey/v1", context, sealed, x_secrets[sender])
    ok(k1 == h(main["epoch_key"]), "the key update gives the epoch 1 key")
    sender2, payload = open_message(k1, 1, parts[1], "main envelope")
    ok(sender2 == sender, "same sender")
    records = Raw(_head(4, len(v["records"])) + b"".join(h(r["cbor"]) for r in v["records"]))
    want = cbor({"cases": [], "tombstones": [], "members": records, "live": None})
    ok(payload == want, "main payload: every record, keys omitted when empty (section 8.2)")


def check_invitation():
    v = load("invitation.json")
    g, inv, join = v["group"], v["invitation"], v["join"]
    creator = h(g["creator_public_key"])
    ok(ed25519_public(h(g["creator_seed"])) == creator, "invitation.json: creator key")
    ok(sha256(b"caravan/group/v1" + creator + h(g["nonce"]))[:16] == h(g["id"]), "invitation.json: group id")
    ok(ed25519_verify(creator, h(g["genesis_signature_input"]), h(g["records"][0]["sig"])), "genesis signature")
    secret = h(inv["secret"])
    ok(hkdf(b"caravan/invite/v1", secret, b"sign") == h(inv["sign_seed"]), "invitation sign seed")
    ok(hkdf(b"caravan/invite/v1", secret, b"welcome") == h(inv["welcome_key"]), "welcome key")
    ok(ed25519_public(h(inv["sign_seed"])) == h(inv["invite_public_key"]), "invitation public key")
    tag = hmac.new(h(inv["welcome_key"]), b"caravan/route/v1" + bytes(4), hashlib.sha256).digest()[:16]
    ok(tag == h(inv["welcome_routing_tag"]), "welcome routing tag")
    ok(inv["text"] == "caravan-invite:" + b32(secret + h(inv["sealed_welcome"])), "invitation text")
    rec = join["record"]
    ok(ed25519_verify(h(join["joiner_public_key"]), h(join["signature_input"]), h(rec["sig"])), "join sig")
    ok(ed25519_verify(h(inv["invite_public_key"]), h(join["signature_input"]), h(rec["invite_sig"])), "join invite_sig")
    # The welcome envelope opens as section 6 says.
    env = h(inv["sealed_welcome"])
    check_envelope_open(h(inv["welcome_key"]), 0, env, h(inv["welcome_cbor"]), "welcome")


def check_envelope_open(key, epoch, env, message, what):
    """Section 6: 87 01 01 50 <tag:16> <epoch:1> 50 <salt:16> 58 20 <commit:32> <ct head> <ct>."""
    ok(epoch < 24, what + ": an epoch of one byte")
    hdr_len = 72
    header = env[:hdr_len]
    tag = hmac.new(key, b"caravan/route/v1" + struct.pack(">I", epoch), hashlib.sha256).digest()[:16]
    ok(header[:4] == bytes([0x87, 1, 1, 0x50]) and header[4:20] == tag and header[20] == epoch, what + ": header")
    ok(header[21] == 0x50 and header[38:40] == bytes([0x58, 0x20]), what + ": header heads")
    salt = header[22:38]
    commit = hkdf(salt, key, b"caravan/envelope/v1/commit")
    ok(header[-32:] == commit, what + ": key commitment")
    k = hkdf(salt, key, b"caravan/envelope/v1/key")
    rest = env[hdr_len:]
    ai = rest[0] & 31
    n = rest[0] & 31 if ai < 24 else int.from_bytes(rest[1 : 1 + (1 << (ai - 24))], "big")
    ct = rest[1 + (0 if ai < 24 else 1 << (ai - 24)) :]
    ok(len(ct) == n, what + ": ciphertext length")
    plain = aead_open(k, bytes(12), header, ct)
    ok(plain is not None, what + ": AEAD opens")
    ln = struct.unpack("<I", plain[:4])[0]
    ok(plain[4 : 4 + ln] == message and not any(plain[4 + ln :]), what + ": message and zero padding")


def check_envelopes():
    v = load("envelope.json")
    for e in v["vectors"]:
        key, epoch = h(e["epoch_key"]), e["epoch"]
        tag = hmac.new(key, b"caravan/route/v1" + struct.pack(">I", epoch), hashlib.sha256).digest()[:16]
        ok(tag == h(e["routing_tag"]), "envelope %s: routing tag" % e.get("name"))
        salt = h(e["salt"])
        ok(hkdf(salt, key, b"caravan/envelope/v1/key") == h(e["aead_key"]), "envelope %s: AEAD key" % e.get("name"))
        ok(hkdf(salt, key, b"caravan/envelope/v1/commit") == h(e["commit"]), "envelope %s: commit" % e.get("name"))
        if epoch < 24:
            check_envelope_open(key, epoch, h(e["envelope"]), h(e["message"]), "envelope %s" % e.get("name"))


def check_bundle():
    v = load("bundle.json")
    sender = h(v["sender_public_key"])
    ok(ed25519_public(h(v["sender_seed"])) == sender, "bundle.json: sender key")
    inp = h(v["message_signature_input"])
    ok(inp == b"caravan/message/v1" + h(v["routing_tag"]) + struct.pack(">I", v["epoch"]) + h(v["body"]),
       "message signature input (section 7)")
    signed = h(v["signed_cbor"])
    sig = signed[-64:]
    ok(ed25519_verify(sender, inp, sig), "message signature verifies with the plain equation")
    if v["epoch"] < 24:
        got_sender, payload = open_message(h(v["epoch_key"]), v["epoch"], h(v["bundle"]), "bundle.json")
        ok(got_sender == sender and payload == h(v["payload_cbor"]), "bundle.json: opens to its payload")
        ok(zlib.decompress(h(v["body_deflated"])[1:], -15) == h(v["payload_cbor"]), "deflated body inflates")
    checked = 0
    for case in v["expected"]["cases"]:
        for ch in case.get("changes", []):
            raw = h(ch["bytes"])
            ok(raw[:4] == bytes.fromhex("856f4a83"), "change chunk magic (section 9)")
            ok(sha256(raw[8:]) == h(ch["hash"]), "change hash = SHA-256 of the chunk after magic and checksum")
            ok(raw[4:8] == h(ch["hash"])[:4], "change checksum = first 4 bytes of the hash")
            ok(h(ch["actor"]) == sha256(sender)[:16], "change actor = actor id of its author")
            inp = b"caravan/change/v1" + h(case["case"]) + h(ch["hash"])
            ok(inp == h(ch["signature_input"]), "change signature input")
            ok(ed25519_verify(sender, inp, h(ch["signature"])), "change signature (plain equation)")
            checked += 1
    ok(checked > 0, "bundle.json has change signatures to check")


def pkcs8_x25519(seed):
    pub = ed25519_public(seed)
    pkcs8 = bytes.fromhex("3051020101300506032b657004220420") + seed + b"\x81\x21\x00" + pub
    return hkdf(b"caravan/x25519/v1", pkcs8, b"static")


def share_payload_value(p):
    """SharePayload as section 21 encodes it."""
    return {
        "agreement": Bytes16Array(h(p["agreement"])),
        "cases": [
            {
                "projection": Bytes16Array(h(c["projection"])),
                "scalars": [[k, v] for k, v in c["scalars"]],
                "sets": [[k, list(v)] for k, v in c["sets"]],
                "service": c["service"],
            }
            for c in p["cases"]
        ],
        "returns": [
            {
                "projection": Bytes16Array(h(r["projection"])),
                "statuses": [[st, at] for st, at in r["statuses"]],
                "notes": [[i, at, t] for i, at, t in r["notes"]],
            }
            for r in p["returns"]
        ],
        "withdrawn": [Bytes16Array(h(w)) for w in p["withdrawn"]],
    }


def open_envelope(key, epoch, env):
    """Section 6 for an epoch below 24: the message inside, or None."""
    if epoch >= 24 or len(env) < 72 or env[:3] != bytes([0x87, 1, 1]):
        return None
    header, salt = env[:72], env[22:38]
    if header[-32:] != hkdf(salt, key, b"caravan/envelope/v1/commit"):
        return None
    rest = env[72:]
    ai = rest[0] & 31
    width = 0 if ai < 24 else 1 << (ai - 24)
    n = ai if ai < 24 else int.from_bytes(rest[1 : 1 + width], "big")
    ct = rest[1 + width :]
    if len(ct) != n:
        return None
    plain = aead_open(hkdf(salt, key, b"caravan/envelope/v1/key"), bytes(12), header, ct)
    if plain is None:
        return None
    ln = struct.unpack("<I", plain[:4])[0]
    return plain[4 : 4 + ln] if not any(plain[4 + ln :]) else None


def check_sharing():
    v = load("sharing.json")
    inv = load("invitation.json")
    devs = {d["name"]: d for d in v["devices"]}
    xs = {}
    for name, d in devs.items():
        ok(ed25519_public(h(d["seed"])) == h(d["public_key"]), "sharing.json: %s key" % name)
        xs[name] = pkcs8_x25519(h(d["seed"]))
        ok(x25519(xs[name], (9).to_bytes(32, "little")) == h(d["x25519_public"]), "%s X25519 key" % name)

    f = v["invite_for"]
    raw = base64.b32decode(inv["invitation"]["text"][len("caravan-invite:") :] + "=" * (-len(inv["invitation"]["text"][len("caravan-invite:") :]) % 8))
    ok(h(f["raw"]) == raw, "invite_for: raw is the in-person invitation's body")
    sealed = h(f["sealed"])
    ok(f["text"] == "caravan-invite-for:" + b32(sealed), "invite_for text (11.1)")
    ok(x25519(h(f["ephemeral_secret"]), (9).to_bytes(32, "little")) == sealed[:32], "invite_for ephemeral")
    opened = open_from(b"caravan/invite-for/v1", h(f["request_device"]), sealed, xs["joiner"])
    ok(opened == raw, "invite_for opens with the request's X25519 key")
    ok(open_from(b"caravan/invite-for/v1", h(f["request_device"]), sealed, xs["partner"]) is None,
       "invite_for does not open for another device")

    o = v["offer"]
    inp = (b"caravan/agreement/v1" + h(o["id"]) + h(o["key"]) + h(o["sharer_device"]) + h(o["partner_device"])
           + cbor([list(o["fields"]), o["sharer_name"]]))
    ok(inp == h(o["signature_input"]), "offer signature input (21)")
    body = h(o["cbor"])
    sig = body[-64:]
    ok(ed25519_verify(h(o["sharer_device"]), inp, sig), "offer signature")
    enc = cbor({"id": Bytes16Array(h(o["id"])), "key": h(o["key"]), "fields": list(o["fields"]),
                "sharer_name": o["sharer_name"], "sharer_device": h(o["sharer_device"]),
                "partner_device": h(o["partner_device"]), "sig": sig})
    ok(enc == body, "offer CBOR (21)")
    osealed = h(o["sealed"])
    ok(open_from(b"caravan/agreement/v1", h(o["partner_device"]), osealed, xs["partner"]) == body,
       "offer opens for the partner device")
    ok(o["text"] == "caravan-agreement:" + b32(osealed), "offer text")
    c = b32(sha256(b"caravan/agreement-code/v1" + osealed)[:10])
    ok(o["code"] == "-".join(c[i : i + 4] for i in range(0, 16, 4)), "offer code")

    key, aid = h(o["key"]), h(o["id"])
    for p in v["projections"]:
        pr = hmac.new(key, b"caravan/projection/v1" + h(p["case"]), hashlib.sha256).digest()[:16]
        ok(pr == h(p["projection"]), "projection id (21)")
    ekey = hkdf(b"caravan/share/v1", key, aid)
    for name in ("share_bundle", "share_return"):
        b = v[name]
        ok(ekey == h(b["envelope_key"]), name + ": envelope key")
        msg = open_envelope(ekey, 0, h(b["bundle"]))
        ok(msg == h(b["signed_cbor"]), name + ": envelope opens")
        pbody = cbor(share_payload_value(b["payload"]))
        ok(pbody == h(b["body"]), name + ": body is CBOR(SharePayload), no encoding byte")
        sinp = b"caravan/share/v1" + aid + pbody
        ok(sinp == h(b["signature_input"]), name + ": signature input")
        ssig = msg[-64:]
        ok(cbor({"sender": h(b["sender"]), "body": pbody, "sig": ssig}) == msg, name + ": Signed CBOR")
        ok(ed25519_verify(h(b["sender"]), sinp, ssig), name + ": signature")


def qr_split(bundle, max_frame):
    """Section 16.2."""
    size = max_frame - 24
    count = max(1, -(-len(bundle) // size))
    bid = sha256(bundle)[:8]
    frames = []
    for i in range(count):
        f = b"CVQ\x01" + bid + struct.pack(">HHI", i, count, len(bundle)) + bundle[i * size : (i + 1) * size]
        frames.append(f + sha256(f)[:4])
    return frames


def qr_geometry(frame):
    """Section 16.3: the frame's (bundle_id, count, total_len, P), or None if refused."""
    if not 24 <= len(frame) <= 2953 or frame[:3] != b"CVQ" or frame[3] != 1:
        return None
    if sha256(frame[:-4])[:4] != frame[-4:]:
        return None
    index, count, total = struct.unpack(">HHI", frame[12:20])
    n = len(frame) - 24
    if not (1 <= count <= 4096 and index < count and total <= count * 2929):
        return None
    if count == 1:
        size = total
        if n != total:
            return None
    elif index < count - 1:
        size = n
        if not (40 <= size <= 2929 and (count - 1) * size < total <= count * size):
            return None
    else:
        if n < 1 or (total - n) % (count - 1):
            return None
        size = (total - n) // (count - 1)
        if not (40 <= size <= 2929 and n <= size):
            return None
    return frame[4:12], count, total, size


def check_qr():
    v = load("qr.json")
    for q in v["vectors"]:
        bundle = h(q["bundle"])
        frames = [h(f) for f in q["frames"]]
        ok(qr_split(bundle, q["max_frame"]) == frames, "qr %s: frames as section 16.2 cuts them" % q["name"])
        ok(sha256(bundle)[:8] == h(q["bundle_id"]), "qr %s: bundle id" % q["name"])
        geos = {qr_geometry(f) for f in frames}
        ok(len(geos) == 1 and None not in geos, "qr %s: every frame valid, one geometry" % q["name"])
        ok(b"".join(f[20:-4] for f in frames) == bundle, "qr %s: reassembles" % q["name"])
    for q in v["negative"]:
        ok(qr_geometry(h(q["frame"])) is None, "qr negative %s is refused (16.3)" % q["name"])


def live_header_value(l):
    """LiveHeader as section 8.2 encodes it: every key, session as an array of 16 uints."""
    inv = l["inventory"]
    return {"session": Bytes16Array(h(l["session"])), "step": l["step"],
            "base": None if l["base"] is None else h(l["base"]),
            "inventory": None if inv is None else [[h(c), [h(x) for x in hs]] for c, hs in inv],
            "meta_digest": h(l["meta_digest"]), "last": l["last"]}


def live_payload_value(p):
    """A live message's Payload as section 8.2 encodes it; records are given as CBOR."""
    v = {"cases": [{"case": h(c["case"]), "changes": [h(x) for x in c["changes"]],
                    "sigs": [h(x) for x in c["sigs"]], "heads": [h(x) for x in c["heads"]]}
                   for c in p["cases"]],
         "tombstones": [],
         "members": Raw(_head(4, len(p["members"])) + b"".join(h(r) for r in p["members"])),
         "live": None if p["live"] is None else live_header_value(p["live"])}
    if p["keys"]:
        v["keys"] = [[e, h(k)] for e, k in p["keys"]]
    return v


def state_digest(state):
    """Section 13.1: SHA-256 over the entries sorted by case id, case ‖ u32 LE n ‖ heads."""
    m = b""
    for case, heads in sorted((h(c), [h(x) for x in hs]) for c, hs in state):
        m += case + struct.pack("<I", len(heads)) + b"".join(heads)
    return sha256(m)


def check_live():
    v = load("live.json")
    g = v["group"]
    key, epoch = h(g["epoch_key"]), g["epoch"]
    tag = hmac.new(key, b"caravan/route/v1" + struct.pack(">I", epoch), hashlib.sha256).digest()[:16]
    ok(tag == h(g["routing_tag"]), "live.json: routing tag")
    digest = hashlib.sha256()
    for r in g["records"]:
        digest.update(struct.pack("<Q", len(h(r))) + h(r))
    ok(digest.digest() == h(g["records_digest"]), "live.json: records digest (10.3)")
    meta = sha256(h(g["records_digest"]))
    ok(meta == h(g["meta_digest"]), "live.json: meta digest, no erased case, nothing held (13.1)")
    devices = {n: h(d["public_key"]) for n, d in v["devices"].items()}
    hashes = set()
    prev_after = None
    for s in v["sessions"]:
        what = "live.json %s" % s["name"]
        session_id = None
        for i, m in enumerate(s["messages"]):
            w = "%s step %d" % (what, i + 1)
            ok(m["step"] == i + 1, w + ": steps count from 1")
            ok(m["from"] == ("A" if i % 2 == 0 else "B"), w + ": the initiator sends the odd steps")
            data = h(m["bytes"])
            ok(h(m["length_prefix"]) == struct.pack(">I", len(data)), w + ": u32 BE length prefix")
            parts = split_envelopes(data)
            ok(len(parts) == len(m["envelopes"]), w + ": envelopes back to back (14)")
            for j, (part, e) in enumerate(zip(parts, m["envelopes"])):
                we = "%s envelope %d" % (w, j + 1)
                ok(part == h(e["envelope"]), we + ": bytes")
                ek = h(e["epoch_key"])
                etag = hmac.new(ek, b"caravan/route/v1" + struct.pack(">I", e["epoch"]),
                                hashlib.sha256).digest()[:16]
                ok(part[4:20] == etag == h(e["routing_tag"]) and part[20] == e["epoch"], we + ": header tag, epoch")
                ok(part[22:38] == h(e["salt"]), we + ": salt in the header")
                ok(open_envelope(ek, e["epoch"], part) == h(e["signed_cbor"]), we + ": opens to the Signed CBOR")
                sender, payload = open_message(ek, e["epoch"], part, we)
                ok(sender == devices[m["from"]] == h(e["sender"]), we + ": sender is the device that sent it")
                inp = b"caravan/message/v1" + etag + struct.pack(">I", e["epoch"]) + h(e["body"])
                ok(inp == h(e["signature_input"]), we + ": signature input (7)")
                ok(ed25519_verify(sender, inp, h(e["sig"])), we + ": signature")
                body = h(e["body"])
                ok(body[0] == (0 if e["body_encoding"] == "cbor" else 1), we + ": body encoding byte")
                ok(payload == h(e["payload_cbor"]), we + ": payload CBOR")
                ok(cbor(live_payload_value(e["payload"])) == payload, we + ": payload CBOR from its fields (8.2)")
                live = e["payload"]["live"]
                is_main = j + 1 == len(parts)
                ok((live is not None) == is_main == (e["kind"] == "main"), we + ": only the main envelope, the last, is live")
                for c in e["payload"]["cases"]:
                    ok(len(c["changes"]) == len(c["sigs"]), we + ": one signature per change")
                    for ch, sig in zip(c["changes"], c["sigs"]):
                        raw = h(ch)
                        ok(raw[:4] == bytes.fromhex("856f4a83"), we + ": change chunk magic (9)")
                        hsh = sha256(raw[8:])
                        ok(raw[4:8] == hsh[:4], we + ": change checksum")
                        ok(ed25519_verify(sender, b"caravan/change/v1" + h(c["case"]) + hsh, h(sig)),
                           we + ": change signature by its author")
                        hashes.add(hsh)
                    ok(all(h(x) in hashes for x in c["heads"]), we + ": declared heads are changes sent")
            main = m["envelopes"][-1]
            ok(main["kind"] == "main", w + ": the main envelope is last")
            live = main["payload"]["live"]
            ok(cbor(live_header_value(live)) == h(live["cbor"]), w + ": LiveHeader CBOR from its fields")
            ok(live["step"] == m["step"] and live["last"] == m["last"], w + ": header step and last")
            ok(h(live["meta_digest"]) == meta, w + ": meta digest")
            if session_id is None:
                session_id = live["session"]
            ok(live["session"] == session_id, w + ": one session id")
            if i > 0:
                ok(live["base"] is None, w + ": a reply's base is null (13.3)")
            if live["inventory"] is not None:
                cases = [c for c, _ in live["inventory"]]
                ok(cases == sorted(cases), w + ": inventory sorted by case id")
        msgs = s["messages"]
        last = [m["envelopes"][-1]["payload"]["live"] for m in msgs]
        ok([x["last"] for x in last] == [False] * (len(last) - 1) + [True], what + ": only the final message is last")
        first = last[0]
        if prev_after is None:
            ok(first["base"] is None and first["inventory"] is not None, what + ": no base, inventory (13.3)")
            ok(len(msgs) == 3, what + ": 3 messages on first contact")
        else:
            ok(h(first["base"]) == state_digest(prev_after["A"]["peers"]), what + ": base = digest(peers[B]) of A")
            ok(first["inventory"] is None and len(msgs) == 2, what + ": fast path, 2 messages")
        after = s["after"]
        for me, other in (("A", "B"), ("B", "A")):
            a = after[me]
            ok(state_digest(a["state"]) == h(a["state_digest"]), "%s after, %s: state digest" % (what, me))
            ok(a["peers"] == a["state"] and a["peers_digest"] == a["state_digest"],
               "%s after, %s: peers[%s] := its own state (13.3)" % (what, me, other))
            ok(h(a["peer_meta"]) == meta and h(a["last_peer"]) == devices[other],
               "%s after, %s: peer_meta and last_peer" % (what, me))
        ok(after["A"]["state"] == after["B"]["state"], what + ": both sides converged")
        prev_after = after


def main():
    check_membership()
    check_invitation()
    check_envelopes()
    check_bundle()
    check_sharing()
    check_qr()
    check_live()
    print("check.py: %d passed, 0 failed" % CHECKS)


if __name__ == "__main__":
    main()
