"""Grade on a Dask cluster: worker processes on this machine (``--jobs N``) or ``dask worker``s anywhere.

nbgrader has no parallel autograde (its issue #174) and SQLite does not like concurrent writers, so a
worker never touches the course folder or its gradebook.  Each submission is one Dask task that carries
what grading it needs (:class:`Bundle`: the assignment's release, nbgrader_config.py, and a small SQLite
gradebook holding only the assignment's definition; :class:`Submission`: the student's files and what
the gradebook already holds about them).  The worker unpacks these into a private course folder of its
own, grades there with the ordinary :class:`~course.grading.Grader` (so the same code and the same
options as ``course grade`` without a cluster), and sends back the result, the gradebook record of the
submission and the autograded notebooks (:class:`Graded`).  The one process that asked (the client)
writes them into the course's gradebook, SQLite or PostgreSQL, and into autograded/.  Workers need the
course's software (the same checkout: :func:`software_digest` checks it), no shared folder and no
database access.

A worker lost in the middle of a submission (a machine switched off, a process killed) costs only that
try: the scheduler gives the task to another worker, and the result says it was graded again.  Only the
client writes, once per submission, so nothing is counted twice.  When the scheduler itself is lost the
client stops with :class:`ClusterLost`; everything it wrote until then stays written.
"""
import contextlib
import hashlib
import logging
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from course import records
from course.grading import NOT_GRADED, Grader, Result
from course.layout import ROOT, Course, CourseError

WORKER_WAIT = 60  # seconds to wait for a first worker of an existing cluster
WATCH = 10  # seconds between checks that the cluster is still there while grading


