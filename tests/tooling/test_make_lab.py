"""`make lab` is the README's first command: it must start JupyterLab for every user, root included
(Jupyter refuses root without --allow-root). This runs the Makefile's own lab command line."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_starts_jupyterlab(tmp_path):
    token = "wbtest"
    port = _free_port()
    flags = (f"--no-browser --port={port} --ServerApp.port_retries=0 --ServerApp.ip=127.0.0.1 "
             f"--IdentityProvider.token={token} --LabApp.news_url=None")
    env = dict(os.environ)
    for k, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                   ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        env[k] = str(tmp_path / sub)
    env.pop("JUPYTER_PATH", None)
    # VENV and the stamp point at the running interpreter's venv, so make does not reinstall
    venv = Path(sys.prefix)
    stamp = venv / ".installed"
    if not stamp.exists():
        pytest.skip("not running inside the project's venv (make creates it)")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(["make", "-o", str(stamp.relative_to(ROOT)) if stamp.is_relative_to(ROOT) else str(stamp),
                             f"VENV={venv}", f"LAB_FLAGS={flags}", "lab"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/status"
        req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(req, timeout=2) as r:
                    status = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.25)
        text = (tmp_path / "lab.log").read_text()
        assert "Running as root is not recommended" not in text, text
        assert status is not None, f"JupyterLab did not come up:\n{text}"
        shut = urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown", method="POST",
                                      headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(shut, timeout=10).close()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        log.close()
