#!/usr/bin/env bash
# Install the Azurite storage emulator (pinned) into <repo>/.tmp/azurite. Idempotent: does nothing when the
# pinned version is already there. The tests find it at .tmp/azurite/node_modules/.bin/azurite.
set -euo pipefail

AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${REPO_ROOT}/.tmp/azurite"
BIN="${PREFIX}/node_modules/.bin/azurite"
PACKAGE_JSON="${PREFIX}/node_modules/azurite/package.json"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-azurite: npm not found; install Node.js >= 18 (e.g. apt-get install -y nodejs npm)" >&2
    exit 1
fi

installed_version() {
    [ -f "${PACKAGE_JSON}" ] || return 0
    node -e 'process.stdout.write(require(process.argv[1]).version)' "${PACKAGE_JSON}" 2>/dev/null || true
}

if [ -x "${BIN}" ] && [ "$(installed_version)" = "${AZURITE_VERSION}" ]; then
    echo "install-azurite: azurite ${AZURITE_VERSION} already installed at ${BIN}"
    exit 0
fi

mkdir -p "${PREFIX}"
npm install --prefix "${PREFIX}" --no-audit --no-fund --loglevel=error "azurite@${AZURITE_VERSION}"
echo "install-azurite: installed azurite $(installed_version) at ${BIN}"
