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
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from course import figure_record, records
from course import submission_files
from course.grading import NOT_GRADED, Grader, Result
from course.notes import GRADED_AGAIN, Note
from course.folders import ROOT, Course, CourseError

WORKER_WAIT = 60  # seconds to wait for a worker (the first one of a cluster, or any when all are gone)
WATCH = 10  # seconds between checks that the cluster is still there while grading
COMM_TIMEOUT = "180s"
# Throw-away gradebooks live in memory where the system offers it: each of nbgrader's many commits would
# otherwise wait for the disk (SQLite syncs every commit), and nothing in them must survive a crash.
_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


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
    figures: bytes = b""  # the release notebook's figures (course.figure_record), drawn once for every kernel


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


def grade(client, course, assignment, students, options=None, progress=None, figures=True):
    """Autograde ``students``' submissions of ``assignment`` on the cluster of ``client`` (see :func:`connect`).

    Yields each submission's Result once it is written, in the order they finish; ``progress(i, n, text)``
    is called then too.  ``options`` are keyword arguments for each worker's Grader.  ``figures``: show the
    course's figures from one recording (course.figure_record) instead of drawing them in every kernel.
    """
    course.check_assignment(assignment)
    students = list(dict.fromkeys(students))
    if not students:
        return
    here = Grader(course, log=lambda *a: None, **(options or {}))
    # A folder with symbolic links never travels: what they point to (source/, another student) stays here,
    # and the submission gets the reason sequential grading gives it.
    linked = [s for s in students if submission_files.symbolic_links(course.submitted / s / assignment)]
    for i, student in enumerate(linked, 1):
        status, reason = here.preflight(student, assignment)
        result = Result(student, assignment, status, reason=reason, sandboxed=here.sandbox)
        if progress:
            progress(i, len(students), f"{assignment} / {student}: {result.summary()} (0.0 s)")
        yield result
    students = [s for s in students if s not in linked]
    if not students:
        return
    with contextlib.closing(here.api.gradebook) as main:
        bundle = make_bundle(course, assignment, main, options or {},
                             figure_record.for_grading(course, assignment, len(students), figures))
        yield from _Run(client, course, bundle, main, students).results(progress)


@contextlib.contextmanager
def connect(jobs=None, scheduler=None):
    """A Dask client: on a new local cluster of ``jobs`` single-threaded worker processes, or at ``scheduler``."""
    import dask
    import distributed  # noqa: F401  (its defaults must be in dask's config first: leaving config.set would
    #                     otherwise delete the whole "distributed" section it created, and the next cluster fails)

    # A busy grading machine can starve a process for half a minute: Dask's default 30 s would call that
    # connection dead and drop its worker.  A process that really dies closes its connections at once.
    with dask.config.set({"distributed.comm.timeouts.tcp": COMM_TIMEOUT}):
        with (_remote(scheduler) if scheduler else _local(jobs or 1)) as client:
            yield client


@contextlib.contextmanager
def _remote(scheduler):
    from distributed import Client

    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise CourseError(f"cannot reach the Dask scheduler at {scheduler} ({exc}): start it there with "
                          "`dask scheduler`, then `dask worker` on the grading machines (docs/cluster.md)")
    # Losing the scheduler is reported once, as ClusterLost, not as the client's tracebacks.
    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise CourseError(f"no Dask worker joined the scheduler at {scheduler} within {WORKER_WAIT} s: "
                              f"start one with `dask worker {scheduler} --nthreads 1 --no-nanny`")
        yield client


