#!/usr/bin/env python3
"""The two set-up commands of the course, for a fresh machine with only Python 3.11.

    python3 run.py demo   build every assignment and grade the example submissions (--lang ko: in Korean)
    python3 run.py test   run the whole test suite
    python3 run.py lab    open JupyterLab on the release notebooks (--lang ko: the Korean edition's)
    python3 run.py course ARGS...   any `course` sub-command inside the environment

Each creates `.venv/` on first use and installs the pinned `requirements.txt` plus the `course`
package; later runs reuse it until requirements.txt changes.
"""
import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"
# JupyterLab asks every new user whether to fetch Jupyter's news; a course's students need no such pop-up.
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _requirements_digest():
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv():
    wanted = _requirements_digest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the pinned requirements (about a minute the first time) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


def quiet_lab(prefix=VENV):
    """Write JupyterLab's setting overrides into the environment (Lab reads share/jupyter/lab/settings)."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(LAB_OVERRIDES, indent=1))
    return path


def _edition_release(rest, env):
    """`lab --lang ko`: the Korean edition's release folder, built first if it is not there yet."""
    if "--lang" not in rest[:-1]:
        return "release", rest
    at = rest.index("--lang")
    lang, rest = rest[at + 1], rest[:at] + rest[at + 2:]
    if lang == "en":
        return "release", rest
    if not (ROOT / lang / "release").is_dir():
        subprocess.run([str(PYTHON), "-m", "course", "generate", "--lang", lang], cwd=ROOT, env=env, check=True)
    env["COURSE_LANG"] = lang
    return f"{lang}/release", rest


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if sys.version_info < (3, 11, 5):
        sys.exit("Python 3.11.5 or newer is needed: the pinned packages in requirements.txt need it "
                 "(Debian 12's python3 is 3.11.2; use a newer Python, e.g. from pyenv).")
    ensure_venv()
    env = dict(os.environ, PYTHONNOUSERSITE="1", VIRTUAL_ENV=str(VENV),
               PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    command, rest = argv[0], argv[1:]
    if command == "demo":
        args = [str(PYTHON), "-m", "course", "demo", *rest]
    elif command == "test":
        args = [str(PYTHON), "-m", "pytest", *rest]
    elif command == "lab":
        quiet_lab()
        folder, rest = _edition_release(rest, env)
        args = [str(VENV / "bin" / "jupyter"), "lab", folder, *rest]
    elif command == "course":
        args = [str(PYTHON), "-m", "course", *rest]
    else:
        sys.exit(f"Unknown command {command!r}. Use one of: demo, test, lab, course.")
    return subprocess.run(args, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
