// sigstorebench measures sigstore-go's bundle verification on the bundles that
// attestor's `cargo bench -p attestor-sigstore --bench verify` times, so that
// e2e/bench-sigstore.sh (`make bench`) can print both figures side by side.
//
//	sigstorebench -data operator/sigstore/tests/data [-seconds 3]
//
// The bundles: every case of the sigstore-conformance suite that must verify
// (DATA/sigstore-conformance/cases/*, not *_fail), with the case's trusted root,
// artifact, identity and key as the suite defines them, and cosign v3's
// key-signed bundles without a log entry (DATA/cosign/plain/bundle/fallback*).
//
// Each bundle is first verified once and must verify: both tools then time the
// same successful work. The timed loop parses the bundle JSON and verifies it;
// the trusted material and the verifier are built once, outside it, as a
// long-running verifier holds them. One goroutine, GOMAXPROCS=1: a figure per
// core.
//
// Then the two signature checks a keyless bundle's cost is made of (rows ecdsa-*, see
// primitives). Output, one line per figure on stdout, tab-separated:
//
//	rate	<kind>	<bundles per CPU-second>
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The conformance suite's defaults (its cases/README.md), as in
// operator/sigstore/tests/conformance.rs.
const (
	defaultIdentity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	defaultIssuer   = "https://token.actions.githubusercontent.com"
)

// cosignBundles are the cosign v3 bundles (kind, path under DATA/cosign), signed with
// cosign.pub and no log entry, whose in-toto subject is the image digest in image-ref.
var cosignBundles = [][2]string{
	{"cosign-v3-key-attestation", "plain/bundle/fallback0.layer0.blob"},
	{"cosign-v3-key-signature", "plain/bundle/fallback1.layer0.blob"},
}

// A bundle and everything its verification needs but the bundle itself; or, for the
// primitives, the work itself (run).
type bench struct {
	kind     string
	json     []byte
	verifier *verify.Verifier
	policy   func() verify.PolicyBuilder
	run      func() error
}

func main() {
	data := flag.String("data", "", "operator/sigstore/tests/data")
	seconds := flag.Float64("seconds", 3, "seconds of CPU time per bundle")
	flag.Parse()
	if *data == "" || flag.NArg() != 0 || *seconds <= 0 {
		fmt.Fprintln(os.Stderr, "usage: sigstorebench -data operator/sigstore/tests/data [-seconds 3]")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	benches, err := load(*data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sigstorebench: %v\n", err)
		os.Exit(1)
	}
	budget := time.Duration(*seconds * float64(time.Second))
	fmt.Fprintf(os.Stderr, "sigstore-go verification benchmark (%gs of CPU per figure, GOMAXPROCS=%d, %s, %d bundles)\n",
		*seconds, runtime.GOMAXPROCS(0), runtime.Version(), len(benches))
	for _, b := range benches {
		perSecond, err := rate(b, budget)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigstorebench: %s: %v\n", b.kind, err)
			os.Exit(1)
		}
		fmt.Printf("rate\t%s\t%.1f\n", b.kind, perSecond)
	}
	prims, err := primitives(*data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sigstorebench: %v\n", err)
		os.Exit(1)
	}
	for _, p := range prims {
		perSecond, err := rate(p, budget)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigstorebench: %s: %v\n", p.kind, err)
			os.Exit(1)
		}
		fmt.Printf("rate\t%s\t%.1f\n", p.kind, perSecond)
	}
}

