"""Where the SDK and the CLI find their server: arguments, LAKEHOLD_URL/TOKEN, profiles."""

from __future__ import annotations

import stat

import pytest

from lakehold.client.profiles import Profile, read_profiles, resolve, save_profile
from lakehold.errors import Invalid, NotFound


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE", "LAKEHOLD_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config"


def test_saved_profiles_are_private_and_never_lose_others(config_home) -> None:
    save_profile(Profile("https://a.example", "lh_a", "default"))
    path = save_profile(Profile("https://b.example", None, 'we"ird'))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = read_profiles()
    assert saved["default"] == Profile("https://a.example", "lh_a", "default")
    assert saved['we"ird'].token is None


def test_resolution_order(monkeypatch) -> None:
    assert resolve() is None  # nothing configured: in process
    save_profile(Profile("https://default.example", "lh_default", "default"))
    save_profile(Profile("https://prod.example", "lh_prod", "prod"))
    assert resolve().url == "https://default.example"
    monkeypatch.setenv("LAKEHOLD_HOME", "/somewhere")  # an explicit home wins over `default`
    assert resolve() is None
    monkeypatch.setenv("LAKEHOLD_PROFILE", "prod")  # ... but not over a named profile
    assert resolve() == Profile("https://prod.example", "lh_prod", "prod")
    monkeypatch.setenv("LAKEHOLD_TOKEN", "lh_env")
    assert resolve().token == "lh_env"
    monkeypatch.setenv("LAKEHOLD_URL", "http://127.0.0.1:9")
    assert resolve() == Profile("http://127.0.0.1:9", "lh_env")
    assert resolve("http://given", "lh_given").token == "lh_given"


def test_unknown_profile_and_broken_file(config_home, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOLD_PROFILE", "nope")
    with pytest.raises(NotFound, match="no profile 'nope'"):
        resolve()
    (config_home / "lakehold").mkdir(parents=True)
    (config_home / "lakehold" / "profiles.toml").write_text("[default\nurl=")
    with pytest.raises(Invalid, match="not valid TOML"):
        read_profiles()


def test_cli_profile_commands(config_home, monkeypatch) -> None:
    from typer.testing import CliRunner

    from lakehold.cli.main import app

    runner = CliRunner()
    env = {"XDG_CONFIG_HOME": str(config_home)}
    done = runner.invoke(
        app, ["profile", "set", "prod", "--url", "https://p.example", "--token", "lh_x"], env=env
    )
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["profile", "list"], env=env)
    assert "https://p.example" in listed.output and "lh_x" not in listed.output
