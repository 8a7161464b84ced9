"""A throwaway PostgreSQL server on 127.0.0.1 for the storage tests (a pytest plugin module).

Load it with ``pytest_plugins = ("conftest_pg",)``. It runs Debian's ``initdb`` and ``pg_ctl``
(``/usr/lib/postgresql/*/bin``) on a free port with the data directory in a temporary directory;
as root it runs them as the ``postgres`` user. Every test gets a fresh database. Without
PostgreSQL the tests skip locally and FAIL in CI (``CI=true``).

Fixtures: ``pg_server`` (session), ``pg_url`` (a fresh database), ``sqlite_url`` (a fresh file),
``db_url`` (parametrized over both backends).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PgServer", "db_url", "pg_server", "pg_url", "sqlite_url"]


def _bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "b12dx",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "start",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://b12dx@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=b12dx dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


_SERVER: PgServer | None = None


def _start_server() -> PgServer:
    global _SERVER
    if _SERVER is not None:
        return _SERVER
    bindir = _bindir()
    if bindir is None:
        message = (
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl); "
            "apt-get install postgresql"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    as_user = None
    root = Path(tempfile.mkdtemp(prefix="b12dx-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = "postgres"
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    last: Exception | None = None
    for _ in range(3):  # a port taken between choosing and binding: try another
        server = PgServer(bindir=bindir, root=root, port=_free_port(), as_user=as_user)
        try:
            server.start()
        except subprocess.CalledProcessError as exc:
            last = exc
            log = root / "log"
            if log.exists():
                last = RuntimeError(f"{exc}: {log.read_text()[-2000:]}")
            shutil.rmtree(server.data, ignore_errors=True)
            continue
        _SERVER = server
        atexit.register(server.stop)
        return server
    raise RuntimeError(f"could not start PostgreSQL: {last}")


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    return _start_server()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite3'}"
    else:
        yield _start_server().create_database()
