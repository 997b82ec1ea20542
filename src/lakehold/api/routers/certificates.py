"""The TLS certificates of the connections a principal may see, soonest expiry first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.sources.certificates import CertificateView

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])


@router.get("/certificates", response_model=list[CertificateView])
def list_certificates(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    within_days: Annotated[
        int | None,
        Query(
            ge=0,
            le=36500,
            description="Only certificates that expire within this many days (or expired)",
        ),
    ] = None,
):
    """The server connections of the projects whose connections the principal may see (their
    owners; administrators see all), with the certificate their server last presented:
    ``status`` ok, expiring (within 30 days), expired, no_tls, unreachable or unchecked and
    ``days_left``, sorted by expiry (connections without one last)."""
    return runtime.certificates.report(principal, within_days=within_days)