// primitives: the two signature checks a keyless bundle's cost is made of, on real data,
// as attestor's bench times them: the Fulcio intermediate's ECDSA P-384 (SHA-384)
// signature on happy-path-v0.3's leaf, and the leaf's ECDSA P-256 (SHA-256) signature on
// a.txt, each with the hashing.
func primitives(data string) ([]*bench, error) {
	conformance := filepath.Join(data, "sigstore-conformance")
	rootJSON, err := os.ReadFile(filepath.Join(conformance, "trusted_root.public-good.json"))
	if err != nil {
		return nil, err
	}
	trusted, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return nil, err
	}
	bun, err := bundle.LoadJSONFromPath(filepath.Join(conformance, "cases", "happy-path-v0.3", "bundle.sigstore.json"))
	if err != nil {
		return nil, err
	}
	content, err := bun.VerificationContent()
	if err != nil {
		return nil, err
	}
	leaf := content.Certificate()
	var intermediate *x509.Certificate
	for _, ca := range trusted.FulcioCertificateAuthorities() {
		if f, ok := ca.(*root.FulcioCertificateAuthority); ok && len(f.Intermediates) > 0 &&
			leaf.CheckSignatureFrom(f.Intermediates[0]) == nil {
			intermediate = f.Intermediates[0]
		}
	}
	if intermediate == nil {
		return nil, errors.New("the leaf of happy-path-v0.3 has no issuer in the public-good root")
	}
	sig := bun.GetMessageSignature().GetSignature()
	artifact, err := os.ReadFile(filepath.Join(conformance, "cases", "a.txt"))
	if err != nil {
		return nil, err
	}
	leafKey, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the leaf key of happy-path-v0.3 is not ECDSA")
	}
	p384 := &bench{kind: "ecdsa-p384-sha384-verify", run: func() error {
		return leaf.CheckSignatureFrom(intermediate)
	}}
	p256 := &bench{kind: "ecdsa-p256-sha256-verify", run: func() error {
		digest := sha256.Sum256(artifact)
		if !ecdsa.VerifyASN1(leafKey, digest[:], sig) {
			return errors.New("the message signature does not verify")
		}
		return nil
	}}
	for _, p := range []*bench{p384, p256} {
		if err := p.once(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.kind, err)
		}
	}
	return []*bench{p384, p256}, nil
}

// once parses and verifies the bundle: the work that is timed.
func (b *bench) once() error {
	if b.run != nil {
		return b.run()
	}
	var bun bundle.Bundle
	if err := bun.UnmarshalJSON(b.json); err != nil {
		return err
	}
	_, err := b.verifier.Verify(&bun, b.policy())
	return err
}

// cpuTime is the CPU time of the whole process (every thread: the garbage collector's
// work counts), per second of which the figures are: the machines are shared, and load
// on the other cores moves CPU time less than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rate runs once repeatedly for budget of CPU time, as operator/sigstore/benches/verify.rs
// does (50 warm-up runs, then batches of 64), and returns verifications per CPU-second.
func rate(b *bench, budget time.Duration) (float64, error) {
	for range 50 {
		if err := b.once(); err != nil {
			return 0, err
		}
	}
	start := cpuTime()
	n := 0
	for cpuTime()-start < budget {
		for range 64 {
			if err := b.once(); err != nil {
				return 0, err
			}
		}
		n += 64
	}
	return float64(n) / (cpuTime() - start).Seconds(), nil
}

func load(data string) ([]*bench, error) {
	cases := filepath.Join(data, "sigstore-conformance", "cases")
	entries, err := os.ReadDir(cases)
	if err != nil {
		return nil, err
	}
	publicGood, err := os.ReadFile(filepath.Join(data, "sigstore-conformance", "trusted_root.public-good.json"))
	if err != nil {
		return nil, err
	}
	var out []*bench
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), "_fail") {
			continue
		}
		b, err := conformanceCase(filepath.Join(cases, e.Name()), filepath.Join(cases, "a.txt"), publicGood)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, b)
	}
	for _, c := range cosignBundles {
		b, err := cosignCase(filepath.Join(data, "cosign"), c[0], c[1], publicGood)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c[0], err)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	for _, b := range out {
		if err := b.once(); err != nil {
			return nil, fmt.Errorf("%s does not verify with sigstore-go: %w", b.kind, err)
		}
	}
	return out, nil
}

