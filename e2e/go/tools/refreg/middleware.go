package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	service     = "refreg"
	tokenExpiry = 300 // seconds
)

type config struct {
	latency           time.Duration
	htpasswd          string
	tokenAuth         bool
	failEvery         int
	failWrites        bool
	failStatus        int
	referrersPageSize int
	logRequests       bool
}

func (c *config) validate() error {
	if c.htpasswd != "" && !strings.Contains(c.htpasswd, ":") {
		return errors.New("-htpasswd wants user:pass")
	}
	if c.failEvery < 0 || c.referrersPageSize < 0 || c.latency < 0 {
		return errors.New("-fail-every, -referrers-page-size and -latency must not be negative")
	}
	if c.failStatus != http.StatusTooManyRequests && c.failStatus != http.StatusServiceUnavailable {
		return errors.New("-fail-status must be 429 or 503")
	}
	return nil
}

func (c *config) String() string {
	auth := "anonymous"
	switch {
	case c.tokenAuth && c.htpasswd != "":
		auth = "token auth, credentials required at /token"
	case c.tokenAuth:
		auth = "token auth, anonymous tokens"
	case c.htpasswd != "":
		auth = "basic auth"
	}
	s := fmt.Sprintf("%s, latency %s", auth, c.latency)
	if c.failEvery > 0 {
		what := "read"
		if c.failWrites {
			what = "request"
		}
		s += fmt.Sprintf(", every %dth %s fails with %d", c.failEvery, what, c.failStatus)
	}
	if c.referrersPageSize > 0 {
		s += fmt.Sprintf(", %d referrers per page", c.referrersPageSize)
	}
	return s
}

type handler struct {
	cfg  *config
	next http.Handler

	mu     sync.Mutex
	tokens map[string]grant // token -> what it allows
	stats  stats
	v2     int // /v2/ requests that may fail seen so far, for -fail-every
}

type grant struct {
	scopes  map[string]bool // "repository:NAME:ACTION" for each granted action
	expires time.Time
}

type stats struct {
	Requests   int            `json:"requests"`   // every /v2/ and /token request
	ByKind     map[string]int `json:"byKind"`     // "GET manifests", "HEAD blobs", "GET token", ...
	Failed     int            `json:"failed"`     // injected failures
	Challenged int            `json:"challenged"` // 401 answers
}

func newHandler(next http.Handler, cfg *config) *handler {
	return &handler{cfg: cfg, next: next, tokens: map[string]grant{}, stats: stats{ByKind: map[string]int{}}}
}

