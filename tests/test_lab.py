"""JupyterLab, as `make lab` starts it, serves the chapter notebooks and runs phdl in its kernel.

The server is started headless on a free localhost port; the test reads the notebooks through
the server's contents API, starts a kernel through its kernels API and executes a cell over the
kernel's websocket, as the Lab front end does when a student presses Shift-Enter.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from phdl.runner import repo_root

ROOT = repo_root()
TOKEN = "phdl-test"
CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET", body: dict | None = None) -> dict | str:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    return json.loads(text) if resp.headers.get_content_type() == "application/json" else text


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists() or shutil.which("jupyter-lab", path=str(jupyter.parent)) is None:
        pytest.skip("JupyterLab is not installed in this environment: run `make venv`")
    port = _free_port()
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    cmd = [
        str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT / 'notebooks'}",
        "--allow-root",  # CI containers run as root; harmless otherwise
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                _get(f"{base}/api/status")
                break
            except OSError:
                time.sleep(0.5)
                assert proc.poll() is None, log.read_text()[-2000:]
        else:
            pytest.fail(f"JupyterLab did not start in 60 s:\n{log.read_text()[-2000:]}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_lab_page_and_notebooks(lab):
    page = _get(f"{lab}/lab")
    assert "JupyterLab" in page
    listing = _get(f"{lab}/api/contents/")
    names = {item["name"] for item in listing["content"]}
    assert set(CHAPTERS) <= names and len(CHAPTERS) >= 5
    for name in CHAPTERS:
        nb = _get(f"{lab}/api/contents/{name}")
        tags = [c["metadata"].get("tags", []) for c in nb["content"]["cells"]]
        assert any("parameters" in t for t in tags), f"{name}: no cell tagged parameters"


def test_lab_kernel_runs_phdl(lab):
    websocket = pytest.importorskip("websocket")
    kernel = _get(f"{lab}/api/kernels", method="POST", body={"name": "python3"})
    ws_url = lab.replace("http", "ws") + f"/api/kernels/{kernel['id']}/channels?token={TOKEN}"
    ws = websocket.create_connection(ws_url, timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        code = "import sys, phdl.labels as L; print(len(L.LABELS), sys.prefix)"
        ws.send(json.dumps(_execute_request(msg_id, code)))
        out = _collect_stdout(ws, msg_id)
    finally:
        ws.close()
        _get(f"{lab}/api/kernels/{kernel['id']}", method="DELETE")
    n_labels, prefix = out.split()
    assert n_labels == "34"
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()  # the project's own venv


def _execute_request(msg_id: str, code: str) -> dict:
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
              "session": uuid.uuid4().hex, "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content,
            "channel": "shell"}  # fmt: skip


def _collect_stdout(ws, msg_id: str) -> str:
    """Stdout of the cell ``msg_id`` until the kernel reports idle; errors fail the test."""
    text = ""
    while True:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            text += content["text"]
        elif kind == "error":
            pytest.fail("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return text
