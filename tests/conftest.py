"""Shared fixtures: a copy of the course in a temporary folder, generated and graded once per session.

The pipeline tests run the real nbgrader (generate_assignment, autograde, generate_feedback) on the real
notebooks.  Grading is the slow part, so every notebook's submissions (perfect, untouched, a spread of
catalogued mistakes) are autograded once, in one worker process per notebook, in the background from the
first test on (after the modules that keep every core busy themselves), and the tests read the results.
"""
import importlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course import submissions  # noqa: E402
from course.folders import Course  # noqa: E402

ASSIGNMENTS = Course(ROOT).assignments()


def make_course_copy(dest):
    """A self-contained course folder: config and source/, nothing generated yet."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    shutil.copytree(ROOT / "source", dest / "source")
    return Course(dest)


# Every catalogued mistake is proven in-process (tests/test_catalogue.py); the real nbgrader pipeline
# grades this many of them per notebook, one per answer cell first, so the pipeline's fidelity is proven
# without spending minutes on a kernel per mistake.  COURSE_PIPELINE_MISTAKES=all grades every one.
PIPELINE_MISTAKES = os.environ.get("COURSE_PIPELINE_MISTAKES", "4")


def catalogue(assignment):
    stem = Course(ROOT).source_notebook(assignment).stem
    try:
        return importlib.import_module(f"mistakes.{stem}").MISTAKES
    except ModuleNotFoundError:
        return []


def points(assignment):
    """grade_id -> points of every graded cell of the assignment's source notebook: what its scores add up from."""
    nb = nbformat.read(Course(ROOT).source_notebook(assignment), as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def selected(request, *names):
    """(the values of the parameters ``names``) of each test of the requesting module that was selected to run."""
    found = []
    for item in request.session.items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        if item.module is request.module and all(name in params for name in names):
            found.append(tuple(params[name] for name in names))
    return found


def pipeline_mistakes(assignment):
    """The catalogued mistakes the pipeline tests autograde: spread over the answer cells, in catalogue order."""
    mistakes = catalogue(assignment)
    if PIPELINE_MISTAKES == "all":
        return mistakes
    chosen, cells_seen = [], set()
    for m in mistakes:
        if not set(m.cells) <= cells_seen:
            chosen.append(m)
            cells_seen |= set(m.cells)
    chosen += [m for m in mistakes if m not in chosen]
    return chosen[:int(PIPELINE_MISTAKES)]


def submission_notebooks(course, assignment):
    """student id -> notebook: the perfect answer, the untouched release copy, and each catalogued mistake."""
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    release = nbformat.read(course.release_notebook(assignment), as_version=4)
    subs = {"perfect": submissions.perfect(source, release), "untouched": release}
    for mistake in pipeline_mistakes(assignment):
        subs[f"mistake-{mistake.name}"] = submissions.with_mistake(source, release, mistake)
    return subs


def write_submission(course, student, assignment, nb):
    folder = course.submitted / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / course.notebook_names(assignment)[0])


def _grade_assignment(root, assignment):
    """Worker: generate one assignment in its own course copy, autograde every submission, make feedback."""
    from course import figure_record
    from course.grading import Grader

    course = Course(Path(root))
    grader = Grader(course, log=lambda *a: None)
    grader.generate(assignment)
    notebooks = submission_notebooks(course, assignment)
    results = {}
    # As `course grade` does for a class this size: the course's figures come from one recording.
    with figure_record.recorded(course, assignment, len(notebooks)) as grader.figures:
        for student, nb in notebooks.items():
            write_submission(course, student, assignment, nb)
            result = grader.autograde(student, assignment)
            if result.status == "graded":
                grader.feedback(student, assignment)
            results[student] = result
    return results


def _graded_assignments(items):
    """The assignments whose grading the selected tests read: their `assignment` parameter, else their module's
    ASSIGNMENT, else all (so tests/test_dask.py alone grades Part 2 only)."""
    needed = set()
    for item in items:
        if "graded" in getattr(item, "fixturenames", ()):
            params = item.callspec.params if hasattr(item, "callspec") else {}
            one = params.get("assignment") or getattr(item.module, "ASSIGNMENT", None)
            needed |= {one} if one else set(ASSIGNMENTS)
    return [a for a in ASSIGNMENTS if a in needed]


