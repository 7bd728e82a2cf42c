"""run.py, the two-command entry point: what it sets up beyond installing the requirements."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _run_module():
    spec = importlib.util.spec_from_file_location("run", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab_starts_without_the_news_pop_up(tmp_path):
    """JupyterLab reads <prefix>/share/jupyter/lab/settings/overrides.json; the news question is off there."""
    path = _run_module().quiet_lab(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.json"
    settings = json.loads(path.read_text())["@jupyterlab/apputils-extension:notification"]
    assert settings == {"fetchNews": "false", "checkForUpdates": False}
    # ... which is the folder this environment's JupyterLab reads its settings overrides from
    from jupyterlab.commands import get_app_dir
    assert Path(get_app_dir()) / "settings" == Path(sys.prefix) / "share/jupyter/lab/settings"


def test_unknown_command_says_which_exist():
    out = subprocess.run([sys.executable, str(ROOT / "run.py"), "nonsense"], capture_output=True, text=True)
    assert out.returncode != 0 and "demo, test, lab, course" in out.stderr
