"""Map typed errors to HTTP responses; bad input is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lakehold.errors import LakeholdError
from lakehold.redaction import Redactor

log = logging.getLogger("lakehold.api")


def _redactor(request: Request) -> Redactor:
    """The app's redactor, made once from the runtime's settings."""
    state = request.app.state
    redactor = getattr(state, "redactor", None)
    if redactor is None:
        runtime = getattr(state, "runtime", None)
        redactor = Redactor.of(runtime.settings) if runtime is not None else Redactor(())
        state.redactor = redactor
    return redactor


def redacted_error(redactor: Redactor, error: LakeholdError) -> dict[str, Any]:
    """The JSON body of ``error`` with server paths replaced by placeholders."""
    return redactor.value(error.to_dict())


def _lakehold_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LakeholdError)  # registered for LakeholdError
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    body = redacted_error(_redactor(request), error)
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)  # registered for RequestValidationError
    problems = [
        {
            "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
            "message": e["msg"],
        }
        for e in error.errors()
    ]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    body = {
        "error": "invalid",
        "message": f"{first['field']}: {first['message']}",
        "field": first["field"],
        "problems": problems,
    }
    return JSONResponse(_redactor(request).value(body), status_code=400)


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
