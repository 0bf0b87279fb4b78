#!/usr/bin/env bash
# Run every benchmark in bench/ on this machine and print their figures (no timed assertions).
#
#   bash bench/run.sh            full runs (about 6 minutes)
#   bash bench/run.sh --quick    shorter runs, less stable figures
#
# Sets up first, idempotently: scripts/setup.sh (.venv with the package, the pinned Azurite), Debian's wrk when
# missing, and upstream praisonai-svc==1.2.0 in bench/.venvs/upstream. Then bench_core.py (embedded backend),
# bench_parse_load.py (/live while clients flood the API with 1 MB YAML and JSON bodies), bench_azure.py
# (Azure Storage on Azurite, ours vs upstream) and bench_files.py (uploads and extraction). Each runs even if an
# earlier one fails; the exit status is non-zero if any failed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

for arg in "$@"; do
    if [ "${arg}" != "--quick" ]; then
        echo "run.sh: unknown argument ${arg} (only --quick; run a benchmark directly for its other options)" >&2
        exit 2
    fi
done

bash scripts/setup.sh
if ! command -v wrk >/dev/null 2>&1; then
    echo "run.sh: installing wrk from Debian packages"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    ${SUDO} apt-get update -qq && ${SUDO} apt-get install -y -qq wrk
fi
bash bench/upstream/setup_upstream.sh

status=0
echo
.venv/bin/python bench/bench_core.py "$@" || { status=$?; echo "run.sh: bench_core.py failed ($status)" >&2; }
echo
.venv/bin/python bench/bench_parse_load.py "$@" || { status=$?; echo "run.sh: bench_parse_load.py failed ($status)" >&2; }
echo
.venv/bin/python bench/bench_azure.py "$@" || { status=$?; echo "run.sh: bench_azure.py failed ($status)" >&2; }
echo
.venv/bin/python bench/bench_files.py "$@" || { status=$?; echo "run.sh: bench_files.py failed ($status)" >&2; }
exit "${status}"
