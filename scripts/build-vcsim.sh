#!/usr/bin/env bash
# Build govmomi's vSphere simulator (vcsim) from Debian packages, offline.
#
# Debian's golang-github-vmware-govmomi-dev (0.24.2) ships the govmomi library,
# including simulator/ and vapi/simulator/ (the /rest Content Library API), but
# not the vcsim command. This script writes a small launcher main.go and builds
# it in GOPATH mode with the module proxy switched off: the only downloads are
# the Debian packages, through apt-get.
#
# Usage:  scripts/build-vcsim.sh [OUTDIR]        (default: <project>/.vcsim)
# Result: OUTDIR/bin/vcsim, plus OUTDIR/cert.pem and OUTDIR/key.pem
#         (a 2048-bit self-signed certificate for 127.0.0.1; vcsim's built-in
#         certificate is a 1024-bit key that OpenSSL refuses to verify).
#
# Re-running is cheap: the build is skipped while OUTDIR/bin/vcsim is newer
# than this script, and an existing certificate is kept.
# Installing the packages needs root (or password-less sudo).
set -euo pipefail

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SCRIPT")/.." && pwd)"
OUTDIR="${1:-$ROOT/.vcsim}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
GOCODE=/usr/share/gocode
BIN="$OUTDIR/bin/vcsim"

# shellcheck source=scripts/_apt.sh
. "$ROOT/scripts/_apt.sh"

log() { echo "build-vcsim: $*"; }
die() { echo "build-vcsim: error: $*" >&2; exit 1; }

# One build at a time per OUTDIR (several test runs may start together).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.lock"
    flock 9
fi

ensure_cert() {
    if [ -s "$OUTDIR/cert.pem" ] && [ -s "$OUTDIR/key.pem" ]; then
        return
    fi
    command -v openssl >/dev/null 2>&1 || die "openssl not found (needed for the test certificate)"
    log "generating a 2048-bit self-signed certificate for 127.0.0.1"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
        -keyout "$OUTDIR/key.pem.tmp" -out "$OUTDIR/cert.pem.tmp" 2>/dev/null \
        || die "openssl could not create the certificate"
    mv "$OUTDIR/key.pem.tmp" "$OUTDIR/key.pem"
    mv "$OUTDIR/cert.pem.tmp" "$OUTDIR/cert.pem"
}

have_packages() {
    command -v go >/dev/null 2>&1 && [ -d "$GOCODE/src/github.com/vmware/govmomi/vapi/simulator" ]
}

install_packages() {
    log "golang-go and golang-github-vmware-govmomi-dev are missing"
    apt_install golang-go golang-github-vmware-govmomi-dev \
        || die "could not install golang-go golang-github-vmware-govmomi-dev (Debian 12)"
}

if [ -x "$BIN" ] && [ "$BIN" -nt "$SCRIPT" ]; then
    log "up to date: $BIN"
    ensure_cert
    exit 0
fi

have_packages || install_packages
have_packages || die "go or the govmomi sources ($GOCODE/src/github.com/vmware/govmomi) still missing"

mkdir -p "$OUTDIR/gopath/src/vcsim" "$OUTDIR/bin"
cat >"$OUTDIR/gopath/src/vcsim/main.go" <<'EOF'
// Minimal vcsim launcher for the govmomi 0.24.2 sources shipped by Debian
// (golang-github-vmware-govmomi-dev has the library but not the vcsim command).
// Written by scripts/build-vcsim.sh; edit it there.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"

	// optional endpoints; vapi/simulator provides the /rest Content Library API
	_ "github.com/vmware/govmomi/lookup/simulator"
	_ "github.com/vmware/govmomi/pbm/simulator"
	_ "github.com/vmware/govmomi/sts/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	model := simulator.VPX()
	listen := flag.String("l", "127.0.0.1:8989", "listen address (port 0 picks a free port)")
	user := flag.String("username", "", "SOAP login username (any accepted if empty; /rest ignores it)")
	pass := flag.String("password", "", "SOAP login password")
	useTLS := flag.Bool("tls", true, "serve HTTPS (the default cert is a 1024-bit RSA test cert)")
	cert := flag.String("tlscert", "", "TLS certificate file (PEM)")
	key := flag.String("tlskey", "", "TLS key file (PEM)")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "number of local datastores")
	flag.DurationVar(&simulator.SessionIdleTimeout, "session-idle-timeout", 0, "expire idle sessions (0 = never)")
	flag.Parse()

	u := &url.URL{Host: *listen}
	if *user != "" {
		u.User = url.UserPassword(*user, *pass)
	}
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	model.Service.RegisterEndpoints = true
	model.Service.Listen = u
	if *useTLS {
		model.Service.TLS = new(tls.Config)
		if *cert != "" {
			c, err := tls.LoadX509KeyPair(*cert, *key)
			if err != nil {
				log.Fatal(err)
			}
			model.Service.TLS.Certificates = []tls.Certificate{c}
		}
	}
	s := model.Service.NewServer()
	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", s.URL, os.Getpid())
	// Content Library storage_backings need a datastore_id; in vcsim it is "<local dir>@<folder>".
	for _, ds := range simulator.Map.All("Datastore") {
		fmt.Printf("# datastore %s id=%s\n", ds.Entity().Name, ds.Reference().Value)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Close()
	model.Remove() // deletes the temp datastore dirs under $TMPDIR
}
EOF

export GO111MODULE=off GOPROXY=off GOFLAGS= GOSUMDB=off
export GOPATH="$OUTDIR/gopath:$GOCODE"
export GOCACHE="$OUTDIR/gocache"
export CGO_ENABLED=0 # pure Go, static binary; no C compiler needed
log "go build ($(go version | awk '{print $3}'))"
start=$SECONDS
go build -o "$BIN.tmp" vcsim || die "go build failed"
mv "$BIN.tmp" "$BIN"
log "built $BIN in $((SECONDS - start)) s"
ensure_cert
