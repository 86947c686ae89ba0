"""JupyterLab / Notebook 7 servers and headless Chromium for the browser tests.

Follows the verified recipe (reference/browser-testing.md): Debian's /usr/bin/chromium driven by
PyPI's playwright (never `playwright install`), a server on 127.0.0.1 with a temp config and a
token, every wait bounded, and the server and browser stopped by their own handles at the end."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "wb-browser-test"


def _require_browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("browser tests need /usr/bin/chromium in CI (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium); CI runs these")
    pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, app: str, tmp: Path):
        self.app, self.tmp = app, tmp
        self.work = tmp / "work"
        self.work.mkdir()
        (self.work / "out").mkdir()
        for nb in (ROOT / "notebooks").glob("0*_*.ipynb"):
            shutil.copy(nb, self.work / nb.name)
        shutil.copytree(ROOT / "notebooks" / "results", self.work / "results")   # the studies' saved runs
        cfg = tmp / "config"
        (cfg / "labconfig").mkdir(parents=True)
        if app == "lab":        # the news toast; Notebook 7 has no such plugin
            (cfg / "labconfig" / "page_config.json").write_text(json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        # render every cell: with JupyterLab 4's windowing, cells out of view have no text or canvas
        # (Notebook 7 loads this settings file badly: "reading 'schema'"; it renders all cells anyway)
        settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True)
        if app == "lab":
            (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        self.port = _free_port()
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_DATA_DIR=str(tmp / "data"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),

                   PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        env.pop("JUPYTER_PATH", None)
        if app == "lab":
            env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "settings")
        klass = "LabApp" if app == "lab" else "JupyterNotebookApp"
        cmd = [sys.executable, "-m", "jupyterlab" if app == "lab" else "notebook", "--no-browser",
               f"--port={self.port}", f"--IdentityProvider.token={TOKEN}", "--ServerApp.ip=127.0.0.1",
               "--allow-root", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.work}",
               f"--{klass}.expose_app_in_browser=True"]
        if app == "lab":
            cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self.log = open(tmp / f"{app}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.work)
        self._wait_ready(120)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _request(self, path, method="GET", timeout=5):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        return urllib.request.urlopen(req, timeout=timeout)

    def _wait_ready(self, timeout):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited: {(self.tmp / f'{self.app}.log').read_text()[-3000:]}")
            try:
                if self._request("/api/status").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"jupyter {self.app} not ready after {timeout} s")

    def url(self, notebook: str) -> str:
        # reset: do not restore the previous test's open notebooks (and start their kernels)
        path = f"/lab/tree/{notebook}?reset&" if self.app == "lab" else f"/notebooks/{notebook}?"
        return f"{self.base}{path}token={TOKEN}"

    def shutdown_kernels(self):
        """Stop every kernel this server started (each test's notebook has its own)."""
        try:
            for k in json.loads(self._request("/api/kernels").read()):
                self._request(f"/api/kernels/{k['id']}", method="DELETE", timeout=30)
        except OSError:
            pass

    def stop(self):
        try:
            self._request("/api/shutdown", method="POST")
        except OSError:
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    srv = Server("lab", tmp_path_factory.mktemp("lab"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    _require_browser()
    srv = Server("notebook", tmp_path_factory.mktemp("nb7"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_browser()
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("profile")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            viewport={"width": 1400, "height": 1000})
        try:
            yield ctx
        finally:
            ctx.close()