class ClusterLost(CourseError):
    """The scheduler went away (or every worker did) before all submissions were graded."""


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to grade any submission of one assignment."""
    assignment: str
    files: dict  # path in the course folder -> bytes: nbgrader_config.py, release/<assignment>/..., given files
    gradebook: bytes  # an SQLite gradebook with this assignment's definition only (cells, hidden tests)
    software: str  # software_digest() of the client: a worker with other grading code refuses
    options: dict = field(default_factory=dict)  # keyword arguments for the worker's Grader


@dataclass(frozen=True)
class Submission:
    student: str
    files: dict = None  # path under submitted/<student>/<assignment>/ -> bytes; None: no such folder
    known: bool = False  # submitted/<student>/ exists (a student without this assignment is "no submission")
    prior: dict = None  # records.record() of this submission in the course's gradebook (manual grades, ...)


@dataclass(frozen=True)
class Graded:
    result: Result
    record: dict  # records.record() of the submission in the worker's gradebook (None if none)
    autograded: dict  # path under autograded/<student>/<assignment>/ -> bytes; None: nbgrader removed it
    worker: str  # the address of the worker that graded it


def grade(client, course, assignment, students, options=None, progress=None):
    """Autograde ``students``' submissions of ``assignment`` on the cluster of ``client`` (see :func:`connect`).

    Yields each submission's Result once it is written, in the order they finish; ``progress(i, n, text)``
    is called then too.  ``options`` are keyword arguments for each worker's Grader.
    """
    course.check_assignment(assignment)
    students = list(dict.fromkeys(students))
    if not students:
        return
    with contextlib.closing(Grader(course, log=lambda *a: None).api.gradebook) as main:
        bundle = make_bundle(course, assignment, main, options or {})
        yield from _run(client, course, bundle, main, students, progress)


@contextlib.contextmanager
def connect(jobs=None, scheduler=None):
    """A Dask client: on a new local cluster of ``jobs`` single-threaded worker processes, or at ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise CourseError(f"cannot reach the Dask scheduler at {scheduler} ({exc}): start it there with "
                              "`dask scheduler`, then `dask worker` on the grading machines (docs/cluster.md)")
        with client:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except TimeoutError:
                raise CourseError(f"no Dask worker joined the scheduler at {scheduler} within {WORKER_WAIT} s: "
                                  f"start one with `dask worker {scheduler} --nthreads 1 --no-nanny`")
            yield client
        return
    # A nanny starts each worker process (and restarts a worker that died: its submission's new try is
    # reported).  Kernels have their own memory limit, so the nanny's is off; the dashboard is not needed.
    with LocalCluster(n_workers=jobs or 1, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def make_bundle(course, assignment, main, options):
    from nbgrader.api import Gradebook, MissingEntry

    try:
        definition = records.assignment_record(main, assignment)
    except MissingEntry:
        raise CourseError(f"{assignment} is not in the gradebook: run `course generate {assignment}` first")
    files = {"nbgrader_config.py": (course.root / "nbgrader_config.py").read_bytes()}
    files.update(_read_tree(course.release / assignment, f"release/{assignment}"))
    # nbgrader copies an assignment's other source files (data, helpers) into autograded/; never notebooks.
    files.update({path: data for path, data in _read_tree(course.source / assignment, f"source/{assignment}").items()
                  if not path.endswith(".ipynb")})
    with tempfile.TemporaryDirectory(prefix="course-bundle-") as tmp:
        path = Path(tmp) / "gradebook.db"
        with contextlib.closing(Gradebook(f"sqlite:///{path}", main.course_id)) as gb:
            records.restore_assignment(gb, definition)
        gradebook = path.read_bytes()
    return Bundle(assignment, files, gradebook, software_digest(), dict(options))


def _submission(course, main, assignment, student):
    folder = course.submitted / student / assignment
    return Submission(student, _read_tree(folder) if folder.is_dir() else None,
                      known=(course.submitted / student).is_dir(), prior=records.record(main, assignment, student))


def _run(client, course, bundle, main, students, progress):
    from distributed import wait

    topic = f"course-grading-{uuid.uuid4().hex}"  # this run's own: a long-lived scheduler keeps old events
    started = {}  # student -> workers that started grading it

    def on_start(event):
        _, (student, worker) = event
        started.setdefault(student, []).append(worker)

    client.subscribe_topic(topic, on_start)
    todo = iter(students)
    window = 2 * max(1, len(client.nthreads()))  # tasks in flight: each carries a submission's files

    def submit(student):
        sub = _submission(course, main, bundle.assignment, student)
        # pure=False: a second run must grade again; the key names the submission in dask's own messages.
        return client.submit(grade_on_worker, bundle, sub, topic, pure=False,
                             key=f"grade-{bundle.assignment}-{student}-{uuid.uuid4().hex[:8]}")

    pending = {submit(s): s for s in _take(todo, window)}
    done_count = 0
    try:
        while pending:
            try:
                done, _ = wait(list(pending), timeout=WATCH, return_when="FIRST_COMPLETED")
            except TimeoutError:
                _check_cluster(client, done_count, len(students))
                continue
            for future in done:
                student = pending.pop(future)
                result = _write(course, bundle.assignment, student, future, main, started.get(student, []),
                                client, done_count, len(students))
                done_count += 1
                if progress:
                    progress(done_count, len(students),
                             f"{bundle.assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
                yield result
                pending.update({submit(s): s for s in _take(todo, 1)})
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
        for future in pending:
            future.release()


def _take(iterator, n):
    return [x for _, x in zip(range(n), iterator)]


def _write(course, assignment, student, future, main, started, client, done_count, total):
    """The client's one write of a submission's grading: gradebook, autograded/, and the Result."""
    from distributed.client import FutureCancelledError

    try:
        graded = future.result()
    except (FutureCancelledError, OSError) as exc:  # the scheduler is gone (FutureCancelledError is no Exception)
        _check_cluster(client, done_count, total, exc)
        raise ClusterLost(f"the grading of {student} was cancelled ({exc})") from exc
    except Exception as exc:  # the task failed: a worker's own error, or workers lost one after another
        return Result(student, assignment, NOT_GRADED, reason=f"grading worker failed: {type(exc).__name__}: {exc}")
    finally:
        future.release()
    result = graded.result
    lost = [w for w in dict.fromkeys(started) if w != graded.worker]
    if lost:
        result.notes.append(f"graded again: worker {', '.join(lost)} was lost while grading this submission, "
                            f"then {graded.worker} graded it")
    if graded.record is not None:
        records.restore(main, graded.record)
    folder = course.autograded / student / assignment
    shutil.rmtree(folder, ignore_errors=True)  # as `nbgrader autograde --force` does before it writes
    if graded.autograded is not None:
        _write_tree(folder, graded.autograded)
    return result


def _check_cluster(client, done_count, total, cause=None):
    """Raise ClusterLost if the scheduler, or every worker, is gone: what was written so far stays."""
    try:
        alive = client.status == "running" and client.nthreads()
    except Exception:  # the scheduler does not answer
        alive = False
    if not alive:
        raise ClusterLost(f"lost the Dask cluster after {done_count} of {total} submissions "
                          f"({'no scheduler' if client.status != 'running' else 'no worker left'}"
                          f"{f': {cause}' if cause else ''}). The {done_count} graded are in the gradebook and "
                          "grading_status.json; grade the others again once the cluster is back") from cause


# -- the worker's side -----------------------------------------------------------------------------
# One submission at a time per process: nbgrader redirects the process's output, and the grading events
# are kept per process (a worker started with several threads still grades correctly, only slower).
_ONE_AT_A_TIME = threading.Lock()


def grade_on_worker(bundle, submission, topic):
    """Worker: grade one submission in a private course folder; return what the client writes."""
    from distributed import get_worker

    worker = get_worker()
    with _ONE_AT_A_TIME:
        worker.log_event(topic, (submission.student, worker.address))
        if bundle.software != software_digest():
            raise CourseError(f"worker {worker.address} runs other grading code than the machine that asked "
                              f"(course package {software_digest()[:12]} against {bundle.software[:12]}): "
                              "update its checkout and restart its `dask worker`")
        with tempfile.TemporaryDirectory(prefix="course-grade-", dir=worker.local_directory) as tmp:
            course = PrivateCourse(Path(tmp))
            _unpack(course, bundle, submission)
            grader = Grader(course, log=lambda *a: None, **bundle.options)
            grader.api.coursedir.db_url = f"sqlite:///{course.root / 'gradebook.db'}"
            if submission.prior is not None:  # regrading: start from what the course's gradebook holds
                with contextlib.closing(grader.api.gradebook) as gb:
                    records.restore(gb, submission.prior)
            result = grader.autograde(submission.student, bundle.assignment)
            with contextlib.closing(grader.api.gradebook) as gb:
                rec = records.record(gb, bundle.assignment, submission.student)
            out = course.autograded / submission.student / bundle.assignment
            return Graded(result, rec, _read_tree(out) if out.is_dir() else None, worker.address)


@dataclass(frozen=True)
class PrivateCourse(Course):
    """A worker's copy of the course: no source notebooks (solutions stay home); names come from release/."""

    def notebook_names(self, assignment):
        return sorted(p.name for p in (self.release / assignment).glob("*.ipynb"))


def _unpack(course, bundle, submission):
    _write_tree(course.root, bundle.files)
    (course.root / "gradebook.db").write_bytes(bundle.gradebook)
    if submission.known:
        (course.submitted / submission.student).mkdir(parents=True)
    if submission.files is not None:
        _write_tree(course.submitted / submission.student / bundle.assignment, submission.files)


_digest = {}


def software_digest():
    """A digest of the grading code, the course package (the kernel imports it too)."""
    if not _digest:
        h = hashlib.sha256()
        for path in sorted((ROOT / "course").rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        _digest["course"] = h.hexdigest()
    return _digest["course"]


def _read_tree(folder, prefix=""):
    """path (under ``prefix``) -> bytes for every file below ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {str(Path(prefix) / p.relative_to(folder)) if prefix else str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_tree(folder, files):
    for rel, data in files.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
