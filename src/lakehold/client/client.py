"""``lakehold.client.Client``: the public SDK over Lakehold's HTTP API."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from lakehold.client import models as m
from lakehold.client.access import Audit, NetworkRules, Security, Tokens, Users
from lakehold.client.alerts import Alerts
from lakehold.client.catalog import (
    Assets,
    Domains,
    Forms,
    Glossaries,
    Groups,
    Members,
    Projects,
    Rules,
    Search,
    UnitPolicies,
    Units,
)
from lakehold.client.credentials import ClientCredentials
from lakehold.client.lineage import Lineage
from lakehold.client.oidc import SingleSignOn
from lakehold.client.profiles import resolve
from lakehold.client.service_principals import ServicePrincipals
from lakehold.client.session import Session
from lakehold.client.shares import ShareGrants, ShareRecipients, Shares
from lakehold.client.sharing import Filters, Grants, Listings, Subscriptions, Webhooks
from lakehold.client.sources import Connections, DataSources, SyncJobs
from lakehold.client.statements import Result, Statements
from lakehold.client.tables import Tables
from lakehold.client.transport import HttpTransport
from lakehold.errors import Invalid

if TYPE_CHECKING:
    from lakehold.client.transport import Transport

DEFAULT_TIMEOUT = 300.0


class Client:
    """A client of one Lakehold server, acting as the principal of one token.

    ``Client("https://lakehold.example.com", token="lh_...")``, or ``Client()`` to take
    ``LAKEHOLD_URL`` and ``LAKEHOLD_TOKEN`` or a profile (``lakehold.client.profiles``).
    A service principal passes ``client_id=`` and ``client_secret=`` (or sets
    ``LAKEHOLD_CLIENT_ID`` and ``LAKEHOLD_CLIENT_SECRET``) instead of a token: the client
    exchanges them for short-lived tokens and renews them before they expire.
    Errors are the server's typed errors (``lakehold.errors.NotFound``...), with the
    response's details (field, line, column, request_id).

    >>> with Client() as lh:
    ...     lh.sql("select count(*) as n from retail.store_sales").to_pandas()
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        transport: Transport | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        explicit = client_id is not None  # given client credentials beat the environment
        if transport is None:
            found = resolve(url, token, profile)
            if found is None:
                raise Invalid("no server: pass url=, or set LAKEHOLD_URL or a profile", field="url")
            transport = HttpTransport(found.url, timeout=timeout, verify=verify)
            if not explicit:
                token = found.token
                client_id, client_secret = found.client_id, found.client_secret
        credentials = None
        if client_id is not None and token is None:
            credentials = ClientCredentials(client_id, client_secret or "")
        self.session = Session(transport, token, credentials)
        self.statements = Statements(self.session)
        self.users = Users(self.session)
        self.tokens = Tokens(self.session)
        self.sso = SingleSignOn(self.session)
        self.security = Security(self.session)
        self.network_rules = NetworkRules(self.session)
        self.audit = Audit(self.session)
        self.domains = Domains(self.session)
        self.units = Units(self.session)
        self.unit_policies = UnitPolicies(self.session)
        self.groups = Groups(self.session)
        self.projects = Projects(self.session)
        self.members = Members(self.session)
        self.service_principals = ServicePrincipals(self.session)
        self.assets = Assets(self.session)
        self.glossaries = Glossaries(self.session)
        self.forms = Forms(self.session)
        self.search = Search(self.session)
        self.tables = Tables(self.session)
        self.rules = Rules(self.session)
        self.filters = Filters(self.session)
        self.listings = Listings(self.session)
        self.subscriptions = Subscriptions(self.session)
        self.grants = Grants(self.session)
        self.webhooks = Webhooks(self.session)
        self.shares = Shares(self.session)
        self.share_recipients = ShareRecipients(self.session)
        self.share_grants = ShareGrants(self.session)
        self.alerts = Alerts(self.session)
        self.connections = Connections(self.session)
        self.data_sources = DataSources(self.session)
        self.sync_jobs = SyncJobs(self.session)
        self.lineage = Lineage(self.session)

    def sql(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
    ) -> Result:
        """Run a read statement and return its rows (``.to_arrow()``, ``.to_pandas()``)."""
        return self.statements.execute(
            sql, project=project, dialect=dialect, limit=limit, timeout_seconds=timeout_seconds
        )

    def me(self) -> m.UserOut:
        """The principal this client acts as."""
        return self.session.call("GET", "/api/v1/me", m.UserOut)

    def health(self) -> dict[str, object]:
        return self.session.call("GET", "/health", dict[str, object])

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
