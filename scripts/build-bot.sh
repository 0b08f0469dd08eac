#!/bin/sh
# Builds the bot's binary the one way it ships: static (no cgo), with no
# file system paths, VCS stamp or build id in it, so that the same source
# gives the same bytes wherever it is built. The Dockerfile runs this, and
# so does deploy/deploytest, which checks the result; change it here only.
#
#   scripts/build-bot.sh OUTPUT [VERSION]
#   scripts/build-bot.sh -deps [go list flags]
#
# -deps lists the packages that build links in, with the same package,
# flags and environment, for the test that no test double is among them
# (deploy/deploytest).
set -eu
pkg=./cmd/bot
flags="-trimpath -buildvcs=false"
if [ "${1:-}" = -deps ]; then
  shift
  cd "$(dirname "$0")/.."
  CGO_ENABLED=0 GOFLAGS=-mod=readonly exec go list -deps $flags "$@" "$pkg"
fi
out=${1:?usage: scripts/build-bot.sh OUTPUT [VERSION] | -deps}
version=${2:-dev}
case $version in
  *[!A-Za-z0-9._+-]* | "") echo "build-bot.sh: version $version may hold only letters, digits and . _ + -" >&2; exit 2 ;;
esac
case $out in
  /*) ;;
  *) out=$PWD/$out ;;
esac
cd "$(dirname "$0")/.."
CGO_ENABLED=0 GOFLAGS=-mod=readonly exec go build $flags \
  -ldflags "-s -w -buildid= -X main.version=$version" -o "$out" "$pkg"
