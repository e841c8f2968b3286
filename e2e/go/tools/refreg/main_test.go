package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"
)

func newServer(t *testing.T, cfg config) *httptest.Server {
	t.Helper()
	if cfg.failStatus == 0 {
		cfg.failStatus = http.StatusTooManyRequests
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(ociserver.New(ocimem.New(), nil), &cfg))
	t.Cleanup(srv.Close)
	return srv
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

type client struct {
	t    *testing.T
	base string
	auth string // Authorization header value
}

func (c *client) do(method, path, ctype string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (c *client) must(status int, method, path, ctype string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	resp, b := c.do(method, path, ctype, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %d %s (want %d)", method, path, resp.StatusCode, b, status)
	}
	return resp, b
}

func (c *client) pushBlob(repo string, data []byte) string {
	d := digestOf(data)
	c.must(http.StatusCreated, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, "application/octet-stream", data)
	return d
}

const (
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtEmpty    = "application/vnd.oci.empty.v1+json"
)

// pushManifest pushes an image manifest (with subject when given) and returns its digest.
func (c *client) pushManifest(repo, ref, artifactType, subject string) string {
	empty := c.pushBlob(repo, []byte("{}"))
	layer := c.pushBlob(repo, []byte("layer of "+ref+artifactType))
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtManifest,
		"config":        map[string]any{"mediaType": mtEmpty, "digest": empty, "size": 2},
		"layers":        []any{map[string]any{"mediaType": "application/octet-stream", "digest": layer, "size": len("layer of " + ref + artifactType)}},
	}
	if artifactType != "" {
		m["artifactType"] = artifactType
	}
	if subject != "" {
		m["subject"] = map[string]any{"mediaType": mtManifest, "digest": subject, "size": 1}
	}
	b, _ := json.Marshal(m)
	if ref == "" {
		ref = digestOf(b)
	}
	c.must(http.StatusCreated, "PUT", "/v2/"+repo+"/manifests/"+ref, mtManifest, b)
	return digestOf(b)
}

func referrers(t *testing.T, c *client, path string) (digests []string, next string) {
	t.Helper()
	resp, b := c.must(http.StatusOK, "GET", path, "", nil)
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for _, m := range idx.Manifests {
		digests = append(digests, m.Digest)
	}
	if l := resp.Header.Get("Link"); l != "" {
		m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("bad Link %q", l)
		}
		next = m[1]
	}
	return digests, next
}

func TestReferrersPaginated(t *testing.T) {
	srv := newServer(t, config{referrersPageSize: 2})
	c := &client{t: t, base: srv.URL}
	subject := c.pushManifest("shop/cart", "v1", "", "")
	want := map[string]bool{}
	for i := range 5 {
		want[c.pushManifest("shop/cart", "", fmt.Sprintf("application/x.test.%d", i), subject)] = true
	}
	var got []string
	path := "/v2/shop/cart/referrers/" + subject
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		var d []string
		d, path = referrers(t, c, path)
		if len(d) > 2 {
			t.Fatalf("page of %d manifests", len(d))
		}
		got = append(got, d...)
	}
	if len(got) != 5 {
		t.Fatalf("got %d referrers, want 5: %v", len(got), got)
	}
	for _, d := range got {
		if !want[d] {
			t.Fatalf("unexpected referrer %s", d)
		}
	}
}

func TestNoReferrers(t *testing.T) {
	srv := httptest.NewServer(newHandler(ociserver.New(ocimem.New(), &ociserver.Options{DisableReferrersAPI: true}), &config{failStatus: 429}))
	defer srv.Close()
	c := &client{t: t, base: srv.URL}
	subject := c.pushManifest("a", "v1", "", "")
	c.must(http.StatusNotFound, "GET", "/v2/a/referrers/"+subject, "", nil)
}

