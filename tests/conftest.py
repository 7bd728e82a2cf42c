"""Shared fixtures: a copy of the course in a temporary folder, generated and graded once per session.

The pipeline tests run the real nbgrader (generate_assignment, autograde, generate_feedback) on the real
notebooks.  Grading is the slow part, so every notebook's submissions (perfect, untouched, a spread of
catalogued mistakes) are autograded once, in one worker process per notebook, and the tests read the results.
"""
import importlib
import os
import shutil
import sys
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
    from course.grading import Grader

    course = Course(Path(root))
    grader = Grader(course, log=lambda *a: None)
    grader.generate(assignment)
    results = {}
    for student, nb in submission_notebooks(course, assignment).items():
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


@pytest.fixture(scope="session")
def graded(request, tmp_path_factory):
    """assignment -> (Course, {student: Result}) for each assignment a selected test reads; each graded in its
    own course copy, in parallel."""
    assignments = _graded_assignments(request.session.items)
    roots = {a: make_course_copy(tmp_path_factory.mktemp(a)) for a in assignments}
    workers = max(1, min(len(assignments), os.cpu_count() or 1))
    with ProcessPoolExecutor(workers) as pool:
        futures = {a: pool.submit(_grade_assignment, str(c.root), a) for a, c in roots.items()}
        return {a: (roots[a], f.result()) for a, f in futures.items()}


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
