"""The vendored browser assets are exactly the manifest's: pinned, hashed, licensed, small."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from lakehold.web.assets import MANIFEST, VENDOR, manifest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "vendor_assets.py"
BUDGET = 4 * 1024 * 1024  # every vendored byte ships in the wheel


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_assets", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_every_manifest_file_is_present_with_its_sha256() -> None:
    for package in manifest().values():
        for name, digest in package["files"].items():
            path = VENDOR / package["directory"] / name
            assert path.is_file(), path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


def test_every_vendored_file_is_in_the_manifest() -> None:
    listed = {
        Path(package["directory"], name)
        for package in manifest().values()
        for name in package["files"]
    }
    on_disk = {path.relative_to(VENDOR) for path in VENDOR.rglob("*") if path.is_file()} - {
        MANIFEST.relative_to(VENDOR)
    }
    assert on_disk == listed


def test_each_package_has_its_licence_and_version_in_its_path() -> None:
    for name, package in manifest().items():
        assert package["directory"] == f"{name}-{package['version']}"
        assert "LICENSE" in package["files"], name
        assert package["licence"] in {"MIT", "0BSD", "Apache-2.0"}, name
    assert "NOTICE" in manifest()["swagger-ui"]["files"]  # Apache-2.0 asks for it


def test_the_manifest_is_what_the_script_pins() -> None:
    """The recipe (scripts/vendor_assets.py) and the record agree: re-running it reproduces
    these files (``--check`` fetches again and compares the hashes)."""
    pins = {pin.name: pin for pin in _script().PINS}
    assert set(pins) == set(manifest())
    for name, package in manifest().items():
        assert package["npm"] == pins[name].package
        assert package["version"] == pins[name].version
        assert sorted(package["files"]) == sorted(pins[name].files.values())
    assert json.loads(MANIFEST.read_text())["generated_by"] == "scripts/vendor_assets.py"


def test_only_what_the_pages_need_no_source_maps() -> None:
    files = [path for path in VENDOR.rglob("*") if path.is_file()]
    assert not [path for path in files if path.suffix == ".map"]
    assert sum(path.stat().st_size for path in files) < BUDGET
