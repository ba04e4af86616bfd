"""Real services on loopback for the production-path tests.

Under ``CI=true`` a missing service is a failure (the production path must be
tested); on a laptop the test skips with the reason. Besides the machine's
PostgreSQL (``scratch_postgres_database``), :func:`postgres_cluster` starts a
throw-away cluster of the test's own, one that a test may stop and start.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_HOST = os.environ.get("MARKET_ASSETS_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("MARKET_ASSETS_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("MARKET_ASSETS_TEST_PG_USER", "postgres")
POSTGRES_DB = os.environ.get("MARKET_ASSETS_TEST_PG_DB", "test")


def service_unavailable(what: str, error: Exception, problem: str = "is not reachable") -> None:
    """Fail under CI, skip elsewhere, naming the service, what is wrong with it and the error."""
    message = f"{what} {problem}: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: production-path tests must not be skipped)")
    pytest.skip(message)


def require_postgres() -> str:
    """Return a SQLAlchemy URL for the test database, or fail/skip."""
    import psycopg2

    try:
        psycopg2.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER,
            dbname=POSTGRES_DB, connect_timeout=3,
        ).close()
    except psycopg2.OperationalError as error:
        service_unavailable(f"PostgreSQL at {POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}", error)
    return f"postgresql+psycopg2://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"


@contextlib.contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """Create a throw-away database on the test server; yield its name; drop it.

    Dagster and Optuna both keep an ``alembic_version`` table, so each gets a
    database of its own rather than sharing ``test``.
    """
    import psycopg2

    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --------------------------------------------------------------------------- a cluster of the test's own

POSTGRES_SYSTEM_USER = "postgres"  # initdb and postgres refuse to run as root
POSTGRES_OPTIONS = {  # a scratch cluster: speed over durability, loopback only
    "listen_addresses": "'127.0.0.1'", "fsync": "off", "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # a whole deployment: webserver pools, daemon threads, run and step processes
}


def postgres_bindir() -> Path:
    """The directory of PostgreSQL's server binaries.

    ``pg_config --bindir`` when it has ``initdb`` (Debian's ``pg_config`` may come
    from libpq-dev without the server), else the newest /usr/lib/postgresql/N/bin.
    """
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True,
                                    timeout=10).stdout.strip())
        if (found / "initdb").exists():
            return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                        if p.parent.parent.name.isdigit() else 0)
    if not candidates:
        raise FileNotFoundError("no initdb: neither `pg_config --bindir` nor /usr/lib/postgresql/*/bin has one "
                                "(apt-get install postgresql)")
    return candidates[-1].parent


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster on 127.0.0.1, data, socket and log under ``root``.

    As root, every server program runs as the ``postgres`` system user
    (``runuser -u postgres --``); otherwise as the current user.
    """

    bindir: Path
    root: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def run(self, program: str, *arguments: str, timeout: float = 90) -> None:
        """Run one of the server programs (``initdb``, ``pg_ctl``); a RuntimeError with its output if it fails."""
        command = [str(self.bindir / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stdout}{done.stderr}\n"
                               f"{self.log.read_text(errors='replace')[-2000:] if self.log.exists() else ''}")

    def pg_ctl(self, action: str, *arguments: str) -> None:
        """``pg_ctl <action>`` on this cluster, waiting (at most 60 s) until it is done."""
        self.run("pg_ctl", action, "-D", str(self.root / "data"), "-l", str(self.log), "-w", "-t", "60",
                      *arguments)

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``fast`` disconnects every client and rolls back open transactions."""
        self.pg_ctl("stop", "-m", mode)

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its name."""
        import psycopg2

        admin = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", connect_timeout=5)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        return name


@contextlib.contextmanager
def postgres_cluster(port: int) -> Iterator[PostgresCluster]:
    """Initialise and start a throw-away PostgreSQL cluster on ``127.0.0.1:port``; stop and delete it on exit.

    The test may restart it at will (the machine's own PostgreSQL service is
    never touched). Missing server binaries or system user: fail under CI, skip elsewhere.
    """
    try:
        bindir = postgres_bindir()
        owner = pwd.getpwnam(POSTGRES_SYSTEM_USER) if os.geteuid() == 0 else None
        if owner is not None and shutil.which("runuser") is None:
            raise FileNotFoundError("runuser (util-linux), needed to run initdb as the postgres user")
    except (FileNotFoundError, KeyError) as error:
        service_unavailable("PostgreSQL's server binaries or its system user (for a cluster of the test's own)",
                            error, problem="are not installed")
    root = Path(tempfile.mkdtemp(prefix="market_assets_pg_"))
    cluster = PostgresCluster(bindir, root, port)
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster.run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", cluster.user, "-E", "UTF8",
                         "--locale=C", "--no-sync", "--no-instructions")
        settings = {**POSTGRES_OPTIONS, "port": str(port), "unix_socket_directories": f"'{root}'"}
        with (root / "data" / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
