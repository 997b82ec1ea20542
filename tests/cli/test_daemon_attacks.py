"""The home's warm process (ADR 42) attacked by class, with real processes and sockets: who a
command acts as, what is found in ``<home>/daemon/``, races, odd environments, and the
commands that still run in process while it serves. Each test is an attempt; the ADR's
"Attacked by class" lists them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehold.cli.daemon.place import Place
from lakehold.client import Client
from lakehold.client.unix_transport import UnixTransport
from lakehold.errors import LakeholdError
from tests.cli.test_daemon import (
    ENDLESS,
    PROBE,
    alive,
    endless,
    lakehold,
    made_home,
    served_by,
    wait_serving,
    wait_until,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes")

# A server that is not Lakehold: it keeps whatever it is sent and answers 200 with ``[]``.
FAKE_SERVER = """
import os, socket, sys
path, record = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o777)
server.listen(16)
open(record + ".ready", "w").close()
while True:
    connection, _ = server.accept()
    connection.settimeout(5)
    data = b""
    try:
        while b"\\r\\n\\r\\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        if data:
            with open(record, "ab") as kept:
                kept.write(data)
        connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
                           b"Content-Length: 2\\r\\nConnection: close\\r\\n\\r\\n[]")
    except OSError:
        pass
    connection.close()
