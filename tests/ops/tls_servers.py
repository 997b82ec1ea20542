"""Real database servers with TLS, for certificate tests.

A private certificate authority and its server certificates are made with ``cryptography``;
PostgreSQL clusters (``initdb`` once, then a copy per server, ``pg_ctl``) and a MariaDB server
(``mariadb-install-db``, ``mariadbd``) each run from a temporary folder on a free port of
127.0.0.1, as the servers' own OS users when the tests run as root (both refuse root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Issued:
    """A server certificate and its key (PEM), as the authority issued them."""

    common_name: str
    not_after: datetime
    certificate: bytes
    key: bytes
    fingerprint: str


class Authority:
    """A private CA that issues server certificates valid from ``not_before`` to
    ``not_after``."""

    def __init__(self, name: str = "Lakehold Test Private CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=400))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, common_name: str, not_after: datetime) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lakehold Tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_after - timedelta(days=365))
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(common_name), x509.DNSName("localhost")]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return Issued(
            common_name,
            certificate.not_valid_after_utc,
            certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            certificate.fingerprint(hashes.SHA256()).hex(),
        )


@dataclass
class Server:
    """A running server: its kind and port on 127.0.0.1."""

    kind: str
    port: int
    folder: Path


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def _as(user: str) -> list[str]:
    """The prefix running a command as ``user`` when the tests run as root."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _folder(user: str, prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, user)
    return folder


def _write_key_pair(folder: Path, issued: Issued, user: str) -> tuple[Path, Path]:
    cert, key = folder / "server.crt", folder / "server.key"
    cert.write_bytes(issued.certificate)
    key.write_bytes(issued.key)
    key.chmod(0o600)
    if os.geteuid() == 0:
        for path in (cert, key):
            shutil.chown(path, user)
    return cert, key


class PostgresClusters:
    """PostgreSQL servers from one ``initdb`` (each a copy of it), stopped by :meth:`close`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = _folder("postgres", "lakehold-tls-pg-")
        self.template = self.root / "template"
        subprocess.run(
            [
                *_as("postgres"),
                str(bin_dir / "initdb"),
                "-D",
                str(self.template),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        self.running: list[Path] = []

    def start(self, name: str, issued: Issued | None) -> Server:
        """A server with ``ssl = on`` presenting ``issued``, or without TLS (None)."""
        data = self.root / name
        subprocess.run(["cp", "-a", str(self.template), str(data)], check=True)
        settings = ["-c listen_addresses=127.0.0.1", f"-k {data}", "-c shared_buffers=16MB"]
        if issued is not None:
            cert, key = _write_key_pair(data, issued, "postgres")
            settings += ["-c ssl=on", f"-c ssl_cert_file={cert}", f"-c ssl_key_file={key}"]
        port = free_port()
        subprocess.run(
            [
                *_as("postgres"),
                str(self.bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "-o",
                " ".join([f"-p {port}", *settings]),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        self.running.append(data)
        return Server("postgresql", port, data)

    def replace_certificate(self, server: Server, issued: Issued) -> None:
        """Install ``issued`` in ``server`` and reload its configuration (new connections
        get it once the postmaster has read the signal)."""
        _write_key_pair(server.folder, issued, "postgres")
        subprocess.run(
            [*_as("postgres"), str(self.bin / "pg_ctl"), "-D", str(server.folder), "reload"],
            check=True,
            capture_output=True,
        )

    def close(self) -> None:
        pg_ctl = [*_as("postgres"), str(self.bin / "pg_ctl")]
        for data in self.running:
            subprocess.run(
                [*pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
            )
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def mariadb(issued: Issued) -> Iterator[Server]:
    """A MariaDB server presenting ``issued``, from a new data folder, stopped afterwards."""
    folder = _folder("mysql", "lakehold-tls-mariadb-")
    data = folder / "data"
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--user={'mysql' if os.geteuid() == 0 else os.getlogin()}",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    cert, key = _write_key_pair(folder, issued, "mysql")
    port = free_port()
    process = subprocess.Popen(
        [
            *_as("mysql"),
            "mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={folder / 'mysqld.sock'}",
            f"--pid-file={folder / 'mysqld.pid'}",
            f"--log-error={folder / 'error.log'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            f"--ssl-cert={cert}",
            f"--ssl-key={key}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_greeting(port, process)
        yield Server("mysql", port, folder)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_greeting(port: int, process: subprocess.Popen) -> None:
    """Return once the server on ``port`` sends its greeting."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert process.poll() is None, "mariadbd stopped while starting"
        assert time.monotonic() < deadline, f"mariadbd did not answer on {port}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(4):
                    return
        except OSError:
            pass
        time.sleep(0.05)
