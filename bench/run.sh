#!/usr/bin/env bash
# Run every benchmark in bench/ on this machine and print their figures (no timed assertions).
#
#   bash bench/run.sh            full runs (see bench/README.md for how long each takes)
#   bash bench/run.sh --quick    shorter runs, less stable figures
#
# Sets up first, idempotently: scripts/setup.sh (.venv with the package, the pinned Azurite), Debian's wrk when
# missing, and upstream praisonai-svc==1.2.0 in bench/.venvs/upstream. Then every benchmark in BENCHMARKS below,
# in order; each runs even if an earlier one fails, and the exit status is non-zero if any failed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

for arg in "$@"; do
    if [ "${arg}" != "--quick" ]; then
        echo "run.sh: unknown argument ${arg} (only --quick; run a benchmark directly for its other options)" >&2
        exit 2
    fi
done

# One per line: what it measures is in its own docstring and in bench/README.md.
BENCHMARKS=(
    bench_core.py        # embedded backend: POST /jobs vs bare FastAPI, end-to-end jobs/s, idle polls
    bench_parse_load.py  # /live while clients flood the API with 1 MB YAML and JSON bodies
    bench_azure.py       # Azure Storage on Azurite, ours vs upstream 1.2.0
    bench_azure_load.py  # Azure under load: a baseline ref vs this checkout, jobs/s and storage requests per job
    bench_services.py    # service lifecycle: idle cost, stop latency, leader takeover
    bench_retention.py   # storage that levels off under a soak, the pruner's cost, its idle cost on Azure
    bench_plugins.py     # image-compress vs a seed-style endpoint, /api/v1/health under load, sync overhead
    bench_live.py        # live updates: progress -> SSE latency, 1,000 watchers vs polling, webhook latency
    bench_outputs.py     # multi-file ZIP downloads vs disk reads, metering on vs off, the client vs raw httpx
    bench_workflows.py   # cron scheduler lateness across processes, its idle cost on Azure, a workflow vs jobs
    bench_files.py       # file uploads (MB/s vs a local write, RSS under 10 concurrent), extraction vs the parsers
)

bash scripts/setup.sh
if ! command -v wrk >/dev/null 2>&1 || ! command -v sqlite3 >/dev/null 2>&1; then
    echo "run.sh: installing wrk and sqlite3 from Debian packages"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    ${SUDO} apt-get update -qq && ${SUDO} apt-get install -y -qq wrk sqlite3
fi
bash bench/upstream/setup_upstream.sh

status=0
for bench in "${BENCHMARKS[@]}"; do
    echo
    .venv/bin/python "bench/${bench}" "$@" || { status=$?; echo "run.sh: ${bench} failed (${status})" >&2; }
done
exit "${status}"
