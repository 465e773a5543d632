#!/usr/bin/env bash
# Make sure the system packages the test suite drives for real are installed:
# PostgreSQL server binaries (the throwaway cluster), Graphviz (`dot`, SVG/PNG diagrams) and
# Chromium with its driver (the console's browser tests), libfaketime (the suite's dated tests
# run again with the clock a year ahead).
# Installs the missing Debian packages when we may (root + apt-get); otherwise says so.
set -euo pipefail
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v dot >/dev/null || missing+=(graphviz)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v faketime >/dev/null || missing+=(faketime)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing missing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing system packages: ${missing[*]} (need root and apt-get to install them);" >&2
echo "their tests will be skipped, or fail under CI=true." >&2
