#!/usr/bin/env bash
# Set everything up and run the main job end to end on the embedded backend (SQLite + files, no cloud):
# start the PPT example service, submit examples/ppt-service/sample.yaml, download the .pptx, check it.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
bash scripts/setup.sh --demo  # only what the demo needs: the package and the example's dependencies

PORT="${PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
DEMO_DIR="${REPO_ROOT}/.tmp/demo"
OUTPUT="${OUTPUT:-${REPO_ROOT}/deck.pptx}"
rm -rf "${DEMO_DIR}" && mkdir -p "${DEMO_DIR}"

export PRAISONAI_DATA_DIR="${DEMO_DIR}/data" PRAISONAI_PORT="${PORT}" PRAISONAI_LOG_FORMAT=text
.venv/bin/praisonai-svc run examples/ppt-service/handlers.py >"${DEMO_DIR}/service.log" 2>&1 &
SERVICE_PID=$!
trap 'kill -TERM ${SERVICE_PID} 2>/dev/null; wait ${SERVICE_PID} 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:${PORT}/ready" >/dev/null 2>&1 && break
    kill -0 ${SERVICE_PID} 2>/dev/null || { cat "${DEMO_DIR}/service.log"; exit 1; }
    sleep 0.2
done
echo "demo: service up at http://127.0.0.1:${PORT} (API docs at /docs), data in ${PRAISONAI_DATA_DIR}"

.venv/bin/praisonai-svc submit examples/ppt-service/sample.yaml --url "http://127.0.0.1:${PORT}" \
    --wait --output "${OUTPUT}"
.venv/bin/python - "${OUTPUT}" <<'PY'
import sys
from pptx import Presentation
deck = Presentation(sys.argv[1])
first = [shape.text_frame.text for shape in deck.slides[0].shapes if shape.has_text_frame and shape.text_frame.text]
print(f"demo: {sys.argv[1]} is a valid PowerPoint deck with {len(deck.slides)} slides; title slide: {first}")
PY
