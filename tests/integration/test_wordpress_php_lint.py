"""Static checks of the WordPress plugin: `php -l` on every PHP file, the plugin header, the translation template,
the shipped sample, and the built zip's layout. Fast; needs only php-cli (installed by the deps script)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.integration.wordpress_support import (
    PLUGIN_SRC,
    PPT_SAMPLE,
    WORDPRESS_DIR,
    build_plugin_zip,
    install_dependencies,
)

pytestmark = [pytest.mark.wordpress, pytest.mark.timeout(900)]

PHP_FILES = sorted(PLUGIN_SRC.rglob("*.php"))
TEXT_DOMAIN = "praisonai-chatbot"
GETTEXT_CALL = re.compile(r"\b(?:__|_e|_n|_x|esc_html__|esc_html_e|esc_attr__|esc_attr_e)\(\s*'")


@pytest.fixture(scope="module", autouse=True)
def _deps() -> None:
    install_dependencies()


def test_there_are_php_files() -> None:
    assert len(PHP_FILES) >= 10


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(PLUGIN_SRC)))
def test_php_lint(path: Path) -> None:
    done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(PLUGIN_SRC)))
def test_php_files_refuse_direct_access(path: Path) -> None:
    """Every file bails out when requested directly instead of through WordPress."""
    text = path.read_text()
    if path.name == "index.php":
        assert "Silence is golden" in text
    elif path.name == "uninstall.php":
        assert "WP_UNINSTALL_PLUGIN" in text
    else:
        assert "defined( 'ABSPATH' )" in text


def test_plugin_header() -> None:
    header = (PLUGIN_SRC / "praisonai-chatbot.php").read_text()[:2000]
    for field in ("Plugin Name: ", "Version: ", "Requires PHP: ", "License: ", f"Text Domain:       {TEXT_DOMAIN}",
                  "Domain Path:       /languages"):
        assert field in header
    readme = (PLUGIN_SRC / "readme.txt").read_text()
    version = re.search(r"Version: +(\S+)", header).group(1)  # type: ignore[union-attr]
    assert f"Stable tag: {version}" in readme


def test_every_translation_call_uses_the_text_domain() -> None:
    for path in PHP_FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if GETTEXT_CALL.search(line) and "'" + TEXT_DOMAIN + "'" not in line:
                # multi-line _n() calls name the domain a few lines further down
                following = "\n".join(path.read_text().splitlines()[number - 1:number + 6])
                assert f"'{TEXT_DOMAIN}'" in following, f"{path.name}:{number} has no text domain: {line.strip()}"


def test_pot_is_up_to_date(tmp_path: Path) -> None:
    """languages/praisonai-chatbot.pot lists exactly the strings in the code (regenerate: build.sh --pot)."""
    copy = tmp_path / "wordpress"
    subprocess.run(["cp", "-R", str(WORDPRESS_DIR), str(copy)], check=True)
    subprocess.run(["bash", str(copy / "build.sh"), "--pot", "--out", str(tmp_path / "dist")], check=True,
                   capture_output=True)
    fresh = (copy / "praisonai-chatbot" / "languages" / "praisonai-chatbot.pot").read_text()
    committed = (PLUGIN_SRC / "languages" / "praisonai-chatbot.pot").read_text()

    def msgids(pot: str) -> set[str]:
        return set(re.findall(r'^msgid "(.+)"$', pot, flags=re.M))

    assert msgids(fresh) == msgids(committed), "run: bash integrations/wordpress/build.sh --pot"
    assert len(msgids(committed)) > 50


def test_shipped_sample_is_the_example_service_sample() -> None:
    assert (PLUGIN_SRC / "samples" / "ppt.yaml").read_text() == PPT_SAMPLE.read_text()


def test_build_makes_an_installable_zip(tmp_path: Path) -> None:
    zip_path = build_plugin_zip(tmp_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    assert all(name.startswith("praisonai-chatbot/") for name in names)
    for required in ("praisonai-chatbot.php", "uninstall.php", "readme.txt", "languages/praisonai-chatbot.pot",
                     "assets/js/praisonai-chatbot.js", "assets/css/praisonai-chatbot.css", "samples/ppt.yaml"):
        assert f"praisonai-chatbot/{required}" in names
    assert not [name for name in names if "/." in name or name.endswith("~")]
