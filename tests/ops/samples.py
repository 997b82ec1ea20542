"""Reading metrics in tests: this process's registry, and an exposition's text."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from lakehold.observability.metrics import project_label


def sample(name: str, **labels: str) -> float:
    """The value of one sample of this process (0 when it does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def project(name: str) -> str:
    """The label this process reports ``name`` under (``_other`` once the cap is reached)."""
    return project_label(name)


def parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value_in(text: str, name: str, **labels: str) -> float | None:
    """One sample of an exposition, None when absent."""
    return parsed(text).get((name, tuple(sorted(labels.items()))))
