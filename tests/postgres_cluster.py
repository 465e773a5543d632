"""A throwaway PostgreSQL cluster from the Debian binaries, for the tests and benchmarks.

initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` OS user
(started with ``runuser``). It listens on 127.0.0.1 on a free port and is removed on stop.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tests.ports import free_port

DUTIES = ("owner", "runtime", "sealer", "auditor")


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql")
    return Path(found[-1]).parent


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="tradefsm-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.root)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8")
        for _ in range(2):  # the free port may be taken meanwhile (parallel workers)
            try:
                self.start_server()
                return self
            except PostgresUnavailable:
                self.port = free_port()
        self.start_server()
        return self

    def start_server(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop_server(self, mode: str) -> None:
        """Stop the server: ``fast`` (clients disconnected) or ``immediate`` (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop_server("fast")
        self.start_server()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def require_password(self, role: str) -> None:
        """Make ``role`` authenticate with its password over TCP (everyone else: trust)."""
        hba = self.data / "pg_hba.conf"
        rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text(encoding="utf-8"), encoding="utf-8")
        self._run("pg_ctl", "-D", str(self.data), "reload")

    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def least_privileged_database(self) -> dict[str, str]:
        """A new empty database owned by a plain (not superuser) owner, with a login role per
        duty of docs/audit-integrity.md; their URLs by duty (``owner``, ``runtime``, ``sealer``,
        ``auditor``). The owner migrates and grants; nothing else is granted here."""
        name = self.new_database().rsplit("/", 1)[1]
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            for duty in DUTIES:
                role = f"tradefsm_{duty}"
                if not conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone():
                    conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f'ALTER DATABASE "{name}" OWNER TO tradefsm_owner')
        dsn = f"host=127.0.0.1 port={self.port} user={self.user} dbname={name}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER SCHEMA public OWNER TO tradefsm_owner")
        where = f"127.0.0.1:{self.port}/{name}"
        return {duty: f"postgresql+psycopg://tradefsm_{duty}@{where}" for duty in DUTIES}

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"
