"""Helpers for the hub test: real Unix accounts, commands run as them, and a JupyterHub started from deploy/.

Accounts are created with deploy/add-account.sh and marked in their comment field with the PID of the test
process that made them, so that a later run removes what a killed run left behind (and never the accounts of
a run that is still alive).  Everything is stopped by PID, never by name.
"""
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.browser_support import free_port, kill, missing_browser

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
ENV_BIN = Path(sys.executable).parent
MARK = "backprop hub test, pid "
COMMANDS = ("useradd", "userdel", "usermod", "groupadd", "groupdel", "chpasswd", "runuser", "bwrap",
            "configurable-http-proxy")
PROXY_HINT = "npm install -g configurable-http-proxy@5.3.0 (as .ci/run does)"


def missing_prerequisites():
    """Why the hub test cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the hub test creates Unix accounts and runs JupyterHub as root: run it as root"
    for command in COMMANDS:
        if not shutil.which(command):
            hint = PROXY_HINT if command == "configurable-http-proxy" else "install it with apt-get"
            return f"`{command}` is not on PATH: {hint}"
    if not (ENV_BIN / "jupyterhub").exists():
        return f"jupyterhub is not installed in {ENV_BIN.parent}: pip install -r requirements.txt"
    return missing_browser()


def readable_by_everyone(path):
    """Whether any account can read ``path``: every folder above it searchable, the file readable, by others."""
    path = Path(path).resolve()
    return bool(path.stat().st_mode & stat.S_IROTH) and all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


def hub_view():
    """The command prefix under which the hub and every account's command run: what a real server's accounts see.

    A bubblewrap mount namespace with everything as it is, except this checkout: the accounts see only its
    environment, the course package and deploy/, as a real server's accounts see only an environment built
    from the student bundle; the checkout's source/ (every solution) and .git are not there.  The development
    and CI machines also keep their Python (pyenv) under /root, which only root may enter (an account would
    start the venv's python with another Python's standard library): the closed folder is replaced by an open
    one holding only that Python, read-only.
    """
    view = ["bwrap", "--dev-bind", "/", "/"]
    base = Path(sys.base_prefix).resolve()
    if not readable_by_everyone(base / "lib"):
        closed = next(p for p in reversed(base.parents) if not p.stat().st_mode & stat.S_IXOTH)
        view += ["--perms", "0755", "--tmpfs", str(closed), *_folders_to(base, closed), "--ro-bind", str(base), str(base)]
        if closed in REPO.parents:
            view += [*_folders_to(REPO, closed), "--perms", "0755", "--dir", str(REPO)]
    view += ["--perms", "0755", "--tmpfs", str(REPO)]
    for keep in {Path(sys.prefix).resolve(), REPO / "course", DEPLOY}:
        if REPO in keep.parents:
            view += [*_folders_to(keep, REPO), "--ro-bind", str(keep), str(keep)]
    return [*view, "--"]


def _folders_to(path, top):
    """bubblewrap options that make the folders between ``top`` and ``path`` (both excluded), mode 755."""
    options = []
    for folder in reversed(path.parents):
        if top in folder.parents:
            options += ["--perms", "0755", "--dir", str(folder)]
    return options


@dataclass
class Account:
    name: str
    password: str

    @property
    def home(self):
        return Path(pwd.getpwnam(self.name).pw_dir)

    @property
    def uid(self):
        return pwd.getpwnam(self.name).pw_uid


def _run(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


class Accounts:
    """Unix groups and accounts made for one test run; :meth:`remove` takes them away with their processes.

    Names are registered before anything is created, so that a half-made account or group is removed too.
    """

    def __init__(self):
        self.tag = secrets.token_hex(3)
        self.names, self.groups = [], []

    def group(self, role):
        self.groups.append(f"bphub{self.tag}-{role}")
        return self.groups[-1]

    def name(self, role):
        self.names.append(f"bphub{self.tag}{role}")
        return self.names[-1]

    def activate(self, name):
        """Mark an account made by the deploy scripts as this run's and give it a random password (chpasswd)."""
        account = Account(name, secrets.token_urlsafe(12))
        _run("usermod", "--comment", f"{MARK}{os.getpid()}", name)
        _run("chpasswd", input=f"{name}:{account.password}\n")
        return account

    def remove(self):
        """Kill the accounts' processes (by PID), delete the accounts with their homes, then the groups."""
        names = self.names
        kill_processes_of(names)
        for name in names:
            subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
        for group in self.groups:
            subprocess.run(["groupdel", group], capture_output=True)
        return [n for n in names if _exists(n)] + [g for g in self.groups if _group_exists(g)]


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name):
    return subprocess.run(["getent", "group", name], capture_output=True).returncode == 0


