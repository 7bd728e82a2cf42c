"""Helpers for the browser tests: a private JupyterLab server and a notebook driven through Playwright.

The server runs on 127.0.0.1 with a random token, with its config, data, runtime and settings folders
in a temporary folder (nothing read from or written to ~/.jupyter), and is stopped by its own PID.
JupyterLab is started with ``expose_app_in_browser`` so that the tests can call its commands
(``window.jupyterapp.commands``) instead of hunting for menu entries.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
INSTALL_HINT = ("install Debian's Chromium with `apt-get install -y --no-install-recommends chromium` "
                "and the pinned `playwright` from requirements.txt")

# JupyterLab's defaults that would put pop-ups or network requests in the way of the tests.
SETTING_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def missing_browser():
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"the Python package playwright is not installed: {INSTALL_HINT}"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: {INSTALL_HINT}"
    return None


def chromium_browser(tests, reason, artifacts, timeout_ms):
    """A module fixture's body: headless Chromium for ``tests``, with a fresh ``artifacts`` folder for their
    screenshots.  Without a browser (``reason``) they are skipped, and in CI, where they must run, failed."""
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tests} must run in CI, but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=timeout_ms)
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """``jupyter lab`` serving ``root`` (a course folder), started by :meth:`start`, stopped by :meth:`stop`."""

    def __init__(self, root, home, log_path):
        self.root, self.home, self.log_path = Path(root), Path(home), Path(log_path)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None

    def url(self, path):
        """The address of ``path`` on the server, with the token (and ``reset``, so no old tabs come back)."""
        return f"{self.base}/{path.lstrip('/')}?reset&token={self.token}"

    def _environment(self):
        dirs = {name: self.home / name.lower() for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR")}
        for folder in dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        # JupyterLab reads default setting overrides from <config dir>/labconfig.
        labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
        labconfig.mkdir(exist_ok=True)
        (labconfig / "default_setting_overrides.json").write_text(json.dumps(SETTING_OVERRIDES))
        env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
        env.update({name: str(folder) for name, folder in dirs.items()})
        # The kernels import the course package from this checkout, installed or not.
        repo = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
        # nbgrader runs the `alembic` command when it opens a gradebook: it must be on PATH even when
        # this Python's environment is not activated.
        env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
        return env

    def start(self, timeout=60):
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--LabApp.expose_app_in_browser=True",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:   # containers and CI runners often run as root
            command.append("--allow-root")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            # nbgrader's server extensions read nbgrader_config.py from the working folder.
            self.process = subprocess.Popen(command, cwd=self.root, env=self._environment(), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.log()}")

    def get_json(self, path):
        with urllib.request.urlopen(f"{self.base}/{path.lstrip('/')}?token={self.token}", timeout=10) as reply:
            return json.load(reply)

    def log(self):
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self, timeout=15):
        """Stop the server by its PID (it shuts its kernels down), then kill anything it left behind.

        Returns the processes still alive afterwards (none, unless something is badly wrong).
        """
        if self.process is None:
            return []
        try:
            server = psutil.Process(self.process.pid)
            family = [server, *server.children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        if self.process.poll() is None:
            self.process.terminate()   # jupyter shuts its kernels down on SIGTERM
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        _, alive = psutil.wait_procs(family, timeout=5)
        return kill(alive)


def kill(procs, timeout=10):
    """SIGKILL these processes (by PID); returns those still alive after ``timeout`` seconds."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def copy_course(dest, root):
    """A course copy for the server: config, source/ and release/ of ``root``, and an exchange folder."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", dest)
    for folder in ("source", "release"):
        shutil.copytree(root / folder, dest / folder)
    (dest / "exchange").mkdir()
    return dest


# ------------------------------------------------------------------------------ JupyterLab in a page

def open_lab(page, lab, timeout=60_000):
    """Load JupyterLab (with no tabs from earlier sessions) in ``page`` and wait until it has started."""
    page.goto(lab.url("lab"))
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout)
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")


# The snippets below run in the page and find their notebook panel by path.
_PANEL = """
const app = window.jupyterapp;
const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
"""

OPEN = """async path => {
    const app = window.jupyterapp;
    for (const widget of Array.from(app.shell.widgets('main'))) {   // earlier notebooks and their kernels
        if (widget.sessionContext) await widget.sessionContext.shutdown();
        widget.dispose();
    }
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    await panel.context.ready;
    await panel.sessionContext.ready;
    return panel.context.path;
}"""

KERNEL_IDLE = "path => {" + _PANEL + """
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const busy = [...panel.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
    return !!kernel && kernel.status === 'idle' && !busy;
}"""

RUN_ALL = "async path => {" + _PANEL + """
    app.shell.activateById(panel.id);
    await app.commands.execute('notebook:run-all-cells');
}"""

SAVE = "async path => {" + _PANEL + """
    await panel.context.save();
}"""

SHOW_CELL = "async ([path, index]) => {" + _PANEL + """
    const notebook = panel.content;
    notebook.activeCellIndex = index;
    await notebook.scrollToCell(notebook.widgets[index], 'start');
}"""

# The bytes of an <img> (widgets show theirs through blob: URLs), base64-encoded.
IMAGE_BYTES = """async img => {
    const blob = await (await fetch(img.src)).blob();
    return await new Promise(done => {
        const reader = new FileReader();
        reader.onload = () => done(reader.result.split(',')[1]);
        reader.readAsDataURL(blob);
    });
}"""


class Notebook:
    """A notebook opened in the JupyterLab that ``page`` shows (see :func:`open_lab`)."""

    def __init__(self, page, path):
        self.page, self.path = page, path

    def open(self, timeout=60_000):
        """Open the notebook as the only tab (closing the others and their kernels), wait for an idle kernel."""
        assert self.page.evaluate(OPEN, self.path) == self.path
        self.wait_idle(timeout)
        return self

    def wait_idle(self, timeout=60_000):
        self.page.wait_for_function(KERNEL_IDLE, arg=self.path, timeout=timeout, polling=250)

    def run_all(self, timeout=120_000):
        self.page.evaluate(RUN_ALL, self.path)
        self.wait_idle(timeout)

    def show_cell(self, index):
        """Scroll cell ``index`` (counting every cell of the notebook) to the top of the view."""
        self.page.evaluate(SHOW_CELL, [self.path, index])
        self.page.wait_for_timeout(500)    # let the cells now in view render before a screenshot

    def save(self):
        self.page.evaluate(SAVE, self.path)

    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:visible")

    def output_area(self, source_contains):
        """The output area of the one code cell whose source contains ``source_contains``."""
        cells = self.panel.locator(".jp-CodeCell").filter(has=self.page.locator(".jp-Editor",
                                                                                  has_text=source_contains))
        assert cells.count() == 1, f"{cells.count()} cells contain {source_contains!r}"
        return cells.locator(".jp-OutputArea")

    def validate(self, timeout=120_000):
        """Click nbgrader's Validate button and wait for its dialog; returns the dialog (a Locator)."""
        self.panel.get_by_role("button", name="Validate", exact=True).click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=timeout)
        return dialog


def image_bytes(img):
    """The bytes an <img> Locator shows (base64 text), fetched in the page."""
    return img.evaluate(IMAGE_BYTES)
