#!/usr/bin/env python3
"""What is stored about one image digest in an OCI registry (plain HTTP, anonymous).

    e2e/registry_inspect.py HOST:PORT REPOSITORY sha256:DIGEST [--save DIR]
        [--expect legacy|bundle|both --kind plain|referrers]

Prints the repository's tags, the referrers API's answer for the digest, the fallback tag
index `sha256-<hex>` if there is one, cosign's legacy `sha256-<hex>.sig` / `.att`
manifests, and every signature manifest found: media types, artifactType, annotations,
subject, layers, and small blobs (DSSE envelopes and Sigstore bundles decoded).
With --save, writes each manifest and blob as fetched (raw bytes) under DIR.
With --expect, checks what cosign v3 must have written there and exits 1 if not.
Python standard library only (e2e/registry-smoke.sh runs it).
"""
import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
SMALL = 256 * 1024  # blobs printed and saved up to this size


def get(base, path, accept=None):
    req = urllib.request.Request(base + path, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Inspector:
    def __init__(self, host, repo, digest, save):
        self.base = "http://" + host
        self.repo = repo
        self.digest = digest
        self.save_dir = save
        self.problems = []
        self.seen = {}

    def out(self, msg=""):
        print(msg)

    def save(self, name, data):
        if not self.save_dir:
            return
        os.makedirs(self.save_dir, exist_ok=True)
        with open(os.path.join(self.save_dir, name), "wb") as f:
            f.write(data)

    def manifest(self, ref, label, indent="  "):
        """Fetches, prints (and saves) a manifest; returns its parsed JSON or None."""
        status, headers, body = get(self.base, f"/v2/{self.repo}/manifests/{ref}", ACCEPT)
        if status != 200:
            self.out(f"{indent}{label}: GET manifests/{ref} -> {status}")
            return None
        m = json.loads(body)
        dgst = headers.get("Docker-Content-Digest", "?")
        self.seen[label] = m
        self.save(f"{label}.manifest.json", body)
        self.out(f"{indent}{label}: {dgst} ({len(body)} bytes, Content-Type {headers.get('Content-Type')})")
        self.out(f"{indent}  mediaType:    {m.get('mediaType')}")
        if "artifactType" in m:
            self.out(f"{indent}  artifactType: {m['artifactType']}")
        if "config" in m:
            c = m["config"]
            self.out(f"{indent}  config:       {c.get('mediaType')} {c.get('digest')} ({c.get('size')} bytes)")
            if c.get("size", 0) <= SMALL:
                self.blob(c["digest"], f"{label}.config", indent + "    ")
        if "subject" in m:
            s = m["subject"]
            self.out(f"{indent}  subject:      {s.get('mediaType')} {s.get('digest')}")
        for k, v in sorted((m.get("annotations") or {}).items()):
            self.out(f"{indent}  annotation    {k} = {short(v)}")
        for i, l in enumerate(m.get("layers") or []):
            self.out(f"{indent}  layer[{i}]:     {l.get('mediaType')} {l.get('digest')} ({l.get('size')} bytes)")
            for k, v in sorted((l.get("annotations") or {}).items()):
                self.out(f"{indent}    annotation  {k} = {short(v)}")
            if l.get("size", 0) <= SMALL:
                self.blob(l["digest"], f"{label}.layer{i}", indent + "    ", l.get("mediaType", ""))
        for i, d in enumerate(m.get("manifests") or []):
            self.out(f"{indent}  manifests[{i}]: {d.get('mediaType')} {d.get('digest')} artifactType={d.get('artifactType')}")
            for k, v in sorted((d.get("annotations") or {}).items()):
                self.out(f"{indent}    annotation  {k} = {short(v)}")
        return m

    def blob(self, digest, label, indent, media_type=""):
        status, _, body = get(self.base, f"/v2/{self.repo}/blobs/{digest}")
        if status != 200:
            self.out(f"{indent}GET blobs/{digest} -> {status}")
            self.problems.append(f"{label}: blob {digest} not readable ({status})")
            return
        self.save(f"{label}.blob", body)
        try:
            doc = json.loads(body)
        except ValueError:
            self.out(f"{indent}({len(body)} bytes, not JSON)")
            return
        if isinstance(doc, dict) and "payload" in doc and "payloadType" in doc:  # DSSE envelope
            payload = base64.b64decode(doc["payload"])
            self.save(f"{label}.dsse-payload.json", payload)
            self.out(f"{indent}DSSE envelope: payloadType {doc['payloadType']}, {len(doc.get('signatures', []))} signature(s), keyid {[s.get('keyid') for s in doc.get('signatures', [])]}")
            describe_statement(self.out, indent, payload)
        elif isinstance(doc, dict) and str(doc.get("mediaType", "")).startswith("application/vnd.dev.sigstore.bundle"):
            vm = doc.get("verificationMaterial", {})
            self.out(f"{indent}Sigstore bundle: mediaType {doc['mediaType']}; verificationMaterial keys {sorted(vm)}; "
                     f"tlogEntries {len(vm.get('tlogEntries') or [])}; content {sorted(k for k in doc if k in ('messageSignature', 'dsseEnvelope'))}")
            if "publicKey" in vm:
                self.out(f"{indent}  publicKey hint: {vm['publicKey'].get('hint')}")
            env = doc.get("dsseEnvelope")
            if env:
                payload = base64.b64decode(env["payload"])
                self.save(f"{label}.dsse-payload.json", payload)
                self.out(f"{indent}  dsseEnvelope: payloadType {env['payloadType']}, {len(env.get('signatures', []))} signature(s)")
                describe_statement(self.out, indent + "  ", payload)
            ms = doc.get("messageSignature")
            if ms:
                self.out(f"{indent}  messageSignature: digest {ms.get('messageDigest', {}).get('algorithm')} "
                         f"{ms.get('messageDigest', {}).get('digest')}, signature {len(ms.get('signature', ''))} b64 chars")
        else:
            text = json.dumps(doc, sort_keys=True)
            self.out(f"{indent}JSON ({len(body)} bytes): {text[:600]}{' ...' if len(text) > 600 else ''}")

    def run(self):
        hexd = self.digest.split(":", 1)[1]
        self.out(f"== http://{self.base[7:]}/{self.repo} @ {self.digest}")
        status, _, body = get(self.base, f"/v2/{self.repo}/tags/list")
        tags = json.loads(body).get("tags") or [] if status == 200 else []
        self.tags = tags
        self.out(f"tags ({status}): {' '.join(sorted(tags))}")

        status, headers, body = get(self.base, f"/v2/{self.repo}/referrers/{self.digest}")
        self.referrers_status = status
        self.referrers = []
        self.out(f"GET /v2/{self.repo}/referrers/{self.digest} -> {status} (Content-Type {headers.get('Content-Type')})")
        if status == 200:
            idx = json.loads(body)
            self.save("referrers.json", body)
            self.referrers = idx.get("manifests") or []
            self.out(f"  referrers index: mediaType {idx.get('mediaType')}, {len(self.referrers)} manifest(s)")
        else:
            self.out(f"  body: {body[:300].decode('utf-8', 'replace').strip()}")
        for i, d in enumerate(self.referrers):
            self.out(f"  [{i}] {d.get('mediaType')} {d.get('digest')} ({d.get('size')} bytes) artifactType={d.get('artifactType')}")
            for k, v in sorted((d.get("annotations") or {}).items()):
                self.out(f"      annotation {k} = {short(v)}")
        for i, d in enumerate(self.referrers):
            self.manifest(d["digest"], f"referrer{i}")

        self.fallback = []
        if f"sha256-{hexd}" in tags:
            self.out(f"fallback tag sha256-{hexd} (referrers tag schema):")
            idx = self.manifest(f"sha256-{hexd}", "fallback-index")
            self.fallback = (idx or {}).get("manifests") or []
            for i, d in enumerate(self.fallback):
                self.manifest(d["digest"], f"fallback{i}")
        for suffix in ("sig", "att", "sbom"):
            if f"sha256-{hexd}.{suffix}" in tags:
                self.out(f"legacy tag sha256-{hexd}.{suffix}:")
                self.manifest(f"sha256-{hexd}.{suffix}", f"legacy-{suffix}")

    def expect(self, want, kind):
        hexd = self.digest.split(":", 1)[1]
        p = self.problems
        bundle_mt = "application/vnd.dev.sigstore.bundle"
        if want in ("legacy", "both"):
            for suffix, mt in (("sig", "application/vnd.dev.cosign.simplesigning.v1+json"),
                               ("att", "application/vnd.dsse.envelope.v1+json")):
                m = self.seen.get(f"legacy-{suffix}")
                if m is None:
                    p.append(f"no legacy tag sha256-{hexd}.{suffix}")
                    continue
                layers = m.get("layers") or []
                if not layers or any(l.get("mediaType") != mt for l in layers):
                    p.append(f".{suffix}: layers are {[l.get('mediaType') for l in layers]}, want {mt}")
                if suffix == "sig" and not all("dev.cosignproject.cosign/signature" in (l.get("annotations") or {}) for l in layers):
                    p.append(".sig: a layer lacks the dev.cosignproject.cosign/signature annotation")
        else:
            for suffix in ("sig", "att"):
                if f"sha256-{hexd}.{suffix}" in self.tags:
                    p.append(f"unexpected legacy tag sha256-{hexd}.{suffix}")
        found = self.referrers if kind == "referrers" else self.fallback
        bundles = [d for i, d in enumerate(found)
                   if any(str(l.get("mediaType", "")).startswith(bundle_mt)
                          for l in (self.seen.get(f"{'referrer' if kind == 'referrers' else 'fallback'}{i}") or {}).get("layers") or [])]
        if kind == "referrers":
            if self.referrers_status != 200:
                p.append(f"referrers API answered {self.referrers_status}, want 200")
            if f"sha256-{hexd}" in self.tags:
                p.append(f"fallback tag sha256-{hexd} on a registry with the referrers API")
        else:
            if self.referrers_status == 200:
                p.append("the plain registry answered the referrers API with 200")
        if want in ("bundle", "both"):
            if len(bundles) < 2:
                p.append(f"{len(bundles)} Sigstore bundle manifest(s) found via {'the referrers API' if kind == 'referrers' else 'the fallback tag'}, want 2 (signature and attestation)")
        elif bundles:
            p.append(f"unexpected Sigstore bundles: {[d.get('digest') for d in bundles]}")
        return p


def describe_statement(out, indent, payload):
    try:
        st = json.loads(payload)
    except ValueError:
        out(f"{indent}  payload: {len(payload)} bytes, not JSON")
        return
    if "predicateType" in st:
        subj = [(s.get("name"), s.get("digest")) for s in st.get("subject") or []]
        out(f"{indent}  in-toto {st.get('_type')}: predicateType {st['predicateType']}, subject {subj}")
    else:
        out(f"{indent}  payload: {short(json.dumps(st, sort_keys=True), 300)}")


def short(v, n=160):
    v = str(v).replace("\n", "\\n")
    return v if len(v) <= n else v[:n] + f"... ({len(v)} chars)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("repo")
    ap.add_argument("digest")
    ap.add_argument("--save")
    ap.add_argument("--expect", choices=["legacy", "bundle", "both"])
    ap.add_argument("--kind", choices=["plain", "referrers"])
    a = ap.parse_args()
    ins = Inspector(a.host, a.repo, a.digest, a.save)
    ins.run()
    problems = list(ins.problems)
    if a.expect:
        problems = ins.expect(a.expect, a.kind or "referrers")
    if problems:
        print(f"FAIL {a.host}/{a.repo}@{a.digest}:", file=sys.stderr)
        for x in problems:
            print(f"  - {x}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {a.host}/{a.repo}@{a.digest}" + (f" holds the {a.expect} formats as expected on a {a.kind} registry" if a.expect else ""))


if __name__ == "__main__":
    main()