@contextlib.contextmanager
def _local(jobs):
    from distributed import Client, LocalCluster

    # A nanny starts each worker process (and restarts a worker that died: its submission's new try is
    # reported).  Kernels have their own memory limit, so the nanny's is off; the dashboard is not needed.
    with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def make_bundle(course, assignment, main, options, figures=b""):
    from nbgrader.api import Gradebook, MissingEntry

    try:
        definition = records.assignment_record(main, assignment)
    except MissingEntry:
        raise CourseError(f"{assignment} is not in the gradebook: run `course generate {assignment}` first")
    files = {"nbgrader_config.py": (course.root / "nbgrader_config.py").read_bytes()}
    files.update(submission_files.read(course.release / assignment, f"release/{assignment}"))
    # nbgrader copies an assignment's other source files (data, helpers) into autograded/; never notebooks.
    files.update({path: data for path, data in submission_files.read(course.source / assignment, f"source/{assignment}").items()
                  if not path.endswith(".ipynb")})
    with tempfile.TemporaryDirectory(prefix="course-bundle-", dir=_SCRATCH) as tmp:
        path = Path(tmp) / "gradebook.db"
        _empty_gradebook(path, main)
        with contextlib.closing(Gradebook(f"sqlite:///{path}", main.course_id)) as gb:
            records.restore_assignment(gb, definition)
        gradebook = path.read_bytes()
    return Bundle(assignment, files, gradebook, software_digest(), dict(options), figures)


def _empty_gradebook(path, like):
    """nbgrader's tables at the schema version of gradebook ``like``.  (nbgrader itself runs `alembic heads`
    in a subprocess to learn that version for every new gradebook: seconds, and half a minute on a busy machine.)"""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    version = like.db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as db:
            db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
    finally:
        engine.dispose()


def _submission(course, main, assignment, student):
    folder = course.submitted / student / assignment
    return Submission(student, submission_files.read(folder) if folder.is_dir() else None,
                      known=(course.submitted / student).is_dir(), prior=records.record(main, assignment, student))


