"""The network allow-list as a service: rules from ``LAKEHOLD_NETWORK_ALLOW`` plus rules that
administrators store (``/api/v1/network-rules``, ``lakehold network``), and the checks that
connections and webhooks call before they open a socket (:mod:`lakehold.security.network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, authorize, governed
from lakehold.security import network
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import NetworkRule, User

MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class NetworkRuleView:
    """An allow-list entry; ``source``: ``setting`` (LAKEHOLD_NETWORK_ALLOW) or ``stored``."""

    rule: str
    source: str
    id: str | None = None
    description: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class UrlTarget:
    """A checked webhook URL: connect to ``address``, speak to ``host`` (Host header, TLS
    server name)."""

    scheme: str
    host: str
    port: int
    address: str | None


class NetworkPolicy:
    """Which hosts and ports connections and webhooks may reach."""

    def __init__(
        self,
        store: Store,
        *,
        static_rules: Sequence[str] = (),
        database_url: str | None = None,
        resolver: network.Resolver | None = None,
    ) -> None:
        self.store = store
        self.static_rules = network.parse_rules(static_rules)
        self.database_url = database_url
        self.resolver = resolver
        self._metadata: tuple[network.Endpoint | None] | None = None

    @property
    def metadata(self) -> network.Endpoint | None:
        """Lakehold's own metadata database, never a target (resolved once it resolves)."""
        if self.database_url is None:
            return None
        if self._metadata is None:
            endpoint = network.metadata_endpoint(self.database_url, self.resolver)
            if endpoint is None or endpoint.local or endpoint.addresses:
                self._metadata = (endpoint,)
            else:  # its host did not resolve now: keep the name's port and database, retry
                return endpoint
        return self._metadata[0]

    def rules(self) -> list[network.Rule]:
        """Every rule in force: the setting's, then the stored ones."""
        with self.store.session() as session:
            stored = session.scalars(select(NetworkRule.rule)).all()
        return [*self.static_rules, *network.parse_rules(stored)]

    # -- checks --------------------------------------------------------------------------------

    def check(
        self,
        host: str,
        port: int,
        *,
        public: bool,
        database: str | None = None,
        field: str = "params.host",
        unresolved_ok: bool = False,
    ) -> str | None:
        """The address to connect to (see :func:`lakehold.security.network.check_target`)."""
        return network.check_target(
            host,
            port,
            self.rules(),
            public=public,
            metadata=self.metadata,
            database=database,
            field=field,
            resolver=self.resolver,
            unresolved_ok=unresolved_ok,
        )

    def check_url(self, url: str, *, field: str = "url", unresolved_ok: bool = False) -> UrlTarget:
        """A webhook URL's target: http(s) only; any public address, or one an allow-list
        rule covers (``address`` None: the name does not resolve, with ``unresolved_ok``)."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise Invalid("url is not a valid http(s) URL", field=field) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid("url is an http:// or https:// URL with a host", field=field)
        if parts.username or parts.password:
            raise Invalid("url may not contain credentials", field=field)
        address = self.check(
            parts.hostname, port, public=True, field=field, unresolved_ok=unresolved_ok
        )
        return UrlTarget(parts.scheme, parts.hostname, port, address)

    # -- administration ------------------------------------------------------------------------

    def list(self, principal: Principal) -> list[NetworkRuleView]:
        """Every rule in force (administrators)."""
        authorize(principal, Action.NETWORK_RULE_READ)
        views = [NetworkRuleView(rule.text, "setting") for rule in self.static_rules]
        with self.store.session() as session:
            rows = session.scalars(select(NetworkRule).order_by(NetworkRule.created_at)).all()
            views += [_view(session, row) for row in rows]
        return views

    def allow(
        self, principal: Principal, rule: str, *, description: str | None = None
    ) -> NetworkRuleView:
        """Store a rule (administrators); Conflict if it is already stored."""
        details = {"rule": rule}
        with governed(self.store, principal, "network_rule.create", details=details) as command:
            command.authorize(Action.NETWORK_RULE_MANAGE)
            parsed = network.parse_rule(str(rule), field="rule")
            if description is not None and len(description) > MAX_DESCRIPTION:
                raise Invalid(
                    f"description is at most {MAX_DESCRIPTION} characters", field="description"
                )
            session = command.session
            if session.scalar(select(NetworkRule).where(NetworkRule.rule == parsed.text)):
                raise Conflict(f"network rule {parsed.text!r} already exists", field="rule")
            row = NetworkRule(
                rule=parsed.text, description=description, created_by=principal.user_id
            )
            session.add(row)
            session.flush()
            command.details["rule"] = parsed.text
            return _view(session, row)

    def remove(self, principal: Principal, rule: str) -> None:
        """Delete a stored rule, by its id or its text (administrators)."""
        details = {"rule": rule}
        with governed(self.store, principal, "network_rule.delete", details=details) as command:
            command.authorize(Action.NETWORK_RULE_MANAGE)
            session = command.session
            row = session.get(NetworkRule, rule)
            if row is None:
                try:
                    text = network.parse_rule(rule, field="rule").text
                except Invalid:
                    text = rule
                row = session.scalar(select(NetworkRule).where(NetworkRule.rule == text))
            if row is None:
                if any(r.text == rule for r in self.static_rules):
                    raise Conflict(
                        f"network rule {rule!r} comes from LAKEHOLD_NETWORK_ALLOW; change "
                        "the setting to remove it",
                        field="rule",
                    )
                raise NotFound(f"network rule {rule!r} not found", field="rule")
            session.delete(row)
            command.details["rule"] = row.rule


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport that checks every request's URL with the policy and connects to
    the checked address, while the request still speaks to the URL's host: the Host header
    is the original, and TLS sends it as the server name and verifies the certificate
    against it. A target that is not allowed raises Invalid (naming ``url``)."""

    def __init__(self, policy: NetworkPolicy, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = self.policy.check_url(str(request.url))
        request.url = request.url.copy_with(host=target.address)
        request.extensions = {**request.extensions, "sni_hostname": target.host}
        return super().handle_request(request)


def _view(session: Session, row: NetworkRule) -> NetworkRuleView:
    creator = session.get(User, row.created_by)
    return NetworkRuleView(
        row.rule,
        "stored",
        row.id,
        row.description,
        creator.username if creator else row.created_by,
        row.created_at,
    )
