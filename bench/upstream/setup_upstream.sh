#!/usr/bin/env bash
# Install the upstream package praisonai-svc==1.2.0 from PyPI into its own virtualenv, bench/.venvs/upstream
# (gitignored). It is never a dependency of ours: only bench/bench_azure.py starts processes with this
# interpreter. Idempotent: does nothing when the pinned version is already there.
set -euo pipefail

UPSTREAM_VERSION="1.2.0"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BENCH_DIR}/.venvs/upstream"
PYTHON="${PYTHON:-python3}"

installed_version() {
    [ -x "${VENV}/bin/python" ] || return 0
    "${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("praisonai-svc"))' 2>/dev/null || true
}

if [ "$(installed_version)" = "${UPSTREAM_VERSION}" ]; then
    echo "setup_upstream: praisonai-svc ${UPSTREAM_VERSION} already installed in ${VENV}"
    exit 0
fi
if [ ! -x "${VENV}/bin/python" ]; then
    "${PYTHON}" -m venv "${VENV}"
fi
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet "praisonai-svc==${UPSTREAM_VERSION}"
echo "setup_upstream: installed praisonai-svc $(installed_version) in ${VENV}"
