"""Attacks that act while a hidden test runs, each next to the honest mistake it hides.

Since the judge moved out of the kernel (course/judge/), a hidden test in the kernel only calls the
student's code and records what it returned; the grader rebuilds the inputs and the expected values
itself.  Code in the student's process can still act during that call: threads, trace and profile hooks,
the garbage collector, objects that convert differently each time, forged record outputs.  Every attack
below keeps a catalogued mistake (``WRONG_MUL``: dout passed on as an add node would, or a difference
quotient posing as a backward pass) and must score, cell by cell, no more than that mistake scores alone
(``honest=``, a case graded in the same batch).
"""
from tests.adversarial import ALL_WRONG, Case, answers

WRONG_MUL = ALL_WRONG["mul_layer"]

# The student's own code finds out that a hidden test runs: the main thread is inside the exercise.
IN_HIDDEN_TEST = '''
import sys
import threading
import time


def in_hidden_test():
    """The hidden test's cell (it calls checks.test_...) or the exercise it calls is on the main thread."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(("checks/exercises.py", "checks/record.py")) or (
                "checks" in code.co_names and any(n.startswith("test_") for n in code.co_names)):
            return True
        frame = frame.f_back
    return False


def in_guard():
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        if frame.f_code.co_filename.endswith("course/guard.py"):
            return True
        frame = frame.f_back
    return False


def race(patch, undo):
    """Patch whenever a hidden test runs and the guard does not look; undo at once otherwise."""
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible: many chances to win the race
    patched = False
    while True:
        time.sleep(5e-5)
        wanted = in_hidden_test() and not in_guard()
        if wanted and not patched:
            patch()
        elif patched and not wanted:
            undo()
        patched = wanted


def start(patch, undo):
    threading.Thread(target=race, args=(patch, undo), daemon=True).start()
'''

# The checks, the recorder and numpy patched by a thread: the kernel's cases become ones where dout passed
# on is right (x = y = 1), failed entries are dropped, and numpy's comparisons always agree.
THREAD_PATCHES_CHECKS = WRONG_MUL + IN_HIDDEN_TEST + '''
import numpy as np
import course.checks
import course.checks.computation_graphs as graph_checks
import course.checks.record as record


class Ones:
    """Draws that make x = y = 1 in every case (normal * 3 and uniform * 1e13)."""
    def normal(self, size=None):
        return np.full(size if size is not None else (), 1 / 3)

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.full(size if size is not None else (), 1e-13)


real = {"rng": graph_checks.rng, "add": record.Recorder._add, "allclose": np.allclose, "isclose": np.isclose}


def keep_only_successes(self, entry):
    if "raised" not in entry:
        real["add"](self, entry)


def patch():
    graph_checks.rng = course.checks.rng = lambda seed: Ones()
    record.Recorder._add = keep_only_successes
    np.allclose = lambda *args, **kwargs: True
    np.isclose = lambda a, b, *args, **kwargs: np.full(np.shape(a), True)


def undo():
    graph_checks.rng = course.checks.rng = real["rng"]
    record.Recorder._add = real["add"]
    np.allclose, np.isclose = real["allclose"], real["isclose"]


start(patch, undo)
'''

# The student's own method swapped by a thread: a difference quotient while a hidden test runs (right on
# small inputs), the wrong backward otherwise.
THREAD_SWAPS_METHOD = WRONG_MUL + IN_HIDDEN_TEST + '''
wrong_backward = MulLayer.backward


def quotient_backward(self, dout, h=1e-4):
    x, y = self.x, self.y
    return dout * ((x + h) * y - (x - h) * y) / (2 * h), dout * (x * (y + h) - x * (y - h)) / (2 * h)


def patch():
    MulLayer.backward = quotient_backward


def undo():
    MulLayer.backward = wrong_backward


start(patch, undo)
'''