func TestBasicAuth(t *testing.T) {
	srv := newServer(t, config{htpasswd: "alice:s3cret"})
	c := &client{t: t, base: srv.URL}
	resp, _ := c.must(http.StatusUnauthorized, "GET", "/v2/", "", nil)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="refreg"` {
		t.Fatalf("challenge %q", got)
	}
	c.auth = "Basic YWxpY2U6d3Jvbmc=" // alice:wrong
	c.must(http.StatusUnauthorized, "GET", "/v2/", "", nil)
	c.auth = "Basic YWxpY2U6czNjcmV0" // alice:s3cret
	c.must(http.StatusOK, "GET", "/v2/", "", nil)
	c.pushManifest("x/y", "v1", "", "")
}

func TestTokenAuth(t *testing.T) {
	srv := newServer(t, config{htpasswd: "alice:s3cret", tokenAuth: true})
	c := &client{t: t, base: srv.URL}
	resp, _ := c.must(http.StatusUnauthorized, "GET", "/v2/shop/cart/manifests/v1", "", nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	want := `Bearer realm="http://` + host + `/token",service="refreg",scope="repository:shop/cart:pull"`
	if got := resp.Header.Get("WWW-Authenticate"); got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	resp, _ = c.must(http.StatusUnauthorized, "PUT", "/v2/shop/cart/manifests/v1", mtManifest, []byte("{}"))
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasSuffix(got, `scope="repository:shop/cart:pull,push"`) {
		t.Fatalf("push challenge %q", got)
	}
	// No or wrong credentials at /token.
	c.must(http.StatusUnauthorized, "GET", "/token?service=refreg&scope=repository:shop/cart:pull", "", nil)
	token := func(scope string) string {
		c.auth = "Basic YWxpY2U6czNjcmV0"
		_, b := c.must(http.StatusOK, "GET", "/token?service=refreg&scope="+scope, "", nil)
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" || tok.Token != tok.AccessToken || tok.ExpiresIn <= 0 {
			t.Fatalf("token response %s (%v)", b, err)
		}
		return tok.Token
	}
	c.auth = "Bearer " + token("repository:shop/cart:pull,push")
	subject := c.pushManifest("shop/cart", "v1", "", "")
	c.must(http.StatusOK, "GET", "/v2/shop/cart/manifests/v1", "", nil)
	c.must(http.StatusOK, "GET", "/v2/shop/cart/referrers/"+subject, "", nil)
	c.must(http.StatusOK, "GET", "/v2/", "", nil)
	// A token for another repository, or pull only, is not enough.
	c.auth = "Bearer " + token("repository:other:pull")
	c.must(http.StatusUnauthorized, "GET", "/v2/shop/cart/manifests/v1", "", nil)
	c.auth = "Bearer " + token("repository:shop/cart:pull")
	c.must(http.StatusOK, "GET", "/v2/shop/cart/manifests/v1", "", nil)
	c.must(http.StatusUnauthorized, "PUT", "/v2/shop/cart/manifests/v2", mtManifest, []byte("{}"))
	c.auth = "Bearer forged"
	c.must(http.StatusUnauthorized, "GET", "/v2/shop/cart/manifests/v1", "", nil)
}

func TestFailEvery(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		srv := newServer(t, config{failEvery: 3, failStatus: status})
		c := &client{t: t, base: srv.URL}
		var got []int
		for range 6 {
			resp, _ := c.do("GET", "/v2/", "", nil)
			got = append(got, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("429 without Retry-After: 1")
			}
		}
		want := fmt.Sprint([]int{200, 200, status, 200, 200, status})
		if fmt.Sprint(got) != want {
			t.Fatalf("statuses %v, want %s", got, want)
		}
		_, b := c.must(http.StatusOK, "GET", "/_refreg/stats", "", nil)
		var st stats
		json.Unmarshal(b, &st)
		if st.Requests != 6 || st.Failed != 2 || st.ByKind["GET ping"] != 6 {
			t.Fatalf("stats %s", b)
		}
	}
}

func TestLatency(t *testing.T) {
	srv := newServer(t, config{latency: 50 * time.Millisecond})
	c := &client{t: t, base: srv.URL}
	start := time.Now()
	c.must(http.StatusOK, "GET", "/v2/", "", nil)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered in %s, want >= 50ms", d)
	}
}

func TestFailEveryReadsOnly(t *testing.T) {
	srv := newServer(t, config{failEvery: 2})
	c := &client{t: t, base: srv.URL}
	// Writes never fail (a blob upload and a manifest PUT, 5 requests), reads do.
	c.pushManifest("r", "v1", "", "")
	c.must(http.StatusOK, "GET", "/v2/r/manifests/v1", "", nil)
	c.must(http.StatusTooManyRequests, "GET", "/v2/r/manifests/v1", "", nil)
	c.must(http.StatusOK, "HEAD", "/v2/r/manifests/v1", "", nil)

	srv = newServer(t, config{failEvery: 2, failWrites: true})
	c = &client{t: t, base: srv.URL}
	c.must(http.StatusAccepted, "POST", "/v2/w/blobs/uploads/", "", nil)
	c.must(http.StatusTooManyRequests, "POST", "/v2/w/blobs/uploads/", "", nil)
}
