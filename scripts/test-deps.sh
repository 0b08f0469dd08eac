#!/usr/bin/env bash
# Installs and builds what the test suite needs on a fresh machine, then
# prints the environment the tests read, as `export` lines for eval.
#
#   redis-server         Debian's package: the state tests start their own
#                        servers on loopback with it.
#   ruby + Rails 6.1     Debian's packages: signon-lite, where the Signon
#                        script runs under a real `rails runner`.
#   MariaDB              Debian's mariadb-server and ruby-mysql2: signon-lite's
#                        database. The tests start one private server per test
#                        process (a unix socket in a temporary directory), as
#                        they start redis-server; nothing here starts it.
#   control plane        etcd, kube-apiserver and kube-controller-manager,
#                        built once from the Go module proxy and cached.
#   helm                 the helm CLI, built once from the Go module proxy and
#                        cached: the deploy tests render the chart with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if ! ruby -e 'gem "railties", "~> 6.1"; require "rails"; require "doorkeeper"; require "mysql2"' >/dev/null 2>&1; then
  need+=(ruby ruby-rails ruby-mysql2 ruby-doorkeeper)
fi
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[[ -x $mariadbd ]] && command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if ((${#need[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing ${need[*]}" >&2
  if ! $sudo apt-get install -y --no-install-recommends "${need[@]}" >&2; then
    $sudo apt-get update >&2
    $sudo apt-get install -y --no-install-recommends "${need[@]}" >&2
  fi
fi

cp=$("$here/build-controlplane.sh")
helm=$("$here/build-helm.sh")
echo "export SIGNON_BOT_REDIS_SERVER=$(command -v redis-server)"
echo "export SIGNON_BOT_CONTROLPLANE=$cp"
echo "export SIGNON_BOT_RUBY=$(command -v ruby)"
echo "export SIGNON_BOT_MARIADB=$mariadbd"
echo "export SIGNON_BOT_MARIADB_INSTALL_DB=$(command -v mariadb-install-db)"
echo "export SIGNON_BOT_HELM=$helm"
