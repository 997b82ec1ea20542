"""Read the certificate a database server presents, starting TLS the way its protocol does.

- PostgreSQL: an SSLRequest message (length 8, code 80877103); the server answers ``S`` and
  the TLS handshake follows, or ``N`` (it does not offer TLS).
- MySQL/MariaDB: the server speaks first; its greeting (protocol 10) says whether it offers
  TLS (``CLIENT_SSL``); the client answers with the SSL request packet (its capabilities with
  ``CLIENT_SSL``, the maximum packet size, a character set, 23 zero bytes) and the TLS
  handshake follows.

The certificate is read, not trusted: the handshake does not verify it (an expired or
self-signed certificate is exactly what the check must see), nothing is authenticated and no
credentials are sent; the socket is closed right after the handshake. It connects to
``address``, the one the caller checked (:func:`lakehold.security.network.check_target`);
``host`` is only the TLS server name. Engines take plain values: no connection, no user.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import struct
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from lakehold.errors import SourceUnavailable

_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_MAX_GREETING = 16 * 1024
_CLIENT_SSL = 0x0800
_CLIENT_PROTOCOL_41 = 0x0200
_CLIENT_SECURE_CONNECTION = 0x8000
_UTF8MB4 = 45
_MAX_NAME = 1000
KINDS = ("postgresql", "mysql")


@dataclass(frozen=True)
class PeerCertificate:
    """The certificate a server presented: validity, names (RFC 4514), SHA-256 fingerprint."""

    not_before: datetime
    not_after: datetime
    subject: str
    issuer: str
    fingerprint: str


def read_certificate(
    kind: str, host: str, address: str, port: int, timeout_s: float
) -> PeerCertificate | None:
    """The certificate of the ``kind`` server at ``address:port``; None when it does not offer
    TLS. SourceUnavailable (naming ``host:port`` and why) when it cannot be reached or does not
    answer as such a server does."""
    if kind not in KINDS:
        raise ValueError(f"no TLS probe for connection kind {kind!r}")
    where = f"{host}:{port}"
    try:
        with socket.create_connection((address, port), timeout=timeout_s) as sock:
            offered = (
                _start_postgres(sock, where) if kind == "postgresql" else _start_mysql(sock, where)
            )
            if not offered:
                return None
            return _handshake(sock, host, where)
    except ssl.SSLError as e:
        raise SourceUnavailable(f"{where}: the TLS handshake failed ({e.reason or e})") from None
    except TimeoutError:
        raise SourceUnavailable(f"{where}: no answer within {timeout_s:g} s") from None
    except OSError as e:
        raise SourceUnavailable(f"{where}: {e.strerror or e}") from None


def _start_postgres(sock: socket.socket, where: str) -> bool:
    sock.sendall(_SSL_REQUEST)
    answer = _read(sock, 1, where)
    if answer == b"S":
        return True
    if answer == b"N":
        return False
    raise SourceUnavailable(f"{where}: not a PostgreSQL server (answered {answer!r})")


def _start_mysql(sock: socket.socket, where: str) -> bool:
    header = _read(sock, 4, where)
    length, sequence = int.from_bytes(header[:3], "little"), header[3]
    if not 1 <= length <= _MAX_GREETING:
        raise SourceUnavailable(f"{where}: not a MySQL or MariaDB server")
    greeting = _read(sock, length, where)
    if greeting[0] == 0xFF:  # an error packet: too many connections, host not allowed, ...
        message = greeting[3:]
        if message[:1] == b"#":
            message = message[6:]
        text = message.decode("utf-8", "replace")[:200]
        raise SourceUnavailable(f"{where}: the server refused the connection: {text}")
    if greeting[0] != 10:
        raise SourceUnavailable(f"{where}: not a MySQL or MariaDB server (protocol {greeting[0]})")
    version_end = greeting.find(b"\0", 1)
    position = version_end + 1 + 4 + 8 + 1  # version, connection id, salt, filler
    if version_end < 0 or len(greeting) < position + 3:
        raise SourceUnavailable(f"{where}: a MySQL greeting too short to read")
    capabilities = int.from_bytes(greeting[position : position + 2], "little")
    if not capabilities & _CLIENT_SSL:
        return False
    flags = _CLIENT_SSL | _CLIENT_PROTOCOL_41 | _CLIENT_SECURE_CONNECTION
    payload = struct.pack("<IIB", flags, _MAX_GREETING, _UTF8MB4) + bytes(23)
    sock.sendall(len(payload).to_bytes(3, "little") + bytes([(sequence + 1) % 256]) + payload)
    return True


def _handshake(sock: socket.socket, host: str, where: str) -> PeerCertificate:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read, not trusted (see the module)
    with context.wrap_socket(sock, server_hostname=_server_name(host)) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise SourceUnavailable(f"{where}: the server presented no certificate")
    try:
        return parse(der)
    except ValueError:
        raise SourceUnavailable(f"{where}: the server's certificate cannot be read") from None


def parse(der: bytes) -> PeerCertificate:
    """A DER certificate's validity, subject, issuer and SHA-256 fingerprint."""
    certificate = x509.load_der_x509_certificate(der)
    return PeerCertificate(
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        subject=certificate.subject.rfc4514_string()[:_MAX_NAME],
        issuer=certificate.issuer.rfc4514_string()[:_MAX_NAME],
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
    )


def _read(sock: socket.socket, size: int, where: str) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise SourceUnavailable(f"{where}: the server closed the connection")
        data += chunk
    return data


def _server_name(host: str) -> str | None:
    """The TLS server name (SNI): a host name, never an address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    return None
