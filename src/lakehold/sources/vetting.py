"""Vetting a connection's target before Lakehold connects to it (ADR 0014).

:meth:`Vetter.vet` checks a server connection's host against the network allow-list
(:class:`~lakehold.security.network_rules.NetworkPolicy`), pins it to the checked address
(``ConnectionSpec.hostaddr``), and, for a connection that is not an administrator's, refuses
a role with superuser or server-file privileges (Invalid naming ``params.user``); the role
check is cached per connection version for :data:`PRIVILEGE_CACHE_S` seconds. A
``delta_sharing`` connection's endpoint is checked the same way (Invalid naming
``params.endpoint``); its requests are pinned one by one by the client's transport.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from sqlalchemy.orm import Session

from lakehold.connectors import introspect
from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.params import SHARING_KIND, endpoint_target
from lakehold.errors import Invalid, SourceUnavailable
from lakehold.kernel import Action, allowed
from lakehold.security.network_rules import NetworkPolicy
from lakehold.security.principal import Principal
from lakehold.store.models import User
from lakehold.store.sources import Connection

SERVER_KINDS = ("postgresql", "mysql")
PRIVILEGE_CACHE_S = 300.0


class Vetter:
    """The network and role checks of server connections."""

    def __init__(self, network: NetworkPolicy, timeout_s: float) -> None:
        self.network = network
        self.timeout_s = timeout_s
        self._cache: dict[tuple[str, ...], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def vet(
        self,
        spec: ConnectionSpec,
        *,
        trusted: bool,
        require_reachable: bool = True,
        cache_key: tuple[str, ...] | None = None,
    ) -> ConnectionSpec:
        """``spec`` pinned to its checked address; Invalid naming why it may not be used."""
        if spec.kind == SHARING_KIND:
            host, port = endpoint_target(str(spec.params["endpoint"]))
            self.network.check(
                host,
                port,
                public=trusted,
                field="params.endpoint",
                unresolved_ok=not require_reachable,
            )
            return spec
        if spec.kind not in SERVER_KINDS:
            return spec
        params = spec.params
        address = self.network.check(
            str(params["host"]),
            int(params["port"]),
            public=trusted,
            database=str(params.get("database")),
            unresolved_ok=not require_reachable,
        )
        if address is None:  # not resolvable yet: checked again before every use
            return spec
        pinned = replace(spec, hostaddr=address)
        if trusted:
            return pinned
        try:
            held = self._held(pinned, cache_key)
        except SourceUnavailable:
            if require_reachable:
                raise
            return pinned  # checked again before every use
        if held:
            raise Invalid(
                f"connection {spec.name!r}: role {params.get('user')!r} "
                f"{_describe(held)}; a connection of a non-administrator must use a role "
                "that can only read tables",
                field="params.user",
            )
        return pinned

    def _held(self, spec: ConnectionSpec, cache_key: tuple[str, ...] | None) -> list[str]:
        key = (*cache_key, spec.hostaddr or "") if cache_key else None
        now = time.monotonic()
        if key is not None:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        held = introspect.dangerous_privileges(spec, self.timeout_s)
        if key is not None:
            with self._lock:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                self._cache[key] = (now + PRIVILEGE_CACHE_S, held)
        return held


def created_by_admin(session: Session, connection: Connection) -> bool:
    """Whether the connection's creator is an administrator (now)."""
    creator = session.get(User, connection.created_by)
    if creator is None:
        return False
    as_creator = Principal(creator.id, creator.username, is_admin=creator.is_admin)
    return allowed(as_creator, Action.CONNECTION_UNRESTRICTED)


def cache_key(connection: Connection) -> tuple[str, ...]:
    """Changes whenever the connection does (params, password: ``updated_at``)."""
    return (connection.id, str(connection.updated_at), str(sorted(connection.params.items())))


def _describe(held: list[str]) -> str:
    if "superuser" in held:
        return "is a superuser"
    return "holds " + ", ".join(held) + " (it can read or change the server's files)"
