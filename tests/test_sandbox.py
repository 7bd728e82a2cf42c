"""The wall around every grading kernel (course/sandbox.py), attacked through the real pipeline.

One course copy; one batch graded on a local Dask cluster (two workers, real nbgrader, real bwrap) after an honest
wrong baseline graded in the test's own process, every case of tests/adversarial/wall.py, then the "next students": the same wrong
notebook again, and the perfect one whose work the attacks try to read and change.  For each attack: no point it did not earn, its own output says the wall stopped it,
no byte of the course tree changed, nothing of the instructor's in its feedback, and the next students are
graded exactly as the baseline.  The attacks ran on the cluster's workers, so those are sandboxed too.
"""
import hashlib
import html
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from course import cluster, sandbox, submission_files
from course.grading import GRADED, Grader, Result, table, write_csv
from course.folders import ROOT
from tests.adversarial import ALL_WRONG, ASSIGNMENT, answers, attack_course
from tests.conftest import points
from tests.adversarial.wall import NEIGHBOUR, cases
from tests.test_notebooks import _hidden_lines, _solution_lines

pytestmark = pytest.mark.sandbox
needs_bwrap = pytest.mark.skipif(not sandbox.available().ok and os.environ.get("CI") != "true",
                                 reason=f"no sandbox here: {sandbox.available().why}")

# Short cells; a small scratch and process cap keep the disk filler and the fork bomb quick.
LIMITS = ("\nc.Execute.timeout = 30\nc.LimitedKernelManager.scratch_limit = 64 * 2**20"
          "\nc.LimitedKernelManager.process_limit = 128\n")
BASELINE, NEXT = "baseline-wrong", "next-wrong"
# What grading legitimately writes in a course folder.
WRITTEN_BY_GRADING = ("autograded", "feedback", "gradebook.db", "gradebook.db-journal")
FULL_MARKS = sum(points(ASSIGNMENT).values())


def _digest(folder, skip=()):
    """path -> sha256 of every file in ``folder`` (a symbolic link counts by its target's name: what it points
    to outside, /etc/passwd say, may change on its own)."""
    return {str(p.relative_to(folder)): os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if (p.is_file() or p.is_symlink())
            and p.relative_to(folder).parts[0] not in skip and "__pycache__" not in p.parts}


def _planted():
    """sitecustomize/usercustomize files on the grading kernel's import path."""
    return sorted(str(d / name) for d in {ROOT, *map(Path, filter(None, sys.path))}
                  for name in ("sitecustomize.py", "usercustomize.py") if (d / name).exists())


def _outputs(course, student):
    """Everything the autograded notebook's cells printed or raised."""
    paths = list((course.autograded / student / ASSIGNMENT).glob("*.ipynb"))
    if not paths:
        return ""
    nb = nbformat.read(paths[0], as_version=4)
    return "\n".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)


