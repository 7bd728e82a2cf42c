"""A PostgreSQL gradebook shared by two grading machines at once (docs/scaling.md).

The test starts its own server (Debian's postgresql: initdb into a temporary folder, pg_ctl on
127.0.0.1 and a free port, as the `postgres` user when we are root) and stops it afterwards.  Two
course folders in two processes stand for two machines: both point COURSE_DB_URL at the one database
and grade their share of the Part 2 submissions at the same time on local Dask clusters, one of
them with two worker processes.  Only the two grading clients write the database (their workers grade
into private SQLite gradebooks).  Every result must reach the shared gradebook and equal what
sequential grading with SQLite gave.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from course import cluster
from course.grading import Grader
from tests.conftest import make_course_copy
from tests.test_parallel import ASSIGNMENT, comparable, gradebook_rows, messages, scores

pytestmark = pytest.mark.pipeline

GRADE_AND_PRINT = """
import dataclasses, json, sys
from pathlib import Path
from course import cluster
from course.folders import Course
root, assignment, jobs, *students = sys.argv[1:]
with cluster.connect(jobs=int(jobs)) as client:
    results = list(cluster.grade(client, Course(Path(root)), assignment, students))
print(json.dumps([{k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"} for r in results]))
"""



def as_json(value):
    """The value as it comes through JSON (tuples become lists), as machine B's results do."""
    return json.loads(json.dumps(value))


def _unavailable(what):
    """Skip on a developer's machine without PostgreSQL; in CI (CI=true) the test must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing in CI: .ci/run installs Debian's postgresql, requirements.txt the driver")
    pytest.skip(f"{what} is not installed: `apt-get install postgresql` and the driver in requirements.txt "
                "(CI runs this test)")


def _bindir():
    found = shutil.which("pg_ctl") or max(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                                          key=lambda p: int(Path(p).parts[-3]), default=None)
    return Path(found).parent if found else None


def _free_port():
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL server with an empty `gradebook` database, stopped and deleted afterwards."""
    bindir = _bindir()
    if bindir is None:
        _unavailable("PostgreSQL (initdb, pg_ctl)")
    try:
        import psycopg
    except ImportError:
        _unavailable("The PostgreSQL driver psycopg")
    # initdb refuses to run as root; the server's folder must then belong to `postgres`, and it cannot
    # live under pytest's private tmp folder.
    user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
    if user:
        shutil.chown(folder, user)
    data, port = folder / "data", _free_port()

    def run(*cmd):
        done = subprocess.run([str(bindir / cmd[0]), *cmd[1:]], user=user, cwd=folder, capture_output=True,
                              text=True, timeout=60)
        if done.returncode:
            log = folder / "server.log"
            pytest.fail(f"{cmd[0]} failed:\n{done.stdout}{done.stderr}{log.read_text() if log.exists() else ''}")

    try:
        run("initdb", "-D", str(data), "-U", "course", "--auth=trust", "-E", "UTF8", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
            "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off")
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="course", dbname="postgres",
                                 autocommit=True) as db:
                db.execute("CREATE DATABASE gradebook")
            yield f"postgresql+psycopg://course@127.0.0.1:{port}/gradebook"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder)


def test_two_machines_grade_into_one_postgres_gradebook(postgres_url, graded, tmp_path, monkeypatch):
    seq_course, seq_results = graded[ASSIGNMENT]
    mistakes = sorted(s for s in seq_results if s.startswith("mistake-"))
    # Each machine's share of the submissions, and its number of worker processes.
    machines = {"machine-a": (["perfect", "untouched", mistakes[0]], 2), "machine-b": (mistakes[1:3], 1)}
    students = sorted(s for share, _ in machines.values() for s in share)
    expected_rows = gradebook_rows(seq_course, students)  # read from SQLite before COURSE_DB_URL says otherwise
    monkeypatch.setenv("COURSE_DB_URL", postgres_url)
    courses = {}
    for name, (share, _) in machines.items():
        course = courses[name] = make_course_copy(tmp_path / name)
        for student in share:
            shutil.copytree(seq_course.submitted / student, course.submitted / student)
    # One machine generates the assignment into the shared gradebook; the other only needs its release copy.
    Grader(courses["machine-a"]).generate(ASSIGNMENT)
    shutil.copytree(courses["machine-a"].release, courses["machine-b"].release)

    # Machine B is another process, grading at the same time as machine A grades here.
    share_b, jobs_b = machines["machine-b"]
    machine_b = subprocess.Popen([sys.executable, "-c", GRADE_AND_PRINT, str(courses["machine-b"].root), ASSIGNMENT,
                                  str(jobs_b), *share_b], stdout=subprocess.PIPE, text=True)
    share_a, jobs_a = machines["machine-a"]
    with cluster.connect(jobs=jobs_a) as client:
        results = {r.student: ("machine-a", as_json(comparable(r)))
                   for r in cluster.grade(client, courses["machine-a"], ASSIGNMENT, share_a)}
    out, _ = machine_b.communicate(timeout=600)
    assert machine_b.returncode == 0
    results.update({r["student"]: ("machine-b", r) for r in json.loads(out.splitlines()[-1])})

    assert not any((c.root / "gradebook.db").exists() for c in courses.values()), "no SQLite gradebook on the side"
    # Both machines see every submission, each exactly as sequential grading into SQLite recorded it.
    for course in courses.values():
        assert gradebook_rows(course, students) == expected_rows
    for student, (name, result) in results.items():
        expected = comparable(seq_results[student])
        assert result == as_json(expected), student
        assert scores(comparable(Grader(courses[name]).result(student, ASSIGNMENT))) == scores(expected), student
        assert messages(courses[name], student) == messages(seq_course, student), student
