"""Submissions that attack the grading itself, graded with the real pipeline (see tests/adversarial/).

Every case of the catalogue is autograded in one course copy: no case earns a point it did not earn,
every other student (the perfect one included) is still graded, and the result says what happened
instead of a silent 0; an attack that hides an honest mistake scores, cell by cell, no more than that
mistake graded alone in the same batch.  Some cases are graded twice (identical scores and messages), a few get their
feedback page (no hidden test line in it), and submitted/ is never written.
"""
import csv
import hashlib
import html
import re
import subprocess
import sys
import time

import nbformat
import pytest

from course import cluster, exploits, kernel, structure, submissions
from course.guarded_execute import GuardedExecute
from course.notes import NOTEBOOK_TIME_LIMIT
from course.grading import GRADED, NOT_GRADED, table, write_csv
from course.folders import Course
from tests.adversarial import ALL_TESTS, ASSIGNMENT, CASES, SANDBOXED, attack_course
from tests.conftest import ASSIGNMENTS, points

BY_NAME = {case.name: case for case in CASES}
TWICE = ("perfect", "random-state", "patch-during-test", "hard-coded", "infinite-loop", "mistake-mul")
# Races get a second chance, graded first in the second pass, so that the workers grade the students after
# them (TWICE) right after an attack.
RACY = tuple(case.name for case in CASES if case.racy)
FEEDBACK = ("leak-hidden-test", "patch-during-test", "fake-partial-credit") + tuple(
    case.name for case in CASES if case.honest)
