#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, types, unit, contract, integration, acceptance.
# Azurite is started and stopped by the test fixtures themselves (tests/support/azurite.py).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
bash scripts/setup.sh

echo "== ruff"
.venv/bin/ruff check src
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
