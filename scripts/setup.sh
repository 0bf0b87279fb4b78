#!/usr/bin/env bash
# Set up a fresh machine for praisonai-svc development: a virtualenv with the package, its test tools and the
# example's dependencies, plus the pinned Azurite emulator and the WordPress test dependencies. Idempotent; safe to
# run again.
#
# `setup.sh --demo` installs only what scripts/demo.sh needs: the package and the example's dependencies (no test
# tools, no Node.js, Azurite, PHP or browser).
set -euo pipefail
MODE="${1:-full}"
case "${MODE}" in
    full|--demo) ;;
    *) echo "setup: unknown option ${MODE} (use --demo for the demo's dependencies only)" >&2; exit 2 ;;
esac

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
PYTHON="${PYTHON:-python3}"

if ! "${PYTHON}" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python >= 3.11 is required (found $("${PYTHON}" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ "${MODE}" = full ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
    echo "setup: installing Node.js and npm from Debian packages (needed for the Azurite emulator)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    ${SUDO} apt-get update -qq && ${SUDO} apt-get install -y -qq nodejs npm
fi

if [ ! -x .venv/bin/python ]; then
    "${PYTHON}" -m venv .venv
fi
inputs="$(cat pyproject.toml examples/ppt-service/requirements.txt | sha256sum | cut -c1-16)"
stamp=".venv/.praisonai-setup-${inputs}"         # the package with its test tools and the example's dependencies
demo_stamp=".venv/.praisonai-demo-${inputs}"    # the package and the example's dependencies only
if [ "${MODE}" = --demo ]; then
    if [ ! -f "${stamp}" ] && [ ! -f "${demo_stamp}" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e . -r examples/ppt-service/requirements.txt
        touch "${demo_stamp}"
    fi
    echo "setup: ready for the demo (.venv with praisonai-svc and the PPT example's dependencies)"
    exit 0
fi
if [ ! -f "${stamp}" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]" -r examples/ppt-service/requirements.txt
    touch "${stamp}"
fi
bash scripts/install-azurite.sh
bash scripts/install-wordpress-deps.sh
echo "setup: ready (.venv, azurite, wordpress test deps)"
