"""The network allow-list of connections and webhooks (administrators)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.security.network_rules import NetworkRuleView

router = APIRouter(prefix="/api/v1/network-rules", tags=["network allow-list"])


class NetworkRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str = Field(
        min_length=3,
        max_length=300,
        description="<host or CIDR>:<port or *>, e.g. 10.0.0.0/8:5432, db.internal:*, "
        "[fd00::/8]:5432, *.corp.example:443",
    )
    description: str | None = Field(default=None, max_length=1000)


@router.get("", response_model=list[NetworkRuleView])
def list_rules(runtime: RuntimeDep, principal: PrincipalDep):
    """Every rule in force: from LAKEHOLD_NETWORK_ALLOW (``source: setting``) and stored."""
    return runtime.network.list(principal)


@router.post("", response_model=NetworkRuleView, status_code=status.HTTP_201_CREATED)
def allow(body: NetworkRuleIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Allow connections and webhooks to reach a host or network and port; 409 if stored."""
    return runtime.network.allow(principal, body.rule, description=body.description)


@router.delete("/{rule:path}", status_code=status.HTTP_204_NO_CONTENT)
def remove(rule: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Remove a stored rule, by its id or its text (URL-encoded, e.g. ``10.0.0.0%2F8:5432``)."""
    runtime.network.remove(principal, rule)
