"""Webhook secrets are encrypted at rest and deliveries are signed as Standard Webhooks does:
the real ``standardwebhooks`` verifier accepts them and refuses a replay with an old timestamp.
Plaintext secrets from before migration 0008 are encrypted at startup; ``rotate-key``
re-encrypts webhook secrets too. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks.webhooks as standard
from alembic import command
from alembic.config import Config
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.errors import Invalid
from lakehold.governance import webhook_signing as signing
from lakehold.governance.events import emit
from lakehold.runtime import Runtime
from lakehold.store.db import MIGRATIONS, make_engine
from lakehold.store.models import Webhook, utcnow
from tests.sharing import client_for
from tests.webhook_receiver import receiver, whsec

RAW = "a-raw-secret-of-old-0123"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The test receiver listens on loopback, which the network allow-list refuses by default."""
    return Settings(
        home=tmp_path / "home", database_url=database_url, network_allow=["127.0.0.1:*"]
    )


def later(seconds: float = 0) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def emit_requested(runtime: Runtime) -> None:
    with runtime.store.session() as session:
        emit(session, "subscription.requested", {"project": "nowhere", "request": "r1"})


def row(runtime: Runtime, webhook_id: str) -> Webhook:
    with runtime.store.session() as session:
        found = session.get(Webhook, webhook_id)
        assert found is not None
        session.expunge(found)
        return found


