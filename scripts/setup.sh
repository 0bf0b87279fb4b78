#!/usr/bin/env bash
# Set up a fresh machine for praisonai-svc development: a virtualenv with the package, its test tools and the
# example's dependencies, plus the pinned Azurite emulator. Idempotent; safe to run again.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
PYTHON="${PYTHON:-python3}"

if ! "${PYTHON}" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python >= 3.11 is required (found $("${PYTHON}" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing Node.js and npm from Debian packages (needed for the Azurite emulator)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    ${SUDO} apt-get update -qq && ${SUDO} apt-get install -y -qq nodejs npm
fi

if [ ! -x .venv/bin/python ]; then
    "${PYTHON}" -m venv .venv
fi
stamp=".venv/.praisonai-setup-$(cat pyproject.toml examples/ppt-service/requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "${stamp}" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]" -r examples/ppt-service/requirements.txt
    touch "${stamp}"
fi
bash scripts/install-azurite.sh
bash scripts/install-wordpress-deps.sh
echo "setup: ready (.venv, azurite, wordpress test deps)"
