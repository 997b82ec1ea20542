"""Encryption at rest of connection secrets: key file, environment keys, rotation."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import select

from lakehold.config import Settings
from lakehold.errors import Invalid
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.security.secrets import SecretError, Secrets
from lakehold.store.sources import Connection
from tests.sources.conftest import SourceDb, Team


def test_key_file_is_created_0600(tmp_path) -> None:
    secrets = Secrets(Settings(home=tmp_path / "home"))
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = secrets.encrypt("hunter2")
    assert token != "hunter2" and "hunter2" not in token
    assert Secrets(Settings(home=tmp_path / "home")).decrypt(token) == "hunter2"
    assert "hunter2" not in repr(secrets) and key_file.read_text().strip() not in repr(secrets)


def test_environment_key_and_previous_keys(tmp_path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Secrets(Settings(home=tmp_path, secret_key=SecretStr(old))).encrypt("pw")
    with pytest.raises(SecretError) as caught:
        Secrets(Settings(home=tmp_path, secret_key=SecretStr(new))).decrypt(token, what="x")
    assert "pw" not in caught.value.message and new not in caught.value.message
    both = Secrets(
        Settings(home=tmp_path, secret_key=SecretStr(new), secret_key_previous=SecretStr(old))
    )
    assert both.decrypt(token) == "pw"
    assert not (tmp_path / "secret.key").exists()


def test_bad_environment_key_is_invalid(tmp_path) -> None:
    with pytest.raises(Invalid) as caught:
        Secrets(Settings(home=tmp_path, secret_key=SecretStr("not-a-key")))
    assert caught.value.details["field"] == "secret_key" and "not-a-key" not in str(caught.value)


def test_rotation_reencrypts_every_secret(
    runtime: Runtime, team: Team, admin: Principal, pg_source: SourceDb
) -> None:
    view = runtime.connections.create(
        team.owner, "sales", "pg", "postgresql", pg_source.params, password="rotate-me"
    )
    key_file = runtime.settings.home / "secret.key"
    old_key = key_file.read_text().strip()

    def ciphertext() -> str:
        with runtime.store.session() as session:
            return session.scalar(select(Connection.secret_ciphertext))

    before = ciphertext()
    assert runtime.connections.rotate_key(admin) == 1
    after = ciphertext()
    new_key = key_file.read_text().strip()
    assert after != before and new_key != old_key and "\n" not in new_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert runtime.connections.spec(view.id).secret == "rotate-me"
    with pytest.raises(InvalidToken):  # the old key no longer opens the new ciphertext
        Fernet(old_key.encode()).decrypt(after.encode())
    fresh = Secrets(runtime.settings)  # another process reading the new key file
    assert fresh.decrypt(after) == "rotate-me"


def test_a_process_encrypting_after_another_rotated_uses_the_new_key(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    first, second = Secrets(settings), Secrets(settings)
    stored = [first.encrypt("a")]

    def reencrypt(rotate) -> int:
        stored[0] = rotate(stored[0])
        return 1

    assert first.rotate(reencrypt) == 1
    later = second.encrypt("b")  # second still held the old key in memory
    assert Secrets(settings).decrypt(later) == "b" and Secrets(settings).decrypt(stored[0]) == "a"
