#!/usr/bin/env bash
# Regenerate integrations/typescript/praisonai-svc.d.ts from the OpenAPI schema of the example service
# (examples/ppt-service: the job, output, usage and error types are the same for every app; the payload types
# are the example's). openapi-typescript is pinned in integrations/typescript/package.json and installed into
# .tmp/openapi-typescript. Usage: bash scripts/gen-typescript.sh [output-file]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
OUT="${1:-integrations/typescript/praisonai-svc.d.ts}"
PREFIX=".tmp/openapi-typescript"
VERSION="$(node -e 'process.stdout.write(require("./integrations/typescript/package.json").devDependencies["openapi-typescript"])')"

if [ ! -x "${PREFIX}/node_modules/.bin/openapi-typescript" ] || \
   [ "$(node -e 'process.stdout.write(require(process.argv[1]).version)' "${PREFIX}/node_modules/openapi-typescript/package.json" 2>/dev/null)" != "${VERSION}" ]; then
    mkdir -p "${PREFIX}"
    npm install --prefix "${PREFIX}" --no-audit --no-fund --loglevel=error "openapi-typescript@${VERSION}"
fi

SCHEMA="$(mktemp --suffix=.json)"
trap 'rm -f "${SCHEMA}"' EXIT
.venv/bin/python - "${SCHEMA}" <<'PY'
import json, sys
from praisonai_svc.loader import load_app
from praisonai_svc.settings import Settings

app = load_app("examples/ppt-service/handlers.py")
app.settings = Settings(_env_file=None)  # the schema must not depend on this machine's environment
with open(sys.argv[1], "w") as out:
    json.dump(app.app.openapi(), out, indent=2, sort_keys=True)
PY
"${PREFIX}/node_modules/.bin/openapi-typescript" "${SCHEMA}" --output "${OUT}" >/dev/null
echo "gen-typescript: wrote ${OUT}"
