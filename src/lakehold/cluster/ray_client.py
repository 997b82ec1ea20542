"""This process's connection to a Ray cluster, made once per address (ADR 40).

Ray is an optional dependency (``pip install 'lakehold[ray]'``), imported on first use. A
process is the driver of at most one cluster: :func:`connect` joins it (namespace
``lakehold``, worker logs kept on the cluster) and joins another one only when asked for
another address. A cluster that requires token authentication gets the coordinator's token
in the environment of ``ray.init`` only; it is removed again before any task is submitted,
and tasks never receive it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from lakehold.errors import Invalid, SourceUnavailable

_REACH_TIMEOUT_S = 5.0
_lock = threading.Lock()
_connected: str | None = None
_remotes: dict[Callable[..., Any], Any] = {}


def ray_module() -> ModuleType:
    """The ``ray`` package, or Invalid naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise Invalid(
            "the Ray engine needs Ray in this process: pip install 'lakehold[ray]'",
            field="engine",
        ) from None
    return ray


def connect(address: str, token: str | None = None) -> ModuleType:
    """``ray``, connected to the cluster at ``address``; SourceUnavailable if it cannot be
    reached."""
    global _connected
    ray = ray_module()
    with _lock:
        if _connected == address and ray.is_initialized():
            return ray
        _check_reachable(address)
        if ray.is_initialized():
            ray.shutdown()
            _connected = None
        try:
            with _auth(ray, token):
                ray.init(
                    address=address,
                    namespace="lakehold",
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    ignore_reinit_error=True,
                )
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as e:
            with contextlib.suppress(Exception):
                ray.shutdown()
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SourceUnavailable(
                f"the Ray cluster at {address} could not be joined: {reason}"
            ) from None
        _connected = address
    return ray


def disconnect() -> None:
    """Leave the cluster this process joined, if any."""
    global _connected
    with _lock:
        if _connected is not None and "ray" in sys.modules:
            sys.modules["ray"].shutdown()
        _connected = None


def remote(function: Callable[..., Any], **options: Any) -> Any:
    """``function`` as a Ray remote function whose code travels by value: a worker runs it
    without importing its module (so without importing Lakehold). Made once per function,
    with the first call's ``options`` (``.options(...)`` changes them per call)."""
    ray = ray_module()
    with _lock:
        found = _remotes.get(function)
        if found is None:
            ray.cloudpickle.register_pickle_by_value(sys.modules[function.__module__])
            wrap = ray.remote(**options) if options else ray.remote
            found = _remotes[function] = wrap(function)
    return found


def _check_reachable(address: str) -> None:
    """Refuse at once an address nothing listens on (``ray.init`` retries for minutes)."""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray finds the cluster itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), _REACH_TIMEOUT_S).close()
    except OSError as e:
        raise SourceUnavailable(
            f"the Ray cluster at {address} could not be reached: {e.strerror or e}"
        ) from None


@contextlib.contextmanager
def _auth(ray: ModuleType, token: str | None) -> Iterator[None]:
    """Token authentication for ``ray.init`` only: the environment is restored after (Ray
    keeps the token it loaded for this driver's calls)."""
    if token is None:
        yield
        return
    names = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    try:
        # Ray read its configuration and token when imported: read them again.
        ray._raylet.Config.initialize("")
        ray._raylet.AuthenticationTokenLoader.instance().reset_cache()
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
