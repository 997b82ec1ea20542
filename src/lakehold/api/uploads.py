"""Uploads: authenticated before their body is read, streamed to ``LAKEHOLD_HOME/staging``
(never into memory, never to the system temp directory), bounded by
``LAKEHOLD_MAX_UPLOAD_BYTES`` (413), and removed on every exit path; what a killed process left
behind is swept at start-up. Other bodies are bounded by :mod:`lakehold.api.bodies`.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from contextlib import aclosing, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fastapi import Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, Headers
from starlette.datastructures import UploadFile as FormFile

from lakehold.api.bodies import NUL, NUL_REFUSED, too_large
from lakehold.api.deps import bearer_token
from lakehold.errors import Invalid
from lakehold.observability import request_context

if TYPE_CHECKING:
    # the table service (with pyarrow and the lakehouse) is loaded by the routes that use it
    from lakehold.catalog.tables import DataSource

STAGING_PREFIX = "upload-"
STAGING_MAX_AGE_SECONDS = 3600
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,16}$")


def split_list(value: str | None) -> list[str] | None:
    """``"a, b"`` → ``["a", "b"]``; empty → None."""
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def parse_column_types(value: str | None) -> dict[str, str] | None:
    """A JSON object ``{"column": "SQL type"}`` from a form field."""
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise Invalid(
            f"column_types is not valid JSON: {error.msg}", field="column_types"
        ) from error
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise Invalid('column_types must be an object {"column": "type"}', field="column_types")
    return parsed


def sweep_staging(staging: Path, *, max_age_seconds: float = STAGING_MAX_AGE_SECONDS) -> int:
    """Remove staged uploads older than ``max_age_seconds`` (left by killed requests or a killed
    process); the number removed."""
    if not staging.is_dir():
        return 0
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in staging.glob(f"{STAGING_PREFIX}*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process swept it
            continue
    return removed


def _staging_file(staging: Path, filename: str | None) -> IO[bytes]:
    """A new file in ``staging`` (0600), removed when closed."""
    suffix = Path(filename or "").suffix
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(  # closed (so removed) with the form, or on error
        dir=staging,
        prefix=STAGING_PREFIX,
        suffix=suffix if _SUFFIX.match(suffix) else "",
    )


@contextmanager
def spooled(
    upload: UploadFile, fmt: str | None, column_types: str | None = None
) -> Iterator[DataSource]:
    """A DataSource over the staged file of ``upload`` (streamed there by :class:`UploadRoute`,
    removed with the request)."""
    from lakehold.catalog.tables import DataSource

    name = getattr(upload.file, "name", None)
    if not isinstance(name, str) or not Path(name).is_file():
        raise Invalid("the upload was not staged", field="file")
    upload.file.flush()
    yield DataSource(
        Path(name),
        fmt=fmt,
        name=upload.filename,
        column_types=parse_column_types(column_types),
    )


class _StagingParser:
    """multipart/form-data: fields kept (bounded), files written to staging as they arrive."""

    def __init__(
        self, boundary: bytes, staging: Path, *, max_part_size: int, max_parts: int | float
    ) -> None:
        self.items: list[tuple[str, str | FormFile]] = []
        self._staging = staging
        self._max_part_size = max_part_size
        self._max_parts = max_parts
        self._files: list[IO[bytes]] = []
        self._pending: list[tuple[IO[bytes], bytes]] = []
        self._header_name = b""
        self._header_value = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._disposition = b""
        self._data = bytearray()
        self._file: IO[bytes] | None = None
        self._name = ""
        self._filename = ""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _on_part_begin(self) -> None:
        self._headers, self._disposition, self._data, self._file = [], b"", bytearray(), None
        if len(self.items) >= self._max_parts:
            raise Invalid(f"more than {self._max_parts} form fields", field="body")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        self._headers.append((name, self._header_value))
        self._header_name, self._header_value = b"", b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise Invalid("a form part has no name (Content-Disposition)", field="body")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self._filename = options[b"filename"].decode("utf-8", "replace")
            self._file = _staging_file(self._staging, self._filename)
            self._files.append(self._file)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._pending.append((self._file, data[start:end]))
            return
        if len(self._data) + end - start > self._max_part_size:
            raise Invalid(
                f"form field {self._name} is longer than {self._max_part_size} bytes",
                field=self._name,
            )
        self._data.extend(data[start:end])

    def _on_part_end(self) -> None:
        if self._file is None:
            value = self._data.decode("utf-8", "replace")
            if NUL in value:
                raise Invalid(NUL_REFUSED, field=self._name)
            self.items.append((self._name, value))
            return
        upload = FormFile(
            self._file,  # type: ignore[arg-type]  # a binary file, as UploadFile expects
            filename=self._filename,
            headers=Headers(raw=self._headers),
        )
        self.items.append((self._name, upload))

    async def feed(self, chunk: bytes) -> None:
        """Parse ``chunk``; write its file data (in a thread, off the event loop)."""
        try:
            self._parser.write(chunk)
        except FormParserError as error:
            raise Invalid(f"the multipart body is malformed: {error}", field="body") from None
        if self._pending:
            pending, self._pending = self._pending, []
            await run_in_threadpool(_write_all, pending)

    def finish(self) -> FormData:
        try:
            self._parser.finalize()
        except FormParserError as error:
            raise Invalid(f"the multipart body is malformed: {error}", field="body") from None
        for handle in self._files:
            handle.flush()
            handle.seek(0)
        return FormData(self.items)

    def discard(self) -> None:
        """Close (and so remove) every staged file."""
        for handle in self._files:
            handle.close()


def _write_all(pending: list[tuple[IO[bytes], bytes]]) -> None:
    for handle, data in pending:
        handle.write(data)


class StagedRequest(Request):
    """A request whose body is counted (413 beyond ``max_bytes``) and whose multipart files
    stream into ``staging``."""

    def __init__(self, request: Request, *, staging: Path, max_bytes: int) -> None:
        super().__init__(request.scope, request.receive)
        self._staging = staging
        self._max_bytes = max_bytes

    async def stream(self) -> AsyncGenerator[bytes, None]:
        size = 0
        async with aclosing(super().stream()) as chunks:
            async for chunk in chunks:
                size += len(chunk)
                if size > self._max_bytes:
                    raise too_large(self._max_bytes, "LAKEHOLD_MAX_UPLOAD_BYTES")
                yield chunk

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        content_type, options = parse_options_header(self.headers.get("content-type"))
        if self._form is not None or content_type != b"multipart/form-data":
            return await super()._get_form(
                max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
            )
        if b"boundary" not in options:
            raise Invalid("the multipart body has no boundary", field="body")
        parser = _StagingParser(
            options[b"boundary"],
            self._staging,
            max_part_size=max_part_size,
            max_parts=max_files + max_fields,
        )
        try:
            async with aclosing(self.stream()) as chunks:
                async for chunk in chunks:
                    await parser.feed(chunk)
            self._form = parser.finish()
        except BaseException:
            parser.discard()
            raise
        return self._form


class UploadRoute(APIRoute):
    """A route whose request is authenticated before its body is read (a refused upload is
    never stored), bounded by ``LAKEHOLD_MAX_UPLOAD_BYTES`` (Content-Length up front, then
    while streaming), with its files streamed to ``LAKEHOLD_HOME/staging``. Staged files are
    closed, and so removed, when the response is sent or the request fails."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def staged(request: Request) -> Response:
            runtime = request.app.state.runtime
            request.state.principal = await run_in_threadpool(
                runtime.security.authenticate, bearer_token(request)
            )
            request_context.identify(request.state.principal.username)  # for log lines
            limit = runtime.settings.max_upload_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large(limit, "LAKEHOLD_MAX_UPLOAD_BYTES")
            staging = runtime.settings.staging_path
            staged_request = StagedRequest(request, staging=staging, max_bytes=limit)
            try:
                content_type, _ = parse_options_header(request.headers.get("content-type"))
                if content_type == b"multipart/form-data":
                    # Parsed here, so that its errors (413, 400) are ours; FastAPI reuses it.
                    await staged_request.form()
                return await handler(staged_request)
            finally:
                await staged_request.close()  # the staged files are removed

        return staged