// readOr returns the file's contents, or def when it does not exist.
func readOr(path string, def []byte) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return def, nil
	}
	return b, err
}

func conformanceCase(dir, defaultArtifact string, publicGood []byte) (*bench, error) {
	b := &bench{kind: filepath.Base(dir)}
	var err error
	if b.json, err = os.ReadFile(filepath.Join(dir, "bundle.sigstore.json")); err != nil {
		return nil, err
	}
	rootJSON, err := readOr(filepath.Join(dir, "trusted_root.json"), publicGood)
	if err != nil {
		return nil, err
	}
	trusted, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return nil, err
	}
	artifact, err := os.ReadFile(filepath.Join(dir, "artifact"))
	if errors.Is(err, os.ErrNotExist) {
		artifact, err = os.ReadFile(defaultArtifact)
	}
	if err != nil {
		return nil, err
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	var material root.TrustedMaterial = trusted
	var identity verify.PolicyOption
	keyPEM, err := readOr(filepath.Join(dir, "key.pub"), nil)
	if err != nil {
		return nil, err
	}
	if keyPEM != nil {
		key, err := keyMaterial(keyPEM)
		if err != nil {
			return nil, err
		}
		material = root.TrustedMaterialCollection{key, trusted}
		identity = verify.WithKey()
	} else {
		// A Fulcio certificate: its embedded SCT is checked, as attestor checks it.
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		san, err := readOr(filepath.Join(dir, "identity"), []byte(defaultIdentity))
		if err != nil {
			return nil, err
		}
		issuer, err := readOr(filepath.Join(dir, "issuer"), []byte(defaultIssuer))
		if err != nil {
			return nil, err
		}
		id, err := verify.NewShortCertificateIdentity(strings.TrimSpace(string(issuer)), "", strings.TrimSpace(string(san)), "")
		if err != nil {
			return nil, err
		}
		identity = verify.WithCertificateIdentity(id)
	}
	if b.verifier, err = verify.NewVerifier(material, opts...); err != nil {
		return nil, err
	}
	// WithArtifact reads its reader: a fresh one for each verification.
	b.policy = func() verify.PolicyBuilder {
		return verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), identity)
	}
	return b, nil
}

// cosignCase: a key-signed bundle with neither log entry nor timestamp, verified as
// `cosign verify --key --insecure-ignore-tlog` does: at the current time.
func cosignCase(dir, kind, file string, publicGood []byte) (*bench, error) {
	b := &bench{kind: kind}
	var err error
	if b.json, err = os.ReadFile(filepath.Join(dir, file)); err != nil {
		return nil, err
	}
	imageRef, err := os.ReadFile(filepath.Join(dir, filepath.Dir(file), "image-ref"))
	if err != nil {
		return nil, err
	}
	_, digestHex, ok := strings.Cut(strings.TrimSpace(string(imageRef)), "@sha256:")
	if !ok {
		return nil, fmt.Errorf("image-ref %q has no sha256 digest", imageRef)
	}
	digest, err := hex.DecodeString(digestHex)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		return nil, err
	}
	key, err := keyMaterial(keyPEM)
	if err != nil {
		return nil, err
	}
	trusted, err := root.NewTrustedRootFromJSON(publicGood)
	if err != nil {
		return nil, err
	}
	b.verifier, err = verify.NewVerifier(root.TrustedMaterialCollection{key, trusted}, verify.WithCurrentTime())
	if err != nil {
		return nil, err
	}
	b.policy = func() verify.PolicyBuilder {
		return verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithKey())
	}
	return b, nil
}

// keyMaterial trusts one PEM public key with no validity window, as sigstore-go's
// conformance client does for --key.
func keyMaterial(pemBytes []byte) (root.TrustedMaterial, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, err
	}
	verifier, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, err
	}
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(verifier, time.Time{}, time.Time{}), nil
	}), nil
}
