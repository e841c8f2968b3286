#!/usr/bin/env python3
"""Independent proof-bundle producer, written from docs/proof-bundle-format.md only.

Standard library only; signatures are made by shelling out to the `openssl` CLI.

Usage:
  make_bundle.py --manifest M.json --ledger L.json --key signing.pem
                 [--log-key log.pem --log-size N [--log-index I] [--log-origin O]]
                 [--tamper KIND] --signed-at TIME --out bundle.zip

Ledger input: {"nodes": [{"kind": ..., "parents": [index, ...], "data": ...}, ...]}
where parents are 0-based indexes of earlier nodes (the format of
examples/inputs/ledger.json). Any extra node members are kept and hashed.

Tamper kinds (all produce a readable bundle that must fail verification):
  manifest            edit manifest.json after signing
  node                edit a node's data, keep its id
  root                edit a node's data, recompute ids and rootHash, keep the signed statement
  signature           flip a bit in the manifest envelope's signature
  statement-signature flip a bit in the proof-root envelope's signature (before logging)
  inclusion           alter one inclusion-proof hash
  meta-time           change meta.json signedAt
  checkpoint          alter the checkpoint root hash (signature no longer matches)

Extra knobs used to probe how precisely the spec pins the format:
  --ecdsa-raw          write P-256 signatures in the 64-byte r||s form instead of DER
  --b64 std|url|nopad  base64 flavour for DSSE payload/sig (spec: producers use std)
  --pretty             pretty-print the JSON files stored in the archive
  --envelope-extra     add an unknown member to both DSSE envelopes
  --statement-noncanonical  serialize the statement with whitespace/unsorted keys
  --meta-signed-at T   write T as meta.json signedAt (instead of --signed-at)
  --empty-keyid        leave DSSE keyid empty
  --log-id-double      write logId as "sha256:" + key id (literal reading of section 9)
"""

import argparse
import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile

# ---------------------------------------------------------------------------
# Canonical JSON, RFC 8785 (section 1)
# ---------------------------------------------------------------------------


