"""`course --help` and every error path answer at once: they import none of the heavy libraries.

(Start-up time itself is measured, not asserted: the property that keeps it short is what is tested.)
"""
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("nbgrader", "nbformat", "matplotlib", "jupyter_client", "numpy")
PROBE = """
import contextlib, io, sys
from course.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(code, sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("args,code", [
    (["--help"], 0),
    (["bogus"], 2),
    (["grade", "no-such-assignment"], 2),
    (["feedback", "no-such-assignment"], 2),
    (["generate", "no-such-assignment"], 2),
    (["scan", "no-such-assignment"], 2),
])
def test_help_and_bad_input_import_nothing_heavy(tmp_path, args, code):
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "source" / "01-x").mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=tmp_path,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip() == f"{code} []", out.stderr


def test_nothing_graded_yet_answers_without_nbgrader(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "source" / "01-x").mkdir(parents=True)
    for args in (["report"], ["feedback", "01-x"]):
        out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=tmp_path,
                             capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
        assert out.stdout.strip() == "2 []", (args, out.stderr)
