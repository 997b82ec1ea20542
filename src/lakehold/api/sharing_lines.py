"""The newline-delimited JSON of the Delta Sharing protocol's table answers, in its two response
formats: ``parquet`` (the default) and ``delta`` (the Delta log's own actions, wrapped), each
file with a signed URL of this server (ADR 37)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

from lakehold.governance.sharing.reads import FileLine, FileScope, TableAnswer, TableVersion

Format = Literal["parquet", "delta"]
MEDIA_TYPE = "application/x-ndjson; charset=utf-8"
CAPABILITIES = "delta-sharing-capabilities"
"""The request header naming the formats a client reads, and the response header naming the
format of the answer."""

#: a file's URL and its expiry (Unix ms), given its path
Signer = Callable[[FileScope, str], tuple[str, int]]


def response_format(header: str | None) -> Format:
    """The format to answer in: ``delta`` only when the client asks for it alone
    (``responseformat=delta``); a client reading both, or neither named, gets ``parquet``."""
    for capability in (header or "").split(";"):
        key, _, values = capability.partition("=")
        if key.strip().lower() == "responseformat":
            formats = {v.strip().lower() for v in values.split(",") if v.strip()}
            return "delta" if formats == {"delta"} else "parquet"
    return "parquet"


def table_lines(
    answer: TableAnswer, fmt: Format, sign: Signer, *, with_files: bool = True
) -> Iterator[str]:
    """The lines of an answer: protocol, metadata, then historical metadata and files."""
    yield _line({"protocol": _protocol(answer.metadata, fmt)})
    cdf = answer.change_data_feed
    yield _line({"metaData": _metadata(answer.metadata, fmt, answer.metadata_version, cdf)})
    if not with_files:
        return
    for historical in answer.historical:
        yield _line({"metaData": _metadata(historical, fmt, True, cdf)})
    for line in answer.lines:
        url, expires = sign(answer.scope, line.file.path)
        yield _line(_file(line, answer.scope, url, expires, fmt))


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"


def _protocol(state: TableVersion, fmt: Format) -> dict[str, Any]:
    if fmt == "parquet":
        return {"minReaderVersion": 1}
    return {
        "deltaProtocol": {
            "minReaderVersion": state.min_reader_version,
            "minWriterVersion": state.min_writer_version,
        }
    }


def _metadata(state: TableVersion, fmt: Format, versioned: bool, cdf: bool) -> dict[str, Any]:
    if fmt == "parquet":
        body: dict[str, Any] = {
            "id": state.table_id,
            "format": {"provider": "parquet"},
            "schemaString": state.schema_string,
            "partitionColumns": state.partition_columns,
            "size": state.size,
            "numFiles": len(state.files),
        }
        if cdf:  # the only table property a parquet client reads
            body["configuration"] = {"enableChangeDataFeed": "true"}
        for key, value in (("name", state.name), ("description", state.description)):
            if value:
                body[key] = value
        if versioned:
            body["version"] = state.version
        return body
    wrapped: dict[str, Any] = {
        "deltaMetadata": {
            "id": state.table_id,
            "name": state.name,
            "description": state.description,
            "format": {"provider": "parquet", "options": {}},
            "schemaString": state.schema_string,
            "partitionColumns": state.partition_columns,
            "configuration": {
                **state.configuration,
                **({"delta.enableChangeDataFeed": "true"} if cdf else {}),
            },
        },
        "size": state.size,
        "numFiles": len(state.files),
    }
    if versioned:
        wrapped["version"] = state.version
    return wrapped


def file_id(scope: FileScope, path: str) -> str:
    """A file's id: the same for the same file of the same served table, request after
    request."""
    key = f"{scope.table_id}:{int(scope.snapshot)}:{path}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _file(line: FileLine, scope: FileScope, url: str, expires: int, fmt: Format) -> dict[str, Any]:
    file = line.file
    stamp = {"version": line.version, "timestamp": line.timestamp}
    stamp = {k: v for k, v in stamp.items() if v is not None}
    if fmt == "parquet":
        body: dict[str, Any] = {
            "url": url,
            "id": file_id(scope, file.path),
            "partitionValues": file.partition_values,
            "size": file.size,
            **stamp,
            "expirationTimestamp": expires,
        }
        if file.stats and line.kind in ("file", "add"):
            body["stats"] = file.stats
        return {line.kind: body}
    action: dict[str, Any] = {
        "path": url,
        "partitionValues": file.partition_values,
        "size": file.size,
    }
    if line.kind in ("file", "add"):
        action.update(modificationTime=line.timestamp or 0, dataChange=True)
        if file.stats:
            action["stats"] = file.stats
        single = {"add": action}
    elif line.kind == "remove":
        single = {"remove": {**action, "deletionTimestamp": line.timestamp, "dataChange": True}}
    else:
        single = {"cdc": {**action, "dataChange": False}}
    return {
        "file": {
            "id": file_id(scope, file.path),
            "deltaSingleAction": single,
            **stamp,
            "expirationTimestamp": expires,
        }
    }
