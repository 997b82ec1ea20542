"""Write ``src/lakehold/client/models.py``: the SDK's typed models, generated from the API's
OpenAPI document with datamodel-code-generator (pinned in ``.[dev]``) as ``msgspec`` structs
(decoded straight from JSON; the module imports in milliseconds).

Usage: python scripts/generate_client_models.py [--check]

``--check`` compares instead of writing and exits 1 when the file is out of date (the test
suite runs it). Run it after changing a request or response model of the API.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "lakehold" / "client" / "models.py"
HEADER = '''"""Typed request and response models of the Lakehold HTTP API, generated from its
OpenAPI document by ``scripts/generate_client_models.py``: do not edit by hand."""

'''


def openapi_document() -> dict:
    """The OpenAPI document of the application, built without serving it."""
    from lakehold.api.app import create_app
    from lakehold.config import Settings
    from lakehold.runtime import Runtime

    with tempfile.TemporaryDirectory(prefix="lakehold-openapi-") as home:
        os.environ["LAKEHOLD_HOME"] = home
        os.environ.pop("LAKEHOLD_DATABASE_URL", None)
        runtime = Runtime(Settings())
        try:
            return create_app(runtime).openapi()
        finally:
            runtime.close()


def _refs(node: object) -> set[str]:
    """The component schema names ``node`` refers to, directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _closure(names: set[str], schemas: dict) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]) - seen)
    return seen


def responses_complete(spec: dict) -> dict:
    """``spec`` with every property of a response-only schema required: the server always
    sends every field (FastAPI serialises defaults), so the SDK's response models need no
    "unset" state. Schemas also used in request bodies keep their optional fields, and open
    ones (the error body) theirs."""
    schemas = spec.get("components", {}).get("schemas", {})
    requests: set[str] = set()
    responses: set[str] = set()
    for operation in (op for item in spec.get("paths", {}).values() for op in item.values()):
        if not isinstance(operation, dict):
            continue
        requests |= _refs(operation.get("requestBody", {})) | _refs(operation.get("parameters"))
        responses |= _refs(operation.get("responses", {}))
    output_only = _closure(responses, schemas) - _closure(requests, schemas)
    for name in output_only:
        schema = schemas[name]
        if schema.get("properties") and not schema.get("additionalProperties"):
            schema["required"] = list(schema["properties"])
    return spec


def generate() -> str:
    """The text of the models module."""
    venv_bin = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="lakehold-models-") as work:
        spec = Path(work) / "openapi.json"
        out = Path(work) / "models.py"
        spec.write_text(json.dumps(responses_complete(openapi_document())))
        subprocess.run(
            [
                str(venv_bin / "datamodel-codegen"),
                "--input",
                str(spec),
                "--input-file-type",
                "openapi",
                "--output",
                str(out),
                "--output-model-type",
                "msgspec.Struct",
                "--target-python-version",
                "3.11",
                "--use-standard-collections",
                "--use-union-operator",
                "--use-double-quotes",
                "--enum-field-as-literal",
                "all",
                "--disable-timestamp",
                "--output-datetime-class",
                "datetime",
                "--no-formatters",
            ],
            check=True,
            capture_output=True,
        )
        text = out.read_text()
        lines = [line for line in text.splitlines() if not line.startswith("# ")]
        out.write_text(HEADER + "\n".join(lines).lstrip() + "\n")
        ruff = str(venv_bin / "ruff")
        subprocess.run(
            [ruff, "check", "--fix", "--quiet", str(out)], check=False, capture_output=True
        )
        subprocess.run([ruff, "format", "--quiet", str(out)], check=True)
        return out.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            sys.exit(1)
        return
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