class _TenMinutesLater(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        return datetime.now(tz) + timedelta(minutes=10)


def test_a_delivery_verifies_and_its_replay_is_refused(
    runtime, admin_token, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = signing.generate()
    with receiver() as endpoint, client_for(runtime, admin_token) as http:
        created = http.post("/api/v1/webhooks", json={"url": endpoint.url, "secret": secret})
        assert created.status_code == 201, created.text
        assert "secret" not in created.json() and secret not in created.text
        emit_requested(runtime)
        assert runtime.webhooks.deliver_due(later()) == 1
    (sent,) = endpoint.events()
    verifier = Verifier(secret)
    body = verifier.verify(sent.body, sent.headers)
    assert body["type"] == "subscription.requested"
    assert sent.headers["webhook-id"] == body["delivery"] == sent.headers["x-lakehold-delivery"]
    assert abs(int(sent.headers["webhook-timestamp"]) - utcnow().timestamp()) < 60
    assert sent.headers["webhook-signature"].startswith("v1,")
    assert "x-lakehold-signature" not in sent.headers  # the replayable signature is gone
    with pytest.raises(WebhookVerificationError):
        Verifier(signing.generate()).verify(sent.body, sent.headers)

    # The captured delivery replayed ten minutes later: too old.
    monkeypatch.setattr(standard, "datetime", _TenMinutesLater)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(sent.body, sent.headers)
    monkeypatch.undo()
    # Freshening the timestamp breaks the signature, which covers it.
    moved = int(sent.headers["webhook-timestamp"]) + 120  # still within the tolerance
    fresh = {**sent.headers, "webhook-timestamp": str(moved)}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(sent.body, fresh)
    # A tampered body fails as well.
    with pytest.raises(WebhookVerificationError):
        verifier.verify(sent.body.replace(b"subscription", b"Subscription"), sent.headers)


def test_secrets_are_encrypted_at_rest_and_raw_ones_map_to_whsec(runtime, admin) -> None:
    created = runtime.webhooks.create(admin, "https://example.com/h", RAW)
    stored = row(runtime, created.id)
    assert stored.legacy_secret is None and stored.secret_ciphertext is not None
    assert RAW not in stored.secret_ciphertext
    assert whsec(RAW) not in stored.secret_ciphertext
    assert runtime.secrets.decrypt(stored.secret_ciphertext) == whsec(RAW)
    assert RAW not in repr(created) and RAW not in repr(runtime.webhooks.box)


def test_secret_formats() -> None:
    key = bytes(range(32))
    assert signing.canonical("whsec_" + base64.b64encode(key).decode()) == (
        "whsec_" + base64.b64encode(key).decode()
    )
    assert signing.key_of(signing.canonical(RAW)) == RAW.encode()
    assert signing.key_of(signing.generate()).__len__() == 32
    for bad in ("whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), "short", 7):
        with pytest.raises(Invalid) as caught:
            signing.canonical(bad)
        assert caught.value.details["field"] == "secret"
        assert str(bad) not in caught.value.message


def test_rotate_key_reencrypts_webhook_secrets(runtime, admin) -> None:
    secret = signing.generate()
    with receiver() as endpoint:
        created = runtime.webhooks.create(admin, endpoint.url, secret)
        before = row(runtime, created.id).secret_ciphertext
        old_keys = runtime.secrets.key_file.read_text()
        assert runtime.connections.rotate_key(admin) >= 1
        assert runtime.secrets.key_file.read_text() != old_keys  # the old key is gone
        assert row(runtime, created.id).secret_ciphertext != before
        emit_requested(runtime)
        assert runtime.webhooks.deliver_due(later()) == 1
    (sent,) = endpoint.events()
    Verifier(secret).verify(sent.body, sent.headers)


def test_plaintext_secrets_from_before_0008_are_encrypted_at_startup(
    tmp_path: Path, empty_database_url: str
) -> None:
    database_url = empty_database_url
    settings = Settings(
        home=tmp_path / "home", database_url=database_url, network_allow=["127.0.0.1:*"]
    )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        now = utcnow()
        connection.execute(
            text(
                "INSERT INTO users (id, username, is_admin, created_at) "
                "VALUES ('u1', 'old', true, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO webhooks (id, url, secret, event_types, active, created_by, "
                "created_at) VALUES ('h1', :url, :secret, :types, true, 'u1', :now)"
            ),
            {"url": "https://x", "secret": RAW, "types": '["subscription.requested"]', "now": now},
        )
        command.upgrade(config, "0008_webhook_secrets")
        kept = connection.execute(text("SELECT legacy_secret, secret_ciphertext FROM webhooks"))
        assert kept.one() == (RAW, None)  # no key inside a migration: kept for startup
    engine.dispose()

    runtime = Runtime(settings)
    try:
        with receiver() as endpoint:
            with runtime.store.session() as session:
                session.get(Webhook, "h1").url = endpoint.url  # type: ignore[union-attr]
            runtime.webhooks.start()
            runtime.webhooks.stop()
            stored = row(runtime, "h1")
            assert stored.legacy_secret is None and stored.secret_ciphertext
            assert runtime.secrets.decrypt(stored.secret_ciphertext) == whsec(RAW)
            emit_requested(runtime)
            assert runtime.webhooks.deliver_due(later()) == 1
        (sent,) = endpoint.events()
        assert sent.signed_with(RAW)  # receivers use whsec_ + base64 of the old secret
    finally:
        runtime.close()


def test_the_cli_generates_a_whsec_secret_and_shows_it_once(settings, database_url) -> None:
    env = {
        "LAKEHOLD_HOME": str(settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
        "LAKEHOLD_WEBHOOK_SECRET": "",
    }
    result = CliRunner().invoke(
        app, ["webhook", "create", "https://example.com/hook", "--generate-secret"], env=env
    )
    assert result.exit_code == 0, result.output
    (secret,) = [line for line in result.output.splitlines() if line.startswith("whsec_")]
    assert len(signing.key_of(secret)) == 32
    listed = CliRunner().invoke(app, ["webhook", "list", "--json"], env=env)
    assert secret not in listed.output
    runtime = Runtime(settings)
    try:
        with runtime.store.session() as session:
            (stored,) = session.scalars(select(Webhook)).all()
            assert runtime.secrets.decrypt(stored.secret_ciphertext or "") == secret
    finally:
        runtime.close()


def test_an_undecryptable_secret_fails_its_delivery_without_blocking_others(runtime, admin):
    good = signing.generate()
    with receiver() as endpoint:
        broken = runtime.webhooks.create(admin, endpoint.url, signing.generate())
        runtime.webhooks.create(admin, endpoint.url, good)
        with runtime.store.session() as session:  # e.g. encrypted with a key since lost
            session.get(Webhook, broken.id).secret_ciphertext = (
                Fernet(  # type: ignore[union-attr]
                    Fernet.generate_key()
                )
                .encrypt(b"whsec_x")
                .decode()
            )
        emit_requested(runtime)
        assert runtime.webhooks.deliver_due(later()) == 1
    (sent,) = endpoint.events()
    Verifier(good).verify(sent.body, sent.headers)
    (failed,) = runtime.webhooks.deliveries(admin, broken.id)
    assert failed.status == "failed" and "cannot decrypt" in (failed.last_error or "")