WORKERS = 2
# The batch keeps both cores busy: the session's background grading (tests/conftest.py) waits until it is done.
BUSY_CORES = True
FULL_MARKS = sum(points(ASSIGNMENT).values())
# Attacks that still earn points on this branch: only the sandbox stops them (their bound waits for SANDBOXED).
STILL_EARN = tuple(case.name for case in CASES if case.needs_sandbox and not SANDBOXED)
# The test copy's limits: a short per-cell timeout keeps the loops cheap, 2 GiB keeps the 20 GB attempt safe.
LIMITS = "\nc.Execute.timeout = 5\nc.LimitedKernelManager.memory_limit = 2 * 2**30\n"


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _messages(course, student):
    """grade_id -> the errors each test cell showed (what a student reads in the feedback)."""
    paths = list((course.autograded / student / ASSIGNMENT).glob("*.ipynb"))
    if not paths:
        return {}
    nb = nbformat.read(paths[0], as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: [f"{o.ename}: {o.evalue}" for o in c.outputs if o.output_type == "error"]
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _page_text(path):
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every case graded once in one course copy (two workers), some twice, a few with feedback."""
    _check_memory_limit_works()  # before anything tries to allocate 20 GB
    course, grader, submit = attack_course(tmp_path_factory.mktemp("adversarial"), LIMITS)
    for case in CASES:
        submit(case.build, case.name)
    before = _digest(course.submitted)
    start = time.perf_counter()
    with cluster.connect(jobs=WORKERS) as client:
        results = list(cluster.grade(client, course, ASSIGNMENT, list(BY_NAME)))
        seconds = time.perf_counter() - start
        graded = {r.student: {"result": r, "messages": _messages(course, r.student)} for r in results}
        for again in cluster.grade(client, course, ASSIGNMENT, RACY + TWICE):
            graded[again.student]["again"] = (again, _messages(course, again.student))
    for name in FEEDBACK:
        graded[name]["feedback"] = [_page_text(p) for p in grader.feedback(name, ASSIGNMENT)]
    print(f"\n{len(CASES)} adversarial submissions graded in {seconds:.0f} s on {WORKERS} workers "
          f"({sum(r.seconds for r in results):.0f} s of grading); still earning points without the sandbox: "
          f"{', '.join(STILL_EARN) or 'none'}")
    for case in CASES:
        if case.honest:
            entry = graded[case.name]
            runs = [entry["result"]] + ([entry["again"][0]] if "again" in entry else [])
            print(f"  {case.name}: {' then '.join(str(r.score) for r in runs)} "
                  f"(the honest mistake {case.honest}: {graded[case.honest]['result'].score})")
    return {"course": course, "graded": graded, "before": before, "seconds": seconds}


def _check_memory_limit_works():
    """The launcher really caps a kernel's memory: a 4 GB allocation fails under a 1 GiB limit."""
    probe = "b = bytearray(4 * 2**30)"
    run = subprocess.run([sys.executable, "-c", kernel.LAUNCHER, str(2**30), sys.executable, "-c", probe],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "MemoryError" in run.stderr, run.stderr[-500:]


def test_memory_limit_stops_a_huge_allocation():
    _check_memory_limit_works()


def _cells(result):
    return {cell: score for cell, (score, _) in result.cells.items()}


def _unearned(case, result, graded):
    """What a graded case scored beyond what it earned (empty when nothing)."""
    earned = _cells(result)
    problems = [f"{cell} earned {earned[cell]}" for cell in case.zero if earned[cell] != 0]
    if case.honest and (SANDBOXED or not case.needs_sandbox):
        honest = _cells(graded[case.honest]["result"])
        problems += [f"{cell} earned {earned[cell]}, the honest mistake alone {honest[cell]}"
                     for cell in earned if earned[cell] > honest[cell]]
    if case.most is not None and result.score > case.most:
        problems.append(f"{result.score} points, at most {case.most} earned")
    if case.exact is not None and result.score != case.exact:
        problems.append(f"{result.score} points, {case.exact} earned")
    return problems


@pytest.mark.pipeline
@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack_earns_nothing_and_the_table_says_what_happened(batch, name):
    case = BY_NAME[name]
    result = batch["graded"][name]["result"]
    assert result.status == case.status, f"{case.what}: {result.summary()}"
    assert case.reason in result.reason, result.reason
    for words in case.notes:
        assert any(words in str(note) for note in result.notes), result.notes
    for words in case.flags:
        assert any(words in str(flag) for flag in result.flags), result.flags
    if not case.flags:
        assert not result.flags, result.flags
    if result.status != GRADED:
        return
    assert set(result.cells) == set(ALL_TESTS) and result.max_score == FULL_MARKS, result.cells
    problems = _unearned(case, result, batch["graded"])
    assert not problems, f"{case.what}: {'; '.join(problems)}"
    messages = batch["graded"][name]["messages"]
    for cell, words in case.says:
        assert any(words in message for message in messages[cell]), messages[cell]


@pytest.mark.pipeline
@pytest.mark.parametrize("name", RACY)
def test_a_race_loses_on_its_second_chance_too(batch, name):
    case, entry = BY_NAME[name], batch["graded"][name]
    again = entry["again"][0]
    assert again.status == GRADED, again.summary()
    problems = _unearned(case, again, batch["graded"])
    assert not problems, f"{case.what}, graded again: {'; '.join(problems)}"


@pytest.mark.pipeline
def test_the_reference_mistakes_are_mistakes(batch):
    """An attack's bound is its honest mistake's score: that mistake must lose points of its own."""
    for name in {case.honest for case in CASES if case.honest}:
        result = batch["graded"][name]["result"]
        assert result.status == GRADED and 0 < result.score < result.max_score, result.summary()


@pytest.mark.pipeline
def test_the_honest_student_is_graded_without_notes_or_flags(batch):
    perfect = batch["graded"]["perfect"]["result"]
    assert perfect.status == GRADED and perfect.score == perfect.max_score == FULL_MARKS
    assert perfect.notes == [] and perfect.flags == []


@pytest.mark.pipeline
@pytest.mark.parametrize("name", TWICE)
def test_grading_twice_gives_identical_scores_and_messages(batch, name):
    entry = batch["graded"][name]
    first, again = entry["result"], entry["again"][0]
    assert (first.status, first.reason, first.score, first.cells, first.notes, first.flags) == \
        (again.status, again.reason, again.score, again.cells, again.notes, again.flags)
    assert entry["messages"] == entry["again"][1]
    assert any(entry["messages"].values()) or first.score == first.max_score


@pytest.mark.pipeline
def test_submitted_files_are_never_written(batch):
    assert _digest(batch["course"].submitted) == batch["before"]


@pytest.mark.pipeline
@pytest.mark.parametrize("name", FEEDBACK)
def test_feedback_of_an_attack_shows_no_hidden_test_line(batch, name):
    from tests.test_notebooks import _hidden_lines, _source

    hidden = _hidden_lines(_source(ASSIGNMENT))
    pages = batch["graded"][name]["feedback"]
    assert pages
    for text in pages:
        assert not [line for line in hidden if line in text]
    if name == "patch-during-test":
        assert "this test does not count" in pages[0]


@pytest.mark.pipeline
def test_table_and_csv_report_every_status(batch, tmp_path):
    results = [entry["result"] for entry in batch["graded"].values()]
    text = table(results, [ASSIGNMENT])
    for heading in ("Not graded (never counted as 0):", "What happened while grading:",
                    "Flagged for review (the score is not changed):"):
        assert heading in text
    assert "NOT GRADED" in text and "(flagged)" in text and "timed out" in text
    rows = list(csv.DictReader(write_csv(results, tmp_path / "grades.csv").open()))
    assert len(rows) == len(CASES)
    for row in rows:
        assert (row["score"] == "") == (row["status"] != GRADED), row
        if row["status"] == NOT_GRADED:
            assert row["reason"]
    assert any(row["flags"] for row in rows) and any(row["notes"] for row in rows)


# -- parts that need no nbgrader -----------------------------------------------------------------
@pytest.mark.pipeline
def test_a_notebook_that_runs_too_long_is_stopped(tmp_path):
    """The whole-notebook limit: three 2 s cells under a 3 s limit; the kernel is killed in the second."""
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    from course import guarded_execute

    config = Config()
    config.LimitedKernelManager.notebook_timeout = 3
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(2)") for _ in range(3)])
    execute = GuardedExecute(config=config, timeout=30)
    key = ("slow", "anything")
    guarded_execute.EVENTS.pop(key, None)
    with pytest.raises(DeadKernelError):
        execute.preprocess(nb, {"nbgrader": {"student": key[0], "assignment": key[1], "notebook": "x"},
                                "metadata": {"path": str(tmp_path)}})
    assert any(e.kind == NOTEBOOK_TIME_LIMIT for e in guarded_execute.EVENTS.pop(key))


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if Course().release_notebook(a).exists()])
def test_scan_finds_nothing_in_honest_notebooks(assignment):
    course = Course()
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    release = nbformat.read(course.release_notebook(assignment), as_version=4)
    for nb in (submissions.perfect(source, release), release):
        assert exploits.scan_notebook(nb, release) == []
        assert structure.structure_notes(nb, release) == []


