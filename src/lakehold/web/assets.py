"""Where the portal's static files are, and the versioned paths of the vendored ones."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"
MANIFEST = VENDOR / "VENDORED.json"  # written by scripts/vendor_assets.py


@cache
def manifest() -> dict[str, dict[str, Any]]:
    """The vendored packages by name, as recorded with their versions and sha256."""
    packages = json.loads(MANIFEST.read_text())["packages"]
    return {package["name"]: package for package in packages}


def vendored(name: str, file: str) -> str:
    """The path below ``/static`` of ``file`` of the vendored package ``name``; the version
    is in the path, so a new version is a new URL (and these are cached for a year)."""
    package = manifest()[name]
    if file not in package["files"]:
        raise KeyError(f"{file} is not vendored with {name}")
    return f"vendor/{package['directory']}/{file}"