"""
STATEMENTS = """
import json
from lakehold.cli.session import connect
print(json.dumps([[s.sql, s.status, s.error] for s in connect().statements.list()]))
"""


def processes_of(home: Path) -> list[int]:
    """The live warm processes of ``home``."""
    wanted = os.fsencode(f"LAKEHOLD_HOME={home}")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"lakehold.cli.daemon" not in (entry / "cmdline").read_bytes():
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_strays(tmp_path: Path) -> Iterator[None]:
    """Whatever warm process a test leaves in its folder is ended (only those)."""
    yield
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if b"lakehold.cli.daemon" not in (entry / "cmdline").read_bytes():
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
            home = next(v for v in environ if v.startswith(b"LAKEHOLD_HOME="))
            if home[len(b"LAKEHOLD_HOME=") :].startswith(os.fsencode(tmp_path)):
                os.kill(int(entry.name), signal.SIGKILL)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with made_home(tmp_path) as values:
        yield values


def place_of(env: dict[str, str]) -> Place:
    return Place(Path(env["LAKEHOLD_HOME"]))


def admin_token(env: dict[str, str]) -> str:
    return (Path(env["LAKEHOLD_HOME"]) / "admin_token").read_text().strip()


def socket_client(env: dict[str, str], token: str | None = None) -> Client:
    place = place_of(env)
    return Client(
        token=token or admin_token(env), transport=UnixTransport(str(place.socket), timeout=120)
    )


def statements(env: dict[str, str]) -> list[list[str | None]]:
    """``[sql, status, error]`` of the home's statements, read in process."""
    listed = subprocess.run(
        [sys.executable, "-c", STATEMENTS],
        env={**env, "LAKEHOLD_DAEMON": "off"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def log_lines(env: dict[str, str], text: str) -> list[str]:
    log = place_of(env).log
    return [line for line in log.read_text(errors="replace").splitlines() if text in line]


def warm_again(env: dict[str, str], cwd: Path | None = None) -> None:
    """Run commands until one is served warm (a command may start a process, a status not)."""
    wait_until(
        lambda: served_by(lakehold(env, "domain", "list", cwd=cwd)) == "warm",
        "no warm process served again",
        seconds=240,
    )


@contextlib.contextmanager
def fake_server(folder: Path, *, user: int | None = None) -> Iterator[tuple[Path, Path, int]]:
    """A server that is not Lakehold, on ``folder/fake.sock`` (as ``user``): its socket, the
    file of what it was sent, its pid."""
    record = folder / "received"
    python = "/usr/bin/python3" if user is not None else sys.executable
    server = subprocess.Popen(
        [python, "-c", FAKE_SERVER, str(folder / "fake.sock"), str(record)],
        user=user,
        group=user,
        env={"PATH": "/usr/bin:/bin"},
    )
    try:
        wait_until(lambda: Path(f"{record}.ready").exists(), "the fake server did not start", 60)
        yield folder / "fake.sock", record, server.pid
    finally:
        server.kill()
        server.wait()


def forge_state(place: Place, stamp: str, pid: int) -> None:
    state = {
        "pid": pid,
        "stamp": stamp,
        "cwd": "/",
        "cwd_dependent": False,
        "started_at": "2026-01-01T00:00:00+00:00",
        "idle_seconds": 900,
    }
    place.state.write_text(json.dumps(state))


def serving_stamp(env: dict[str, str]) -> str:
    """The stamp of ``env``'s commands, as a warm process serving them says, and that process
    stopped."""
    lakehold(env, "domain", "list")
    wait_serving(env)
    state = place_of(env).read_state()
    assert state is not None
    lakehold(env, "daemon", "stop")
    wait_until(lambda: not alive(state.pid), "the warm process did not stop")
    return state.stamp


# -- identity: a command acts as its own token, whoever started the process


@dataclass(frozen=True)
class Governed:
    env: dict[str, str]
    bob: str
    etl: dict[str, str]  # LAKEHOLD_CLIENT_ID and LAKEHOLD_CLIENT_SECRET


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    """A home served warm, with a project ``secret`` (a table ``t``), a user ``bob`` who may
    read nothing and a service principal ``etl`` of ``secret``."""
    folder = tmp_path_factory.mktemp("governed")
    with made_home(folder) as values:
        data = folder / "t.csv"
        data.write_text("id,v\n1,classified\n")
        for command in (
            ("domain", "create", "sales"),
            ("project", "create", "secret", "--domain", "sales"),
            ("table", "create", "secret.t", str(data), "--key", "id"),
            ("user", "create", "bob"),
        ):
            done = lakehold(values, *command)
            assert done.returncode == 0, done.stderr
        bob = lakehold(values, "token", "create", "laptop", "--user", "bob")
        etl = lakehold(values, "project", "service-principal", "create", "secret", "etl")
        credentials = dict(line.split("=", 1) for line in etl.stdout.splitlines() if "=" in line)
        wait_serving(values)
        yield Governed(values, bob.stdout.strip().splitlines()[-1], credentials)


def both_ways(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, ...]:
    """The command served warm, and run in process."""
    warm = lakehold(env, *args)
    cold = lakehold({**env, "LAKEHOLD_DAEMON": "off"}, *args)
    assert served_by(warm) == "warm" and served_by(cold) == "in-process"
    return warm, cold


def test_a_users_token_acts_as_that_user_on_the_admins_process(governed: Governed) -> None:
    bob = {**governed.env, "LAKEHOLD_TOKEN": governed.bob}
    for args in (("user", "list"), ("sql", "select * from secret.t"), ("token", "list")):
        warm, cold = both_ways(bob, *args)
        assert warm.returncode == cold.returncode, args
        assert warm.stdout == cold.stdout, args
        assert warm.stderr.splitlines()[:-1] == cold.stderr.splitlines()[:-1], args
    assert "only administrators" in lakehold(bob, "user", "list").stderr
    assert "classified" not in lakehold(bob, "sql", "select * from secret.t").stdout
    tokens = lakehold(bob, "token", "list").stdout
    assert "bob" in tokens and "admin" not in tokens  # his own tokens, not the admin's


def test_garbage_and_revoked_tokens_are_refused_at_once(governed: Governed) -> None:
    admin = governed.env
    garbage = {**admin, "LAKEHOLD_TOKEN": "lh_0000_garbage"}
    warm, cold = both_ways(garbage, "domain", "list")
    assert warm.returncode == cold.returncode != 0
    assert warm.stderr.splitlines()[:-1] == cold.stderr.splitlines()[:-1]
    user = lakehold(admin, "user", "create", "eve")
    assert user.returncode == 0, user.stderr
    issued = lakehold(admin, "token", "create", "x", "--user", "eve")
    eve = {**admin, "LAKEHOLD_TOKEN": issued.stdout.strip().splitlines()[-1]}
    assert lakehold(eve, "domain", "list").returncode == 0
    assert lakehold(admin, "user", "revoke-credentials", "eve").returncode == 0
    refused = lakehold(eve, "domain", "list")  # the next request, on the same process
    assert served_by(refused) == "warm" and refused.returncode != 0
    assert "revoked" in refused.stderr


def test_client_credentials_act_as_the_service_principal(governed: Governed) -> None:
    etl = {**governed.env, **governed.etl}
    read = lakehold(etl, "sql", "select v from secret.t")
    assert served_by(read) == "warm" and read.returncode == 0 and "classified" in read.stdout
    warm, cold = both_ways(etl, "user", "list")
    assert warm.returncode == cold.returncode != 0
    wrong = {**etl, "LAKEHOLD_CLIENT_SECRET": "lhsps_wrong"}
    warm, cold = both_ways(wrong, "sql", "select 1")
    assert warm.returncode == cold.returncode != 0
    assert "client credentials refused" in warm.stderr


# -- files in <home>/daemon/


def test_a_socket_of_another_user_never_gets_the_token(env: dict[str, str]) -> None:
    """``state.json`` names the fake server and ``api.sock`` leads to it (planted while the
    directory was open, say): the command must check who listens before it sends anything."""
    if os.getuid() != 0 or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root, to run a server as another user")
    stamp = serving_stamp(env)
    place = place_of(env)
    folder = Path(tempfile.mkdtemp(prefix="lakehold-fake-"))
    try:
        os.chown(folder, 65534, 65534)
        os.chmod(folder, 0o755)
        with fake_server(folder, user=65534) as (fake, record, pid):
            place.socket.unlink(missing_ok=True)
            place.socket.symlink_to(fake)
            forge_state(place, stamp, pid)
            result = lakehold(env, "domain", "list")
            assert result.returncode == 0, result.stderr
            assert served_by(result) == "in-process"
            assert not record.exists(), "something was sent to another user's socket"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("long", [False, True], ids=["short-path", "long-path"])
def test_a_socket_of_another_process_never_gets_the_token(tmp_path: Path, long: bool) -> None:
    """``state.json`` names one process, the socket leads to another one of this user: nothing
    is sent to it, on a short path or one reached through ``/proc/self/fd`` (> 108 bytes)."""
    folder = tmp_path / ("d" * 120 if long else "d")
    folder.mkdir()
    with made_home(folder) as env:
        assert (len(os.fsencode(place_of(env).socket)) > 108) == long
        stamp = serving_stamp(env)
        place = place_of(env)
        named = subprocess.Popen(["sleep", "600"])  # alive, but not what listens there
        try:
            with fake_server(tmp_path) as (fake, record, _):
                place.socket.unlink(missing_ok=True)
                place.socket.symlink_to(fake)
                forge_state(place, stamp, named.pid)
                result = lakehold(env, "domain", "list")
                assert result.returncode == 0, result.stderr
                assert served_by(result) == "in-process"
                assert not record.exists(), "something was sent to a socket not verified"
            warm_again(env)  # the process that command started took the socket back
        finally:
            named.kill()
            named.wait()


def test_a_planted_log_link_is_not_written_through(env: dict[str, str], tmp_path: Path) -> None:
    """``daemon.log`` a symbolic link to a file of the user (over the 1 MiB the log is trimmed
    at): the file is neither appended to nor emptied."""
    victim = tmp_path / "precious"
    victim.write_bytes(b"x" * (2 << 20))
    place = place_of(env)
    place.directory.mkdir(mode=0o700)
    place.log.symlink_to(victim)
    lakehold(env, "domain", "list")
    wait_serving(env)
    assert victim.read_bytes() == b"x" * (2 << 20)
    assert not place.log.is_symlink() and log_lines(env, "serving")


def test_what_is_found_in_the_directory_never_hangs_nor_breaks_a_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    """FIFOs (a read or write blocks), directories, links to /dev/zero, garbage and huge files
    in the place of each file: every command still answers; a process serves again."""
    place = place_of(env)
    lakehold(env, "domain", "list")
    wait_serving(env)

    def fifo(path: Path) -> None:
        os.mkfifo(path)

    def directory(path: Path) -> None:
        path.mkdir()
        (path / "inside").write_text("x")

    def zero(path: Path) -> None:
        path.symlink_to("/dev/zero")

    def garbage(path: Path) -> None:
        path.write_bytes(b"\xff{not json")

    def huge(path: Path) -> None:
        path.write_text("[" * (1 << 20))

    plants = [
        (place.state, (garbage, huge, fifo, zero, directory)),
        (place.wanted, (fifo, zero, directory)),
        (place.active, (fifo, directory)),
        (place.log, (fifo, directory)),
        (place.lock, (fifo, directory)),
    ]
    for path, ways in plants:
        for plant in ways:
            if os.path.lexists(path):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            plant(path)
            result = lakehold(env, "sql", "select 42 as answer")
            assert result.returncode == 0, (path.name, plant.__name__, result.stderr)
            assert "42" in result.stdout
    warm_again(env)
    wait_until(lambda: len(processes_of(place.home)) == 1, "not one process for the home")


def test_a_removed_lock_makes_the_process_leave(env: dict[str, str]) -> None:
    """Without its lock another process could start beside it, and ``daemon stop`` would not
    see it: it leaves, and says why."""
    lakehold(env, "domain", "list")
    pid = wait_serving(env)
    place_of(env).lock.unlink()
    wait_until(lambda: not alive(pid), "the process outlived its lock")
    assert log_lines(env, "leaving: its lock is gone")
    # the very next command starts another (no 30 s wait for the want to age)
    assert served_by(lakehold(env, "domain", "list")) == "in-process"
    wait_until(lambda: len(processes_of(place_of(env).home)) == 1, "no process started")
    assert wait_serving(env) != pid


def test_a_socket_replaced_by_a_file_makes_the_process_leave(env: dict[str, str]) -> None:
    lakehold(env, "domain", "list")
    pid = wait_serving(env)
    place = place_of(env)
    place.socket.unlink()
    place.socket.write_text("not a socket")
    result = lakehold(env, "domain", "list")
    assert result.returncode == 0 and served_by(result) == "in-process"
    wait_until(lambda: not alive(pid), "the process stayed without its socket")
    warm_again(env)


def test_a_directory_opened_to_others_is_left_and_not_narrowed(env: dict[str, str]) -> None:
    """Others may have put anything in it meanwhile: the process leaves, commands run in
    process and start nothing there, until the directory is removed."""
    lakehold(env, "domain", "list")
    pid = wait_serving(env)
    place = place_of(env)
    os.chmod(place.directory, 0o777)
    wait_until(lambda: not alive(pid), "the process stayed in a directory open to others")
    for _ in range(2):
        result = lakehold(env, "domain", "list")
        assert result.returncode == 0 and served_by(result) == "in-process"
    assert stat.S_IMODE(place.directory.stat().st_mode) == 0o777
    assert processes_of(place.home) == []
    assert "not a private directory" in lakehold(env, "daemon", "status").stdout
    shutil.rmtree(place.directory)
    warm_again(env)


# -- races


def test_parallel_commands_on_a_fresh_home_start_one_process(env: dict[str, str]) -> None:
    commands = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE, "sql", f"select {i} as i", "--format", "csv"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    for i, command in enumerate(commands):
        out, err = command.communicate(timeout=300)
        assert command.returncode == 0, err
        assert out.split() == ["i", str(i)]
    wait_serving(env)
    assert len(log_lines(env, "started for")) == 1
    assert len(processes_of(place_of(env).home)) == 1


def test_a_request_running_during_a_replacement_is_let_finish(env: dict[str, str]) -> None:
    """Another environment's command replaces the process while a statement runs on it: the
    statement ends as it would have (its own timeout), the old process leaves after it."""
    lakehold(env, "domain", "list")
    old = wait_serving(env)
    client = socket_client(env)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            client.statements.query_json(ENDLESS, timeout_seconds=12)
        except BaseException as error:
            outcome.append(error)

    running = threading.Thread(target=run)
    running.start()
    wait_until(
        lambda: any(
            s.sql == ENDLESS and s.status == "STARTED" for s in socket_client(env).statements.list()
        ),
        "the statement did not start",
    )
    changed = {**env, "LAKEHOLD_SYNC_ROW_LIMIT": "7"}
    replacing = lakehold(changed, "domain", "list")
    assert replacing.returncode == 0 and served_by(replacing) == "in-process"
    running.join(timeout=120)
    assert len(outcome) == 1 and isinstance(outcome[0], LakeholdError)
    assert "ran longer than its timeout" in str(outcome[0])
    wait_until(lambda: not alive(old), "the replaced process did not leave")
    assert wait_serving(changed) != old


def test_a_process_leaving_between_two_requests_of_a_command(env: dict[str, str]) -> None:
    """The command's next request finds no process: it is served in process, not failed."""
    lakehold(env, "domain", "list")
    wait_serving(env)
    script = f"""
import subprocess, sys
from lakehold.cli.daemon.warm import warm_transport
from lakehold.client import Client
transport = warm_transport(timeout=60)
assert transport is not None, "not served warm"
client = Client(token={admin_token(env)!r}, transport=transport)
client.domains.list()
subprocess.run([sys.executable, "-c", {PROBE!r}, "daemon", "stop"], check=True)
client.domains.list()
print("in-process" if "sqlalchemy" in sys.modules else "warm")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "in-process"


def test_stop_during_a_long_statement_ends_it(env: dict[str, str]) -> None:
    lakehold(env, "domain", "list")
    pid = wait_serving(env)
    running = endless(env)
    wait_until(
        lambda: any(s.sql == ENDLESS for s in socket_client(env).statements.list()),
        "the statement did not start",
    )
    assert "stopped" in lakehold(env, "daemon", "stop").stdout
    _, errors = running.communicate(timeout=120)
    assert running.returncode != 0 and "cancelled" in errors
    wait_until(lambda: not alive(pid), "the stopped process did not exit")
    found = [s for s in statements(env) if s[0] == ENDLESS]
    assert found and found[0][1] == "ABORTED"


def test_idle_time_does_not_count_while_a_statement_runs(env: dict[str, str]) -> None:
    """A statement submitted to run in the background (``POST /statements``) keeps the process,
    as a running request does."""
    idle = {**env, "LAKEHOLD_DAEMON_IDLE_SECONDS": "2"}
    lakehold(idle, "domain", "list")
    pid = wait_serving(idle)
    client = socket_client(idle)
    submitted = client.statements.submit(ENDLESS, timeout_seconds=20)
    wait_until(
        lambda: client.statements.describe(submitted.id).status == "STARTED",
        "the statement did not start",
    )
    time.sleep(6)  # three times the idle time, the statement still running
    assert client.statements.describe(submitted.id).status == "STARTED"
    state = place_of(idle).read_state()
    assert alive(pid) and state is not None and state.pid == pid
    wait_until(
        lambda: client.statements.describe(submitted.id).status not in {"SUBMITTED", "STARTED"},
        "the statement did not end",
    )
    wait_until(lambda: not alive(pid), "the idle process did not leave")


# -- environment


@pytest.mark.parametrize("value", ["OFF", " off ", "Off"])
def test_off_in_any_case_is_off(env: dict[str, str], value: str) -> None:
    off = {**env, "LAKEHOLD_DAEMON": value}
    for _ in range(2):
        result = lakehold(off, "domain", "list")
        assert result.returncode == 0, result.stderr
        assert served_by(result) == "in-process"
    assert not place_of(env).directory.exists()


@pytest.mark.parametrize("value", ["0", "false", "maybe"])
def test_another_switch_value_is_the_settings_error_both_ways(
    env: dict[str, str], value: str
) -> None:
    odd = {**env, "LAKEHOLD_DAEMON": value}
    result = lakehold(odd, "domain", "list")
    assert result.returncode != 0 and "in-process" in result.stderr.splitlines()
    assert "daemon" in result.stderr and "'auto' or 'off'" in result.stderr
    assert not place_of(env).directory.exists()


def test_invalid_idle_seconds_fail_as_in_process_and_start_once(env: dict[str, str]) -> None:
    def said(result: subprocess.CompletedProcess) -> list[str]:
        return [line for line in result.stderr.splitlines() if "Input should" in line]

    values = ("abc", "0", "-1")
    for started, value in enumerate(values, start=1):
        invalid = {**env, "LAKEHOLD_DAEMON_IDLE_SECONDS": value}
        cold = lakehold({**invalid, "LAKEHOLD_DAEMON": "off"}, "domain", "list")
        for _ in range(2):  # the second within 30 s of the first: no second start
            result = lakehold(invalid, "domain", "list")
            assert result.returncode == cold.returncode != 0
            assert said(result) == said(cold) != []
        wait_until(
            lambda n=started: len(log_lines(env, "failed: ValidationError")) == n,
            "the log does not say why the start failed",
        )
    assert len(log_lines(env, "started for")) == len(values)
    wait_until(  # each failed start has said why: it ends, none stays
        lambda: processes_of(place_of(env).home) == [], "a failed start is still running"
    )


def test_variables_with_newlines_and_bytes_not_utf8(env: dict[str, str]) -> None:
    odd = {**env, "LAKEHOLD_TEST_ODD": "two\nlines\t" + os.fsdecode(b"\xff\xfe")}
    lakehold(odd, "domain", "list")
    wait_serving(odd)
    assert served_by(lakehold(odd, "domain", "list")) == "warm"
    assert served_by(lakehold(env, "domain", "list")) == "in-process"  # another stamp


@pytest.mark.parametrize(
    "name",
    ["with space", os.fsdecode(b"not-utf8-\xff\xfe"), "l" * 130, "relative", "~"],
    ids=["space", "bytes", "long", "relative", "tilde"],
)
def test_odd_homes_are_served(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    home, cwd = folder / "home", None
    if name == "relative":
        home, cwd = Path("home"), folder
    if name == "~":
        home, cwd = Path("~/home"), tmp_path  # not expanded: a folder named ~
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_DAEMON": "auto",
        "LAKEHOLD_DAEMON_IDLE_SECONDS": "300",
    }
    env.pop("LAKEHOLD_TOKEN", None)
    first = lakehold(env, "domain", "list", cwd=cwd)  # (sql: DuckDB takes UTF-8 paths only)
    assert first.returncode == 0, first.stderr
    assert served_by(first) == "in-process"
    warm_again(env, cwd=cwd)
    assert (folder / "home" / "daemon" / "api.sock").is_socket()
    again = lakehold(env, "domain", "list", cwd=cwd)
    assert served_by(again) == "warm" and again.stdout == first.stdout
    stopped = subprocess.run(  # it names the home, whose bytes need not be UTF-8
        [sys.executable, "-c", PROBE, "daemon", "stop"], env=env, cwd=cwd, capture_output=True
    )
    assert stopped.returncode == 0 and b"stopped" in stopped.stdout


def test_a_command_in_a_removed_directory(env: dict[str, str], tmp_path: Path) -> None:
    lakehold(env, "domain", "list")
    wait_serving(env)
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && exec {sys.executable} -c '{PROBE}' domain list"
    result = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert served_by(result) == "in-process"


# -- resources: the commands that always run in process


def test_ctrl_c_ends_a_statement_served_in_process(env: dict[str, str]) -> None:
    """Without a warm process the statement runs in the command's own process: Ctrl-C ends
    it there too, at once (the exit used to wait for the statement's thread until its
    timeout), and its record says ABORTED."""
    off = {**env, "LAKEHOLD_DAEMON": "off"}
    running = endless(off)
    try:
        wait_until(
            lambda: [ENDLESS, "STARTED", None] in statements(env), "the statement did not start"
        )
        running.send_signal(signal.SIGINT)
        _, errors = running.communicate(timeout=60)
    finally:
        if running.poll() is None:  # pragma: no cover - the test failed
            running.kill()
    assert running.returncode == 130, errors
    assert errors.strip().splitlines()[-1] == "in-process"
    [(status, error)] = [(s, e) for sql, s, e in statements(env) if sql == ENDLESS]
    assert status == "ABORTED", error


def test_admin_commands_in_process_beside_a_running_statement(env: dict[str, str]) -> None:
    """``doctor`` and ``connection rotate-key`` open the home themselves while the warm process
    runs a statement: nothing of it blocks them, and the statement is not taken as gone."""
    lakehold(env, "domain", "list")
    wait_serving(env)
    running = endless(env)
    try:
        wait_until(
            lambda: any(
                s.sql == ENDLESS and s.status == "STARTED"
                for s in socket_client(env).statements.list()
            ),
            "the statement did not start",
        )
        doctor = lakehold(env, "doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "nothing to repair" in doctor.stdout
        rotated = lakehold(env, "connection", "rotate-key")
        assert rotated.returncode == 0, rotated.stderr
        after = lakehold(env, "domain", "list")
        assert after.returncode == 0 and served_by(after) == "warm"
    finally:
        running.send_signal(signal.SIGINT)
        running.communicate(timeout=120)
