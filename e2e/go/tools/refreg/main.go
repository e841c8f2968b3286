// refreg is an in-memory OCI registry that serves the OCI 1.1 referrers API
// natively (cuelabs.dev/go/oci/ociregistry: ocimem behind ociserver), for tests.
// e2e/registry.sh starts it beside distribution's registry, which has no
// referrers API. Everything is lost when it stops.
//
//	refreg [-addr 127.0.0.1:0] [-addr-file FILE] [-latency 50ms]
//	       [-htpasswd user:pass] [-token-auth] [-fail-every N [-fail-writes]] [-fail-status 429|503]
//	       [-referrers-page-size N] [-no-referrers] [-log-requests]
//
// Test-only knobs, applied as HTTP middleware in front of the registry:
//
//   - -latency D: every request (also /token) waits D before it is served.
//   - -htpasswd user:pass: Basic auth on /v2/ (401 with WWW-Authenticate: Basic).
//   - -token-auth: the Docker token flow. /v2/ requests without a valid Bearer
//     token get 401 with WWW-Authenticate: Bearer realm="http://HOST/token",
//     service="refreg",scope="repository:NAME:pull" (pull,push for writes).
//     GET /token?service=refreg&scope=... checks the Basic credentials of
//     -htpasswd (anonymous when there is none) and returns
//     {"token","access_token","expires_in","issued_at"}; the token grants the
//     requested scopes for expires_in seconds.
//   - -fail-every N: every Nth /v2/ read (GET, HEAD; with -fail-writes every
//     request) fails with -fail-status: 429 with Retry-After: 1 (default), or 503.
//     Reads only by default: clients retry those, but not a step of a blob upload.
//   - -referrers-page-size N: referrers responses hold at most N manifests, the
//     rest linked with Link: <...>; rel="next".
//   - -no-referrers: answer the referrers API with 404, like a registry without it.
//
// GET /_refreg/stats (never delayed, failed or authenticated) returns request
// counts as JSON; POST /_refreg/stats/reset zeroes them.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"
)

func main() {
	var cfg config
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: any free port)")
	addrFile := flag.String("addr-file", "", "write the address listened on to this file once listening")
	flag.DurationVar(&cfg.latency, "latency", 0, "delay every request by this much")
	flag.StringVar(&cfg.htpasswd, "htpasswd", "", "user:pass required (Basic, or at /token with -token-auth)")
	flag.BoolVar(&cfg.tokenAuth, "token-auth", false, "Docker token flow: Bearer challenge, /token endpoint")
	flag.IntVar(&cfg.failEvery, "fail-every", 0, "fail every Nth /v2/ read (GET, HEAD)")
	flag.BoolVar(&cfg.failWrites, "fail-writes", false, "-fail-every counts and fails writes (POST, PUT, PATCH, DELETE) too")
	flag.IntVar(&cfg.failStatus, "fail-status", http.StatusTooManyRequests, "status of injected failures: 429 (with Retry-After: 1) or 503")
	flag.IntVar(&cfg.referrersPageSize, "referrers-page-size", 0, "at most N manifests per referrers response (Link pagination)")
	noReferrers := flag.Bool("no-referrers", false, "answer the referrers API with 404")
	flag.BoolVar(&cfg.logRequests, "log-requests", false, "log every request")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "refreg: %v\n", err)
		os.Exit(2)
	}

	reg := ociserver.New(ocimem.New(), &ociserver.Options{DisableReferrersAPI: *noReferrers})
	handler := newHandler(reg, &cfg)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("refreg: %v", err)
	}
	got := ln.Addr().String()
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(got+"\n"), 0o644); err != nil {
			log.Fatalf("refreg: %v", err)
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			log.Fatalf("refreg: %v", err)
		}
	}
	log.Printf("refreg: serving the OCI distribution API with referrers on http://%s (%s)", got, cfg.String())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("refreg: %v", err)
	}
}