def _messages(course, student):
    paths = list((course.autograded / student / ASSIGNMENT).glob("*.ipynb"))
    nb = nbformat.read(paths[0], as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: [f"{o.ename}: {o.evalue}" for o in c.outputs if o.output_type == "error"]
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _leftovers():
    """Processes an attack started that are still alive (their command lines carry a WALL- marker)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"WALL-" in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


class _Loopback:
    """A TCP server on 127.0.0.1 that counts who connects."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    if not sandbox.available().ok:
        pytest.fail(f"CI must run the sandbox tests: {sandbox.available().why}")
    token = uuid.uuid4().hex
    canary_home = Path.home() / f".course-wall-canary-{token[:8]}"
    canary_home.write_text(f"instructor's private note {token}")
    loopback = _Loopback()
    try:
        yield _grade_batch(tmp_path_factory.mktemp("wall"), token, canary_home, loopback)
    finally:
        canary_home.unlink()
        loopback.server.close()
        for planted in _planted():  # a breach must not poison every later Python of this environment
            if Path(planted).stat().st_mtime > time.time() - 3600:
                Path(planted).unlink()


def _grade_batch(tmp, token, canary_home, loopback):
    course, grader, submit = attack_course(tmp, LIMITS)
    (course.root / "instructor-notes.txt").write_text(f"answers for next year {token}")
    marker = course.root / "lingering.txt"
    attacks = cases(course.root, loopback.port, canary_home, marker)
    for name, build in ((BASELINE, answers(ALL_WRONG)), (NEXT, answers(ALL_WRONG)), (NEIGHBOUR, answers())):
        submit(build, name)
    for case in attacks:
        submit(case.build, case.name)
    before = _digest(course.root, skip=WRITTEN_BY_GRADING)
    package_before, planted_before = _digest(ROOT / "course"), _planted()
    order = [*(c.name for c in attacks), NEXT, NEIGHBOUR]
    start = time.perf_counter()
    # The baseline in this process first: workers forked after a kernel ran here must work (the demo does this).
    results = {BASELINE: grader.autograde(BASELINE, ASSIGNMENT)}
    with cluster.connect(jobs=2) as client:
        results.update({r.student: r for r in cluster.grade(client, course, ASSIGNMENT, order)})
    seconds = time.perf_counter() - start
    feedback = {name: [_page_text(p) for p in grader.feedback(name, ASSIGNMENT)]
                for name, r in results.items() if r.status == GRADED}
    time.sleep(2)  # a lingering process would write every half second
    slowest = sorted(results.values(), key=lambda r: -r.seconds)[:3]
    print(f"\n{len(results)} submissions ({len(attacks)} attacks on the wall) graded in {seconds:.0f} s on 2 workers; "
          "slowest: " + ", ".join(f"{r.student} {r.seconds:.0f} s" for r in slowest))
    return {"course": course, "token": token, "cases": {c.name: c for c in attacks}, "results": results,
            "feedback": feedback, "before": before, "after": _digest(course.root, skip=WRITTEN_BY_GRADING),
            "package": (package_before, _digest(ROOT / "course")), "planted": (planted_before, _planted()),
            "leftovers": _leftovers(), "marker": marker, "loopback": loopback.connections,
            "outputs": {name: _outputs(course, name) for name in results},
            "source": nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4),
            "release": nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)}


def _page_text(path):
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def _case_names():
    return [c.name for c in cases("/nowhere", 0, "/nowhere", "/nowhere")]


@needs_bwrap
@pytest.mark.pipeline
@pytest.mark.parametrize("name", _case_names())
def test_attack_earns_nothing_and_is_stopped_by_the_wall(wall, name):
    case, result = wall["cases"][name], wall["results"][name]
    assert result.status == case.status, f"{case.what}: {result.summary()}"
    assert case.reason in result.reason, result.reason
    assert result.sandboxed
    if result.status != GRADED:
        return
    assert result.score <= case.most, f"{case.what}: {result.summary()}"
    said = wall["outputs"][name]
    assert "WALL-BLOCKED" in said, f"{case.what}: the attack did not run ({said[-500:]})"
    assert "WALL-BREACH" not in said, [line for line in said.splitlines() if "WALL-BREACH" in line]


@needs_bwrap
@pytest.mark.pipeline
@pytest.mark.parametrize("name", _case_names())
def test_feedback_of_an_attack_holds_nothing_of_the_instructors(wall, name):
    if name not in wall["feedback"]:
        pytest.skip("not graded, so no feedback")
    submitted = nbformat.read(wall["course"].submitted / name / ASSIGNMENT / "computation_graphs.ipynb", as_version=4)
    visible = {line.strip() for nb in (wall["release"], submitted) for c in nb.cells for line in c.source.splitlines()}
    secret = (_solution_lines(wall["source"]) | _hidden_lines(wall["source"])) - visible
    for text in wall["feedback"][name]:
        assert wall["token"] not in text
        assert not [line for line in secret if line in text]


@needs_bwrap
@pytest.mark.pipeline
def test_no_byte_of_the_course_tree_changed(wall):
    assert wall["after"] == wall["before"]
    assert not wall["marker"].exists()


@needs_bwrap
@pytest.mark.pipeline
def test_the_course_package_and_the_import_path_are_untouched(wall):
    before, after = wall["package"]
    assert after == before
    assert wall["planted"][1] == wall["planted"][0]


