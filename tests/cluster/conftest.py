"""One real Ray cluster for the session (``ray start --head`` on loopback, 2 CPUs; see
:mod:`tests.cluster.ray_cluster`), whose workers *cannot* import Lakehold: their
``PYTHONPATH`` starts with a ``lakehold`` package that raises on import, so a task that
needed Lakehold on a worker fails instead of passing unnoticed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import ray  # noqa: F401 - the cluster tests need Ray: fail, never skip, without it

from lakehold.cluster import ray_client
from tests.cluster.ray_cluster import ray_cluster

POISON = "lakehold must not be imported on a Ray worker"


@pytest.fixture(scope="session")
def lakehold_free_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a cluster whose workers fail to import ``lakehold``."""
    poison = tmp_path_factory.mktemp("no-lakehold")
    (poison / "lakehold").mkdir()
    (poison / "lakehold" / "__init__.py").write_text(f"raise ImportError({POISON!r})\n")
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:  # inherited by `ray start` and its workers
            env.setenv("PYTHONPATH", str(poison))
            address = stack.enter_context(ray_cluster())
        yield address
        ray_client.disconnect()