// /v2/<name>/<kind>/...: the repository name and what is asked for.
var repoPath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags|referrers)/`)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_refreg/stats":
		h.serveStats(w, r)
		return
	case "/_refreg/stats/reset":
		h.mu.Lock()
		h.stats = stats{ByKind: map[string]int{}}
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if h.cfg.logRequests {
		log.Printf("%s %s", r.Method, r.URL.RequestURI())
	}
	if h.cfg.latency > 0 {
		select {
		case <-time.After(h.cfg.latency):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/token" {
		h.count(r.Method+" token", false)
		if !h.cfg.tokenAuth {
			http.NotFound(w, r)
			return
		}
		h.serveToken(w, r)
		return
	}
	kind := "ping"
	repo := ""
	if m := repoPath.FindStringSubmatch(r.URL.Path); m != nil {
		repo, kind = m[1], m[2]
	} else if r.URL.Path != "/v2/" && r.URL.Path != "/v2" {
		kind = strings.TrimPrefix(r.URL.Path, "/v2/")
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if n := h.count(r.Method+" "+kind, read || h.cfg.failWrites); h.cfg.failEvery > 0 && n > 0 && n%h.cfg.failEvery == 0 {
		h.mu.Lock()
		h.stats.Failed++
		h.mu.Unlock()
		if h.cfg.failStatus == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "injected failure: too many requests")
		} else {
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "injected failure: service unavailable")
		}
		return
	}
	if !h.authorized(w, r, repo) {
		h.mu.Lock()
		h.stats.Challenged++
		h.mu.Unlock()
		return
	}
	if kind == "referrers" && r.Method == http.MethodGet && h.cfg.referrersPageSize > 0 {
		h.serveReferrersPage(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// count records a request; when it may fail (eligible), it returns how many requests
// that may fail were seen so far, this one included; else 0.
func (h *handler) count(kind string, eligible bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Requests++
	h.stats.ByKind[kind]++
	if !eligible {
		return 0
	}
	h.v2++
	return h.v2
}

func (h *handler) serveStats(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	body, err := json.Marshal(h.stats)
	h.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", code, msg)
}

// action is what a request needs on its repository.
func action(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "pull"
	default:
		return "push"
	}
}

func (h *handler) basicOK(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte(h.cfg.htpasswd)) == 1
}

// authorized answers 401 and returns false unless the request carries what the
// configured auth requires.
func (h *handler) authorized(w http.ResponseWriter, r *http.Request, repo string) bool {
	switch {
	case h.cfg.tokenAuth:
		var scope string
		if repo != "" {
			act := action(r.Method)
			scope = "repository:" + repo + ":" + act
			if act == "push" {
				scope = "repository:" + repo + ":pull,push"
			}
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && h.tokenAllows(tok, repo, action(r.Method)) {
			return true
		}
		challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="%s"`, r.Host, service)
		if scope != "" {
			challenge += fmt.Sprintf(`,scope="%s"`, scope)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false
	case h.cfg.htpasswd != "":
		if h.basicOK(r) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="refreg"`)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false
	}
	return true
}

func (h *handler) tokenAllows(tok, repo, act string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.tokens[tok]
	if !ok || time.Now().After(g.expires) {
		return false
	}
	if repo == "" { // /v2/, _catalog: any valid token
		return true
	}
	return g.scopes["repository:"+repo+":"+act]
}

// serveToken is the token endpoint of the Docker token flow.
func (h *handler) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "GET only")
		return
	}
	if h.cfg.htpasswd != "" && !h.basicOK(r) {
		h.mu.Lock()
		h.stats.Challenged++
		h.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="refreg token"`)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad or missing credentials")
		return
	}
	q := r.URL.Query()
	if s := q.Get("service"); s != "" && s != service {
		writeError(w, http.StatusBadRequest, "DENIED", fmt.Sprintf("unknown service %q (want %q)", s, service))
		return
	}
	g := grant{scopes: map[string]bool{}, expires: time.Now().Add(tokenExpiry * time.Second)}
	for _, sc := range q["scope"] {
		// A scope parameter may hold several space-separated scopes.
		for _, one := range strings.Fields(sc) {
			parts := strings.Split(one, ":")
			if len(parts) != 3 || parts[0] != "repository" {
				continue // e.g. registry:catalog:*: nothing to grant here
			}
			for _, act := range strings.Split(parts[2], ",") {
				if act == "*" {
					g.scopes[parts[0]+":"+parts[1]+":pull"] = true
					g.scopes[parts[0]+":"+parts[1]+":push"] = true
				} else {
					g.scopes[parts[0]+":"+parts[1]+":"+act] = true
				}
			}
		}
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h.mu.Lock()
	for t, old := range h.tokens { // drop expired ones
		if time.Now().After(old.expires) {
			delete(h.tokens, t)
		}
	}
	h.tokens[tok] = g
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   tokenExpiry,
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
}

const pageParam = "_refreg_page"

// serveReferrersPage cuts the registry's full referrers index into pages of
// referrersPageSize manifests, linked with Link: <...>; rel="next".
func (h *handler) serveReferrersPage(w http.ResponseWriter, r *http.Request) {
	page := 0
	if p := r.URL.Query().Get(pageParam); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "UNSUPPORTED", "bad "+pageParam)
			return
		}
		page = n
	}
	inner := r.Clone(r.Context())
	q := inner.URL.Query()
	q.Del(pageParam)
	inner.URL.RawQuery = q.Encode()
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, inner)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var index map[string]json.RawMessage
	var manifests []json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil {
		http.Error(w, "refreg: referrers index: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if m, ok := index["manifests"]; ok {
		if err := json.Unmarshal(m, &manifests); err != nil {
			http.Error(w, "refreg: referrers index: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	size := h.cfg.referrersPageSize
	from := min(page*size, len(manifests))
	to := min(from+size, len(manifests))
	part := manifests[from:to]
	if part == nil {
		part = []json.RawMessage{}
	}
	enc, _ := json.Marshal(part)
	index["manifests"] = enc
	body, err := json.Marshal(index)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if to < len(manifests) {
		next := url.URL{Path: r.URL.Path}
		nq := r.URL.Query()
		nq.Set(pageParam, strconv.Itoa(page+1))
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(bytes.Clone(rec.Body.Bytes()))
}
