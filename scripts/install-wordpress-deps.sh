#!/usr/bin/env bash
# Install what the WordPress plugin's end-to-end test needs, from Debian's packages and PyPI only:
#   WordPress (served by PHP's built-in server, so Apache is installed as a dependency but never started),
#   PHP with the extensions WordPress uses, MariaDB (only when no server is installed), Debian's Chromium,
#   unzip/zip, gettext (xgettext, for the translation template check) and the Python `playwright` package in
#   the repo's .venv.
# Idempotent and non-interactive: packages already present are skipped, and nothing is installed when all are.
# Never runs `playwright install`: the tests drive /usr/bin/chromium through `executable_path`.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

PACKAGES=(wordpress wordpress-theme-twentytwentythree php-cli php-mysql php-curl php-xml php-mbstring php-zip
          chromium fonts-dejavu-core unzip zip gettext)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "${pkg}" || missing+=("${pkg}")
done
# Any MariaDB or MySQL server already on the machine will do (the test talks to 127.0.0.1:3306).
if ! is_installed mariadb-server && ! is_installed default-mysql-server && ! command -v mariadbd >/dev/null 2>&1 \
        && ! command -v mysqld >/dev/null 2>&1; then
    missing+=(mariadb-server)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-wordpress-deps: installing ${missing[*]}"
    # WordPress pulls in Apache; the tests serve WordPress with `php -S`, so no daemon may start on install.
    # policy-rc.d is Debian's switch for that; put one in place for the install if the machine has none.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | ${SUDO} tee /usr/sbin/policy-rc.d >/dev/null
        ${SUDO} chmod 755 /usr/sbin/policy-rc.d
        trap '${SUDO} rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # --no-install-recommends keeps out wordpress-l10n and other extras; the default theme is listed explicitly.
    ${SUDO} apt-get update -qq
    ${SUDO} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
else
    echo "install-wordpress-deps: Debian packages already installed"
fi

if [ ! -x .venv/bin/python ]; then
    echo "install-wordpress-deps: no .venv in ${REPO_ROOT}; run scripts/setup.sh first" >&2
    exit 1
fi
if ! .venv/bin/python -c 'import playwright.sync_api' >/dev/null 2>&1; then
    echo "install-wordpress-deps: installing playwright (Python package only; the browser is Debian's chromium)"
    .venv/bin/python -m pip install --quiet playwright
fi
echo "install-wordpress-deps: ready (php $(php -r 'echo PHP_VERSION;'), $(/usr/bin/chromium --version 2>/dev/null | head -1))"