EXPLOITS = {
    "os._exit(0)": "exits or signals",
    "import signal\nsignal.signal(signal.SIGALRM, print)": "exits or signals",
    "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass": "catches KeyboardInterrupt",
    "import numpy\nnumpy.allclose = lambda *a: True": "patches numpy",
    "from course.checks import Checklist\nChecklist.verdict = None": "patches course",
    "setattr(np, 'isclose', None)": "patches numpy",
    "import sys\nsys.modules['numpy'] = None": "edits sys.modules",
    "get_ipython().events.register('post_run_cell', print)": "reaches into IPython",
    "exec('x = 1')": "runs code built from strings",
    "import sys\nf = sys._getframe(1).f_locals": "inspects call frames",
    "import builtins\nbuiltins.max = min": "patches builtins",
    "class A:\n    def __eq__(self, other):\n        return True": "compare or convert",
    "class B(np.ndarray):\n    pass": "compare or convert",
    "import threading": "threads, processes",
    "import course.checks.computation_graphs": "tests' own checks",
    "def checklist(title):\n    pass": "redefines a helper",
    "class L:\n    def backward(self, dout):\n        return numerical_gradient(self.f, self.x)": "numerical gradient",
    "class L:\n    def backward(self, dout, h=1e-4):\n        return (self.f(self.x + h) - self.f(self.x - h)) / (2 * h)": "numerical gradient",
    "def f(x, y):\n    return 2.2, 110": "hard-coded",
    "!rm -rf /tmp/x": "shell commands",
}


@pytest.mark.parametrize("code", list(EXPLOITS))
def test_scan_names_each_known_exploit(code):
    release = nbformat.read(Course().release_notebook(ASSIGNMENT), as_version=4)
    nb = nbformat.from_dict(release)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    findings = exploits.scan_notebook(nb, release)
    assert any(EXPLOITS[code] in f.kind for f in findings), findings
    assert all("(cell #" in f.detail for f in findings)


@pytest.mark.parametrize("code", [
    "import numpy as np\nx = np.zeros(3)\nx[0] = 1.0\nnp.random.seed(0)",
    "import re\npattern = re.compile('a+')",
    "class Layer:\n    def backward(self, dout):\n        return dout * self.y, dout * self.x",
    "def relu(x):\n    return np.maximum(0, x)",
    "def ones(n):\n    return 1, 1",
    "try:\n    import scipy\nexcept ImportError:\n    pass",
    "%matplotlib inline\nprint(np.stack([np.ones(2)]))",
])
def test_scan_leaves_ordinary_code_alone(code):
    release = nbformat.read(Course().release_notebook(ASSIGNMENT), as_version=4)
    nb = nbformat.from_dict(release)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    assert exploits.scan_notebook(nb, release) == []
