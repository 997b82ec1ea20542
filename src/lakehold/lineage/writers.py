"""Who may change which lineage through the API (ADR 0015).

An external event changes its job (job namespace), its outputs, the dataset of a DatasetEvent,
and every input that carries dataset facets (they are merged into the dataset). Those
namespaces must be ones the principal's token may write (:meth:`Principal.may_write_namespace`:
an administrator-issued ``lineage:write`` token is bound to namespace patterns), and never
Lakehold's own namespace, which only Lakehold writes (through
:meth:`~lakehold.lineage.service.LineageService.record`). A refusal is a Forbidden naming the
namespace and the path of the part that would change it.

An input in a namespace the principal may not change is a read reference: it is kept (an Airflow
job reading a Lakehold table is legitimate lineage) with its dataset ``facets`` removed before
the event is stored, so it cannot alter the dataset's schema, description, tags or facets.
"""

from __future__ import annotations

from typing import Any

from lakehold.errors import Forbidden
from lakehold.lineage.events import Event, parse_event
from lakehold.lineage.limits import EventLimits
from lakehold.security.principal import Principal

WRITE_ACTION = "lineage.write"


def _refuse(principal: Principal, namespace: str, lakehold: str, field: str) -> None:
    if namespace == lakehold:
        raise Forbidden(
            f"lineage of namespace '{namespace}' (Lakehold's own tables and jobs) is written "
            "by Lakehold only, not through the API",
            field=field,
            namespace=namespace,
        )
    if not principal.may_write_namespace(namespace):
        allowed = ", ".join(principal.lineage_namespaces or ()) or "none"
        raise Forbidden(
            f"this token may not write lineage namespace '{namespace}' (its namespaces: {allowed})",
            field=field,
            namespace=namespace,
        )


def _may_change(principal: Principal, namespace: str, lakehold: str) -> bool:
    return namespace != lakehold and principal.may_write_namespace(namespace)


def authorize_writes(
    principal: Principal,
    events: list[Event],
    lakehold_namespace: str,
    limits: EventLimits | None = None,
) -> list[Event]:
    """``events`` as they may be stored for ``principal``: Forbidden at the first part that
    would change a namespace it may not write; inputs it may only read lose their facets."""
    authorized = []
    for i, event in enumerate(events):
        path = f"events[{i}]"
        if event.job is not None:
            _refuse_unless(principal, event.job.namespace, lakehold_namespace, f"{path}.job")
        if event.dataset is not None:
            _refuse_unless(
                principal, event.dataset.namespace, lakehold_namespace, f"{path}.dataset"
            )
        for j, output in enumerate(event.outputs):
            _refuse_unless(principal, output.namespace, lakehold_namespace, f"{path}.outputs[{j}]")
        read_only = [
            j
            for j, ref in enumerate(event.inputs)
            if ref.facets and not _may_change(principal, ref.namespace, lakehold_namespace)
        ]
        authorized.append(_without_input_facets(event, read_only, path, limits))
    return authorized


def _refuse_unless(principal: Principal, namespace: str, lakehold: str, field: str) -> None:
    if not _may_change(principal, namespace, lakehold):
        _refuse(principal, namespace, lakehold, f"{field}.namespace")


def _without_input_facets(
    event: Event, indexes: list[int], path: str, limits: EventLimits | None
) -> Event:
    """``event`` whose inputs at ``indexes`` carry no dataset facets (validated again, so the
    stored text and its hash are those of what is folded)."""
    if not indexes:
        return event
    inputs: list[Any] = list(event.raw["inputs"])
    for j in indexes:
        inputs[j] = {k: v for k, v in inputs[j].items() if k != "facets"}
    return parse_event({**event.raw, "inputs": inputs}, path, limits)
