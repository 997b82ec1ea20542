"""Liveness: the only endpoint besides the OpenAPI document that needs no token."""

from fastapi import APIRouter
from sqlalchemy import text

from lakehold import __version__
from lakehold.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: RuntimeDep) -> dict:
    """Report that the server and its metadata store answer."""
    with runtime.store.session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