# A profile hook rewrites the recorder's local `value` as it is encoded: for each backward, the
# "right-looking" answer, a numerical gradient of the student's own forward.  The kernel holds no
# expected value, so this is the best a hook can do, and the inputs near 1e13 defeat it.  The guard
# removes hooks before a test, so backward installs it during the test; it removes itself as the record
# leaves, before the guard looks again.
PROFILE_NUMERICAL = WRONG_MUL + '''
import sys
import course.checks.record as record

ENCODE, EMIT = record.encode.__code__, record._emit.__code__


def numerical(layer, dout, h=1e-4):
    x, y = layer.x, layer.y
    dx = dout * (layer.forward(x + h, y) - layer.forward(x - h, y)) / (2 * h)
    dy = dout * (layer.forward(x, y + h) - layer.forward(x, y - h)) / (2 * h)
    layer.x, layer.y = x, y
    return dx, dy


def rewrite(frame, event, arg):
    if event != "call":
        return
    if frame.f_code is EMIT:
        sys.setprofile(None)
    if frame.f_code is not ENCODE or frame.f_locals.get("depth"):
        return
    caller = frame.f_back.f_locals
    fn = caller.get("fn")
    if str(caller.get("key", "")).endswith(": backward") and getattr(fn, "__closure__", None):
        layers = [c.cell_contents for c in fn.__closure__ if isinstance(c.cell_contents, MulLayer)]
        if layers:
            frame.f_locals["value"] = numerical(layers[0], caller["args"][0])


wrong_backward = MulLayer.backward


def backward(self, dout):
    sys.setprofile(rewrite)
    return wrong_backward(self, dout)


MulLayer.backward = backward
'''

# A trace hook rewrites the exercise's local `case` as each case starts: inputs and dout where dout passed
# on is right (x = y = dout = 1), under the real case's label.  Installed by backward during the test
# (from the second case on, every case is rewritten), removed as the record leaves.
TRACE_EASY_CASES = WRONG_MUL + '''
import dataclasses
import sys
import numpy as np
import course.checks.exercises as exercises
import course.checks.record as record

EXERCISE, EMIT = exercises.LayerExercise._exercise.__code__, record._emit.__code__


def easy(frame, event, arg):
    if event == "call" and frame.f_code is EMIT:
        sys.settrace(None)
    if event == "call" and frame.f_code is EXERCISE:
        case = frame.f_locals["case"]
        ones = tuple(np.ones_like(x) for x in case.inputs)
        frame.f_locals["case"] = dataclasses.replace(case, inputs=ones, dout=np.ones_like(case.dout),
                                                     other=ones if case.other else ())


wrong_backward = MulLayer.backward


def backward(self, dout):
    sys.settrace(easy)
    return wrong_backward(self, dout)


MulLayer.backward = backward
'''

# The garbage collector searched for the judge's data: checks, truth functions, expected values.  The
# kernel holds none (course.checks never imports course.judge), so the wrong backward is all it has.
GC_HUNT = '''
import gc
import sys


def judge_objects():
    found = [m for name, m in list(sys.modules.items()) if name.startswith("course.judge")]
    for obj in gc.get_objects():
        try:
            modules = str(getattr(type(obj), "__module__", "")) + " " + str(getattr(obj, "__module__", ""))
            if "course.judge" in modules or (isinstance(obj, dict) and "expected" in obj):
                found.append(obj)
        except Exception:  # an object whose attributes raise
            pass
    return found


hunts = []


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        if len(hunts) < 4:  # a hunt takes a while; a few per notebook are enough
            hunts.append(judge_objects())
        for obj in hunts[-1]:
            for check in getattr(obj, "CHECKS", [obj]):
                if getattr(check, "subject", "") == "MulLayer" and getattr(check, "exact", None):
                    return check.exact(self.x, self.y, dout)
        return dout, dout
'''

# The judge imported from the student's code: on a branch without the sandbox it is on the kernel's path,
# and its exact rule is the right answer.  The scan flags it today; behind the sandbox the import fails.
IMPORT_JUDGE = '''
try:
    from course.judge import computation_graphs as judge
except ImportError:
    judge = None


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        if judge is not None:
            return judge.CHECKS[0].exact(self.x, self.y, dout)
        return dout, dout
'''

# Results that are something else on every conversion, and look in the callers' frames for an expected
# value to become (there is none: the kernel only records).
SHIFTY_VALUES = '''
import itertools
import sys
import numpy as np

WANTED = ("expected", "exp", "truth", "want", "correct", "answer", "target")


class Shifty:
    def __init__(self, fallback):
        self.values = itertools.cycle([fallback, 0.0, 1e300, float("nan")])

    def _snoop(self):
        frame = sys._getframe(2)
        while frame is not None:
            for name in WANTED:
                if name in frame.f_locals:
                    return np.asarray(frame.f_locals[name], dtype=float)
            frame = frame.f_back
        return np.asarray(next(self.values), dtype=float)

    def __array__(self, dtype=None, copy=None):
        return self._snoop()

    def __float__(self):
        return float(np.sum(self._snoop()))

    def __index__(self):
        return int(np.sum(np.nan_to_num(self._snoop())))

    def __len__(self):
        return 2

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return Shifty(dout), Shifty(dout)
'''

