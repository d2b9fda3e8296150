"""Nautobot installation, settings and base dump of the test bed.

Layout under ``<cache>/nautobot/`` (git-ignored):

``venv/``                            Nautobot from tests/testbed/nautobot-requirements.txt
``secret_key``                       generated Django SECRET_KEY (0600)
``pg/``, ``redis/``                  shared PostgreSQL cluster and Redis server
``dumps/nautobot-<v>-base.sql.gz``   migrated DB + users, tokens, permission, custom fields
``dumps/nautobot-<v>-base.json``     credentials of that dump (0600; never printed)
``dumps/nautobot-<v>-seed-<h>.sql.gz`` seeded DBs keyed by (base, seed code, device list)
``static-<v>/``                       collected static files (web UI), shared by the instances
``instances/<name>/``                settings, logs, pidfile and state.json of one instance
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from testbed import procs
from testbed.nautobot_services import Postgres, Redis, read_json, write_json

LOG = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "nautobot-requirements.txt"
BASELINE_SCRIPT = HERE / "nautobot_baseline.py"


class NautobotBedError(RuntimeError):
    """The Nautobot test bed could not be installed, started or used."""


def root_dir() -> Path:
    """Return ``<cache>/nautobot``, creating it."""
    path = procs.cache_dir() / "nautobot"
    path.mkdir(parents=True, exist_ok=True)
    return path


def venv_dir() -> Path:
    """Return the Nautobot venv directory."""
    return root_dir() / "venv"


def nautobot_server() -> Path:
    """Return the nautobot-server entry point of the venv."""
    return venv_dir() / "bin" / "nautobot-server"


def dumps_dir() -> Path:
    """Return the directory of cached database dumps."""
    return root_dir() / "dumps"


def postgres() -> Postgres:
    """Return the shared PostgreSQL cluster."""
    return Postgres(root_dir() / "pg")


def redis() -> Redis:
    """Return the shared Redis server."""
    return Redis(root_dir() / "redis")


@contextlib.contextmanager
def bed_lock() -> Iterator[None]:
    """Serialise install, service start and base-dump creation between processes (not re-entrant)."""
    with open(root_dir() / ".lock", "w", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pinned_version() -> str:
    """Return the Nautobot version pinned in nautobot-requirements.txt."""
    match = re.search(r"^nautobot==([\w.]+)\s*$", REQUIREMENTS.read_text(encoding="utf-8"), re.MULTILINE)
    if not match:
        raise NautobotBedError(f"{REQUIREMENTS} must pin nautobot==<version>")
    return match.group(1)


def installed_version() -> Optional[str]:
    """Return the Nautobot version installed in the venv, or None."""
    found = sorted(venv_dir().glob("lib/python3*/site-packages/nautobot-*.dist-info"))
    if not found or not nautobot_server().exists():
        return None
    return found[-1].name[len("nautobot-") : -len(".dist-info")]


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _python() -> str:
    """Interpreter for the venv: NB_BACKUP_NAUTOBOT_PYTHON, python3.11 on PATH, or this one."""
    return os.environ.get("NB_BACKUP_NAUTOBOT_PYTHON") or shutil.which("python3.11") or sys.executable


def install(force: bool = False) -> str:
    """Create the venv and install the pinned requirements unless they already are; return the version."""
    marker = venv_dir() / ".requirements.sha256"
    wanted = pinned_version()
    if not force and installed_version() == wanted and marker.exists():
        if marker.read_text(encoding="ascii").strip() == _requirements_digest():
            return wanted
    started = time.monotonic()
    if not (venv_dir() / "bin" / "python").exists():
        LOG.info("creating venv %s", venv_dir())
        subprocess.run([_python(), "-m", "venv", str(venv_dir())], check=True)
    log = root_dir() / "pip.log"
    LOG.info("pip install -r %s (log: %s)", REQUIREMENTS, log)
    with open(log, "ab") as handle:
        result = subprocess.run(
            [str(venv_dir() / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or installed_version() != wanted:
        raise NautobotBedError(f"installing nautobot=={wanted} failed (rc {result.returncode}); see {log}")
    marker.write_text(_requirements_digest() + "\n", encoding="ascii")
    LOG.info("installed nautobot %s in %.0fs", wanted, time.monotonic() - started)
    return wanted


def secret_key() -> str:
    """Return the generated Django SECRET_KEY, creating it once (0600)."""
    path = root_dir() / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
    return path.read_text(encoding="ascii").strip()


CONFIG_TEMPLATE = '''"""Nautobot settings of test-bed instance {name!r} (generated by testbed.nautobot_install)."""

from nautobot.core.settings import *  # noqa: F401,F403
from django.core.exceptions import RequestDataTooBig
from nautobot.core.settings import CACHES

SECRET_KEY = {secret_key!r}
ALLOWED_HOSTS = ["*"]
DEBUG = False
INSTALLATION_METRICS_ENABLED = False
METRICS_ENABLED = False
TIME_ZONE = "UTC"

DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": {db!r},
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": {pg_port!r},
        # No persistent connections: reset() drops and recreates the DB under a running server.
        "CONN_MAX_AGE": 0,
    }}
}}

CACHES["default"]["LOCATION"] = {cache_url!r}
CELERY_BROKER_URL = {broker_url!r}
STATIC_ROOT = {static_root!r}


class DrainRequestBodyMiddleware:
    """Read every request body before the view runs, as a buffering proxy (nginx) would.

    uWSGI's HTTP/1.1 socket closes a keep-alive connection when the app leaves the request
    body unread (a 403/404 on a PATCH or POST); a client that reuses the connection at once
    then gets "connection reset by peer" on its next request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.body  # noqa: B018 - reading caches the body and drains the socket
        except RequestDataTooBig:
            pass  # Django answers that itself when the view touches the body
        return self.get_response(request)


