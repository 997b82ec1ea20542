"""``lakehold lineage``: send (JSON and JSON lines), show, datasets; ``token create --scope``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lakehold.cli.main import app
from tests.lineage.events import dataset, run_event


def _cli(tmp_path, database_url):
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
        "COLUMNS": "200",
    }

    def invoke(*args: str, code: int = 0, token: str = "") -> str:
        result = runner.invoke(app, list(args), env={**env, "LAKEHOLD_TOKEN": token})
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_send_show_and_list(tmp_path, database_url) -> None:
    cli = _cli(tmp_path, database_url)
    events = [
        run_event("START", "etl.load", inputs=[dataset("pg", "src", "a")]),
        run_event(
            "COMPLETE", "etl.load", inputs=[dataset("pg", "src")], outputs=[dataset("pg", "dst")]
        ),
    ]
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert "accepted 2, duplicates 0" in cli("lineage", "send", str(lines))
    array = tmp_path / "events.json"
    array.write_text(json.dumps(events))
    assert "accepted 0, duplicates 2" in cli("lineage", "send", str(array))
    shown = cli("lineage", "show", "dataset:pg:src", "--depth", "1")
    assert "job:airflow:etl.load" in shown and "dataset:pg:dst" in shown
    graph = json.loads(cli("lineage", "show", "job:airflow:etl.load", "--json"))
    assert len(graph["graph"]) == 3
    listed = cli("lineage", "datasets", "pg")
    assert "src" in listed and "dst" in listed
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(events[0]) + "\n{oops\n")
    assert "line=2" in cli("lineage", "send", str(broken), code=2)
    cli("lineage", "show", "dataset:pg:nope", code=4)
    for command in ("send", "show", "datasets"):
        assert "Example: lakehold lineage" in cli("lineage", command, "--help")


def test_a_token_without_the_scope_cannot_send(tmp_path, database_url) -> None:
    cli = _cli(tmp_path, database_url)
    cli("user", "create", "ana")
    plain = cli("token", "create", "laptop", "--user", "ana").strip().splitlines()[-1]
    assert "namespaces" in cli(
        "token", "create", "airflow", "--user", "ana", "--scope", "lineage:write", code=2
    )
    scoped = (
        cli(
            "token",
            "create",
            "airflow",
            "--user",
            "ana",
            "--scope",
            "lineage:write",
            "--namespace",
            "airflow",
        )
        .strip()
        .splitlines()[-1]
    )
    assert "airflow" in cli("token", "list")
    events = tmp_path / "e.json"
    events.write_text(json.dumps(run_event("START", "j")))
    assert "lineage:write" in cli("lineage", "send", str(events), code=3, token=plain)
    assert "accepted 1" in cli("lineage", "send", str(events), token=scoped)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(run_event("START", "j", namespace="spark")))
    assert "'spark'" in cli("lineage", "send", str(elsewhere), code=3, token=scoped)
    own = tmp_path / "own.json"
    own.write_text(json.dumps(run_event("START", "p.create.t", namespace="lakehold")))
    assert "'lakehold'" in cli("lineage", "send", str(own), code=3)  # not even an admin