class _Run:
    """One `course grade` on the cluster: tasks in flight, and the client's one write of each result."""

    def __init__(self, client, course, bundle, main, students):
        self.client, self.course, self.bundle, self.main = client, course, bundle, main
        self.todo, self.total, self.done = iter(students), len(students), 0
        self.topic = f"course-grading-{uuid.uuid4().hex}"  # this run's own: a scheduler keeps old events
        self.started = {}  # student -> the workers that started grading it, in order
        self.alone_since = None  # since when the scheduler has had no worker

    def results(self, progress):
        from distributed import wait
        from distributed.client import CancelledError

        self.client.subscribe_topic(self.topic, self._on_start)
        window = 2 * max(1, len(self.client.nthreads()))  # tasks in flight: each carries a submission's files
        pending = {self._submit(s): s for s in _take(self.todo, window)}
        try:
            while pending:
                try:
                    done, _ = wait(list(pending), timeout=WATCH, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    self._check_cluster()
                    continue
                except CancelledError as exc:  # the scheduler is gone, and every task with it
                    self._check_cluster(exc)
                for future in done:
                    student = pending.pop(future)
                    result = self._write(student, future)
                    self.done += 1
                    if progress:
                        progress(self.done, self.total,
                                 f"{self.bundle.assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
                    yield result
                    pending.update({self._submit(s): s for s in _take(self.todo, 1)})
        finally:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(self.topic)
            for future in pending:
                future.release()

    def _on_start(self, event):
        _, (student, worker) = event
        self.started.setdefault(student, []).append(worker)

    def _submit(self, student):
        sub = _submission(self.course, self.main, self.bundle.assignment, student)
        # pure=False: a second run must grade again; the key names the submission in dask's own messages.
        return self.client.submit(grade_on_worker, self.bundle, sub, self.topic, pure=False,
                                  key=f"grade-{self.bundle.assignment}-{student}-{uuid.uuid4().hex[:8]}")

    def _write(self, student, future):
        """Gradebook, autograded/ and the Result of one submission, written once."""
        from distributed.client import CancelledError

        assignment = self.bundle.assignment
        try:
            graded = future.result()
        except (CancelledError, OSError) as exc:  # the scheduler is gone
            self._check_cluster(exc)
        except Exception as exc:  # the task failed: a worker's own error, or workers lost one after another
            return Result(student, assignment, NOT_GRADED,
                          reason=f"grading worker failed: {type(exc).__name__}: {exc}")
        finally:
            future.release()
        result = graded.result
        lost = [w for w in dict.fromkeys(self.started.get(student, [])) if w != graded.worker]
        if lost:
            result.notes.append(Note(GRADED_AGAIN, f"worker {', '.join(lost)} was lost while grading this submission, "
                                                   f"then {graded.worker} graded it"))
        if graded.record is not None:
            records.restore(self.main, graded.record)
        folder = self.course.autograded / student / assignment
        shutil.rmtree(folder, ignore_errors=True)  # as `nbgrader autograde --force` does before it writes
        if graded.autograded is not None:
            submission_files.write(folder, graded.autograded)
        return result

    def _check_cluster(self, cause=None):
        """Raise ClusterLost if the scheduler is gone, or no worker has been there for WORKER_WAIT seconds
        (a nanny restarting the only worker is not a loss).  What was written so far stays."""
        try:
            lost = "the scheduler" if self.client.status != "running" else None
            workers = lost is None and self.client.nthreads()
        except Exception:  # the scheduler does not answer
            lost, workers = "the scheduler", {}
        if not lost and not workers:
            self.alone_since = self.alone_since or time.monotonic()
            if time.monotonic() - self.alone_since > WORKER_WAIT:
                lost = f"every worker, for {WORKER_WAIT} s,"
        elif workers:
            self.alone_since = None
        if lost or cause:
            raise ClusterLost(f"lost the Dask cluster after {self.done} of {self.total} submissions "
                              f"({lost or 'the scheduler'} went away). The {self.done} graded are in the gradebook "
                              "and grading_status.json; grade the others again once the cluster is back") from cause


def _take(iterator, n):
    return [x for _, x in zip(range(n), iterator)]


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
        with tempfile.TemporaryDirectory(prefix="course-grade-", dir=worker.local_directory) as tmp, \
                tempfile.TemporaryDirectory(prefix="course-gradebook-", dir=_SCRATCH) as scratch:
            course = PrivateCourse(Path(tmp))
            _unpack(course, bundle, submission)
            gradebook = Path(scratch) / "gradebook.db"
            gradebook.write_bytes(bundle.gradebook)
            figures = Path(tmp) / "figures.json"
            if bundle.figures:
                figures.write_bytes(bundle.figures)
            grader = Grader(course, log=lambda *a: None, figures=str(figures) if bundle.figures else "",
                            **bundle.options)
            grader.api.coursedir.db_url = f"sqlite:///{gradebook}"
            if submission.prior is not None:  # regrading: start from what the course's gradebook holds
                with contextlib.closing(grader.api.gradebook) as gb:
                    records.restore(gb, submission.prior)
            result = grader.autograde(submission.student, bundle.assignment)
            with contextlib.closing(grader.api.gradebook) as gb:
                rec = records.record(gb, bundle.assignment, submission.student)
            out = course.autograded / submission.student / bundle.assignment
            return Graded(result, rec, submission_files.read(out) if out.is_dir() else None, worker.address)


@dataclass(frozen=True)
class PrivateCourse(Course):
    """A worker's copy of the course: no source notebooks (solutions stay home); names come from release/."""

    def notebook_names(self, assignment):
        return sorted(p.name for p in (self.release / assignment).glob("*.ipynb"))


def _unpack(course, bundle, submission):
    submission_files.write(course.root, bundle.files)
    if submission.known:
        (course.submitted / submission.student).mkdir(parents=True, exist_ok=True)
    if submission.files is not None:  # an empty folder too: "holds no notebook" is not "no submission"
        folder = course.submitted / submission.student / bundle.assignment
        folder.mkdir(parents=True, exist_ok=True)
        submission_files.write(folder, submission.files)


_digest = {}


def software_digest():
    """A digest of the grading code, the course package (the kernel imports it too)."""
    if not _digest:
        h = hashlib.sha256()
        for path in sorted((ROOT / "course").rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        _digest["course"] = h.hexdigest()
    return _digest["course"]
