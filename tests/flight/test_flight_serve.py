"""The Flight SQL endpoint as ``lakehold serve --flight-port`` runs it (beside the HTTP API,
counted at /metrics, stopped cleanly with it) and with TLS. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
from pathlib import Path

import adbc_driver_flightsql.dbapi as flight_sql
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lakehold.config import Settings
from lakehold.flight import endpoint
from lakehold.runtime import Runtime
from tests.servers import free_port, serve_process


def _query(location: str, token: str, sql: str, **options: str) -> list[tuple]:
    options = {"adbc.flight.sql.authorization_header": f"Bearer {token}", **options}
    with flight_sql.connect(location, db_kwargs=options, autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_lakehold_serve_runs_the_endpoint_beside_the_api(tmp_path: Path, database_url: str):
    home, port, flight_port = tmp_path / "home", free_port(), free_port()
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_DATABASE_URL": database_url,
    }
    for name in ("LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE", "LAKEHOLD_WORKERS"):
        env.pop(name, None)
    args = ("--flight-port", str(flight_port))
    log = tmp_path / "serve.log"
    with serve_process(env, log, args=args) as (url, process):
        token = (home / "admin_token").read_text().strip()
        rows = _query(f"grpc://127.0.0.1:{flight_port}", token, "select 6 * 7 as answer")
        assert rows == [(42,)]
        metrics = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert 'lakehold_flight_calls_total{method="get_flight_info",status="OK"}' in metrics.text
    assert process.returncode == -signal.SIGTERM  # ended by SIGTERM, as uvicorn ends
    assert not _listening(flight_port)
    lines = log.read_text()
    assert f"Arrow Flight SQL endpoint at grpc://127.0.0.1:{flight_port}" in lines
    assert "Arrow Flight SQL endpoint stopped" in lines  # before the process ended


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "flight.crt", folder / "flight.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_the_endpoint_serves_tls(tmp_path: Path, settings: Settings, admin_token: str) -> None:
    cert, key = _certificate(tmp_path)
    tls = replace_settings(settings, flight_port=0, flight_tls_cert=cert, flight_tls_key=key)
    runtime = Runtime(tls)
    server = endpoint.start(runtime)
    assert server is not None
    try:
        location = f"grpc+tls://localhost:{server.port}"
        assert endpoint.location(tls, server.port).startswith("grpc+tls://127.0.0.1:")
        root = {"adbc.flight.sql.client_option.tls_root_certs": cert.read_text()}
        assert _query(location, admin_token, "select 'secret' as s", **root) == [("secret",)]
    finally:
        endpoint.stop(server)
        runtime.close()


def replace_settings(settings: Settings, **changes: object) -> Settings:
    """``settings`` with ``changes`` (validated again)."""
    return Settings(**{**settings.model_dump(), **changes})
