"""Grading on a real Dask cluster, with faults: a `dask scheduler` and two `dask worker` processes on
loopback, started as docs/cluster.md starts them on several machines, and `course grade --scheduler`
typed as an instructor types it.

* The results (scores, statuses, notes, flags) and gradebook rows equal sequential grading's.
* A worker killed (SIGKILL) in the middle of a submission: that submission is graded again on the other
  worker, nothing is lost, nothing is counted twice, and the table says so.  The kill is deterministic:
  the submission sleeps in its first answer cell, and the worker is killed once it has started on it.
* The scheduler killed half-way through a second run: a clear error, and what was graded before stays
  in the gradebook and in grading_status.json.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import nbformat
import pytest

from course import cluster, submissions
from course.grading import Grader
from course.notes import GRADED_AGAIN
from tests.conftest import points, write_submission
from tests.test_parallel import ASSIGNMENT, clean_copy, comparable, gradebook_rows, scores

pytestmark = pytest.mark.pipeline

SLEEP = 8  # seconds the slow submission sleeps: time to see it start and to kill its worker (at 3 s)
DASK = str(Path(sys.executable).parent / "dask")
# As docs/cluster.md advises on busy machines: a starved process is not a dead one.
ENV = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "180s"}


def _free_port():
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process):
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker`s, each its own process; all stopped afterwards."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = []

    def start(*args, name):
        log = open(folder / f"{name}.log", "w")
        logs.append(log)
        return subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=ENV)

    processes = {"scheduler": start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                    "--no-dashboard", name="scheduler")}
    try:
        for name in ("w1", "w2"):
            processes[name] = start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                    "--name", name, "--local-directory", str(folder / name), name=name)
        with Client(address, timeout="60s") as observer:
            observer.wait_for_workers(2, timeout=120)
            workers = {info["name"]: addr for addr, info in observer.scheduler_info()["workers"].items()}
        yield {"address": address, "processes": processes, "workers": workers, "logs": folder}
    finally:
        for process in processes.values():
            _stop(process)
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def course(graded, tmp_path_factory):
    """A course copy with Part 2 generated and no student yet; the sequential results to compare with."""
    seq_course, seq_results = graded[ASSIGNMENT]
    course = clean_copy(seq_course, tmp_path_factory.mktemp("cluster-course"))
    return course, seq_course, seq_results


def slow_perfect(course):
    """The perfect submission, sleeping first in its first answer cell."""
    source = nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4)
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    nb = submissions.perfect(source, release)
    first = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    first.source = f"import time\ntime.sleep({SLEEP})\n" + first.source
    return nb


class Grading:
    """`course grade ASSIGNMENT --scheduler ADDRESS --student ...` in its own process, its output read live."""

    def __init__(self, course, address, students):
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "course", "grade", ASSIGNMENT, "--scheduler", address,
             *(arg for s in students for arg in ("--student", s))],
            cwd=course.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()

    def wait_for(self, text, timeout=600):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None or self.reader.is_alive(), "".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} in:\n{''.join(self.lines)}"
            time.sleep(0.2)

    def finish(self, timeout=900):
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return self.process.returncode, "".join(self.lines)


def wait_until_started(address, student, timeout=600):
    """The address of the worker that has started grading ``student`` (from the engine's own events)."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout="30s") as observer:
        while time.monotonic() < deadline:
            events = observer.get_events()
            for topic, entries in events.items():
                if topic.startswith("course-grading-"):
                    for _, (who, worker) in entries:
                        if who == student:
                            return worker
            time.sleep(0.3)
    raise AssertionError(f"no worker started grading {student} within {timeout} s")


def status_rows(course):
    return {r["student"]: r for r in json.loads((course.root / "grading_status.json").read_text())}


def as_json(value):
    return json.loads(json.dumps(value))


def progress_students(output):
    """The students named in the progress lines `[i/n] assignment / student: ...`, in order."""
    return [line.split(" / ", 1)[1].split(":", 1)[0] for line in output.splitlines()
            if line.strip().startswith("[") and f"{ASSIGNMENT} / " in line]


@pytest.fixture(scope="module")
def killed_worker_run(dask_cluster, course):
    """Four submissions graded on the cluster; the worker grading the slow one is killed half-way."""
    course, seq_course, seq_results = course
    mistakes = sorted(s for s in seq_results if s.startswith("mistake-"))
    students = ["perfect", "untouched", mistakes[0]]
    for student in students:
        shutil.copytree(seq_course.submitted / student, course.submitted / student)
    write_submission(course, "slow", ASSIGNMENT, slow_perfect(course))
    run = Grading(course, dask_cluster["address"], ["slow"] + students)  # handed out first
    victim = wait_until_started(dask_cluster["address"], "slow")
    time.sleep(3)  # well inside its sleeping cell (a kernel starts in about 2 s)
    name = next(n for n, addr in dask_cluster["workers"].items() if addr == victim)
    dask_cluster["processes"][name].send_signal(signal.SIGKILL)
    dask_cluster["processes"][name].wait(timeout=30)
    returncode, output = run.finish()
    survivor = next(addr for n, addr in dask_cluster["workers"].items() if n != name)
    return {"course": course, "seq_course": seq_course, "seq_results": seq_results, "students": students,
            "mistakes": mistakes, "returncode": returncode, "output": output, "victim": victim,
            "survivor": survivor}


def test_results_and_gradebook_rows_equal_sequential_grading(killed_worker_run):
    run = killed_worker_run
    assert run["returncode"] == 0, run["output"]
    rows = status_rows(run["course"])
    for student in run["students"]:
        expected = as_json(comparable(run["seq_results"][student]))
        assert {k: v for k, v in rows[student].items() if k != "seconds"} == expected, student
    assert gradebook_rows(run["course"], run["students"]) == gradebook_rows(run["seq_course"], run["students"])


def test_a_killed_worker_costs_a_new_try_and_the_table_says_so(killed_worker_run):
    run = killed_worker_run
    course, output = run["course"], run["output"]
    assert sorted(progress_students(output)) == sorted(run["students"] + ["slow"]), output  # each once
    slow = status_rows(course)["slow"]
    perfect = as_json(comparable(run["seq_results"]["perfect"]))
    assert scores(slow) == scores(perfect), "graded in full on the other worker"
    [note] = [n for n in slow["notes"] if n["kind"] == GRADED_AGAIN]
    assert run["victim"] in note["detail"] and run["survivor"] in note["detail"]
    full = sum(points(ASSIGNMENT).values())
    assert re.search(rf"^slow +{full}/{full} \(graded again\) *$", output, re.MULTILINE), output
    assert f"slow / {ASSIGNMENT}: graded again: worker {run['victim']}" in output, output
    # One submission in the gradebook, exactly as a sequential grading of the perfect notebook wrote it.
    rec = gradebook_rows(course, ["slow"])["slow"]
    expected = gradebook_rows(run["seq_course"], ["perfect"])["perfect"]
    assert rec["notebooks"] == expected["notebooks"] and rec["submission"] == expected["submission"]
    assert len(list((course.autograded / "slow" / ASSIGNMENT).glob("*.ipynb"))) == 1


def test_losing_the_scheduler_is_a_clear_error_and_keeps_what_was_graded(dask_cluster, killed_worker_run):
    run = killed_worker_run
    course, mistake = run["course"], run["mistakes"][1]
    shutil.copytree(run["seq_course"].submitted / mistake, course.submitted / mistake)
    write_submission(course, "slow-2", ASSIGNMENT, slow_perfect(course))
    grading = Grading(course, dask_cluster["address"], [mistake, "slow-2"])
    grading.wait_for("[1/2]")
    dask_cluster["processes"]["scheduler"].send_signal(signal.SIGKILL)
    returncode, output = grading.finish(timeout=300)
    assert returncode == 2, output
    assert "error: lost the Dask cluster after 1 of 2 submissions" in output, output
    [first] = progress_students(output)
    other = {mistake, "slow-2"} - {first}
    rows = status_rows(course)
    assert first in rows and not other & set(rows), "what was graded is saved, and only that"
    assert set(run["students"]) | {"slow"} <= set(rows), "the earlier run's results are kept"
    in_gradebook = gradebook_rows(course, [first, *other])
    assert in_gradebook[first] is not None and all(in_gradebook[s] is None for s in other)
    if first == mistake:
        assert in_gradebook[first] == gradebook_rows(run["seq_course"], [mistake])[mistake]
    assert Grader(course).result(first, ASSIGNMENT).status == "graded"


def test_a_task_carries_no_solution_code(course):
    """What travels to the workers: the release, the config, the assignment's cells; never a solution."""
    course = course[0]
    with closing(Grader(course).api.gradebook) as main:
        bundle = cluster.make_bundle(course, ASSIGNMENT, main, {})
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    given = "\n".join(c.source for c in release.cells)
    solution = submissions.solution_code(nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4))
    secret = {line.strip() for code in solution.values() for line in code.splitlines()
              if len(line.strip()) > 12 and line.strip() not in given}
    assert len(secret) > 10, "solution lines to look for"
    carried = bundle.gradebook + b"".join(bundle.files.values())
    assert not [line for line in secret if line.encode() in carried]
    assert b"HIDDEN TESTS" in bundle.gradebook, "the hidden tests do travel: the workers run them"
    assert not any(path.startswith("source/") and path.endswith(".ipynb") for path in bundle.files)
