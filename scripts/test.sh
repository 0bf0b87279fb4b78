#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, types, unit, contract, integration, acceptance.
# Azurite is started and stopped by the test fixtures themselves (tests/support/azurite.py).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
bash scripts/setup.sh

echo "== ruff"
.venv/bin/ruff check src tests bench
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
# Tests are isolated (free ports, their own data dirs, Azure names and databases), so files run in parallel:
# each xdist worker takes whole files (--dist loadfile), so a file's module fixtures start once.
# PYTEST_WORKERS=0 runs everything in this process.
WORKERS="${PYTEST_WORKERS:-3}"
if [ "${WORKERS}" = "0" ]; then
    .venv/bin/python -m pytest -p no:cacheprovider --durations=30 "$@"
else
    .venv/bin/python -m pytest -p no:cacheprovider --durations=30 -n "${WORKERS}" --dist loadfile "$@"
fi
