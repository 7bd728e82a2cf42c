"""Run a source notebook in this process, as nbgrader's autograder would, and say which test cells fail.

A fast stand-in for a kernel, used to prove the whole mistake catalogue (tests/test_catalogue.py) and the
checks' other promises; the real nbgrader pipeline (tests/test_grading.py) proves the stand-in is faithful
on a few of the same submissions.

The student's view of the notebook: each answer cell holds the instructor's solution without its
``### BEGIN/END SOLUTION`` lines, or the replacement given in ``answers``.  Every code cell then runs top
to bottom in one fresh namespace, with NBGRADER_EXECUTION=autograde so heavy demonstrations shrink.  Test
cells run in full, hidden tests included, as when grading; a hidden test's record is captured and judged
after its cell by the grader's own judge (course.judge.outputs.judge_cell), as nbgrader_config.py's
JudgeHiddenTests does after the kernel has run the notebook.  Like nbgrader (which runs every cell with
allow_errors), a cell that raises is recorded and the run carries on; so is a cell that runs past
nbgrader's time limit, which is interrupted.
"""
import contextlib
import io
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402

from course.cells import grade_id, is_answer, is_test  # noqa: E402
from course.checks import record  # noqa: E402
from course.judge.outputs import judge_cell  # noqa: E402
from course.judge.engine import registry  # noqa: E402
from course.submissions import solution_code  # noqa: E402

CELL_TIMEOUT = 60  # seconds: nbgrader_config.py's Execute.timeout, after which nbgrader interrupts the cell


class Interrupted(BaseException):
    """Raised in a cell that ran too long.  Like the KeyboardInterrupt of nbgrader's interrupt it is no
    Exception, so a student's ``except Exception`` does not swallow it."""


class Run(dict):
    """{test grade_id: None if the test cell passed, else its failure message}, in notebook order.

    ``errors`` holds the other cells (setup, answers, demonstrations) that raised, by grade_id or
    ``cell <index>``; ``namespace`` is what the notebook defined.
    """

    def __init__(self):
        super().__init__()
        self.errors = {}
        self.verdicts = {}  # test grade_id -> the judge's Verdict, for the hidden tests judged outside the kernel
        self.namespace = {"__name__": "__main__", "display": lambda *objects, **options: None}

    @property
    def failed(self):
        """{test grade_id: failure message} for the test cells that lost their points."""
        return {grade_id: message for grade_id, message in self.items() if message is not None}


def run_notebook(source_path, answers=None, env=None):
    """Run the source notebook at ``source_path`` as a student's submission; returns a ``Run``.

    answers: {answer grade_id: whole cell code} replacing the solution of those cells.
    env: extra environment variables for the run (NBGRADER_EXECUTION is "autograde" unless given).
    """
    nb = nbformat.read(str(source_path), as_version=4)
    cells = solution_code(nb)
    unknown = set(answers or {}) - set(cells)
    if unknown:
        raise KeyError(f"no answer cell with grade_id {', '.join(sorted(unknown))} in {source_path}")
    cells.update(answers or {})

    run, checks = Run(), registry()
    with _isolated({"NBGRADER_EXECUTION": "autograde", **(env or {})}, os.path.dirname(os.path.abspath(source_path))):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            name = grade_id(cell) or f"cell {index}"
            with record.capture() as bundles:
                error = _execute(cells[name] if is_answer(cell) else cell.source, name, run.namespace)
            plt.close("all")  # as the inline backend does after each cell
            if is_test(cell) and name in checks:
                run.verdicts[name] = _judged(name, bundles, error, run.verdicts, checks)
                error = None if run.verdicts[name].ok else run.verdicts[name].message
            if is_test(cell):
                run[name] = error
            elif error is not None:
                run.errors[name] = error
    return run


def _judged(name, bundles, error, verdicts, checks):
    """The verdict on a hidden test cell, from the records it emitted and the error it raised, if any."""
    outputs = [nbformat.v4.new_output("display_data", data=b) for b in bundles]
    if error is not None:
        ename, _, evalue = error.partition(": ")
        outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[error]))
    return judge_cell(name, outputs, verdicts, checks)[0]


_RUNS = {}  # (real source path, sorted answers) -> Run, for the whole test session


def _key(source_path, answers):
    return os.path.realpath(source_path), tuple(sorted((answers or {}).items()))


def run_once(source_path, answers=None):
    """``run_notebook`` remembered for the test session: the catalogue's tests and the tests of the checks'
    messages share one run per submission.  The result is shared: read it, don't change it."""
    key = _key(source_path, answers)
    if key not in _RUNS:
        _RUNS[key] = run_notebook(key[0], dict(key[1]))
    return _RUNS[key]


def run_ahead(submissions):
    """Run these (source_path, answers) submissions on every core, in other processes, for ``run_once`` to
    return; a run made there comes back without its namespace (None), which stays there.

    The processes are forks of this one (ready at once) while it runs no other thread; else fresh Pythons,
    as a fork would copy the locks that another thread (a Dask client's, say) holds."""
    keys = [key for key in dict.fromkeys(_key(path, answers) for path, answers in submissions) if key not in _RUNS]
    workers = min(len(keys), os.cpu_count() or 1)
    if workers < 2:
        return
    start = "fork" if threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start)) as pool:
        _RUNS.update(zip(keys, pool.map(_run_elsewhere, keys)))


def _run_elsewhere(key):
    run = run_notebook(key[0], dict(key[1]))
    run.namespace = None
    return run


def _execute(source, name, namespace):
    """Run one cell's code; None if it finished, else the message a student would read."""
    try:
        with _time_limit(CELL_TIMEOUT):
            exec(compile(source, f"<{name}>", "exec"), namespace)
    except (Exception, Interrupted) as exc:  # a cell that raises loses its points; the notebook carries on
        return f"{type(exc).__name__}: {exc}"
    return None


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the code inside after ``seconds`` (where signals allow it: in the main thread, on Unix)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(f"the cell ran longer than {seconds} s and was interrupted")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _isolated(env, folder):
    """What one run may change, given back afterwards: environment, working folder, recursion limit,
    numpy's global random state and error handling, matplotlib's settings, warning filters, and output."""
    environ, cwd, limit, random_state = dict(os.environ), os.getcwd(), sys.getrecursionlimit(), np.random.get_state()
    os.environ.update(env)
    os.chdir(folder)  # nbgrader runs a notebook in its own folder
    try:
        with np.errstate(), matplotlib.rc_context(), warnings.catch_warnings(), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # a kernel shows warnings next to the cell; they cost no points
            yield
    finally:
        plt.close("all")
        os.chdir(cwd)
        sys.setrecursionlimit(limit)
        np.random.set_state(random_state)
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)
