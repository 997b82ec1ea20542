"""``client.statements.wait`` and ``run`` against a real server: long-polls, no busy polling."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lakehold.client import Client
from lakehold.client.transport import HttpTransport, Request, Response
from lakehold.errors import LakeholdError, NotFound

SLOW = "select count(*) as n from range(100000000)"


@dataclass
class CountingTransport:
    """The real HTTP transport, keeping the target of every request it sends."""

    inner: HttpTransport
    targets: list[str] = field(default_factory=list)

    def send(self, request: Request) -> Response:
        self.targets.append(f"{request.method} {request.target}")
        return self.inner.send(request)

    def close(self) -> None:
        self.inner.close()


def test_wait_long_polls_until_the_statement_ends(server) -> None:
    transport = CountingTransport(HttpTransport(server.url, timeout=120))
    with Client(token=server.admin_token, transport=transport) as lh:
        submitted = lh.statements.submit(SLOW)
        transport.targets.clear()
        done = lh.statements.wait(submitted.id)
        assert done.status == "FINISHED" and done.result_rows == 1
        # One long-poll, answered when the statement ended: no polling.
        assert len(transport.targets) == 1, transport.targets
        assert "wait_seconds=" in transport.targets[0]

        transport.targets.clear()
        assert lh.statements.wait(submitted.id) == done  # already ended: one read
        assert len(transport.targets) == 1
        assert lh.statements.result(submitted.id).to_pylist() == [{"n": 100_000_000}]


def test_run_submits_waits_and_fetches(sdk) -> None:
    lh = sdk()
    result = lh.statements.run("select 6 * 7 as answer")
    assert result.to_pylist() == [{"answer": 42}]
    with pytest.raises(LakeholdError) as failed:  # fails as it runs, not when submitted
        lh.statements.run("select cast('x' as integer) as n")
    assert failed.value.details["statement"] and failed.value.message


def test_another_users_statement_is_not_found_through_wait(server, sdk) -> None:
    theirs = sdk().statements.submit(SLOW)
    mallory = sdk(server.new_user("mallory"))
    with pytest.raises(NotFound):
        mallory.statements.wait(theirs.id)
    assert sdk().statements.wait(theirs.id).status == "FINISHED"