# Forged records: a record emitted from the student's code during the hidden test (on top of the real
# one), another in the answer cell, and a printed verdict that looks like the grader's.
FORGED_RECORDS = '''
import sys
from IPython.display import publish_display_data

MIME = "application/vnd.backprop.record+json"


def forged(test):
    return {"version": 1, "test": test, "complete": True, "stopped": "", "entries": [], "dropped": 0}


publish_display_data({MIME: forged("test_mul_layer_random"), "text/plain": "record"})


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        if any(f.f_code.co_filename.endswith("checks/exercises.py") for f in _frames()):
            publish_display_data({MIME: forged("test_mul_layer_random"), "text/plain": "record"})
            print("✓ MulLayer on random inputs: all checks passed")
        return dout, dout


def _frames():
    frame = sys._getframe()
    while frame is not None:
        yield frame
        frame = frame.f_back
'''

# The recorder's sink replaced from inside backward: the real record is rewritten on its way out (its
# failing backward entries dropped, marked complete), and the sink is put back so the guard sees nothing.
FORGED_SINK = '''
import course.checks.record as record


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        if record._sink is not forge:
            real_sink[0] = record._sink
            record._sink = forge
        return dout, dout


real_sink = [record._sink]


def forge(bundle):
    record._sink = real_sink[0]
    data = bundle[record.MIME]
    data["entries"] = [e for e in data["entries"] if not e["key"].endswith("backward")]
    data["complete"] = True
    real_sink[0](bundle)
'''

HONEST_MUL = "mistake-mul"
HONEST_QUOTIENT = "hand-numerical-backward"  # in the catalogue of tests/adversarial/__init__.py
FRAMES = "inspects call frames"
THREADS = "threads, processes"
OWN_CHECKS = "tests' own checks"

CASES = [
    Case(HONEST_MUL, "the honest mistake the attacks below hide: MulLayer.backward passes dout on",
         answers({"mul_layer": WRONG_MUL}), zero=("test_mul_layer_random",)),
    Case("thread-patches-checks", "a thread patches the case generator, the recorder and numpy only while a "
         "hidden test runs", answers({"mul_layer": THREAD_PATCHES_CHECKS}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=(THREADS, FRAMES, OWN_CHECKS), racy=True),
    Case("thread-swaps-method", "a thread swaps the student's backward for a difference quotient only while a "
         "hidden test runs", answers({"mul_layer": THREAD_SWAPS_METHOD}), honest=HONEST_QUOTIENT,
         zero=("test_mul_layer_random",), flags=(THREADS, FRAMES), racy=True),
    Case("profile-numerical", "sys.setprofile rewrites the recorded backward with a numerical gradient of the "
         "student's forward", answers({"mul_layer": PROFILE_NUMERICAL}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=(FRAMES, OWN_CHECKS),
         says=(("test_mul_layer_random", "for inputs near 1e13 (use the local derivative"),)),
    Case("trace-easy-cases", "sys.settrace rewrites each case the exercise runs into one the wrong backward "
         "gets right", answers({"mul_layer": TRACE_EASY_CASES}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=(FRAMES, OWN_CHECKS),
         says=(("test_mul_layer_random", "forward output for shape"),)),
    Case("gc-hunt", "gc.get_objects() searched for the judge's checks and expected values",
         answers({"mul_layer": GC_HUNT}), honest=HONEST_MUL, zero=("test_mul_layer_random",), flags=(FRAMES,)),
    # Without the sandbox the judge is importable and this earns every point (flagged for review); behind
    # the sandbox the import fails and the honest mistake is all that is left.
    Case("import-judge", "course.judge imported from the student's code for its exact rule",
         answers({"mul_layer": IMPORT_JUDGE}), honest=HONEST_MUL, flags=(OWN_CHECKS,), needs_sandbox=True),
    Case("shifty-values", "backward returns objects that convert differently each time and search the frames "
         "for an expected value", answers({"mul_layer": SHIFTY_VALUES}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=(FRAMES, "compare or convert")),
    Case("forged-records", "record outputs forged in the answer cell and during the hidden test, and a "
         "printed verdict", answers({"mul_layer": FORGED_RECORDS}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=(FRAMES, "reaches into IPython"),
         says=(("test_mul_layer_random", "more than one record"),)),
    Case("forged-sink", "the recorder's sink replaced during the test: failing entries dropped, the record "
         "marked complete", answers({"mul_layer": FORGED_SINK}), honest=HONEST_MUL,
         zero=("test_mul_layer_random",), flags=("patches course", OWN_CHECKS),
         says=(("test_mul_layer_random", "the test recorded no result"),)),
]
