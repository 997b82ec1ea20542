"""Map typed errors to HTTP responses; bad input is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lakehold.errors import LakeholdError

log = logging.getLogger("lakehold.api")


def _lakehold_error(_request: Request, error: LakeholdError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        {
            "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
            "message": e["msg"],
        }
        for e in error.errors()
    ]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    return JSONResponse(
        {
            "error": "invalid",
            "message": f"{first['field']}: {first['message']}",
            "field": first["field"],
            "problems": problems,
        },
        status_code=400,
    )


def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=error)
    return JSONResponse(
        {"error": "internal", "message": "internal error; see the server log"}, status_code=500
    )


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""
    app.add_exception_handler(LakeholdError, _lakehold_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
