#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy into a cache outside the
# repository, keyed by version, and prints its path. The deploy tests render
# the chart with it (`helm template`); nothing here is committed or shipped.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/signon-token-bot/helm}
OUT="$CACHE/$HELM_VERSION"

if [[ -x "$OUT/helm" ]]; then
  echo "$OUT/helm"
  exit 0
fi

mkdir -p "$OUT"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
# helm's release build stamps its version and the Kubernetes version it
# assumes (.Capabilities.KubeVersion, kubeVersion checks) from the client-go
# it uses; without them `helm template` assumes Kubernetes v1.20.
mod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
client_go=$(awk '$1 == "k8s.io/client-go" { print $2 }' "$mod")
minor=${client_go#v0.}
minor=${minor%%.*}
ld="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  ld="$ld -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
done
# helm's module has no replace directives, so `go install mod@version`
# builds it as released.
GOBIN="$OUT/tmp" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mv "$OUT/tmp/helm" "$OUT/helm"
rmdir "$OUT/tmp"
echo "$OUT/helm"