MIDDLEWARE = ["nautobot_config.DrainRequestBodyMiddleware", *MIDDLEWARE]  # noqa: F405
'''


def write_config(
    path: Path, name: str, db: str, pg_port: int, redis_port: int, redis_db: int, static_root: Path
) -> None:
    """Write the nautobot_config.py of one instance (Redis DBs redis_db for cache, redis_db+1 for Celery)."""
    text = CONFIG_TEMPLATE.format(
        name=name,
        secret_key=secret_key(),
        db=db,
        pg_port=str(pg_port),
        cache_url=f"redis://127.0.0.1:{redis_port}/{redis_db}",
        broker_url=f"redis://127.0.0.1:{redis_port}/{redis_db + 1}",
        static_root=str(static_root),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def server_env(config: Path, instance_dir: Path) -> Dict[str, str]:
    """Environment for nautobot-server and the baseline script of one instance."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    env.update({"NAUTOBOT_CONFIG": str(config), "NAUTOBOT_ROOT": str(instance_dir), "PYTHONUNBUFFERED": "1"})
    env["PATH"] = f"{venv_dir() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def base_dump(version: str) -> Path:
    """Path of the base dump for version."""
    return dumps_dir() / f"nautobot-{version}-base.sql.gz"


def credentials_file(version: str) -> Path:
    """Path of the credentials (users, passwords, tokens) that belong to the base dump of version."""
    return dumps_dir() / f"nautobot-{version}-base.json"


def load_credentials(version: str) -> Dict[str, Any]:
    """Return the credentials of the base dump, or {} when there is none."""
    return read_json(credentials_file(version))


def new_credentials(version: str) -> Dict[str, Any]:
    """Generate random passwords and 40-character tokens for a new base dump."""
    return {
        "version": version,
        "base_id": secrets.token_hex(8),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "admin": {"username": "admin", "password": secrets.token_urlsafe(18), "token": secrets.token_hex(20)},
        "readonly": {"username": "readonly", "password": secrets.token_urlsafe(18), "token": secrets.token_hex(20)},
    }


def run_baseline(env: Dict[str, str], creds: Dict[str, Any], log: Path) -> None:
    """Create users, tokens, the read-only permission and the custom fields via the ORM script."""
    payload = json.dumps(
        {
            "admin_password": creds["admin"]["password"],
            "admin_token": creds["admin"]["token"],
            "readonly_password": creds["readonly"]["password"],
            "readonly_token": creds["readonly"]["token"],
        }
    )
    with open(log, "ab") as handle:
        result = subprocess.run(
            [str(venv_dir() / "bin" / "python"), str(BASELINE_SCRIPT)],
            input=payload.encode(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    if result.returncode != 0:
        raise NautobotBedError(f"baseline objects could not be created (rc {result.returncode}); see {log}")


def migrate(env: Dict[str, str], log: Path) -> None:
    """Apply all migrations (minutes on a fresh DB); output goes to log."""
    started = time.monotonic()
    LOG.info("nautobot-server migrate (log: %s); a fresh DB takes about 5 minutes", log)
    with open(log, "ab") as handle:
        result = subprocess.run(
            [str(nautobot_server()), "migrate", "--no-input"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    if result.returncode != 0:
        raise NautobotBedError(f"nautobot-server migrate failed (rc {result.returncode}); see {log}")
    LOG.info("migrate done in %.0fs", time.monotonic() - started)


def migrate_check(env: Dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``migrate --check`` in the background (exit status 0 means the DB matches the code)."""
    handle = open(log, "ab")  # pylint: disable=consider-using-with
    try:
        return subprocess.Popen(
            [str(nautobot_server()), "migrate", "--check"], stdout=handle, stderr=subprocess.STDOUT, env=env
        )
    finally:
        handle.close()


def build_base(pg: Postgres, db: str, env: Dict[str, str], version: str, log: Path) -> Dict[str, Any]:
    """Cold path: migrate an empty db, add the baseline objects and cache the dump; return the credentials."""
    started = time.monotonic()
    pg.drop_database(db)
    pg.create_database(db)
    migrate(env, log)
    creds = new_credentials(version)
    run_baseline(env, creds, log)
    write_json(credentials_file(version), creds, private=True)
    pg.dump(db, base_dump(version))
    LOG.info("base dump %s written (%.0fs)", base_dump(version), time.monotonic() - started)
    return creds


def refresh_base(pg: Postgres, db: str, env: Dict[str, str], version: str, log: Path) -> None:
    """db is behind the installed code: restore the base dump into it, migrate, re-apply the baseline, re-dump."""
    LOG.warning("database %s does not match the installed Nautobot; re-migrating the base dump", db)
    pg.restore(base_dump(version), db)
    migrate(env, log)
    creds = load_credentials(version)
    run_baseline(env, creds, log)
    pg.dump(db, base_dump(version))


def static_dir(version: str) -> Path:
    """Shared STATIC_ROOT of all instances (the web UI's CSS/JS, served by uWSGI's static map)."""
    return root_dir() / f"static-{version}"


def collect_static(env: Dict[str, str], version: str, log: Path) -> None:
    """Run collectstatic once per version (a few seconds) so that the demo UI is usable."""
    done = static_dir(version) / ".complete"
    if done.exists():
        return
    with open(log, "ab") as handle:
        result = subprocess.run(
            [str(nautobot_server()), "collectstatic", "--no-input"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    if result.returncode != 0:
        raise NautobotBedError(f"collectstatic failed (rc {result.returncode}); see {log}")
    done.touch()


def file_digest(path: Path) -> str:
    """sha256 of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
