"""Where Lakehold may open a socket for a user: the network allow-list check.

A rule (:class:`Rule`) is ``<host or CIDR>:<port or *>`` -- ``127.0.0.1:3306``,
``10.0.0.0/8:5432``, ``db.internal:*``, ``[fd00::/8]:5432``, ``*.corp.example:443``.
:func:`check_target` resolves a host, checks *every* address it resolves to, and returns the
one address to connect to (the caller pins it, so a second resolution cannot swap it: DNS
rebinding). An address covered by a rule is allowed; otherwise loopback, link-local,
private, shared, unique-local, unspecified, multicast and reserved addresses are refused,
and a public address is allowed only where ``public`` is true (administrators' connections,
webhooks). Lakehold's own metadata database (:class:`Endpoint`) is refused for everyone,
whatever the rules say.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lakehold.errors import Invalid

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

#: address classes refused unless a rule covers them, with the name used in errors
_RESTRICTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unspecified", ("0.0.0.0/8", "::/128")),
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("shared (carrier-grade NAT)", ("100.64.0.0/10",)),
    ("unique-local", ("fc00::/7",)),
    ("multicast", ("224.0.0.0/4", "ff00::/8")),
    ("reserved", ("240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15")),
)
_RESTRICTED_NETS = tuple(
    (name, tuple(ipaddress.ip_network(n) for n in nets)) for name, nets in _RESTRICTED
)


@dataclass(frozen=True)
class Rule:
    """One allow-list entry: a network or a host-name pattern, and a port (None: any)."""

    text: str
    network: Network | None
    host: str | None
    port: int | None

    def covers(self, host: str, address: IP, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address.version == self.network.version and address in self.network
        return self.host is not None and fnmatch.fnmatchcase(_name(host), self.host)


@dataclass(frozen=True)
class Endpoint:
    """Lakehold's own metadata database: the addresses of its server, its port, its name.
    ``local``: the server is this machine (loopback, a Unix socket, ``localhost``)."""

    addresses: frozenset[str]
    port: int
    database: str
    local: bool


def parse_rule(text: str, *, field: str = "rule") -> Rule:
    """A rule from ``host:port``; Invalid naming ``field`` when it is not one."""
    raw = text.strip()
    if raw.startswith("["):
        host, sep, port_text = raw[1:].partition("]:")
    else:
        host, sep, port_text = raw.rpartition(":")
    if not sep or not host or not port_text:
        raise Invalid(
            f"network rule {text!r} is <host or CIDR>:<port or *>, e.g. 10.0.0.0/8:5432, "
            "db.internal:*, [fd00::/8]:5432",
            field=field,
        )
    port: int | None = None
    if port_text != "*":
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise Invalid(f"network rule {text!r}: port is 1-65535 or *", field=field)
        port = int(port_text)
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    if network is not None:
        single = network.prefixlen == network.max_prefixlen
        shown = str(network.network_address) if single else str(network)
        return Rule(f"{_bracket(shown)}:{port_text}", network, None, port)
    name = _name(host)
    if not all(part and all(c.isalnum() or c in "-_*" for c in part) for part in name.split(".")):
        raise Invalid(f"network rule {text!r}: {host!r} is not a host name or CIDR", field=field)
    return Rule(f"{name}:{port_text}", None, name, port)


def parse_rules(texts: Iterable[str], *, field: str = "network_allow") -> list[Rule]:
    """Rules from entries (blank ones skipped)."""
    return [parse_rule(t, field=field) for t in texts if t and t.strip()]


def metadata_endpoint(database_url: str, resolver: Resolver | None = None) -> Endpoint | None:
    """The server behind ``database_url`` (None for SQLite or an unparseable URL)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() == "sqlite":
        return None
    defaults = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
    port = url.port or defaults.get(url.get_backend_name(), 0)
    database = url.database or url.username or ""
    host = url.host or ""
    if not host or host.startswith("/") or _name(host) == "localhost":
        return Endpoint(frozenset(), port, database, True)
    try:
        addresses = frozenset((resolver or resolve)(host, port))
    except OSError:
        addresses = frozenset()
    local = any(_is_local(ipaddress.ip_address(a)) for a in addresses)
    return Endpoint(addresses, port, database, local)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in resolver order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]).split("%", 1)[0], None)
    return list(seen)


def restriction(address: IP) -> str | None:
    """Why ``address`` is refused without a rule (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return restriction(address.ipv4_mapped)
    for name, networks in _RESTRICTED_NETS:
        if any(address.version == n.version and address in n for n in networks):
            return name
    if not address.is_global:
        return "reserved"
    return None


def check_target(
    host: str,
    port: int,
    rules: Sequence[Rule],
    *,
    public: bool,
    metadata: Endpoint | None = None,
    database: str | None = None,
    field: str = "params.host",
    resolver: Resolver | None = None,
    unresolved_ok: bool = False,
) -> str | None:
    """The address to connect to for ``host:port``: every address ``host`` resolves to must
    be allowed (see the module). Invalid naming ``field`` and the reason otherwise. A name
    that does not resolve is Invalid too, or, with ``unresolved_ok`` (when a target is
    registered; it is checked again before every use), None."""
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        if unresolved_ok:
            return None
        raise Invalid(f"host {host!r} does not resolve", field=field)
    for text in addresses:
        address = ipaddress.ip_address(text)
        refuse_metadata(host, text, port, metadata, database=database, field=field)
        if any(rule.covers(host, address, port) for rule in rules):
            continue
        reason = restriction(address)
        if reason is not None:
            raise Invalid(
                f"{host}:{port} resolves to {address}, a {reason} address; an administrator "
                "must allow it first (LAKEHOLD_NETWORK_ALLOW or `lakehold network allow`)",
                field=field,
            )
        if not public:
            raise Invalid(
                f"{host}:{port} is not on the network allow-list; an administrator must allow "
                "it first (LAKEHOLD_NETWORK_ALLOW or `lakehold network allow`)",
                field=field,
            )
    return addresses[0]


def refuse_metadata(
    host: str,
    address: str,
    port: int,
    metadata: Endpoint | None,
    *,
    database: str | None,
    field: str = "params.host",
) -> None:
    """Invalid naming ``field`` when ``address:port`` and ``database`` are Lakehold's own
    metadata database (checked by :func:`check_target`, and again on a pinned address before
    every use)."""
    if metadata is not None and _is_metadata(
        ipaddress.ip_address(address), port, database, metadata
    ):
        raise Invalid(
            f"{host}:{port} database {database!r} is Lakehold's own metadata database; "
            "no connection may reach it",
            field=field,
        )


def _is_metadata(address: IP, port: int, database: str | None, endpoint: Endpoint) -> bool:
    if database is None or port != endpoint.port:
        return False
    if database.strip().lower() != endpoint.database.lower():
        return False
    if str(address) in endpoint.addresses:
        return True
    return endpoint.local and (_is_local(address) or str(address) in _own_addresses())


def _is_local(address: IP) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _own_addresses() -> set[str]:
    """This machine's own addresses (best effort): a local server listens there too."""
    try:
        return set(resolve(socket.gethostname(), 0))
    except OSError:
        return set()


def _name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