def _jcs_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        elif 0xD800 <= o <= 0xDFFF:
            raise ValueError("lone surrogate in string")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _es_number(x):
    """ECMAScript Number.prototype.toString for a finite double."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        if abs(x) > 2**53:
            raise ValueError("integer outside +-2^53")
        return str(x)
    if not math.isfinite(x):
        raise ValueError("NaN/Infinity not allowed in JSON")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _es_number(-x)
    # Shortest round-trip digits (Python's repr), as 0.d1..dk x 10^n.
    r = repr(x)
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # position of decimal point relative to the start of ip+fp
    point = len(ip) + exp
    lead = len(ip + fp) - len((ip + fp).lstrip("0"))
    n = point - lead
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    m = digits[0] + ("." + digits[1:] if k > 1 else "")
    return m + "e" + sign + str(abs(e))


def jcs(v):
    """Return the RFC 8785 canonical form of v as bytes."""
    return _jcs(v).encode("utf-8")


def _jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _es_number(v)
    if isinstance(v, str):
        return _jcs_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda s: s.encode("utf-16-be"))
        return "{" + ",".join(_jcs_string(k) + ":" + _jcs(v[k]) for k in keys) + "}"
    raise TypeError("not JSON: %r" % (v,))


def _jcs_self_test():
    # RFC 8785 appendix B number samples and key ordering.
    samples = {
        0.0: "0",
        -0.0: "0",
        1.0: "1",
        0.5: "0.5",
        1e21: "1e+21",
        1e20: "100000000000000000000",
        1e-7: "1e-7",
        1e-6: "0.000001",
        123456789012345680000.0: "123456789012345680000",
        4.5e-322: "4.5e-322",
        5e-324: "5e-324",
        1.7976931348623157e308: "1.7976931348623157e+308",
        9007199254740992.0: "9007199254740992",
        295147905179352830000.0: "295147905179352830000",
        0.000001: "0.000001",
        333333333.3333333: "333333333.3333333",
        1424953923781206.2: "1424953923781206.2",
        -1.5e-10: "-1.5e-10",
    }
    for x, want in samples.items():
        got = _es_number(x)
        assert got == want, (x, got, want)
    obj = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    got = _jcs(obj)
    want = '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}'
    assert got == want, got
    assert _jcs("a\u000f/\u2028\"\\") == '"a\\u000f/\u2028\\"\\\\"'


# ---------------------------------------------------------------------------
# Hashes, Merkle trees (section 5, RFC 6962 / RFC 9162)
# ---------------------------------------------------------------------------


def sha256(b):
    return hashlib.sha256(b).digest()


def digest_text(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def content_id(v):
    return digest_text(jcs(v))


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(l, r):
    return sha256(b"\x01" + l + r)


def _split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth_from_leaf_hashes(hs):
    if len(hs) == 0:
        return sha256(b"")
    if len(hs) == 1:
        return hs[0]
    k = _split(len(hs))
    return node_hash(mth_from_leaf_hashes(hs[:k]), mth_from_leaf_hashes(hs[k:]))


def audit_path(m, hs):
    """RFC 6962 section 2.1.1 PATH(m, D[n]) over leaf hashes hs."""
    n = len(hs)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return audit_path(m, hs[:k]) + [mth_from_leaf_hashes(hs[k:])]
    return audit_path(m - k, hs[k:]) + [mth_from_leaf_hashes(hs[:k])]


def verify_inclusion(index, size, lh, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, lh
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _merkle_self_test():
    for n in range(1, 20):
        hs = [leaf_hash(bytes([i])) for i in range(n)]
        root = mth_from_leaf_hashes(hs)
        for m in range(n):
            assert verify_inclusion(m, n, hs[m], audit_path(m, hs), root), (m, n)


# ---------------------------------------------------------------------------
# Keys and signatures (section 8) via the openssl CLI
# ---------------------------------------------------------------------------

P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def _run(args, data=None):
    p = subprocess.run(args, input=data, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


def _pem_der(text, label):
    begin = "-----BEGIN %s-----" % label
    end = "-----END %s-----" % label
    if begin not in text:
        return None
    body = text.split(begin, 1)[1].split(end, 1)[0]
    return base64.b64decode("".join(body.split()))


def _der_tlv(b, i):
    tag = b[i]
    ln = b[i + 1]
    i += 2
    if ln & 0x80:
        nb = ln & 0x7F
        ln = int.from_bytes(b[i : i + nb], "big")
        i += nb
    return tag, b[i : i + ln], i + ln


class Key:
    """A private key usable by openssl; knows its algorithm and key id."""

    def __init__(self, path, workdir):
        self.path = path
        spki = self._spki(path)
        if spki is None:
            # OpenSSL 3.0 cannot load PKCS#8 v2 (RFC 5958 OneAsymmetricKey with the
            # [1] publicKey), which is how the example Ed25519 keys are stored.
            # Rewrite such a key as PKCS#8 v1 holding the same 32-byte seed.
            self.path = self._ed25519_v2_to_v1(path, workdir)
            spki = self._spki(self.path)
            if spki is None:
                raise RuntimeError("openssl cannot read key %s" % path)
        if spki.startswith(P256_SPKI_PREFIX) and len(spki) == 91:
            self.alg = "p256"
        elif spki.startswith(ED25519_SPKI_PREFIX) and len(spki) == 44:
            self.alg = "ed25519"
        else:
            raise RuntimeError("unsupported key or non-canonical SPKI: %s" % spki.hex())
        self.spki = spki
        self.key_id = digest_text(spki)

    @staticmethod
    def _spki(path):
        p = subprocess.run(
            ["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"], capture_output=True
        )
        return p.stdout if p.returncode == 0 and p.stdout else None

    @staticmethod
    def _ed25519_v2_to_v1(path, workdir):
        with open(path) as f:
            der = _pem_der(f.read(), "PRIVATE KEY")
        if der is None:
            raise RuntimeError("no PRIVATE KEY block in %s" % path)
        tag, seq, _ = _der_tlv(der, 0)
        assert tag == 0x30
        i = 0
        tag, version, i = _der_tlv(seq, i)
        tag, alg, i = _der_tlv(seq, i)
        if alg != bytes.fromhex("06032b6570"):
            raise RuntimeError("key %s is not Ed25519 and openssl cannot read it" % path)
        tag, octets, i = _der_tlv(seq, i)
        tag2, seed, _ = _der_tlv(octets, 0)
        if tag2 != 0x04 or len(seed) != 32:
            raise RuntimeError("unexpected Ed25519 private key layout in %s" % path)
        embedded_pub = None
        while i < len(seq):
            tag, val, i = _der_tlv(seq, i)
            if tag in (0x81, 0xA1):
                embedded_pub = val[1:] if tag == 0x81 else val
        v1 = bytes.fromhex("302e020100300506032b657004220420") + seed
        out = os.path.join(workdir, "key-%s.pem" % hashlib.sha256(v1).hexdigest()[:12])
        with open(out, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\n")
            f.write(base64.b64encode(v1).decode() + "\n")
            f.write("-----END PRIVATE KEY-----\n")
        spki = Key._spki(out)
        if embedded_pub is not None and spki is not None and spki[-32:] != embedded_pub[-32:]:
            raise RuntimeError("public key embedded in %s does not match its seed" % path)
        return out

    def sign(self, message, workdir, raw_ecdsa=False):
        msg = os.path.join(workdir, "msg.bin")
        sig = os.path.join(workdir, "sig.bin")
        with open(msg, "wb") as f:
            f.write(message)
        if self.alg == "p256":
            _run(["openssl", "dgst", "-sha256", "-sign", self.path, "-out", sig, msg])
        else:
            _run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", self.path, "-in", msg, "-out", sig])
        with open(sig, "rb") as f:
            s = f.read()
        if self.alg == "ed25519":
            assert len(s) == 64
        elif raw_ecdsa:
            s = _ecdsa_der_to_raw(s)
        return s


def _ecdsa_der_to_raw(der):
    tag, seq, _ = _der_tlv(der, 0)
    assert tag == 0x30
    _, r, i = _der_tlv(seq, 0)
    _, s, _ = _der_tlv(seq, i)
    r = r.lstrip(b"\x00").rjust(32, b"\x00")
    s = s.lstrip(b"\x00").rjust(32, b"\x00")
    return r + s


# ---------------------------------------------------------------------------
# DSSE (sections 4 and 6)
# ---------------------------------------------------------------------------


def pae(payload_type, body):
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def b64(b, flavour="std"):
    if flavour == "std":
        return base64.b64encode(b).decode()
    if flavour == "url":
        return base64.urlsafe_b64encode(b).decode()
    if flavour == "nopad":
        return base64.b64encode(b).decode().rstrip("=")
    raise ValueError(flavour)


def envelope(payload_type, body, key, workdir, args):
    sig = key.sign(pae(payload_type, body), workdir, raw_ecdsa=args.ecdsa_raw)
    env = {
        "payloadType": payload_type,
        "payload": b64(body, args.b64),
        "signatures": [{"keyid": "" if args.empty_keyid else key.key_id, "sig": b64(sig, args.b64)}],
    }
    if args.envelope_extra:
        env["x-independent-producer"] = {"note": "unknown members are ignored", "n": 1}
    return env


def flip_sig_bit(env):
    s = env["signatures"][0]["sig"]
    pad = "=" * (-len(s) % 4)
    raw = bytearray(base64.b64decode(s.replace("-", "+").replace("_", "/") + pad))
    # Flip a low bit of the last byte: for DER ECDSA this stays inside s, so the
    # signature stays well-formed but no longer verifies; for Ed25519 likewise.
    raw[-1] ^= 0x01
    env["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()


# ---------------------------------------------------------------------------
# The bundle
# ---------------------------------------------------------------------------

MANIFEST_PAYLOAD_TYPE = "application/vnd.stellaops.scan-manifest.v1+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def build_ledger(raw_nodes):
    """Nodes with index parents -> nodes with ids (section 11 step 2)."""
    nodes = []
    for i, rn in enumerate(raw_nodes):
        node = {k: v for k, v in rn.items() if k != "id"}
        parents = []
        for p in rn.get("parents", []):
            if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < i:
                raise ValueError("node %d: parent %r is not an earlier node index" % (i, p))
            parents.append(nodes[p]["id"])
        node["parents"] = parents
        node_id = content_id(node)
        nodes.append(dict(node, id=node_id))
    return nodes


def ledger_root(nodes):
    hs = [leaf_hash(bytes.fromhex(n["id"][len("sha256:") :])) for n in nodes]
    return "sha256:" + mth_from_leaf_hashes(hs).hex()


def dump(v, pretty):
    if pretty:
        return (json.dumps(v, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return jcs(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log-key")
    ap.add_argument("--log-size", type=int)
    ap.add_argument("--log-index", type=int, help="0-based index of our entry (default: size // 2)")
    ap.add_argument("--log-origin", default="independent.example/log")
    ap.add_argument(
        "--tamper",
        choices=[
            "manifest",
            "node",
            "root",
            "signature",
            "statement-signature",
            "inclusion",
            "meta-time",
            "checkpoint",
        ],
    )
    ap.add_argument("--signed-at", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ecdsa-raw", action="store_true")
    ap.add_argument("--b64", choices=["std", "url", "nopad"], default="std")
    ap.add_argument("--pretty", action="store_true")
    ap.add_argument("--envelope-extra", action="store_true")
    ap.add_argument("--statement-noncanonical", action="store_true")
    ap.add_argument("--meta-signed-at")
    ap.add_argument("--empty-keyid", action="store_true")
    ap.add_argument("--log-id-double", action="store_true")
    args = ap.parse_args()

    # Cheap self-checks of the canonicalizer and the Merkle code on every run.
    _jcs_self_test()
    _merkle_self_test()

    if (args.log_key is None) != (args.log_size is None):
        ap.error("--log-key and --log-size go together")
    if args.tamper in ("inclusion", "checkpoint") and args.log_key is None:
        ap.error("--tamper %s needs a transparency-log entry" % args.tamper)

    with open(args.manifest, "rb") as f:
        manifest = json.loads(f.read().decode("utf-8"))
    with open(args.ledger, "rb") as f:
        raw_nodes = json.loads(f.read().decode("utf-8"))["nodes"]

    with tempfile.TemporaryDirectory() as work:
        key = Key(args.key, work)
        log_key = Key(args.log_key, work) if args.log_key else None

        # 1. manifest and manifest id
        m_bytes = jcs(manifest)
        manifest_id = digest_text(m_bytes)

        # 2./3. ledger, ids, Merkle root
        nodes = build_ledger(raw_nodes)
        root = ledger_root(nodes)
        score_proof = {
            "schema": "stellaops.io/score-proof/v1",
            "manifestId": manifest_id,
            "nodes": nodes,
            "rootHash": root,
        }

        # 4. manifest envelope
        manifest_env = envelope(MANIFEST_PAYLOAD_TYPE, m_bytes, key, work, args)

        # 5. statement and its envelope
        artifact = manifest["artifactDigest"]
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {
                    "name": manifest.get("artifactName", artifact),
                    "digest": {"sha256": artifact[len("sha256:") :]},
                }
            ],
            "predicateType": "https://stellaops.io/attestations/score-proof/v1",
            "predicate": {
                "manifestId": manifest_id,
                "proofRootHash": root,
                "nodeCount": len(nodes),
                "signedAt": args.signed_at,
            },
        }
        if args.statement_noncanonical:
            s_bytes = json.dumps(statement, indent=1, ensure_ascii=True).encode("utf-8")
            assert s_bytes != jcs(statement)
        else:
            s_bytes = jcs(statement)
        proof_env = envelope(INTOTO_PAYLOAD_TYPE, s_bytes, key, work, args)
        if args.tamper == "statement-signature":
            flip_sig_bit(proof_env)

        # 7. meta.json
        meta = {
            "schema": "stellaops.io/bundle-meta/v1",
            "createdAt": manifest["createdAt"],
            "signedAt": args.meta_signed_at or args.signed_at,
            "tools": {"independent-producer": "1"},
        }

        # 6. transparency log: our leaf is JCS(proof_root envelope object);
        # the other leaves are filler entries of an imaginary log.
        if log_key is not None:
            size = args.log_size
            index = args.log_index if args.log_index is not None else size // 2
            if not 0 <= index < size:
                ap.error("--log-index must be in [0, --log-size)")
            leaves = [b"independent-producer filler entry %d" % i for i in range(size)]
            leaves[index] = jcs(proof_env)
            hs = [leaf_hash(d) for d in leaves]
            tree_root = mth_from_leaf_hashes(hs)
            path = audit_path(index, hs)
            assert verify_inclusion(index, size, hs[index], path, tree_root)
            if args.tamper == "checkpoint":
                tree_root_written = bytes([tree_root[0] ^ 0x01]) + tree_root[1:]
            else:
                tree_root_written = tree_root
            body = ("%s\n%d\n%s\n" % (args.log_origin, size, base64.b64encode(tree_root).decode())).encode(
                "utf-8"
            )
            cp_sig = log_key.sign(body, work, raw_ecdsa=args.ecdsa_raw)
            proof_hex = [h.hex() for h in path]
            if args.tamper == "inclusion":
                if not proof_hex:
                    ap.error("--tamper inclusion needs --log-size >= 2")
                h = proof_hex[0]
                proof_hex[0] = ("0" if h[0] != "0" else "1") + h[1:]
            meta["transparencyLog"] = {
                "logId": ("sha256:" if args.log_id_double else "") + log_key.key_id,
                "logIndex": index,
                "inclusionProof": proof_hex,
                "checkpoint": {
                    "origin": args.log_origin,
                    "treeSize": size,
                    "rootHash": tree_root_written.hex(),
                    "signature": base64.b64encode(cp_sig).decode(),
                },
            }

        # Tampering after signing.
        if args.tamper == "manifest":
            manifest = json.loads(json.dumps(manifest))
            old = manifest["inputs"]["sbom"]
            manifest["inputs"]["sbom"] = "sha256:" + hashlib.sha256(old.encode()).hexdigest()
        elif args.tamper == "node":
            victim = score_proof["nodes"][min(1, len(nodes) - 1)]
            victim["data"] = {"tampered": True, "was": victim["data"]}
        elif args.tamper == "root":
            raw = json.loads(json.dumps(raw_nodes))
            victim = raw[min(1, len(raw) - 1)]
            victim["data"] = {"tampered": True, "was": victim.get("data")}
            new_nodes = build_ledger(raw)
            score_proof["nodes"] = new_nodes
            score_proof["rootHash"] = ledger_root(new_nodes)
            assert score_proof["rootHash"] != root
        elif args.tamper == "signature":
            flip_sig_bit(manifest_env)
        elif args.tamper == "meta-time":
            meta["signedAt"] = "2026-11-01T09:31:00Z" if args.signed_at != "2026-11-01T09:31:00Z" else "2026-11-01T09:32:00Z"

        # 8. the archive
        files = [
            ("manifest.json", dump(manifest, args.pretty)),
            ("manifest.dsse.json", dump(manifest_env, args.pretty)),
            ("score_proof.json", dump(score_proof, args.pretty)),
            ("proof_root.dsse.json", dump(proof_env, args.pretty)),
            ("meta.json", dump(meta, args.pretty)),
        ]
        tmp_out = args.out + ".partial"
        with zipfile.ZipFile(tmp_out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=False) as z:
            for name, data in files:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, data)
        os.replace(tmp_out, args.out)

    print(
        json.dumps(
            {
                "out": args.out,
                "manifestId": manifest_id,
                "proofRootHash": root,
                "keyId": key.key_id,
                "logId": log_key.key_id if log_key else None,
                "tamper": args.tamper,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, ValueError, KeyError) as e:
        print("make_bundle.py: error: %s" % e, file=sys.stderr)
        sys.exit(2)