def kill_processes_of(names):
    """SIGKILL every process running as one of these accounts; returns those still alive afterwards."""
    uids = {pwd.getpwnam(n).pw_uid for n in names if _exists(n)}
    return kill([p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids])


def remove_stale_accounts():
    """Accounts and groups a killed earlier run left behind (their creating process is gone)."""
    stale = [p.pw_name for p in pwd.getpwall()
             if p.pw_gecos.startswith(MARK) and not psutil.pid_exists(int(p.pw_gecos[len(MARK):] or 0))]
    kill_processes_of(stale)
    tags = set()
    for name in stale:
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
        tags.add(re.match(r"bphub([0-9a-f]+)", name).group(1))
    for line in Path("/etc/group").read_text().splitlines():
        group = line.split(":")[0]
        if any(group.startswith(f"bphub{tag}-") for tag in tags):
            subprocess.run(["groupdel", group], capture_output=True)
    return stale


def as_user(account, *command, cwd, env=None, check=True, timeout=600):
    """Run ``command`` as ``account`` (runuser) in ``cwd``, with a clean environment plus ``env``."""
    clean = {"HOME": str(account.home), "USER": account.name, "LOGNAME": account.name, "LANG": "C.UTF-8",
             "PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin", **(env or {})}
    result = subprocess.run([*hub_view(), "runuser", "-u", account.name, "--", "env", "-i",
                             *(f"{k}={v}" for k, v in clean.items()), *command],
                            cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} as {account.name} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


class Hub:
    """``jupyterhub -f deploy/jupyterhub_config.py`` as root on 127.0.0.1, its state in ``state``."""

    def __init__(self, state, env, log_path):
        self.state, self.log_path = Path(state), Path(log_path)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "COURSE_HUB_URL": self.base,
                    "COURSE_HUB_API_PORT": str(free_port()), "COURSE_PROXY_API_PORT": str(free_port()),
                    "COURSE_SERVICE_PORT": str(free_port()),
                    "PATH": os.pathsep.join([str(ENV_BIN), os.environ.get("PATH", "/usr/bin:/bin")])}
        self.env.pop("NBGRADER_EXECUTION", None)
        self.process = None

    def url(self, path):
        return f"{self.base}/{path.lstrip('/')}"

    def start(self, timeout=240):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([*hub_view(), str(ENV_BIN / "jupyterhub"),
                                             "-f", str(DEPLOY / "jupyterhub_config.py")],
                                            cwd=self.state, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url("hub/api/"), timeout=2) as reply:
                    if reply.status == 200 and self._service_up():
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyterhub did not answer within {timeout} s:\n{self.log()}")

    def _service_up(self):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.env['COURSE_SERVICE_PORT']}/", timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True    # it answers (with a redirect to the hub's login, or 403 without a token)
        except OSError:
            return False

    def log(self):
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self, timeout=60):
        """SIGTERM the hub (it stops users' servers, the service and the proxy), then kill what is left.

        Returns the processes still alive afterwards.
        """
        if self.process is None:
            return []
        try:
            top = psutil.Process(self.process.pid)
            family = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        # The hub itself: the process started, or its child when hub_view() put bubblewrap in between.
        hub = next((p for p in family if p.name().startswith("jupyterhub")), None)
        if hub and hub.is_running():
            hub.terminate()
            try:
                hub.wait(timeout)
            except psutil.TimeoutExpired:
                pass
        if self.process.poll() is None:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        proxy_pid = self.state / "jupyterhub-proxy.pid"
        if proxy_pid.exists():   # the proxy outlives a hub that was killed
            try:
                proxy = psutil.Process(int(proxy_pid.read_text()))
                if "configurable-http-proxy" in " ".join(proxy.cmdline()):
                    family.append(proxy)
            except (ValueError, psutil.Error):
                pass
        return kill(family)
