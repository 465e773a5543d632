#!/usr/bin/env bash
# Make sure PostgreSQL server binaries exist for the test suite's throwaway cluster.
# Installs Debian's `postgresql` package when they are missing and we may (root + apt-get).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "PostgreSQL server binaries missing: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL server binaries missing and cannot install them (need root and apt-get);" >&2
echo "the PostgreSQL tests will be skipped (or fail under CI=true)." >&2
