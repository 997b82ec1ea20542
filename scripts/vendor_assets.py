"""Vendor the web portal's browser assets into the package, at pinned versions.

Nothing is fetched at run time: the files below are taken from the npm registry here, at
development time (``npm pack <package>@<version>``), kept byte for byte with their licences in
``src/lakehold/web/static/vendor/<name>-<version>/``, and recorded with their sha256 in
``VENDORED.json`` beside them (``tests/web/test_vendored.py`` checks the two agree).

    python scripts/vendor_assets.py          # fetch the pins, write the files and the manifest
    python scripts/vendor_assets.py --check  # fetch again; fail unless they match the manifest

To upgrade a package, change its version below, run the script, and read the diff.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

VENDOR = Path(__file__).resolve().parents[1] / "src" / "lakehold" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "VENDORED.json"


@dataclass(frozen=True)
class Pin:
    """One npm package and the files of its tarball we keep (path in the tarball -> kept as)."""

    name: str
    package: str
    version: str
    files: dict[str, str]

    @property
    def directory(self) -> str:
        return f"{self.name}-{self.version}"


PINS = (
    Pin("htmx", "htmx.org", "2.0.11", {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE"}),
    Pin(
        "swagger-ui",
        "swagger-ui-dist",
        "5.36.0",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            # the licences of what the bundle contains
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css": "swagger-ui.css",
            "LICENSE": "LICENSE",
            "NOTICE": "NOTICE",
        },
    ),
    Pin(
        "redoc",
        "redoc",
        "2.5.4",  # 2.x: half the size of 3.x, and the <redoc spec-url> element starts it
        {
            "bundles/redoc.standalone.js": "redoc.standalone.js",
            "bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
            "LICENSE": "LICENSE",
        },
    ),
    Pin(
        "cytoscape",
        "cytoscape",
        "3.35.0",
        {"dist/cytoscape.min.js": "cytoscape.min.js", "LICENSE": "LICENSE"},
    ),
    Pin(
        "uplot",
        "uplot",
        "1.6.32",
        {
            "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
            "dist/uPlot.min.css": "uPlot.min.css",
            "LICENSE": "LICENSE",
        },
    ),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(pin: Pin, workdir: Path) -> tuple[Path, str]:
    """The package's tarball from the registry and its npm integrity string."""
    out = subprocess.run(
        ["npm", "pack", f"{pin.package}@{pin.version}", "--json", "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (info,) = json.loads(out)
    if info["version"] != pin.version:
        raise SystemExit(f"{pin.package}: asked for {pin.version}, got {info['version']}")
    return workdir / info["filename"], info["integrity"]


def extract(pin: Pin, tarball: Path, target: Path) -> str:
    """Write the kept files of ``pin`` into ``target``; return the package's licence."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        meta = json.load(_member(tar, "package/package.json"))
        for source, kept in pin.files.items():
            (target / kept).write_bytes(_member(tar, f"package/{source}").read())
    return str(meta["license"])


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = tar.extractfile(name)
    if handle is None:
        raise SystemExit(f"{name} is not a file in the tarball")
    return handle


def build(root: Path, workdir: Path) -> dict[str, object]:
    """Fetch every pin into ``root`` and return the manifest describing it."""
    packages = []
    for pin in PINS:
        tarball, integrity = npm_pack(pin, workdir)
        target = root / pin.directory
        licence = extract(pin, tarball, target)
        packages.append(
            {
                "name": pin.name,
                "npm": pin.package,
                "version": pin.version,
                "licence": licence,
                "directory": pin.directory,
                "integrity": integrity,
                "files": {kept: sha256(target / kept) for kept in sorted(pin.files.values())},
            }
        )
    return {"generated_by": "scripts/vendor_assets.py", "packages": packages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the manifest only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir, fresh = Path(tmp) / "npm", Path(tmp) / "vendor"
        workdir.mkdir()
        manifest = build(fresh, workdir)
        if args.check:
            same = json.loads(MANIFEST.read_text()) == manifest
            print("vendored assets match the pins" if same else "vendored assets DIFFER")
            return 0 if same else 1
        shutil.rmtree(VENDOR, ignore_errors=True)
        shutil.copytree(fresh, VENDOR)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"vendored {len(PINS)} packages into {VENDOR} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
