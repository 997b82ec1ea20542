"""Drives the real ``delta-sharing`` Python client (run by ``.venv-sharing/bin/python``: the
client pins pyarrow and pandas versions of its own) and prints what it read as JSON.

    python client_driver.py '{"op": "load", "url": "<profile>#share.schema.table", ...}'

ops: ``load`` (load_as_pandas: limit, version, timestamp, use_delta_format), ``changes``
(load_table_changes_as_pandas: starting_version, ending_version, starting_timestamp,
ending_timestamp), ``tables`` (SharingClient.list_all_tables). A failure prints
``{"error": <type>, "status": <HTTP status or null>, "message": ...}`` and exits 1.
"""

from __future__ import annotations

import datetime
import decimal
import json
import sys
from typing import Any


def _value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _frame(frame: Any) -> dict[str, Any]:
    columns = [str(c) for c in frame.columns]
    rows = [
        {c: _value(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return {"columns": columns, "rows": rows}


def main() -> int:
    import delta_sharing
    from requests import HTTPError

    args = json.loads(sys.argv[1])
    op = args.pop("op")
    try:
        if op == "load":
            out = _frame(delta_sharing.load_as_pandas(args.pop("url"), **args))
        elif op == "changes":
            out = _frame(delta_sharing.load_table_changes_as_pandas(args.pop("url"), **args))
        elif op == "tables":
            client = delta_sharing.SharingClient(args["profile"])
            out = {"tables": [f"{t.share}.{t.schema}.{t.name}" for t in client.list_all_tables()]}
        else:
            raise ValueError(op)
    except HTTPError as error:
        status = error.response.status_code if error.response is not None else None
        print(json.dumps({"error": "http", "status": status, "message": str(error)}))
        return 1
    except Exception as error:  # what the client raised, for the test to read
        print(json.dumps({"error": type(error).__name__, "status": None, "message": str(error)}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