class BackgroundGrading:
    """The session's grading (see ``graded``), in a process of its own started early (see
    ``pytest_runtest_setup``), at the lowest CPU priority: it takes the cores the tests before its first
    reader leave idle (a browser waiting on a page, a hub on a login) and costs them nothing.  One worker
    process per notebook, each in its own course copy."""

    def __init__(self, assignments):
        self.folder = Path(tempfile.mkdtemp(prefix="course-graded-"))
        self.roots = {a: make_course_copy(self.folder / a) for a in assignments}
        self.pickled = self.folder / "results.pickle"
        self.stderr = open(self.folder / "stderr.txt", "w")
        code = "import sys; from tests.conftest import grade_in_parallel; grade_in_parallel(*sys.argv[1:])"
        # A process group of its own, to stop it with its workers and kernels; not a session of its own: Linux
        # gives each session (autogroup) an equal share of the CPU, whatever its niceness.
        self.process = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-c", code, str(self.pickled), str(self.folder), *assignments],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.stderr, process_group=0)

    def results(self):
        """assignment -> (Course, {student: Result}), once the grading has finished."""
        if self.process.wait() != 0:
            pytest.fail(f"the session's grading failed:\n{(self.folder / 'stderr.txt').read_text()[-3000:]}")
        results = pickle.loads(self.pickled.read_bytes())
        return {a: (self.roots[a], results[a]) for a in self.roots}

    def stop(self):
        if self.process.poll() is None:  # the session ended early: its workers and kernels go too
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.stderr.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def grade_in_parallel(pickled, folder, *assignments):
    """The background process: each assignment graded in its course copy folder/<assignment>, all at once,
    the results pickled."""
    with ProcessPoolExecutor(max(1, min(len(assignments), os.cpu_count() or 1))) as pool:
        futures = {a: pool.submit(_grade_assignment, str(Path(folder) / a), a) for a in assignments}
        Path(pickled).write_bytes(pickle.dumps({a: f.result() for a, f in futures.items()}))


class _Session:
    assignments = []  # what the selected tests read of the session's grading
    grading = None  # its BackgroundGrading, once started


def _start_grading():
    if _Session.grading is None and _Session.assignments:
        _Session.grading = BackgroundGrading(_Session.assignments)
    return _Session.grading


def pytest_collection_finish(session):
    _Session.assignments = [] if session.config.option.collectonly else _graded_assignments(session.items)


def pytest_runtest_setup(item):
    """Start the background grading at the first test outside a module that keeps every core busy itself
    (``BUSY_CORES = True``, as the adversarial batch does): beside those, even at the lowest priority, it
    would slow them down by more than it gains."""
    if not getattr(item.module, "BUSY_CORES", False):
        _start_grading()


def pytest_sessionfinish(session):
    if _Session.grading is not None:
        _Session.grading.stop()


@pytest.fixture(scope="session")
def graded():
    """assignment -> (Course, {student: Result}) for each assignment a selected test reads, each graded in its
    own course copy (by the background grading, started now if it has not been yet)."""
    return _start_grading().results()


# -- one marker for every test that starts a kernel or runs nbgrader ---------------------------------
# `python3 run.py test -m "not kernel"` is the fast lane.  Tests mark themselves with what they need
# (pipeline, sandbox, browser, hub); each of those implies `kernel`, and a test without it that tries to
# start a kernel or open nbgrader's API fails at once, so the fast lane stays fast.
KERNEL_MARKERS = ("pipeline", "sandbox", "browser", "hub")


def pytest_collection_modifyitems(items):
    for item in items:
        if any(item.get_closest_marker(name) for name in KERNEL_MARKERS):
            item.add_marker("kernel")


@pytest.fixture(autouse=True)
def _kernels_only_where_marked(request, monkeypatch):
    if request.node.get_closest_marker("kernel"):
        return
    from jupyter_client.manager import AsyncKernelManager
    from nbgrader.apps import NbGraderAPI

    def refuse(*args, **kwargs):
        raise RuntimeError("this test starts a kernel or runs nbgrader: mark it `pipeline` (or sandbox, browser, hub)")

    monkeypatch.setattr(AsyncKernelManager, "_async_launch_kernel", refuse)
    monkeypatch.setattr(NbGraderAPI, "__init__", refuse)
