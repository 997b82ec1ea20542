"""The composition root: settings, store, engines and services wired together once."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lakehold.config import Settings
from lakehold.store.db import Store

if TYPE_CHECKING:
    # each service (and the engines it brings) is imported when first built, so a process
    # that needs a few services does not import them all
    from lakehold.catalog.forms import FormService
    from lakehold.catalog.glossaries import GlossaryService
    from lakehold.catalog.organisation import OrganisationService
    from lakehold.catalog.reconcile import Reconciler, ReconcileReport
    from lakehold.catalog.search.service import SearchService
    from lakehold.catalog.service import CatalogService
    from lakehold.catalog.tables import TableService
    from lakehold.cluster.routing import ClusterOptions
    from lakehold.governance.alerts import AlertService
    from lakehold.governance.filters import FilterService
    from lakehold.governance.grants import GrantService
    from lakehold.governance.listings import ListingService
    from lakehold.governance.metrics import MetricsService
    from lakehold.governance.readable_tables import ReadableTables
    from lakehold.governance.rules import RuleService
    from lakehold.governance.sharing.grants import ShareGrantService
    from lakehold.governance.sharing.reads import SharingReads
    from lakehold.governance.sharing.recipients import RecipientService
    from lakehold.governance.sharing.refresher import SnapshotRefresher
    from lakehold.governance.sharing.shares import ShareService
    from lakehold.governance.sharing.snapshots import SharedSnapshots
    from lakehold.governance.statements import StatementService
    from lakehold.governance.subscriptions import SubscriptionService
    from lakehold.governance.unit_policies import UnitPolicyService
    from lakehold.governance.webhooks import WebhookService
    from lakehold.kernel.audit import AuditService
    from lakehold.lakehouse.tables import DeltaTables
    from lakehold.lineage.service import LineageService
    from lakehold.query.statements import StatementRunner
    from lakehold.security.client_credentials import ClientCredentials
    from lakehold.security.login_limits import LoginLimits
    from lakehold.security.network_limits import ProbeLimiter
    from lakehold.security.network_rules import NetworkPolicy
    from lakehold.security.oidc import OidcService
    from lakehold.security.password_tokens import PasswordTokens
    from lakehold.security.policy import PolicyService
    from lakehold.security.recipients import RecipientAuthenticator
    from lakehold.security.revocation import RevocationService
    from lakehold.security.scim import ScimService
    from lakehold.security.secrets import Secrets
    from lakehold.security.service import SecurityService
    from lakehold.security.service_principals import ServicePrincipalService
    from lakehold.security.sessions import SessionService
    from lakehold.sources.certificates import CertificateService
    from lakehold.sources.connections import ConnectionService
    from lakehold.sources.crawlers import DataSourceService
    from lakehold.sources.sync_jobs import SyncJobService

log = logging.getLogger(__name__)


class Runtime:
    """Everything a process needs; adapters receive one and call its services."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.ensure_dirs()
        self.store = Store(self.settings.resolved_database_url)

    @cached_property
    def tables(self) -> DeltaTables:
        from lakehold.lakehouse.tables import DeltaTables

        return DeltaTables(self.settings.warehouse_path)

    @cached_property
    def security(self) -> SecurityService:
        from lakehold.security.service import SecurityService

        return SecurityService(self.store, cache_seconds=self.settings.credential_cache_seconds)

    @cached_property
    def scim(self) -> ScimService:
        from lakehold.security.scim import ScimService

        return ScimService(self.store)

    @cached_property
    def revocation(self) -> RevocationService:
        from lakehold.security.revocation import RevocationService

        return RevocationService(self.store)

    @cached_property
    def security_policy(self) -> PolicyService:
        from lakehold.security.policy import PolicyService

        return PolicyService(self.store)

    @cached_property
    def service_principals(self) -> ServicePrincipalService:
        from lakehold.security.service_principals import ServicePrincipalService

        overlap = self.settings.service_principal_secret_overlap_seconds
        return ServicePrincipalService(self.store, secret_overlap_seconds=overlap)

    @cached_property
    def client_credentials(self) -> ClientCredentials:
        from lakehold.security.client_credentials import ClientCredentials

        seconds = self.settings.service_principal_token_seconds
        return ClientCredentials(self.store, token_seconds=seconds)

    @cached_property
    def login_limits(self) -> LoginLimits:
        """Failed sign-in limits, shared by password and single sign-on (ADR 29)."""
        from lakehold.security.login_limits import LoginLimits

        settings = self.settings
        return LoginLimits(
            per_user=settings.login_max_failures_per_user,
            per_address=settings.login_max_failures_per_address,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )

    @cached_property
    def sessions(self) -> SessionService:
        from lakehold.security.sessions import SessionService

        settings = self.settings
        return SessionService(
            self.store,
            idle_seconds=settings.session_idle_seconds,
            absolute_seconds=settings.session_absolute_seconds,
            limits=self.login_limits,
        )

    @cached_property
    def password_tokens(self) -> PasswordTokens:
        """Passwords exchanged for short-lived tokens (Flight SQL basic auth, ADR 38)."""
        from lakehold.security.password_tokens import PasswordTokens

        seconds = self.settings.flight_token_seconds
        return PasswordTokens(self.store, limits=self.login_limits, token_seconds=seconds)

    @cached_property
    def oidc(self) -> OidcService:
        from lakehold.security.oidc import OidcService

        settings = self.settings
        return OidcService(
            self.store,
            settings.oidc_providers,
            timeout_seconds=settings.oidc_timeout_seconds,
            limits=self.login_limits,
        )

    @cached_property
    def audit(self) -> AuditService:
        from lakehold.kernel.audit import AuditService

        return AuditService(self.store)

    @cached_property
    def catalog(self) -> CatalogService:
        from lakehold.catalog.service import CatalogService

        return CatalogService(self.store)

    @cached_property
    def organisation(self) -> OrganisationService:
        from lakehold.catalog.organisation import OrganisationService

        return OrganisationService(self.store)

    @cached_property
    def table_service(self) -> TableService:
        from lakehold.catalog.tables import TableService
        from lakehold.lineage.emitter import LineageEmitter

        emitter = LineageEmitter(self.lineage, self.settings.lineage_namespace)
        return TableService(self.store, self.tables, emitter, cluster=self.cluster)

    @property
    def cluster(self) -> ClusterOptions | None:
        """The Ray cluster statements and table jobs may run on (``LAKEHOLD_RAY_ADDRESS``)."""
        from lakehold.cluster.routing import ClusterOptions

        settings = self.settings
        if settings.ray_address is None:
            return None
        token = settings.ray_token.get_secret_value() if settings.ray_token else None
        return ClusterOptions(
            settings.ray_address,
            settings.ray_threshold_bytes,
            settings.ray_task_memory_limit,
            token,
            settings.ray_max_partial_bytes,
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        from lakehold.catalog.reconcile import Reconciler

        return Reconciler(
            self.store,
            self.tables,
            statement_timeout_seconds=self.settings.statement_timeout_seconds,
        )

    def reconcile(self, *, repair: bool = True) -> ReconcileReport:
        """Check (and with ``repair`` fix) the catalog against the warehouse after a crash."""
        return self.reconciler.run(repair=repair)

    def reconcile_on_start(self) -> None:
        """The start-up repair of a serving process: once per runtime, never fatal."""
        if getattr(self, "_reconciled", False):
            return
        self._reconciled = True
        try:
            from lakehold.lakehouse import spill

            spill.sweep(self.settings.warehouse_path)  # what killed merges left on disk
            self.reconcile(repair=True)
        except Exception:  # a start-up repair must not keep the API down; doctor reports it
            log.exception("start-up reconciliation failed; run `lakehold doctor`")

    @cached_property
    def runner(self) -> StatementRunner:
        from lakehold.query.statements import StatementRunner

        return StatementRunner(self.settings.results_path)

    @cached_property
    def statements(self) -> StatementService:
        from lakehold.governance.statement_spans import statement_service_type
        from lakehold.query.scan_files import purge_stale

        # Private scan links of statements a dead process left behind.
        purge_stale(
            self.settings.scan_path, older_than_s=self.settings.statement_timeout_seconds + 60
        )
        return statement_service_type()(  # with spans while tracing is on (ADR 0036)
            self.store,
            lambda: self.tables,  # each built at its first use (ADR 26)
            self.runner,
            self.settings,
            lambda: self.table_service,
            connections=lambda: self.connections,
            cluster=self.cluster,
        )

    @cached_property
    def listings(self) -> ListingService:
        from lakehold.governance.listings import ListingService

        return ListingService(self.store)

    @cached_property
    def metrics(self) -> MetricsService:
        """What ``/metrics`` answers (ADR 33)."""
        from lakehold.governance.metrics import MetricsService

        return MetricsService(self.store, self.settings.warehouse_path)

    @cached_property
    def filters(self) -> FilterService:
        from lakehold.governance.filters import FilterService

        return FilterService(self.store)

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        from lakehold.governance.subscriptions import SubscriptionService

        return SubscriptionService(self.store)

    @cached_property
    def grants(self) -> GrantService:
        from lakehold.governance.grants import GrantService

        return GrantService(self.store)

    @cached_property
    def readable_tables(self) -> ReadableTables:
        """What a catalog client is shown (Flight SQL, ADR 38)."""
        from lakehold.governance.readable_tables import ReadableTables

        return ReadableTables(self.store)

    @cached_property
    def webhooks(self) -> WebhookService:
        from lakehold.governance.webhooks import WebhookService

        return WebhookService(
            self.store,
            secrets=self.secrets,
            retry_base_seconds=self.settings.webhook_retry_base_seconds,
            max_attempts=self.settings.webhook_max_attempts,
            timeout_seconds=self.settings.webhook_timeout_seconds,
            network=self.network,
        )

    @cached_property
    def alerts(self) -> AlertService:
        from lakehold.governance.alerts import AlertService, Thresholds

        settings = self.settings
        thresholds = Thresholds(
            window=timedelta(minutes=settings.alert_window_minutes),
            history=timedelta(days=settings.alert_history_days),
            sigmas=settings.alert_sigmas,
        )
        return AlertService(self.store, thresholds, settings.alert_interval_seconds)

    @cached_property
    def search(self) -> SearchService:
        from lakehold.catalog.search.service import SearchService

        return SearchService(self.store)

    @cached_property
    def glossaries(self) -> GlossaryService:
        from lakehold.catalog.glossaries import GlossaryService

        return GlossaryService(self.store)

    @cached_property
    def forms(self) -> FormService:
        from lakehold.catalog.forms import FormService

        return FormService(self.store)

    @cached_property
    def rules(self) -> RuleService:
        from lakehold.governance.rules import RuleService

        return RuleService(self.store)

    @cached_property
    def unit_policies(self) -> UnitPolicyService:
        from lakehold.governance.unit_policies import UnitPolicyService

        return UnitPolicyService(self.store)

    @cached_property
    def lineage(self) -> LineageService:
        from lakehold.lineage.service import LineageService

        return LineageService(self.store, self.settings.lineage_namespace)

    @cached_property
    def secrets(self) -> Secrets:
        from lakehold.governance.webhook_signing import SecretBox
        from lakehold.security.secrets import Secrets

        secrets = Secrets(self.settings)
        secrets.also_rotate(SecretBox(secrets).reencrypter(self.store))  # webhook secrets
        return secrets

    @cached_property
    def connections(self) -> ConnectionService:
        from lakehold.sources.connections import ConnectionService

        settings = self.settings
        own: tuple[Path, ...] = (settings.home, settings.warehouse_path, settings.results_path)
        if settings.metadata_file is not None:  # wherever LAKEHOLD_DATABASE_URL puts it
            own = (*own, settings.metadata_file)
        return ConnectionService(
            self.store,
            self.secrets,
            forbidden_paths=own,
            source_roots=tuple(self.settings.source_roots),
            network=self.network,
            test_timeout_s=self.settings.connection_test_timeout_seconds,
            certificates=self.certificates,
            staging=settings.staging_path,
            max_download_bytes=settings.max_upload_bytes,
        )

    @cached_property
    def certificates(self) -> CertificateService:
        """TLS certificates of server connections; expiry alerts go to the outbox."""
        from lakehold.governance.events import CONNECTION_CERTIFICATE_EXPIRING, emit
        from lakehold.sources.certificates import CertificateService

        return CertificateService(
            self.store,
            self.network,
            alert=lambda session, payload: emit(session, CONNECTION_CERTIFICATE_EXPIRING, payload),
        )

    @cached_property
    def network(self) -> NetworkPolicy:
        from lakehold.security.network_rules import NetworkPolicy

        return NetworkPolicy(
            self.store,
            static_rules=self.settings.network_allow,
            database_url=self.settings.resolved_database_url,
        )

    @cached_property
    def probes(self) -> ProbeLimiter:
        from lakehold.security.network_limits import ProbeLimiter

        return ProbeLimiter(
            workers=self.settings.probe_workers,
            max_pending=self.settings.probe_max_pending,
            per_minute=self.settings.probe_rate_per_minute,
        )

    @cached_property
    def data_sources(self) -> DataSourceService:
        from lakehold.sources.crawlers import DataSourceService

        return DataSourceService(self.store, self.connections)

    @cached_property
    def sync_jobs(self) -> SyncJobService:
        from lakehold.sources.sync_jobs import SyncJobService

        return SyncJobService(self.store, self.table_service, self.connections)

    # -- Delta Sharing (ADR 37) ----------------------------------------------------------------

    @cached_property
    def shared_snapshots(self) -> SharedSnapshots:
        """The filtered snapshots of share grants, under ``<warehouse>/.sharing``."""
        from lakehold.governance.sharing.snapshots import SharedSnapshots

        return SharedSnapshots(self.settings.warehouse_path)

    @cached_property
    def shares(self) -> ShareService:
        from lakehold.governance.sharing.shares import ShareService

        return ShareService(self.store, self.shared_snapshots)

    @cached_property
    def share_recipients(self) -> RecipientService:
        from lakehold.governance.sharing.recipients import RecipientService

        days = self.settings.sharing_token_days
        return RecipientService(self.store, self.shared_snapshots, token_days=days)

    @cached_property
    def share_grants(self) -> ShareGrantService:
        from lakehold.governance.sharing.grants import ShareGrantService

        return ShareGrantService(self.store, self.shared_snapshots)

    @cached_property
    def sharing_reads(self) -> SharingReads:
        """The Delta Sharing protocol's reads, with file URLs signed by a key derived from
        the secret key."""
        from lakehold.governance.sharing.file_urls import PURPOSE, FileSigner
        from lakehold.governance.sharing.reads import SharingReads

        secrets, seconds = self.secrets, self.settings.sharing_url_seconds
        signer = FileSigner(lambda: secrets.derived_keys(PURPOSE), seconds)
        return SharingReads(self.store, self.shared_snapshots, signer)

    @cached_property
    def recipient_auth(self) -> RecipientAuthenticator:
        from lakehold.security.recipients import RecipientAuthenticator

        return RecipientAuthenticator(self.store)

    @cached_property
    def sharing_refresher(self) -> SnapshotRefresher:
        """Catches filtered share snapshots up in the background (``lakehold serve``)."""
        from lakehold.governance.sharing.refresher import SnapshotRefresher

        settings = self.settings
        return SnapshotRefresher(
            self.store,
            self.shared_snapshots,
            settings.sharing_refresh_seconds,
            retention_hours=settings.sharing_snapshot_retention_hours,
        )

    def close(self) -> None:
        if "runner" in self.__dict__:
            self.runner.shutdown()
        if "probes" in self.__dict__:
            self.probes.shutdown()
        self.store.close()
