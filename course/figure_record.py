"""The release notebooks run once, before a class is graded, to record the figures every submission draws.

The recording kernel is the grader's own, outside the sandbox: it runs the instructor's release notebook (no
student's code) in a throw-away copy of its folder, graded the way submissions are (``NBGRADER_EXECUTION``),
and :mod:`course.figure_cache` appends the PNG of each course drawing to the record.  Its answer cells
are still skeletons, so the figures that picture a student's answer are not in it; they are drawn in each
submission's kernel as before.  A record that fails (a kernel that does not start) is empty: every figure is
then drawn as if there were none.
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from course.figure_cache import RECORD_ENV

# Recording costs one notebook's run, about 1.5 s; then each Part 2 submission's kernel spends about 0.45 s
# less CPU (8 figures), a Part 3 or homework one about 0.1 s (1 figure).
RECORD_FROM = 8  # submissions: for fewer, every kernel draws its own figures
# Only these modules draw the figures a record can hold: a notebook that imports neither has none.
DRAWING = re.compile(r"\b(drawing|widgets)\b")
CELL_TIMEOUT = 60  # seconds: the release's cells raise NotImplementedError at once, or run the course's own code


def record(course, assignment):
    """The figures' record (bytes, JSON lines) of ``assignment``'s release notebooks; b"" if it failed."""
    import nbformat
    from nbclient import NotebookClient

    from course.kernel import LimitedKernelManager

    with tempfile.TemporaryDirectory(prefix="course-figures-") as tmp:
        work = Path(tmp) / assignment
        shutil.copytree(course.release / assignment, work)
        out = Path(tmp) / "figures.json"
        out.touch()
        env = {**os.environ, "NBGRADER_EXECUTION": "autograde", RECORD_ENV: str(out)}
        try:
            for path in sorted(work.glob("*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                km = LimitedKernelManager(kernel_name="python3", sandbox=False, notebook_timeout=10 * CELL_TIMEOUT)
                client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, allow_errors=True,
                                        resources={"metadata": {"path": str(work)}})
                # The kernel's start-up warnings are not the instructor's business.
                client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except Exception:  # noqa: BLE001 (any failure only costs the speed-up)
            return b""
        return out.read_bytes()


def for_grading(course, assignment, submissions, wanted=True):
    """The record for grading ``submissions`` submissions of ``assignment`` (b"": draw every figure)."""
    if not (wanted and submissions >= RECORD_FROM and _draws(course.release / assignment)):
        return b""
    return record(course, assignment)


def _draws(folder):
    import nbformat

    return any(cell.cell_type == "code" and DRAWING.search(cell.source)
               for path in folder.glob("*.ipynb") for cell in nbformat.read(path, as_version=4).cells)


@contextlib.contextmanager
def recorded(course, assignment, submissions, wanted=True):
    """:func:`for_grading`'s record in a file while the block runs: its path, or "" for none."""
    data = for_grading(course, assignment, submissions, wanted)
    if not data:
        yield ""
        return
    with tempfile.NamedTemporaryFile(prefix="course-figures-", suffix=".json") as file:
        file.write(data)
        file.flush()
        yield file.name
