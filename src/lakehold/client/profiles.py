"""Where the SDK and the CLI find a server: ``LAKEHOLD_URL`` and ``LAKEHOLD_TOKEN``, or a
named profile in ``$XDG_CONFIG_HOME/lakehold/profiles.toml`` (``~/.config/lakehold/``):

    [default]
    url = "https://lakehold.example.com"
    token = "lh_..."

    [ci]                                  # a service principal: its token is exchanged for
    url = "https://lakehold.example.com"  # at POST /oauth/token and renewed by the client
    client_id = "lhsp_..."
    client_secret = "lhsps_..."

``LAKEHOLD_CLIENT_ID`` and ``LAKEHOLD_CLIENT_SECRET`` do the same as environment variables. A
token, when one is given, is used instead of client credentials.
``LAKEHOLD_PROFILE`` (or ``--profile``) picks a profile; ``default`` is used when neither
``LAKEHOLD_URL`` nor ``LAKEHOLD_HOME`` is set. The file is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lakehold.errors import Invalid, NotFound

DEFAULT = "default"


@dataclass(frozen=True)
class Profile:
    """A server to talk to, and the token to talk with."""

    url: str
    token: str | None = None
    name: str | None = None
    client_id: str | None = None
    """A service principal's client id (with ``client_secret``), used when there is no token."""
    client_secret: str | None = None


def profiles_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lakehold" / "profiles.toml"


def read_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every profile of the file (none when it does not exist)."""
    path = path or profiles_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        raise Invalid(f"{path} is not valid TOML: {error}", field="profiles") from None
    profiles: dict[str, Profile] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise Invalid(f"profile {name!r} in {path} needs a url", field=name)
        token = entry.get("token")
        client_id, client_secret = entry.get("client_id"), entry.get("client_secret")
        profiles[name] = Profile(
            entry["url"],
            token if isinstance(token, str) else None,
            name,
            client_id if isinstance(client_id, str) else None,
            client_secret if isinstance(client_secret, str) else None,
        )
    return profiles


def save_profile(profile: Profile, path: Path | None = None) -> Path:
    """Add or replace a profile; the file is 0600 and its folder 0700."""
    if not profile.name:
        raise Invalid("a profile needs a name", field="name")
    path = path or profiles_path()
    profiles = read_profiles(path)
    profiles[profile.name] = profile
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines: list[str] = []
    for name, entry in sorted(profiles.items()):
        lines.append(f"[{json.dumps(name)}]")
        lines.append(f"url = {json.dumps(entry.url)}")
        if entry.token:
            lines.append(f"token = {json.dumps(entry.token)}")
        if entry.client_id and entry.client_secret:
            lines.append(f"client_id = {json.dumps(entry.client_id)}")
            lines.append(f"client_secret = {json.dumps(entry.client_secret)}")
        lines.append("")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines))
    return path


def resolve(
    url: str | None = None, token: str | None = None, profile: str | None = None
) -> Profile | None:
    """The server to use: ``url``/``token`` given, else ``LAKEHOLD_URL``/``LAKEHOLD_TOKEN``,
    else the profile named by ``profile`` or ``LAKEHOLD_PROFILE``, else the ``default``
    profile when ``LAKEHOLD_HOME`` is not set; ``None`` means "no server: work in process"."""
    token = token or os.environ.get("LAKEHOLD_TOKEN") or None
    url = url or os.environ.get("LAKEHOLD_URL") or None
    client_id = os.environ.get("LAKEHOLD_CLIENT_ID") or None
    client_secret = os.environ.get("LAKEHOLD_CLIENT_SECRET") or None
    if url:
        return Profile(url, token, None, client_id, client_secret)
    name = profile or os.environ.get("LAKEHOLD_PROFILE") or None
    if name is None and os.environ.get("LAKEHOLD_HOME"):
        return None
    found = read_profiles().get(name or DEFAULT)
    if found is None:
        if name is not None:
            raise NotFound(f"no profile {name!r} in {profiles_path()}", field="profile")
        return None
    if client_id is None:  # client credentials in the environment beat the profile's token
        client_id, client_secret = found.client_id, found.client_secret
        token = token or found.token
    return Profile(found.url, token, found.name, client_id, client_secret)
