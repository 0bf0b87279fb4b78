#!/usr/bin/env bash
# Build the installable WordPress plugin zip: integrations/wordpress/dist/praisonai-chatbot.zip.
#
#   bash integrations/wordpress/build.sh              # lint (php -l, when php is installed) and zip
#   bash integrations/wordpress/build.sh --out DIR    # write DIR/praisonai-chatbot.zip instead
#   bash integrations/wordpress/build.sh --pot        # regenerate languages/praisonai-chatbot.pot first (xgettext)
#
# The zip holds one folder, praisonai-chatbot/, as WordPress expects under Plugins → Add New → Upload Plugin.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN="praisonai-chatbot"
SRC="${HERE}/${PLUGIN}"
OUT="${HERE}/dist"
MAKE_POT=0

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --pot) MAKE_POT=1; shift ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

VERSION="$(sed -n 's/^ \* Version: *//p' "${SRC}/${PLUGIN}.php" | head -1)"

make_pot() {
    command -v xgettext >/dev/null || { echo "build.sh: --pot needs xgettext (apt-get install gettext)" >&2; exit 1; }
    local pot="${SRC}/languages/${PLUGIN}.pot" body
    body="$(mktemp)"
    (cd "${SRC}" && find . -name '*.php' | sort | sed 's|^\./||' | LC_ALL=C.UTF-8 xargs xgettext --language=PHP --from-code=UTF-8 \
        --add-comments=translators: --sort-by-file --no-wrap 2>/dev/null -o "${body}" \
        --keyword=__ --keyword=_e --keyword=_x:1,2c --keyword=_ex:1,2c --keyword=_n:1,2 --keyword=_nx:1,2,4c \
        --keyword=_n_noop:1,2 --keyword=esc_html__ --keyword=esc_html_e --keyword=esc_html_x:1,2c \
        --keyword=esc_attr__ --keyword=esc_attr_e --keyword=esc_attr_x:1,2c)
    {
        echo "# Copyright (C) praisonai-svc team"
        echo "# This file is distributed under the MIT license."
        echo 'msgid ""'
        echo 'msgstr ""'
        echo "\"Project-Id-Version: PraisonAI Chatbot ${VERSION}\\n\""
        echo '"Report-Msgid-Bugs-To: \n"'
        echo '"Language-Team: \n"'
        echo '"MIME-Version: 1.0\n"'
        echo '"Content-Type: text/plain; charset=UTF-8\n"'
        echo '"Content-Transfer-Encoding: 8bit\n"'
        echo '"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\n"'
        echo '"X-Domain: praisonai-chatbot\n"'
        echo
        echo "#. Plugin Name of the plugin"
        echo 'msgid "PraisonAI Chatbot"'
        echo 'msgstr ""'
        echo
        echo "#. Description of the plugin"
        echo "msgid \"$(sed -n 's/^ \* Description: *//p' "${SRC}/${PLUGIN}.php" | sed 's/"/\\"/g')\""
        echo 'msgstr ""'
        echo
        # Drop xgettext's own header (record 1) and its copy of "PraisonAI Chatbot" (already above).
        awk 'BEGIN{RS="";ORS="\n\n"} NR > 1 && !/\nmsgid "PraisonAI Chatbot"\n/' "${body}"
    } > "${pot}"
    rm -f "${body}"
    echo "build.sh: wrote ${pot} ($(grep -c '^msgid "[^"]' "${pot}") strings)"
}

[ "${MAKE_POT}" = 1 ] && make_pot

if command -v php >/dev/null; then
    while IFS= read -r -d '' file; do
        php -l "${file}" >/dev/null || { php -l "${file}"; exit 1; }
    done < <(find "${SRC}" -name '*.php' -print0)
fi

mkdir -p "${OUT}"
OUT="$(cd "${OUT}" && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "${STAGE}"' EXIT
cp -R "${SRC}" "${STAGE}/${PLUGIN}"
find "${STAGE}" \( -name '.DS_Store' -o -name '*~' -o -name '*.swp' -o -name '.git*' \) -exec rm -rf {} +
ZIP="${OUT}/${PLUGIN}.zip"
rm -f "${ZIP}"
if command -v zip >/dev/null; then
    (cd "${STAGE}" && zip -q -r -X "${ZIP}" "${PLUGIN}")
else
    (cd "${STAGE}" && python3 -m zipfile -c "${ZIP}" "${PLUGIN}")
fi
echo "build.sh: built ${ZIP} (${PLUGIN} ${VERSION})"
