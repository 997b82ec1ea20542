"""Usernames made of a provider's claims follow Lakehold's rules (``lakehold.names``)."""

from __future__ import annotations

import pytest

from lakehold.names import check_username
from lakehold.security.oidc.claims import numbered, username_base


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("alice", "alice"),
        ("Alice.Smith@Example.com", "alice.smith"),
        ("José García", "jos-garc-a"),
        ("--_weird__", "weird"),
        ("", "user-00u1ab2c"),
        (None, "user-00u1ab2c"),
        ("x" * 80, "x" * 64),
    ],
)
def test_a_claim_becomes_a_valid_username(claim: str | None, expected: str) -> None:
    made = username_base(claim, "00u1AB2C")
    assert made == expected
    assert check_username(made) == made


def test_numbered_names_stay_valid() -> None:
    assert numbered("alice", 2) == "alice-2"
    long = numbered("y" * 64, 12)
    assert long == "y" * 61 + "-12" and check_username(long) == long
