"""Fixtures of the lakehouse engine tests: a warehouse in tmp_path and the scenario files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lakehold.lakehouse import DeltaTables

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"


@pytest.fixture
def tables(tmp_path: Path) -> DeltaTables:
    return DeltaTables(tmp_path / "warehouse")


@pytest.fixture
def scenario() -> Callable[[str], Path]:
    """The path of a scenario file, by name."""
    return lambda name: SCENARIOS / name
