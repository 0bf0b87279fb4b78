"""A real WordPress for the plugin's end-to-end test: Debian's WordPress copied to a temp dir, a fresh MariaDB
database, PHP's built-in server, and a praisonai-svc service started with an API key.

Nothing here relies on /etc/wordpress: the copy gets its own wp-config.php. Everything started is stopped and the
database and its user are dropped when the context managers exit.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.service import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]
WORDPRESS_DIR = REPO / "integrations" / "wordpress"
PLUGIN_SRC = WORDPRESS_DIR / "praisonai-chatbot"
PLUGIN_SLUG = "praisonai-chatbot/praisonai-chatbot.php"
PPT_SERVICE = REPO / "examples" / "ppt-service" / "handlers.py"
PPT_SAMPLE = REPO / "examples" / "ppt-service" / "sample.yaml"
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
MYSQL = ["mysql", "--protocol=TCP", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def install_dependencies() -> None:
    """scripts/install-wordpress-deps.sh: Debian packages and playwright; a quick no-op when all are there."""
    subprocess.run(["bash", str(REPO / "scripts" / "install-wordpress-deps.sh")], check=True, cwd=REPO)


def build_plugin_zip(out_dir: Path) -> Path:
    subprocess.run(["bash", str(WORDPRESS_DIR / "build.sh"), "--out", str(out_dir)], check=True,
                   capture_output=True)
    return out_dir / "praisonai-chatbot.zip"


def mysql(sql: str) -> str:
    return subprocess.run([*MYSQL, "-N", "-e", sql], check=True, capture_output=True, text=True).stdout


def ensure_mariadb() -> None:
    """MariaDB on 127.0.0.1:3306 (root, empty password) is started before sessions; start it if it is down."""
    try:
        mysql("SELECT 1")
        return
    except subprocess.CalledProcessError:
        pass
    subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
                   check=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            mysql("SELECT 1")
            return
        except subprocess.CalledProcessError:
            time.sleep(0.5)
    raise RuntimeError("MariaDB did not come up on 127.0.0.1:3306")


@dataclass
class Database:
    name: str
    user: str
    password: str


@contextmanager
def fresh_database() -> Iterator[Database]:
    """A new database and user for this test run; both dropped afterwards."""
    ensure_mariadb()
    suffix = secrets.token_hex(4)
    db = Database(name=f"wp_e2e_{suffix}", user=f"wp_e2e_{suffix}", password=secrets.token_hex(16))
    hosts = ("localhost", "127.0.0.1")
    statements = [f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"]
    for host in hosts:
        statements += [f"CREATE USER '{db.user}'@'{host}' IDENTIFIED BY '{db.password}'",
                       f"GRANT ALL PRIVILEGES ON `{db.name}`.* TO '{db.user}'@'{host}'"]
    mysql("; ".join(statements))
    try:
        yield db
    finally:
        mysql("; ".join([f"DROP DATABASE IF EXISTS `{db.name}`",
                         *[f"DROP USER IF EXISTS '{db.user}'@'{host}'" for host in hosts]]))


def database_exists(name: str) -> bool:
    return name in mysql("SHOW DATABASES").split()


@dataclass
class PraisonService:
    url: str
    api_key: str  # an operator key (PRAISONAI_API_KEY)
    site_key: str  # the key WordPress gets (PRAISONAI_SITE_KEYS: its visitors have their own limits)
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running_ppt_service(work: Path, jwt_secret: str | None = None) -> Iterator[PraisonService]:
    """`praisonai-svc run examples/ppt-service/handlers.py` with an operator key, a site key for WordPress and
    (for mode B) a JWT secret, on a free loopback port; the default limits."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    service = PraisonService(url=f"http://127.0.0.1:{port}", api_key=f"wp-e2e-secret-key-{secrets.token_hex(16)}",
                             site_key=f"wp-e2e-site-key-{secrets.token_hex(16)}", data_dir=work / "data",
                             log=work / "service.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAISONAI_")}
    env.update({"PRAISONAI_DATA_DIR": str(service.data_dir), "PRAISONAI_API_KEY": service.api_key,
                "PRAISONAI_SITE_KEYS": service.site_key,
                "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "1", "PRAISONAI_WORKER_POLL_INTERVAL_MIN": "0.1"})
    if jwt_secret is not None:
        env["PRAISONAI_JWT_SECRET"] = jwt_secret
    cli = Path(sys.executable).with_name("praisonai-svc")
    with open(service.log, "wb") as log:
        service.proc = subprocess.Popen([str(cli), "run", str(PPT_SERVICE), "--port", str(port)], env=env, cwd=work,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(service.url + "/live", service.proc, timeout=60)
        yield service
    finally:
        stop_process(service.proc, grace=15)


WP_CONFIG = """<?php
// Written by tests/integration/wordpress_support.py for one test run.
define( 'DB_NAME', {db_name} );
define( 'DB_USER', {db_user} );
define( 'DB_PASSWORD', {db_password} );
define( 'DB_HOST', '127.0.0.1:3306' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}
$table_prefix = 'wp_';
define( 'WP_HOME', {url} );
define( 'WP_SITEURL', {url} );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', {debug_log} );
define( 'WP_DEBUG_DISPLAY', false );
@ini_set( 'display_errors', '0' );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'WP_HTTP_BLOCK_EXTERNAL', true ); // no internet here; loopback (the service) stays allowed
define( 'FS_METHOD', 'direct' );
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""

# Keeps the test quiet and offline: no mail is sent (there is no MTA) and no update checks are made.
# And it stands in for the reverse proxy of a real site (the documented use of praisonai_chatbot_client_ip): every
# test browser connects from 127.0.0.1, so a browser that plays a visitor from elsewhere names its address in
# X-E2E-Client-IP (CLIENT_IP_HEADER).
MU_PLUGIN = """<?php
add_filter( 'pre_wp_mail', '__return_false' );
add_filter( 'pre_site_transient_update_core', '__return_null' );
add_filter( 'pre_site_transient_update_plugins', '__return_null' );
add_filter( 'pre_site_transient_update_themes', '__return_null' );
add_filter( 'praisonai_chatbot_client_ip', function ( $ip ) {
	$named = isset( $_SERVER['HTTP_X_E2E_CLIENT_IP'] ) ? wp_unslash( $_SERVER['HTTP_X_E2E_CLIENT_IP'] ) : '';
	return '' === $named ? $ip : sanitize_text_field( $named );
} );
"""
CLIENT_IP_HEADER = "X-E2E-Client-IP"


def php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class WordPress:
    root: Path
    port: int
    db: Database
    log_dir: Path
    server: subprocess.Popen[bytes] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def debug_log(self) -> Path:
        return self.log_dir / "wp-debug.log"

    @property
    def plugin_dir(self) -> Path:
        return self.root / "wp-content" / "plugins" / "praisonai-chatbot"

    def rest(self, route: str) -> str:
        """URL of a REST route with plain permalinks (?rest_route=)."""
        return f"{self.url}/?rest_route=/{route.lstrip('/')}"

    def php(self, code: str, *, installing: bool = False) -> Any:
        """Run PHP with WordPress loaded; the snippet echoes JSON, which is returned decoded."""
        script = self.log_dir / f"snippet-{time.monotonic_ns()}.php"
        prelude = "define( 'WP_INSTALLING', true );\n" if installing else ""
        script.write_text(
            "<?php\n" + prelude
            + f"$_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}';\n$_SERVER['REQUEST_URI'] = '/';\n"
            + "$_SERVER['SERVER_NAME'] = '127.0.0.1';\n$_SERVER['REQUEST_METHOD'] = 'GET';\n"
            + f"require {php_str(str(self.root / 'wp-load.php'))};\n" + textwrap.dedent(code)
        )
        done = subprocess.run(["php", str(script)], cwd=self.root, capture_output=True, text=True, timeout=120)
        script.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"PHP failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        out = done.stdout.strip()
        return json.loads(out) if out else None

    def settings(self) -> dict[str, Any]:
        return self.php("echo wp_json_encode( get_option( 'praisonai_chatbot_settings' ) );")  # type: ignore[no-any-return]

    def update_settings(self, **changes: Any) -> None:
        self.php(f"""
            $s = array_merge( (array) get_option( 'praisonai_chatbot_settings', array() ),
                              json_decode( {php_str(json.dumps(changes))}, true ) );
            update_option( 'praisonai_chatbot_settings', $s );
        """)

    def plugin_errors(self) -> list[str]:
        """PHP errors, warnings and notices raised in the plugin's own files."""
        if not self.debug_log.exists():
            return []
        return [line for line in self.debug_log.read_text(errors="replace").splitlines()
                if "PHP " in line and "praisonai-chatbot" in line]


def _copy_wordpress(root: Path) -> None:
    """Copy Debian's WordPress, following its symlinks (e.g. wp-includes/js/underscore.min.js points into
    /usr/share/javascript) and leaving out its wp-config.php, which reads /etc/wordpress."""
    for current, _dirs, files in os.walk(DEBIAN_WORDPRESS, followlinks=True):
        target_dir = root / Path(current).relative_to(DEBIAN_WORDPRESS)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in files:
            source = Path(current) / name
            if name in {".htaccess", "wp-config.php"} and target_dir == root:
                continue
            if source.exists():  # dangling symlinks are skipped
                shutil.copyfile(source, target_dir / name)


def _write_config(wp: WordPress) -> None:
    salts = "\n".join(
        f"define( '{name}', {php_str(secrets.token_urlsafe(48))} );"
        for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
                     "LOGGED_IN_SALT", "NONCE_SALT")
    )
    (wp.root / "wp-config.php").write_text(WP_CONFIG.format(
        db_name=php_str(wp.db.name), db_user=php_str(wp.db.user), db_password=php_str(wp.db.password),
        salts=salts, url=php_str(wp.url), debug_log=php_str(str(wp.debug_log)),
    ))
    mu = wp.root / "wp-content" / "mu-plugins"
    mu.mkdir(parents=True, exist_ok=True)
    (mu / "e2e-offline.php").write_text(MU_PLUGIN)


def _install(wp: WordPress, users: dict[str, tuple[str, str]]) -> None:
    """wp_install() for the admin, then the other users; plain permalinks."""
    admin_password = users["admin"][1]
    wp.php(f"""
        require_once ABSPATH . 'wp-admin/includes/upgrade.php';
        $result = wp_install( 'PraisonAI e2e', 'admin', 'admin@example.com', false, '', {php_str(admin_password)} );
        echo wp_json_encode( array( 'user_id' => $result['user_id'] ) );
    """, installing=True)
    created = wp.php(f"""
        update_option( 'permalink_structure', '' );
        update_option( 'admin_email_lifespan', time() + YEAR_IN_SECONDS );
        update_option( 'show_avatars', 0 ); // no requests to gravatar.com: there is no internet here
        $users = json_decode( {php_str(json.dumps(users))}, true );
        $out = array();
        foreach ( $users as $login => $spec ) {{
            $user = get_user_by( 'login', $login );
            $id = $user ? $user->ID : wp_insert_user( array(
                'user_login' => $login, 'user_pass' => $spec[1], 'role' => $spec[0],
                'user_email' => $login . '@example.com', 'display_name' => ucfirst( $login ) ) );
            if ( is_wp_error( $id ) ) {{ fwrite( STDERR, $id->get_error_message() ); exit( 1 ); }}
            $out[ $login ] = array( 'id' => $id, 'role' => $spec[0], 'password' => $spec[1] );
        }}
        echo wp_json_encode( $out );
    """)
    wp.users = created


@contextmanager
def running_wordpress(work: Path, db: Database, users: dict[str, tuple[str, str]]) -> Iterator[WordPress]:
    """A fresh WordPress (Debian's package copied to `work`), installed and served by `php -S` on loopback."""
    root = work / "htdocs"
    log_dir = work / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    _copy_wordpress(root)
    wp = WordPress(root=root, port=free_port(), db=db, log_dir=log_dir)
    _write_config(wp)
    _install(wp, users)
    env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
    with open(log_dir / "php-server.log", "wb") as log:
        wp.server = subprocess.Popen(
            ["php", "-d", "upload_max_filesize=8M", "-d", "post_max_size=8M", "-S", f"127.0.0.1:{wp.port}",
             "-t", str(root)],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_http(wp.url + "/wp-login.php", wp.server, timeout=30)
        yield wp
    finally:
        stop_process(wp.server, grace=5)


def create_page(wp: WordPress, title: str, content: str) -> str:
    """Publish a page and return its URL."""
    page = wp.php(f"""
        $id = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish',
            'post_title' => {php_str(title)}, 'post_content' => {php_str(content)} ), true );
        if ( is_wp_error( $id ) ) {{ fwrite( STDERR, $id->get_error_message() ); exit( 1 ); }}
        echo wp_json_encode( array( 'url' => get_permalink( $id ) ) );
    """)
    return str(page["url"])


def har_texts(har_path: Path) -> list[tuple[str, str]]:
    """(where, text) for every URL, header, request body and response body recorded in a HAR file."""
    import base64

    har = json.loads(har_path.read_text())
    found: list[tuple[str, str]] = []
    for entry in har["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        where = f"{request['method']} {request['url']}"
        found.append((where + " url", request["url"]))
        found += [(where + f" request header {h['name']}", h["value"]) for h in request.get("headers", [])]
        if request.get("postData", {}).get("text"):
            found.append((where + " request body", request["postData"]["text"]))
        found += [(where + f" response header {h['name']}", h["value"]) for h in response.get("headers", [])]
        content = response.get("content", {})
        text = content.get("text") or ""
        if content.get("encoding") == "base64" and text:
            text = base64.b64decode(text).decode("latin-1")
        found.append((where + " response body", text))
    return found
