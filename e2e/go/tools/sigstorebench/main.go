// sigstorebench measures sigstore-go's bundle verification on the bundles that
// attestor's `cargo bench -p attestor-sigstore --bench sigstore_go` times, so that
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
// Output, one line per bundle on stdout, tab-separated:
//
//	rate	<kind>	<bundles per second>
package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
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

// A bundle and everything its verification needs but the bundle itself.
type bench struct {
	kind     string
	json     []byte
	verifier *verify.Verifier
	policy   func() verify.PolicyBuilder
}

func main() {
	data := flag.String("data", "", "operator/sigstore/tests/data")
	seconds := flag.Float64("seconds", 3, "seconds of timing per bundle")
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
	fmt.Fprintf(os.Stderr, "sigstore-go verification benchmark (%gs per figure, GOMAXPROCS=%d)\n",
		*seconds, runtime.GOMAXPROCS(0))
	for _, b := range benches {
		perSecond, err := rate(b, budget)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigstorebench: %s: %v\n", b.kind, err)
			os.Exit(1)
		}
		fmt.Printf("rate\t%s\t%.1f\n", b.kind, perSecond)
	}
}

// once parses and verifies the bundle: the work that is timed.
func (b *bench) once() error {
	var bun bundle.Bundle
	if err := bun.UnmarshalJSON(b.json); err != nil {
		return err
	}
	_, err := b.verifier.Verify(&bun, b.policy())
	return err
}

// rate runs once repeatedly for budget, as operator/core/benches/verify.rs does (50
// warm-up runs, then batches of 64), and returns verifications per second.
func rate(b *bench, budget time.Duration) (float64, error) {
	for range 50 {
		if err := b.once(); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	n := 0
	for time.Since(start) < budget {
		for range 64 {
			if err := b.once(); err != nil {
				return 0, err
			}
		}
		n += 64
	}
	return float64(n) / time.Since(start).Seconds(), nil
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
