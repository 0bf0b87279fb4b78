#!/usr/bin/env bash
# Install dramatiq, huey and the redis client into their own virtualenv, bench/.venvs/peers (gitignored), for
# bench/bench_peers.py. They are never dependencies of ours. Idempotent.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BENCH_DIR}/.venvs/peers"
PYTHON="${PYTHON:-python3}"

if [ -x "${VENV}/bin/python" ] && "${VENV}/bin/python" -c 'import dramatiq, huey, redis' 2>/dev/null; then
    echo "setup_peers: dramatiq, huey and redis already installed in ${VENV}"
    exit 0
fi
[ -x "${VENV}/bin/python" ] || "${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install --quiet "dramatiq[redis]==2.2.1" huey redis
echo "setup_peers: installed in ${VENV}: $("${VENV}/bin/python" -m pip freeze | grep -iE '^(dramatiq|huey|redis)=' | tr '\n' ' ')"
