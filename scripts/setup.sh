#!/usr/bin/env bash
# Installs what credflow needs on a fresh Debian/Ubuntu machine: the database servers the local
# cloud starts (PostgreSQL, MariaDB), the AWS CLI v2 the tests drive it with, unzip (bundle
# checks), Chromium (the console's browser tests drive it headless), cfn-lint where pip can reach
# PyPI, then npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/aws ] || need+=(awscli)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# cfn-lint checks the deploy templates (test/deploy); it comes from PyPI. Without it those tests
# are skipped and say so; a machine with no PyPI access still sets up the rest.
if ! command -v cfn-lint >/dev/null 2>&1; then
  pip=""
  for p in pip3 pip; do command -v "$p" >/dev/null 2>&1 && { pip="$p"; break; }; done
  if [ -z "$pip" ]; then
    echo "setup: cfn-lint not installed: no pip on this machine (the template lint tests will be skipped)"
  elif ! out=$("$pip" install --quiet --timeout 10 --retries 1 cfn-lint 2>&1 || "$pip" install --user --quiet --timeout 10 --retries 1 cfn-lint 2>&1); then
    echo "setup: cfn-lint not installed: '$pip install cfn-lint' failed (the template lint tests will be skipped):"
    echo "$out" | tail -n 3 | sed 's/^/  /'
  elif ! command -v cfn-lint >/dev/null 2>&1; then
    echo "setup: cfn-lint installed but not on PATH (add \$(python3 -m site --user-base)/bin to PATH)"
  fi
fi
# The Debian packages start their own servers on the default ports; credflow runs its own.
$SUDO service mariadb stop >/dev/null 2>&1 || true
$SUDO service postgresql stop >/dev/null 2>&1 || true

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Exactly the committed lock (it records every platform's optional packages); never rewritten.
  npm ci --no-audit --no-fund
fi
