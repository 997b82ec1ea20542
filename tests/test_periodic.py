"""The background loop of ``lakehold serve``'s scheduler and alert evaluation."""

from __future__ import annotations

import logging
import threading

import pytest

from lakehold.periodic import Periodic


def test_a_failing_run_is_logged_and_the_next_one_comes(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    third = threading.Event()

    def run() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the store is away")
        if len(calls) == 3:
            third.set()

    loop = Periodic("lakehold-test-loop", run, 0.01, immediately=True)
    with caplog.at_level(logging.ERROR, logger="lakehold.periodic"):
        loop.start()
        try:
            assert third.wait(10)
        finally:
            loop.stop()
    assert not loop.running
    assert "lakehold-test-loop failed" in caplog.text and "the store is away" in caplog.text


def test_the_first_run_waits_one_interval_unless_immediately() -> None:
    ran = threading.Event()
    loop = Periodic("lakehold-test-loop", ran.set, 30)
    loop.start()
    try:
        assert loop.running and not ran.wait(0.2)  # the first run comes after 30 s
    finally:
        loop.stop()
    assert not loop.running and not ran.is_set()


def test_an_interval_of_zero_never_starts() -> None:
    loop = Periodic("lakehold-test-loop", lambda: None, 0)
    loop.start()
    assert not loop.running
