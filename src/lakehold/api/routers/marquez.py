"""Marquez-compatible reads of namespaces, datasets, jobs and runs.

Namespaces and names may contain `/` (`postgres://db:5432`); clients percent-encode them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from lakehold.api.deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["lineage (Marquez API)"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


@router.get("/namespaces")
def namespaces(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every lineage namespace: `{"namespaces": [...]}`."""
    return runtime.lineage.namespaces(principal)


@router.get("/namespaces/{namespace:path}/datasets/{name:path}/versions")
def dataset_versions(
    namespace: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Versions of a dataset, newest first: `{"totalCount", "versions"}`."""
    return runtime.lineage.dataset_versions(principal, namespace, name, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/datasets/{name:path}")
def dataset(namespace: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """A dataset: fields, facets, current version, column lineage."""
    return runtime.lineage.dataset(principal, namespace, name)


@router.get("/namespaces/{namespace:path}/datasets")
def datasets(
    namespace: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Datasets of a namespace: `{"totalCount", "datasets"}`."""
    return runtime.lineage.datasets(principal, namespace, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/jobs/{name:path}/versions")
def job_versions(
    namespace: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Versions of a job (distinct inputs, outputs and SQL): `{"totalCount", "versions"}`."""
    return runtime.lineage.job_versions(principal, namespace, name, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/jobs/{name:path}/runs")
def runs(
    namespace: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Runs of a job, newest first: `{"totalCount", "runs"}`."""
    return runtime.lineage.runs(principal, namespace, name, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/jobs/{name:path}")
def job(namespace: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """A job: inputs, outputs, latest run, current version."""
    return runtime.lineage.job(principal, namespace, name)


@router.get("/namespaces/{namespace:path}/jobs")
def jobs(
    namespace: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Jobs of a namespace: `{"totalCount", "jobs"}`."""
    return runtime.lineage.jobs(principal, namespace, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}")
def namespace(namespace: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """One namespace."""
    return runtime.lineage.get_namespace(principal, namespace)


@router.get("/jobs/runs/{run_id}")
def run(run_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """A run: state, times, job version, input and output dataset versions, facets."""
    return runtime.lineage.run(principal, run_id)


@router.get("/jobs")
def all_jobs(
    runtime: RuntimeDep, principal: PrincipalDep, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    """Jobs of every namespace: `{"totalCount", "jobs"}`."""
    return runtime.lineage.jobs(principal, None, limit=limit, offset=offset)
