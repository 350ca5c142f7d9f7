"""--mp-id without the internet: the real mp-api client against a replay server on 127.0.0.1.

The server replays `tests/data/mp_replay_o3.json`: the responses the mp-api client asks
for (GET /heartbeat twice at start-up, then GET /materials/core/?material_ids=...&_fields=
structure), recorded once from the built-in O3 NaNiO2 parent cell. A request that matches
no recorded exchange gets 404 {"detail": "Not Found"}, like the live API's unknown routes.
The server runs in daemon threads, shuts itself down after LIFETIME_S and never calls out.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import HECATHODE

from structures.errors import PrototypeError
from structures.prototypes import LABEL, MP_ENDPOINT_ENV, from_materials_project, parent_cell

RECORDED = Path(__file__).parent / "data" / "mp_replay_o3.json"
KEY = "0123456789abcdef0123456789abcdef"  # mp-api checks only the length (32)
LIFETIME_S = 60.0


def _reply(exchanges: list[dict], path: str) -> tuple[int, dict]:
    """The recorded (status, body) whose path and query items all match `path`, else 404."""
    url = urlsplit(path)
    query = dict(parse_qsl(url.query))
    for ex in exchanges:
        if ex["path"] == url.path and all(query.get(k) == v for k, v in ex["query"].items()):
            return ex["status"], ex["body"]
    return 404, {"detail": "Not Found"}


@contextmanager
def replay_server(exchanges: list[dict]) -> Iterator[tuple[str, list[str]]]:
    """Serve `exchanges` on 127.0.0.1 (free port); yields (base URL, request paths seen)."""
    seen: list[str] = []

    class Replay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            status, body = _reply(exchanges, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    timer = threading.Timer(LIFETIME_S, server.shutdown)
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        timer.cancel()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def replay(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with replay_server(json.loads(RECORDED.read_text())["exchanges"]) as served:
        yield served


def test_mp_id_through_the_real_client(replay):
    url, seen = replay
    atoms = from_materials_project("mp-999999", api_key=KEY, endpoint=url)
    ref = parent_cell("o3")
    assert atoms.cell[:] == pytest.approx(ref.cell[:], abs=1e-9)
    assert atoms.get_chemical_symbols() == ref.get_chemical_symbols()
    assert atoms.get_scaled_positions() == pytest.approx(ref.get_scaled_positions(), abs=1e-9)
    assert list(atoms.arrays[LABEL]) == ["Na", "Ni", "O", "O"]
    assert atoms.arrays[LABEL].dtype.kind == "U"
    assert atoms.info["provenance"] == {"source": "Materials Project mp-999999", "model": False}
    # what the client asked for: start-up heartbeats, then the one structure query
    query = dict(parse_qsl(urlsplit(seen[-1]).query))
    assert {urlsplit(p).path for p in seen} == {"/heartbeat", "/materials/core/"}
    assert query["material_ids"] == "mp-999999" and query["_fields"] == "structure"


def test_endpoint_from_environment(replay, monkeypatch):
    url, seen = replay
    monkeypatch.setenv(MP_ENDPOINT_ENV, url)
    monkeypatch.setenv("MP_API_KEY", KEY)
    atoms = from_materials_project(" mp-999999 ")
    assert len(atoms) == 4 and any(p.startswith("/materials/core/") for p in seen)


@pytest.mark.parametrize("mp_id,message", [
    ("mp-999998", "has no material mp-999998"),  # recorded: 200 with no documents
    ("mp-1", "error status code 404"),  # not recorded: the server answers 404
])
def test_unknown_id_is_one_line(replay, mp_id, message):
    url, _ = replay
    with pytest.raises(PrototypeError) as err:
        from_materials_project(mp_id, api_key=KEY, endpoint=url)
    text = str(err.value)
    assert message in text and url in text and "\n" not in text


def test_no_server_is_one_line(replay):
    url, _ = replay
    dead = url.rsplit(":", 1)[0] + ":9"  # discard port: nothing listens
    with pytest.raises(PrototypeError) as err:
        from_materials_project("mp-999999", api_key=KEY, endpoint=dead)
    assert "failed" in str(err.value) and "\n" not in str(err.value)



@pytest.mark.slow
def test_cli_mp_id_through_the_replay_server(replay, tmp_path):
    url, seen = replay
    env = {**os.environ, MP_ENDPOINT_ENV: url, "MP_API_KEY": KEY}
    p = subprocess.run([str(HECATHODE), "supercell", "NaNi0.5Mn0.5O2", "-p", "o3", "--mp-id", "mp-999999",
                        "--max-atoms", "40", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["atoms_per_parent_cell"] == 4
    assert doc["target_site_fractions"]["TM"] == {"Ni": 0.5, "Mn": 0.5}
    assert any(path.startswith("/materials/core/?material_ids=mp-999999") for path in seen)
