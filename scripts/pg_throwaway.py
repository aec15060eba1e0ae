"""Start a throwaway PostgreSQL server on loopback, in a temporary directory, and stop it again.

Used by the tests (a session-scoped fixture in tests/engines/) and by hand:

    python scripts/pg_throwaway.py            # starts a server, prints its URL, waits for Ctrl-C

Debian's `postgresql` package puts the server binaries in /usr/lib/postgresql/<version>/bin
(not on PATH). initdb refuses to run as root, so as root the cluster is created and run as the
`postgres` system user (which the package creates); otherwise as the current user.
The server listens on 127.0.0.1 only, on a free port, with `trust` authentication for the
bootstrap superuser `postgres` and password (scram) authentication for every other role.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_bin_dir", "start", "free_port"]


def find_bin_dir() -> Path | None:
    """The newest installed server's bin directory (initdb, pg_ctl, postgres), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None  # system user the server runs as (None: current user)
    log_file: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, user: str, password: str, database: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(args)

    def stop(self) -> None:
        subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                                 "-w", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""


def start(*, settings: dict[str, str] | None = None, bin_dir: Path | None = None) -> PostgresServer:
    """initdb in a fresh temp dir, then pg_ctl start on a free loopback port; raises RuntimeError on failure."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("No PostgreSQL server binaries (apt-get install postgresql).")
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="segmenter-pg-"))
    data_dir = root / "data"
    log_file = root / "server.log"
    if run_as:
        shutil.chown(root, user=run_as)
    os.chmod(root, 0o755)

    def run(*args: str) -> None:
        cmd = (["runuser", "-u", run_as, "--"] if run_as else []) + list(args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")

    run(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-N")
    # The bootstrap superuser may connect over loopback without a password (test fixtures);
    # every other role must give its password.
    hba = data_dir / "pg_hba.conf"
    lines = ["host all postgres 127.0.0.1/32 trust", "host all all 127.0.0.1/32 scram-sha-256",
             "local all all trust"]
    hba_text = "\n".join(lines) + "\n"
    port = free_port()
    options = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(root),
               "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
               "shared_buffers": "256MB", "max_connections": "50", "timezone": "UTC",
               "datestyle": "ISO, MDY", "lc_messages": "C"}
    options.update(settings or {})
    conf_text = "".join(f"{key} = '{value}'\n" for key, value in options.items())
    write = (["runuser", "-u", run_as, "--"] if run_as else [])
    for path, text in ((hba, hba_text), (data_dir / "postgresql.auto.conf", conf_text)):
        subprocess.run(write + ["tee", str(path)], input=text, text=True, capture_output=True, check=True)
    run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-w", "-t", "60", "start")
    server = PostgresServer(bin_dir=bin_dir, data_dir=data_dir, port=port, run_as=run_as, log_file=log_file)
    _wait_ready(port)
    return server


def _wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not accept connections on port {port}")


if __name__ == "__main__":
    server = start()
    print(f"PostgreSQL on {server.admin_url} (data in {server.data_dir}); Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