@needs_bwrap
@pytest.mark.pipeline
def test_the_next_students_are_graded_exactly_as_without_the_attacks(wall):
    first, then = wall["results"][BASELINE], wall["results"][NEXT]
    assert (first.status, first.score, first.cells, first.notes, first.flags) == \
        (then.status, then.score, then.cells, then.notes, then.flags)
    assert _messages(wall["course"], BASELINE) == _messages(wall["course"], NEXT)
    assert first.score == 0 and any(_messages(wall["course"], NEXT).values())
    neighbour = wall["results"][NEIGHBOUR]
    assert (neighbour.status, neighbour.score, neighbour.notes, neighbour.flags) == (GRADED, FULL_MARKS, [], [])
    assert not any(_messages(wall["course"], NEIGHBOUR).values())


@needs_bwrap
@pytest.mark.pipeline
def test_nothing_an_attack_started_outlives_its_notebook(wall):
    assert wall["leftovers"] == [], "processes of the attacks still run"
    result = wall["results"]["wall-lingering"]
    assert Grader(wall["course"], log=lambda *a: None).result("wall-lingering", ASSIGNMENT).cells == result.cells


@needs_bwrap
@pytest.mark.pipeline
def test_the_loopback_server_saw_no_connection(wall):
    assert wall["loopback"] == 0


@needs_bwrap
@pytest.mark.pipeline
def test_the_fork_bomb_and_the_disk_filler_hit_their_caps(wall):
    bomb = re.search(r"WALL-BLOCKED fork bomb: (\d+)", wall["outputs"]["wall-fork-bomb"])
    assert bomb and int(bomb.group(1)) < 128, wall["outputs"]["wall-fork-bomb"][-300:]
    filler = wall["outputs"]["wall-disk-filler"]
    assert filler.count("WALL-BLOCKED fill the disk") == 3, filler[-500:]


@needs_bwrap
@pytest.mark.pipeline
def test_grade_refuses_without_bubblewrap_and_labels_unsandboxed_grading(wall):
    course = wall["course"]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no bwrap on this PATH
    run = lambda *args: subprocess.run([sys.executable, "-m", "course", "grade", ASSIGNMENT, "--student", NEIGHBOUR,  # noqa: E731
                                        *args], cwd=course.root, env=env, capture_output=True, text=True, timeout=300)
    refused = run()
    assert refused.returncode == 2 and "apt-get install bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    graded = run("--no-sandbox")
    assert graded.returncode == 0, graded.stderr[-500:]
    assert f"{FULL_MARKS}/{FULL_MARKS}" in graded.stdout and "UNSANDBOXED: 1 of these submissions" in graded.stdout


# -- parts that need no kernel --------------------------------------------------------------------
def test_tables_and_csv_say_when_grading_was_unsandboxed(tmp_path):
    results = [Result("ann", ASSIGNMENT, GRADED, 13, 13, sandboxed=True),
               Result("ben", ASSIGNMENT, GRADED, 3, 13, sandboxed=False)]
    assert "UNSANDBOXED: 1 of these submissions" in table(results, [ASSIGNMENT])
    assert "UNSANDBOXED" not in table(results[:1], [ASSIGNMENT])
    rows = write_csv(results, tmp_path / "grades.csv").read_text().splitlines()
    assert rows[0].endswith(",sandboxed") and rows[1].endswith(",yes") and rows[2].endswith(",no")


def test_the_submission_copy_drops_links_and_devices(tmp_path):
    sub = tmp_path / "sub"
    (sub / "data").mkdir(parents=True)
    (sub / "data" / "x.txt").write_text("mine")
    os.symlink("/etc/passwd", sub / "passwd")
    os.symlink(ROOT / "source", sub / "data" / "source")
    os.mkfifo(sub / "pipe")
    submission_files.copy(sub, tmp_path / "copy")
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["data", "data/x.txt"]


def test_without_bubblewrap_the_reason_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.available.cache_clear()
    try:
        found = sandbox.available()
    finally:
        sandbox.available.cache_clear()
    assert not found.ok and "apt-get install bubblewrap" in found.why
