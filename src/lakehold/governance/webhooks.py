"""Webhooks: HTTP endpoints notified of governance events, with signed bodies and retries.

- A webhook belongs to a project (its owners manage it; administrators too) or is global
  (administrators only). Anyone else gets NotFound for a project they are not a member of and
  Forbidden below owner.
- Its secret signs every attempt as Standard Webhooks does (``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``;
  :mod:`lakehold.governance.webhook_signing`). It is stored encrypted for that, and never
  returned, logged or put in an error.
- Events are written by :func:`lakehold.governance.events.emit` with one pending delivery per
  matching webhook. The :class:`Dispatcher` POSTs due deliveries as JSON (headers
  ``X-Lakehold-Event``, ``X-Lakehold-Delivery`` and the three signature headers) with a short
  timeout. A 2xx answer delivers; anything else is retried after ``base * 2**(attempt-1)``
  seconds until ``max_attempts``, then the delivery has failed. A failed delivery can be
  redelivered (it starts over). Sending happens in a background thread (or in
  :meth:`Dispatcher.deliver_due`), never in the request that changed the state.
- Several API processes may run dispatchers on one PostgreSQL store: a delivery is claimed
  (``FOR UPDATE SKIP LOCKED``, with a lease) before it is sent. Delivery is at least once;
  receivers de-duplicate by ``webhook-id`` (= ``X-Lakehold-Delivery``).
- Delivered and failed deliveries, and the outbox events no pending delivery needs, are purged
  after ``RETENTION_DAYS`` by the running dispatcher (once a day), or on demand by
  administrators (:meth:`WebhookService.purge`).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from lakehold import __version__
from lakehold.catalog.service import readable_project
from lakehold.errors import Conflict, Invalid, LakeholdError, NotFound
from lakehold.governance import webhook_signing as signing
from lakehold.governance.events import (
    DELIVERED,
    EVENT_TYPES,
    FAILED,
    PENDING,
    committed,
)
from lakehold.kernel import Action, Command, allowed, authorize, governed
from lakehold.observability import instruments
from lakehold.security.network_rules import NetworkPolicy, PinnedTransport
from lakehold.security.principal import Principal
from lakehold.security.secrets import Secrets
from lakehold.store.db import Store
from lakehold.store.models import (
    OutboxEvent,
    Project,
    User,
    Webhook,
    WebhookDelivery,
    as_utc,
    utcnow,
)

log = logging.getLogger("lakehold.webhooks")

MAX_URL = 2000
RETENTION_DAYS = 30
"""The running dispatcher purges finished deliveries older than this, once a day."""


@dataclass(frozen=True)
class WebhookView:
    """A webhook as the API shows it: never its secret."""

    id: str
    url: str
    project: str | None
    """None: a global webhook."""
    event_types: list[str]
    description: str | None
    active: bool
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, session: Session, hook: Webhook) -> WebhookView:
        project = session.get(Project, hook.project_id) if hook.project_id else None
        user = session.get(User, hook.created_by)
        return cls(
            id=hook.id,
            url=hook.url,
            project=project.name if project else None,
            event_types=list(hook.event_types or []),
            description=hook.description,
            active=hook.active,
            created_by=user.username if user else None,
            created_at=as_utc(hook.created_at),
        )


@dataclass(frozen=True)
class DeliveryView:
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery, event_type: str) -> DeliveryView:
        return cls(
            id=delivery.id,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            event_type=event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=as_utc(delivery.next_attempt_at)
            if delivery.status == PENDING
            else None,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=as_utc(delivery.created_at),
            delivered_at=as_utc(delivery.delivered_at),
        )


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise Invalid("a webhook needs a url", field="url")
    url = url.strip()
    if len(url) > MAX_URL:
        raise Invalid(f"a webhook url is at most {MAX_URL} characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Invalid("the webhook url is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("a webhook url is an http:// or https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise Invalid("put credentials in the secret, not in the webhook url", field="url")
    if any(c.isspace() for c in url):
        raise Invalid("a webhook url has no spaces", field="url")
    return url


def _check_types(event_types: list[str] | None) -> list[str]:
    if event_types is None:
        return list(EVENT_TYPES)
    if not isinstance(event_types, list) or not event_types:
        raise Invalid("name at least one event type", field="event_types")
    for name in event_types:
        if name not in EVENT_TYPES:
            raise Invalid(
                f"unknown event type '{name}'; one of {', '.join(EVENT_TYPES)}",
                field="event_types",
            )
    return list(dict.fromkeys(event_types))


@dataclass(frozen=True)
class PurgeView:
    """What a purge removed: finished deliveries and outbox events created before ``before``."""

    before: datetime
    deliveries: int
    events: int


def purge_finished(session: Session, before: datetime) -> tuple[int, int]:
    """Delete delivered and failed deliveries created before ``before``, then the outbox events
    from before it that no delivery needs any more; the numbers of each deleted."""
    finished = delete(WebhookDelivery).where(
        WebhookDelivery.status.in_((DELIVERED, FAILED)), WebhookDelivery.created_at < before
    )
    done = session.execute(finished.execution_options(synchronize_session=False))
    assert isinstance(done, CursorResult)  # a DELETE's result has a rowcount
    deliveries = done.rowcount
    needed = select(WebhookDelivery.event_id)
    stale = delete(OutboxEvent).where(
        OutboxEvent.created_at < before, OutboxEvent.id.not_in(needed)
    )
    gone = session.execute(stale.execution_options(synchronize_session=False))
    assert isinstance(gone, CursorResult)  # a DELETE's result has a rowcount
    return deliveries, gone.rowcount


class WebhookService:
    """Manage webhooks and their deliveries; :attr:`dispatcher` sends them."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: Secrets,
        retry_base_seconds: float = 10.0,
        max_attempts: int = 6,
        timeout_seconds: float = 5.0,
        network: NetworkPolicy | None = None,
    ) -> None:
        self.store = store
        self.box = signing.SecretBox(secrets)
        self.network = network or NetworkPolicy(store)
        self.dispatcher = Dispatcher(
            store,
            box=self.box,
            network=self.network,
            retry_base_seconds=retry_base_seconds,
            max_attempts=max_attempts,
            timeout_seconds=timeout_seconds,
        )

    # -- the dispatcher ------------------------------------------------------------------------

    def start(self) -> None:
        """Encrypt secrets left in plaintext by migration 0008, then start delivering in a
        background thread (with the API server)."""
        with self.store.session() as session:
            if count := self.box.encrypt_legacy(session):
                log.info("encrypted %d webhook secret(s) stored before migration 0008", count)
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()

    def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt every delivery due at ``now``, in this thread; the number attempted."""
        return self.dispatcher.deliver_due(now)

    # -- management ----------------------------------------------------------------------------

    @staticmethod
    def _manage(project: Project | None) -> Action:
        """What managing a webhook of ``project`` (None: a global one) is."""
        return Action.WEBHOOK_GLOBAL_MANAGE if project is None else Action.WEBHOOK_MANAGE

    @classmethod
    def _require_manager(
        cls, session: Session, principal: Principal, project: Project | None
    ) -> None:
        authorize(principal, cls._manage(project), project, session=session)

    def _check_target(self, url: Any) -> str:
        """A valid URL whose host passes the network allow-list (ADR 0014): a public address,
        or one a rule covers; a name that does not resolve yet is checked at delivery."""
        checked = _check_url(url)
        self.network.check_url(checked, unresolved_ok=True)
        return checked

    def _find(self, session: Session, principal: Principal, webhook_id: str) -> Webhook:
        hook, project = self._visible(session, principal, webhook_id)
        self._require_manager(session, principal, project)
        return hook

    def _managed(self, command: Command, webhook_id: str) -> Webhook:
        """:meth:`_find` within a governed command."""
        hook, project = self._visible(command.session, command.principal, webhook_id)
        command.authorize(self._manage(project), project)
        return hook

    @staticmethod
    def _visible(
        session: Session, principal: Principal, webhook_id: str
    ) -> tuple[Webhook, Project | None]:
        """The webhook and its project (None: global); NotFound when the principal may not
        know it (a project it is not a member of; a global webhook, for non-administrators)."""
        hook = session.get(Webhook, webhook_id)
        hidden = NotFound(f"webhook '{webhook_id}' not found")
        if hook is None:
            raise hidden
        project = session.get(Project, hook.project_id) if hook.project_id else None
        if project is None and not allowed(principal, Action.WEBHOOK_GLOBAL_MANAGE):
            raise hidden
        if project is not None and not allowed(
            principal, Action.PROJECT_READ, project, session=session
        ):
            raise hidden
        return hook, project

    def create(
        self,
        principal: Principal,
        url: str,
        secret: str,
        *,
        project: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
        active: bool = True,
    ) -> WebhookView:
        """A webhook of ``project`` (its owners) or a global one (administrators)."""
        with governed(self.store, principal, "webhook.create", project=project) as command:
            session = command.session
            scope = readable_project(session, principal, project) if project else None
            command.authorize(self._manage(scope), scope)
            canonical = signing.canonical(secret)
            hook = Webhook(
                url=self._check_target(url),
                event_types=_check_types(event_types),
                project_id=scope.id if scope else None,
                description=description,
                active=bool(active),
                created_by=principal.user_id,
            )
            self.box.seal(hook, canonical)
            session.add(hook)
            session.flush()
            command.details.update(webhook=hook.id, event_types=hook.event_types)
            return WebhookView.of(session, hook)

    def list_webhooks(
        self, principal: Principal, *, project: str | None = None
    ) -> list[WebhookView]:
        """Webhooks of ``project`` (its owners), or all the principal manages: those of the
        projects it owns, and the global ones for administrators."""
        with self.store.session() as session:
            query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
            if project is not None:
                scope = readable_project(session, principal, project)
                self._require_manager(session, principal, scope)
                query = query.where(Webhook.project_id == scope.id)
            views = []
            for hook in session.scalars(query):
                owner = session.get(Project, hook.project_id) if hook.project_id else None
                action = Action.WEBHOOK_GLOBAL_MANAGE if owner is None else Action.WEBHOOK_MANAGE
                if allowed(principal, action, owner, session=session):
                    views.append(WebhookView.of(session, hook))
            return views

    def get(self, principal: Principal, webhook_id: str) -> WebhookView:
        with self.store.session() as session:
            return WebhookView.of(session, self._find(session, principal, webhook_id))

    def delete(self, principal: Principal, webhook_id: str) -> None:
        """Delete a webhook and its deliveries."""
        details = {"webhook": webhook_id}
        with governed(self.store, principal, "webhook.delete", details=details) as command:
            session = command.session
            hook = self._managed(command, webhook_id)
            view = WebhookView.of(session, hook)
            session.delete(hook)
            session.flush()
            command.project = view.project

    def update(
        self,
        principal: Principal,
        webhook_id: str,
        *,
        active: bool | None = None,
        url: str | None = None,
        event_types: list[str] | None = None,
        secret: str | None = None,
        description: str | None = None,
    ) -> WebhookView:
        """Enable or disable a webhook, change its url, events or description (``""`` clears
        it), or rotate its secret. A disabled webhook gets no new deliveries."""
        details = {"webhook": webhook_id}
        with governed(self.store, principal, "webhook.update", details=details) as command:
            session = command.session
            hook = self._managed(command, webhook_id)
            changed: dict[str, Any] = {}
            if active is not None:
                hook.active = changed["active"] = bool(active)
            if url is not None:
                hook.url = changed["url"] = self._check_target(url)
            if event_types is not None:
                hook.event_types = changed["event_types"] = _check_types(event_types)
            if secret is not None:
                self.box.seal(hook, signing.canonical(secret))
                changed["secret_rotated"] = True
            if description is not None:
                hook.description = changed["description"] = description or None
            session.flush()
            view = WebhookView.of(session, hook)
            command.project = view.project
            command.details.update(changed)
            return view

    def purge(
        self, principal: Principal, older_than_days: int, *, now: datetime | None = None
    ) -> PurgeView:
        """Delete delivered and failed deliveries, and the outbox events no pending delivery
        needs, older than ``older_than_days`` days (administrators)."""
        details = {"older_than_days": older_than_days}
        with governed(self.store, principal, "webhook.purge", details=details) as command:
            command.authorize(Action.WEBHOOK_PURGE)
            if (
                isinstance(older_than_days, bool)
                or not isinstance(older_than_days, int)
                or older_than_days < 1
            ):
                raise Invalid(
                    "older_than_days is a whole number of days, 1 or more", field="older_than_days"
                )
            before = (now or utcnow()) - timedelta(days=older_than_days)
            deliveries, events = purge_finished(command.session, before)
            command.details.update(deliveries=deliveries, events=events)
            return PurgeView(as_utc(before), deliveries, events)

    def deliveries(
        self,
        principal: Principal,
        webhook_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
    ) -> list[DeliveryView]:
        """The webhook's deliveries, newest first."""
        if status is not None and status not in (PENDING, DELIVERED, FAILED):
            raise Invalid("status is pending, delivered or failed", field="status")
        with self.store.session() as session:
            self._find(session, principal, webhook_id)
            query = (
                select(WebhookDelivery, OutboxEvent.event_type)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .limit(max(1, min(limit, 1000)))
            )
            if status is not None:
                query = query.where(WebhookDelivery.status == status)
            return [DeliveryView.of(d, t) for d, t in session.execute(query)]

    def redeliver(self, principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Start a failed delivery over: pending, due now, attempts from zero."""
        details = {"delivery": delivery_id}
        with governed(self.store, principal, "webhook.redeliver", details=details) as command:
            session = command.session
            self._managed(command, webhook_id)
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.webhook_id != webhook_id:
                raise NotFound(f"delivery '{delivery_id}' not found")
            if delivery.status != FAILED:
                raise Conflict(f"delivery '{delivery_id}' is {delivery.status}; only failed ones")
            delivery.status, delivery.attempts = PENDING, 0
            delivery.next_attempt_at = utcnow()
            session.flush()
            event = session.get(OutboxEvent, delivery.event_id)
            assert event is not None
            command.details = {"webhook": webhook_id, "delivery": delivery_id}
            view = DeliveryView.of(delivery, event.event_type)
        committed.set()
        return view


@dataclass(frozen=True)
class _Claimed:
    delivery_id: str
    event_type: str
    url: str
    secret: str = field(repr=False)
    body: bytes
    attempt: int


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Send due deliveries: in a background thread (:meth:`start`) or on call
    (:meth:`deliver_due`)."""

    def __init__(
        self,
        store: Store,
        *,
        box: signing.SecretBox,
        retry_base_seconds: float = 10.0,
        max_attempts: int = 6,
        timeout_seconds: float = 5.0,
        poll_seconds: float = 2.0,
        batch: int = 50,
        workers: int = 8,
        retention_days: int | None = RETENTION_DAYS,
        network: NetworkPolicy | None = None,
    ) -> None:
        self.store = store
        self.box = box
        self.network = network or NetworkPolicy(store)
        self.retention_days = retention_days
        self._purged_at: datetime | None = None
        self.retry_base_seconds = retry_base_seconds
        self.max_attempts = max(1, max_attempts)
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.workers = workers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return timedelta(seconds=self.retry_base_seconds * 2 ** (attempt - 1))

    # -- background ----------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="lakehold-webhooks", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        committed.set()
        thread.join(timeout if timeout is not None else self.timeout_seconds + 5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.deliver_due() and not self._stop.is_set():
                    pass
                self._purge_daily()
            except Exception:  # the dispatcher outlives a bad moment of the store
                log.exception("webhook dispatch failed; retrying")
            committed.wait(self.poll_seconds)
            committed.clear()

    def _purge_daily(self) -> None:
        """Once a day, purge finished deliveries older than ``retention_days`` (if set)."""
        now = utcnow()
        if self.retention_days is None or (
            self._purged_at is not None and now - self._purged_at < timedelta(days=1)
        ):
            return
        self._purged_at = now
        with self.store.session() as session:
            counts = purge_finished(session, now - timedelta(days=self.retention_days))
        log.info("purged %d webhook deliveries and %d outbox events", *counts)

    # -- one pass ------------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt the deliveries due at ``now`` (default: the current time); the number sent."""
        now = now or utcnow()
        claimed = self._claim(now)
        if not claimed:
            return 0
        with (
            httpx.Client(  # connects only to addresses the network allow-list checked
                timeout=self.timeout_seconds,
                follow_redirects=False,
                transport=PinnedTransport(self.network),
            ) as client,
            ThreadPoolExecutor(max_workers=min(self.workers, len(claimed))) as pool,
        ):
            outcomes = list(pool.map(lambda c: self._send(client, c), claimed))
        self._record(now, list(zip(claimed, outcomes, strict=True)))
        return len(claimed)

    def _claim(self, now: datetime) -> list[_Claimed]:
        """Due deliveries, leased so that another dispatcher skips them while they are sent."""
        lease = now + timedelta(seconds=self.timeout_seconds * 2 + 30)
        with self.store.session() as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook, OutboxEvent)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(self.batch)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            ).all()
            claimed = []
            for delivery, hook, event in rows:
                delivery.next_attempt_at = lease
                try:
                    secret = self.box.open(hook)
                except LakeholdError as error:  # a key that does not fit: nothing to sign with
                    delivery.status, delivery.next_attempt_at = FAILED, None
                    delivery.last_error = error.message
                    continue
                envelope = {
                    "id": event.id,
                    "type": event.event_type,
                    "created_at": as_utc(event.created_at).isoformat(),
                    "delivery": delivery.id,
                    "data": event.payload,
                }
                claimed.append(
                    _Claimed(
                        delivery_id=delivery.id,
                        event_type=event.event_type,
                        url=hook.url,
                        secret=secret,
                        body=json.dumps(envelope, sort_keys=True, default=str).encode(),
                        attempt=delivery.attempts + 1,
                    )
                )
            return claimed

    def _send(self, client: httpx.Client, claimed: _Claimed) -> _Outcome:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Lakehold-Webhooks/{__version__}",
            "X-Lakehold-Event": claimed.event_type,
            "X-Lakehold-Delivery": claimed.delivery_id,
            **signing.signed_headers(claimed.secret, claimed.delivery_id, claimed.body),
        }
        try:
            response = client.post(claimed.url, content=claimed.body, headers=headers)
        except httpx.TimeoutException:
            return _Outcome(None, f"timed out after {self.timeout_seconds:g} s")
        except LakeholdError as error:  # the target is not (or no longer) allowed
            return _Outcome(None, error.message)
        except httpx.HTTPError as error:
            return _Outcome(None, f"{type(error).__name__}: could not reach the endpoint")
        if 200 <= response.status_code < 300:
            return _Outcome(response.status_code, None)
        return _Outcome(response.status_code, f"HTTP {response.status_code}")

    def _record(self, now: datetime, results: list[tuple[_Claimed, _Outcome]]) -> None:
        with self.store.session() as session:
            for claimed, outcome in results:
                delivery = session.get(WebhookDelivery, claimed.delivery_id)
                if delivery is None:  # the webhook was deleted meanwhile
                    continue
                delivery.attempts = claimed.attempt
                delivery.last_status_code = outcome.status_code
                delivery.last_error = outcome.error
                if outcome.ok:
                    delivery.status, delivery.delivered_at = DELIVERED, now
                    delivery.next_attempt_at = None
                elif claimed.attempt >= self.max_attempts:
                    delivery.status, delivery.next_attempt_at = FAILED, None
                    log.warning(
                        "webhook delivery %s failed for good after %d attempts: %s",
                        claimed.delivery_id,
                        claimed.attempt,
                        outcome.error,
                    )
                else:
                    delivery.next_attempt_at = now + self.backoff(claimed.attempt)
                    log.info(
                        "webhook delivery %s attempt %d failed (%s); retrying at %s",
                        claimed.delivery_id,
                        claimed.attempt,
                        outcome.error,
                        delivery.next_attempt_at.isoformat(),
                    )
                instruments.webhook_attempt(delivery.status)  # lakehold_webhook_deliveries_total
