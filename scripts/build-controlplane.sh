#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the Go module
# proxy into a cache outside the repository, keyed by version. The tests start
# these on loopback; nothing here is committed or shipped.
#
# `go install` refuses these modules (their go.mod files carry replace
# directives), so each is built from a scratch module that requires it.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
CACHE=${CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/signon-token-bot/controlplane}
OUT="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [[ -x "$OUT/etcd" && -x "$OUT/kube-apiserver" && -x "$OUT/kube-controller-manager" ]]; then
  echo "$OUT"
  exit 0
fi

mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

# etcd
mkdir -p "$work/etcd"
cd "$work/etcd"
cat > go.mod <<MOD
module scratch/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
go mod download go.etcd.io/etcd/server/v3 >&2
go mod tidy >/dev/null 2>&1 || true
go build -trimpath -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
mv "$OUT/etcd.tmp" "$OUT/etcd"

# Kubernetes: every staging module is replaced by its published v0 twin.
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
patch=${K8S_VERSION##*.}
staging_version="v0.$minor.$patch"
mkdir -p "$work/k8s"
cd "$work/k8s"
mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module scratch/k8s"
  echo
  echo "go 1.26"
  echo
  echo "godebug default=go1.26"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$mod" | awk '{print $1}' |
    grep -vE '^k8s.io/(sample-cli-plugin|sample-controller)$' |
    while read -r m; do echo "replace $m => $m $staging_version"; done
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
go mod tidy -e >&2 || true
ld="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
for cmd in kube-apiserver kube-controller-manager; do
  go build -trimpath -ldflags "$ld" -o "$OUT/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
  mv "$OUT/$cmd.tmp" "$OUT/$cmd"
done
echo "$OUT"
