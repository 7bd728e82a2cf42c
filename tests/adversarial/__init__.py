"""Submissions that attack the grading itself, built from the Part 2 release notebook.

Each :class:`Case` writes one student's folder under submitted/ and says what grading it must get: the
status (and the words of the reason when it is not graded), the test cells that must score 0, the
most it may score, and what the notes and flags must mention.  Most attacks come with wrong answers
("all wrong" below scores 0 when graded honestly), so any point they get is a point not earned; the
attacks of :mod:`tests.adversarial.during` hide one catalogued mistake each and may score no more than
that mistake alone.
"""
import json
from dataclasses import dataclass
from typing import Callable

import nbformat

from course import sandbox, submissions
from course.grading import Grader

ASSIGNMENT = "02-computation-graphs"
# Whether grading runs behind the sandbox (course/sandbox.py), which keeps course.judge out of the kernel's
# reach: the cases marked needs_sandbox are held to their bound wherever it runs (always in CI).
SANDBOXED = sandbox.available().ok
MUL_TESTS = ("test_mul_layer_apple", "test_mul_layer_random")
ADD_TESTS = ("test_add_layer_numbers", "test_add_layer_random")
GRAPH_TESTS = ("test_shopping_book_numbers", "test_shopping_random", "test_drinks_quiz", "test_drinks_random")
HIDDEN_TESTS = ("test_mul_layer_random", "test_add_layer_random", "test_shopping_random", "test_drinks_random")
ALL_TESTS = MUL_TESTS + ADD_TESTS + GRAPH_TESTS

# Right forward passes, wrong backward passes: every test fails, honestly graded this scores 0.
ALL_WRONG = {
    "mul_layer": '''
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout, dout
''',
    "add_layer": '''
class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return 1, 1
''',
}

HIDE_TRACEBACKS = '''
ip = get_ipython()
ip.showtraceback = lambda *args, **kwargs: None
ip._showtraceback = lambda *args, **kwargs: None
'''

CUSTOM_EXC = '''
get_ipython().set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: None)
'''

FAKE_SUCCESS_HOOK = '''
from IPython.display import clear_output

def forget_errors(result):
    result.error_in_exec = None
    result.error_before_exec = None
    clear_output()

get_ipython().events.register("post_run_cell", forget_errors)
'''

FAKE_PARTIAL_CREDIT = '''
import sys

class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        sys.displayhook(1)  # nbgrader reads a number shown by a test cell as its score
        return dout, dout
'''

AST_TRANSFORMER = '''
import ast

class DropTests(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])

get_ipython().ast_transformers.append(DropTests())
'''

INPUT_TRANSFORMER = '''
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
'''

SESSION_SEND = '''
kernel = get_ipython().kernel
real_send = kernel.session.send

def send(stream, msg_or_type, content=None, *args, **kwargs):
    if msg_or_type == "error":
        return None
    if msg_or_type == "execute_reply" and isinstance(content, dict):
        content = {**content, "status": "ok"}
    return real_send(stream, msg_or_type, content, *args, **kwargs)

kernel.session.send = send
'''

PATCH_NUMPY = '''
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.full(np.shape(a), True)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.random.seed = lambda *args, **kwargs: None
np.abs = np.zeros_like
np.ones = np.zeros  # the gradient comparison builds its mask of judged entries with np.ones
'''

PATCH_COURSE = '''
import course.checks
import course.gradcheck
import course.checks.computation_graphs as graph_checks
from course.gradcheck import Comparison

def always_right(name, *args, **kwargs):
    return Comparison(name, True, f"{name}: correct")

course.gradcheck.compare = always_right
course.checks.compare = always_right
course.checks.Checklist.verdict = lambda self: print("✓ all checks passed")
course.checks.Checklist.close = lambda self, *args, **kwargs: True
for name in ("test_mul_layer_random", "test_add_layer_random", "test_shopping_random", "test_drinks_random"):
    setattr(graph_checks, name, lambda *args, **kwargs: None)
'''

REDEFINE_HELPERS = '''
from contextlib import contextmanager

class Agreeable:
    def __getattr__(self, name):
        return lambda *args, **kwargs: True

@contextmanager
def checklist(title):
    yield Agreeable()

def expect_close(*args, **kwargs):
    pass
'''

FAKE_MODULE = '''
import sys
import types

fake = types.ModuleType("course.checks.computation_graphs")
for name in ("test_mul_layer_random", "test_add_layer_random", "test_shopping_random", "test_drinks_random"):
    setattr(fake, name, lambda *args, **kwargs: None)
sys.modules["course.checks.computation_graphs"] = fake
import course.checks
course.checks.computation_graphs = fake
'''

# The gradient comparison scales its tolerance by max(1.0, largest expected value): make that huge.
PATCH_BUILTINS = '''
import builtins
real_max = builtins.max

def max(*args, **kwargs):
    if len(args) == 2 and args[0] == 1.0:
        return 1e300
    return real_max(*args, **kwargs)

builtins.max = max
'''

# The tools are changed by the student's code while the test runs, after the guard has checked them.
PATCH_DURING_TEST = '''
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        import course.checks
        import numpy
        course.checks.Checklist.verdict = lambda self: None
        course.checks.Checklist.close = lambda self, *args, **kwargs: True
        numpy.isclose = lambda a, b, *args, **kwargs: numpy.full(numpy.shape(a), True)
        return dout, dout
'''

ALWAYS_EQUAL = '''
import numpy as np

class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    __ne__ = lambda self, other: np.zeros(np.shape(self), dtype=bool)

    def __bool__(self):
        return True

class Anything:
    def __eq__(self, other):
        return True

    def __float__(self):
        return 0.0

class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return np.asarray(dout, dtype=float).view(Agreeable), Anything()
'''

# __array__ looks up the caller's expected values: its result is whatever the check expects.
SNOOP_EXPECTED = '''
import sys
import numpy as np

class Snoop:
    def __array__(self, dtype=None, copy=None):
        frame = sys._getframe(1)
        while frame is not None:
            for name in ("expected", "exp"):
                if name in frame.f_locals:
                    return np.asarray(frame.f_locals[name], dtype=float)
            frame = frame.f_back
        return np.zeros(1)

    def __float__(self):
        return float(self.__array__())

class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return Snoop(), Snoop()
'''

HARD_CODED = {
    "mul_layer": '''
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        if self.y == 1.1:
            return 1.1, 200
        return 2.2, 110
''',
    "add_layer": '''
class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return 1.1, 1.1
''',
    "shopping_graph": '''
def buy_apples_and_oranges(apple, apple_num, orange, orange_num, tax):
    return 715, {"apple": 2.2, "apple_num": 110, "orange": 3.3, "orange_num": 165, "tax": 650}
''',
    "drinks_graph": '''
def drinks_total(water, water_per_member, juice, juice_per_member, members):
    return 48000, {"water": 20, "water_per_member": 15000, "juice": 10, "juice_per_member": 18000,
                   "members": 4800}
''',
}

# The course's own numerical_gradient (imported by the setup cell) in place of the chain rule.
NUMERICAL_BACKWARD = '''
import numpy as np

class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        x, y = np.array(self.x, dtype=float), np.array(self.y, dtype=float)
        dx = numerical_gradient(lambda v: np.sum(v * y * dout), x.copy())
        dy = numerical_gradient(lambda v: np.sum(x * v * dout), y.copy())
        return dx, dy
'''

# A hand-written central difference: no helper to catch at run time, only the scan sees it.
HAND_NUMERICAL_BACKWARD = '''
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout, h=1e-4):
        x, y = self.x, self.y
        dx = dout * ((x + h) * y - (x - h) * y) / (2 * h)
        dy = dout * (x * (y + h) - x * (y - h)) / (2 * h)
        return dx, dy
'''

# The student's code reseeds and draws from numpy's global generator; the tests use their own.
RANDOM_STATE = {
    "mul_layer": '''
import numpy as np
np.random.seed(1234)

class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        np.random.rand(10)
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x
''',
    "add_layer": '''
import numpy as np

class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * np.random.rand(), dout
''',
}

# Prints the running test cell's source (IPython's input history) and raises it as the error message.
LEAK_HIDDEN_TEST = '''
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        source = get_ipython().user_ns["In"][-1]
        print(source)
        raise RuntimeError(source)
'''

INFINITE_LOOP = "while True:\n    pass\n"
IGNORES_INTERRUPT = '''
import time
while True:
    try:
        time.sleep(0.5)
    except KeyboardInterrupt:
        pass
'''
HUGE_ALLOCATION = "import numpy as np\nhog = np.ones(20 * 2**30 // 8)  # 20 GB\n"
OUTPUT_FLOOD = "\nfor start in range(0, 1_000_000, 1000):\n    print(\"\\n\".join(map(str, range(start, start + 1000))))\n"

SHADOW_CHECKS = '''
def _nothing(*args, **kwargs):
    pass

test_mul_layer_random = test_add_layer_random = test_shopping_random = test_drinks_random = _nothing
'''


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Callable  # (solution answers, release notebook, folder, notebook file name) -> None
    status: str = "graded"
    reason: str = ""  # words the reason must contain when the submission is not graded
    zero: tuple = ()  # test cells that must score 0
    most: float = None  # the most it may score in total
    notes: tuple = ()  # words some note must contain
    flags: tuple = ()  # words some flag must contain
    exact: float = None  # the score it must get (honest work, fully earned)
    honest: str = ""  # the case of the honest mistake it hides: no cell may score more than that case's
    racy: bool = False  # a race in the student's process: graded a second time, each run judged on its own
    needs_sandbox: bool = False  # only the sandbox keeps it from its points (see SANDBOXED)
    says: tuple = ()  # (test cell, words its failure message must contain): which wall stopped it


def _write(nb, folder, filename):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / filename)


def answers(cells=None, prefix=None, suffix=None, extra=""):
    """A builder: the solution with ``cells`` replaced, ``prefix`` and ``suffix`` put before and after
    named answers, and ``extra`` code in a cell of its own after the setup cell (as a student adds a cell)."""
    def build(solution, release, folder, filename):
        code = {**solution, **(cells or {})}
        for grade_id, before in (prefix or {}).items():
            code[grade_id] = before + "\n" + code[grade_id]
        for grade_id, after in (suffix or {}).items():
            code[grade_id] = code[grade_id] + "\n" + after
        nb = submissions.fill(release, code)
        if extra:
            nb.cells.insert(2, nbformat.v4.new_code_cell(extra))
        _write(nb, folder, filename)
    return build


def restructured(change, cells=None):
    """A builder: answers (the solution with ``cells`` replaced), then ``change(nb)`` on the notebook's cells."""
    def build(solution, release, folder, filename):
        nb = submissions.fill(release, {**solution, **(cells or {})})
        change(nb)
        _write(nb, folder, filename)
    return build


def _tests(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _edit_tests(nb):
    for cell in _tests(nb):
        cell.source = "pass  # no test here"


def _delete_tests(nb):
    nb.cells = [c for c in nb.cells if c not in _tests(nb)]


def _move_test_up(nb):
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells]
    test = nb.cells.pop(ids.index("test_mul_layer_apple"))
    nb.cells.insert(ids.index("mul_layer"), test)


def _copy(cell, source=None):
    """The cell copied as an editor copies it: same source and metadata, a cell id of its own."""
    metadata = json.loads(json.dumps(cell.metadata))
    return nbformat.v4.new_code_cell(cell.source if source is None else source, metadata=metadata)


def _duplicate_tests_last_copy_edited(nb):
    for cell in _tests(nb):
        nb.cells.insert(nb.cells.index(cell) + 1, _copy(cell, "pass  # the copy nbgrader keeps"))


def _duplicate_tests(nb):
    for cell in _tests(nb):
        nb.cells.insert(nb.cells.index(cell) + 1, _copy(cell))


def _inflate_points(nb):
    for cell in _tests(nb):
        cell.metadata.nbgrader["points"] = 100


def _tests_become_answers(nb):
    for cell in _tests(nb):
        cell.metadata.nbgrader.update(solution=True, locked=False)


def _add_bonus_test(nb):
    """A cell of the student's own that claims to be a 50-point test with a grade_id of its own."""
    nb.cells.append(nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {
        "schema_version": 3, "grade": True, "solution": False, "locked": True, "grade_id": "bonus", "points": 50}}))


def _strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def corrupt(solution, release, folder, filename):
    folder.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(submissions.fill(release, solution))
    (folder / filename).write_text(text[: len(text) // 2])


def wrong_name(solution, release, folder, filename):
    _write(submissions.fill(release, solution), folder, filename.replace(".ipynb", " (1).ipynb"))


def empty_folder(solution, release, folder, filename):
    folder.mkdir(parents=True, exist_ok=True)


def shadowing_package(solution, release, folder, filename):
    """Wrong answers, and a fake `course` package beside the notebook whose checks do nothing."""
    answers(ALL_WRONG)(solution, release, folder, filename)
    package = folder / "course" / "checks"
    package.mkdir(parents=True)
    (folder / "course" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(
        "from contextlib import contextmanager\n\n"
        "class _Yes:\n    def __getattr__(self, name):\n        return lambda *a, **k: True\n\n"
        "@contextmanager\ndef checklist(title):\n    yield _Yes()\n\n"
        "def expect_close(*args, **kwargs):\n    pass\n")
    (package / "computation_graphs.py").write_text(SHADOW_CHECKS)


CASES = [
    Case("perfect", "the instructor's solution", answers(), exact=13),
    # -- the machine ----------------------------------------------------------------------------
    Case("infinite-loop", "an infinite loop at the top of the MulLayer cell",
         answers(prefix={"mul_layer": INFINITE_LOOP}), zero=MUL_TESTS + GRAPH_TESTS, notes=("timed out",)),
    Case("ignores-interrupt", "a loop that swallows KeyboardInterrupt", answers(prefix={"mul_layer": IGNORES_INTERRUPT}),
         status="not graded", reason="ignored the interrupt", flags=("catches KeyboardInterrupt",)),
    Case("os-exit", "os._exit(0) after the AddLayer class", answers(cells={"add_layer": "import os\nos._exit(0)\n"}),
         status="not graded", reason="kernel died", flags=("exits or signals",)),
    Case("ipython-exit", "IPython's exit() after the AddLayer class",
         answers(suffix={"add_layer": "exit()\n"}), status="not graded", reason="kernel died",
         flags=("exits or signals",)),
    Case("sys-exit", "sys.exit() at the top of the MulLayer cell", answers(prefix={"mul_layer": "import sys\nsys.exit()\n"}),
         zero=MUL_TESTS + GRAPH_TESTS, flags=("exits or signals",)),
    Case("huge-allocation", "a 20 GB allocation at the top of the MulLayer cell",
         answers(prefix={"mul_layer": HUGE_ALLOCATION}), zero=MUL_TESTS + GRAPH_TESTS, notes=("out of memory",)),
    Case("output-flood", "a million lines printed after the MulLayer class",
         answers(suffix={"mul_layer": OUTPUT_FLOOD}), exact=13, notes=("output cut",)),
    # -- IPython's error display and execution ----------------------------------------------------
    Case("hide-tracebacks", "showtraceback replaced by a function that shows nothing", answers(ALL_WRONG, extra=HIDE_TRACEBACKS),
         most=0, flags=("reaches into IPython",)),
    Case("custom-exc", "every exception handled by a custom handler that shows nothing",
         answers(ALL_WRONG, extra=CUSTOM_EXC), most=0, flags=("reaches into IPython",)),
    Case("fake-success-hook", "a post_run_cell hook that clears errors and marks every cell a success",
         answers(ALL_WRONG, extra=FAKE_SUCCESS_HOOK), most=0, flags=("reaches into IPython", "tampering")),
    Case("fake-partial-credit", "backward shows a number, which nbgrader reads as a test's partial credit",
         answers({**ALL_WRONG, "mul_layer": FAKE_PARTIAL_CREDIT}), most=0, flags=("tampering",)),
    Case("ast-transformer", "an AST transformer that empties every later cell",
         answers(ALL_WRONG, extra=AST_TRANSFORMER), most=0, flags=("reaches into IPython", "tampering")),
    Case("input-transformer", "an input transformer that replaces every later cell by `pass`",
         answers(ALL_WRONG, extra=INPUT_TRANSFORMER), most=0, flags=("reaches into IPython", "tampering")),
    Case("session-send", "the kernel's message sender patched to drop errors and report success",
         answers(ALL_WRONG, extra=SESSION_SEND), most=0, flags=("reaches into IPython", "tampering")),
    # -- the tests' own tools -----------------------------------------------------------------------
    Case("patch-numpy", "np.allclose, np.isclose, np.testing, np.random.seed, np.abs and np.ones patched",
         answers(ALL_WRONG, extra=PATCH_NUMPY), most=0, flags=("patches numpy", "tampering")),
    Case("patch-course", "course.gradcheck.compare, course.checks and the Part 2 checks replaced",
         answers(ALL_WRONG, extra=PATCH_COURSE), most=0, flags=("patches course", "tampering")),
    Case("redefine-helpers", "checklist and expect_close redefined to accept anything",
         answers(ALL_WRONG, extra=REDEFINE_HELPERS), most=0, flags=("redefines a helper",)),
    Case("fake-checks-module", "a do-nothing module put in sys.modules in place of the Part 2 checks",
         answers(ALL_WRONG, extra=FAKE_MODULE), most=0, flags=("sys.modules", "tampering")),
    Case("patch-builtins", "the builtin max replaced, so that every gradient is within tolerance",
         answers(ALL_WRONG, extra=PATCH_BUILTINS), most=0, flags=("patches builtins", "tampering")),
    Case("patch-during-test", "backward patches the checks and numpy while the test runs",
         answers({**ALL_WRONG, "mul_layer": PATCH_DURING_TEST}), most=0, flags=("patches course", "tampering")),
    Case("leak-hidden-test", "backward prints the running test's source and raises it as its error",
         answers({**ALL_WRONG, "mul_layer": LEAK_HIDDEN_TEST}), most=0, flags=("reaches into IPython",)),
    Case("random-state", "numpy's global generator reseeded and used; AddLayer's gradient uses it (wrong)",
         answers(RANDOM_STATE), zero=ADD_TESTS + GRAPH_TESTS, exact=4),
    Case("shadowing-package", "a do-nothing `course` package shipped beside the notebook", shadowing_package,
         most=0, flags=("ships Python files",)),
    # -- results that are not what they seem ----------------------------------------------------------
    Case("always-equal", "backward returns objects whose comparisons always say True",
         answers({**ALL_WRONG, "mul_layer": ALWAYS_EQUAL}), most=0, flags=("compare or convert",)),
    # The visible tests' numbers are printed in the notebook, so reading them is no better than hard-coding
    # them (the next case); the hidden tests' expected values must stay out of reach.
    Case("snoop-expected", "backward returns objects that read the expected values from the check's frames",
         answers({**ALL_WRONG, "mul_layer": SNOOP_EXPECTED}), zero=HIDDEN_TESTS, flags=("inspects call frames",)),
    Case("hard-coded", "the book's numbers returned whatever the inputs", answers(HARD_CODED),
         zero=HIDDEN_TESTS, most=0, flags=("hard-coded",)),  # the visible tests it passes earn no points
    Case("numerical-backward", "MulLayer.backward computed with the course's numerical_gradient",
         answers({"mul_layer": NUMERICAL_BACKWARD}), zero=MUL_TESTS, flags=("numerical gradient",)),
    Case("hand-numerical-backward", "MulLayer.backward computed with a hand-written central difference",
         # its numbers for the book's example are right (the visible test); the hidden test's inputs near
         # 1e13, where x ± h rounds to x, tell a difference quotient from the local derivative
         answers({"mul_layer": HAND_NUMERICAL_BACKWARD}), zero=("test_mul_layer_random",),
         flags=("numerical gradient",)),
    # -- the notebook's structure ---------------------------------------------------------------
    Case("edited-tests", "every test cell replaced by `pass`", restructured(_edit_tests, ALL_WRONG),
         most=0, notes=("edited",)),
    Case("deleted-tests", "every test cell deleted", restructured(_delete_tests, ALL_WRONG),
         most=0, notes=("deleted",)),
    Case("moved-test", "a test cell moved above the answer it tests", restructured(_move_test_up),
         zero=("test_mul_layer_apple",), exact=13, notes=("moved above",)),  # a visible test earns nothing
    Case("duplicated-tests", "every test cell duplicated", restructured(_duplicate_tests),
         exact=13, notes=("duplicated",)),
    Case("duplicated-tests-edited", "every test cell duplicated, the last copy replaced by `pass`",
         restructured(_duplicate_tests_last_copy_edited, ALL_WRONG), most=0, notes=("duplicated",)),
    Case("inflated-points", "every test cell's points raised to 100", restructured(_inflate_points),
         exact=13, notes=("edited",)),
    Case("tests-become-answers", "every test cell's metadata turned into an answer cell's",
         restructured(_tests_become_answers, ALL_WRONG), most=0),
    Case("bonus-test", "a cell of the student's own posing as a 50-point test",
         restructured(_add_bonus_test, ALL_WRONG), most=0),
    Case("metadata-stripped", "the nbgrader metadata stripped from every cell", restructured(_strip_metadata),
         status="not graded", reason="lost its nbgrader cell metadata"),
    Case("corrupt-json", "the notebook file cut in half", corrupt, status="not graded", reason="corrupt"),
    Case("wrong-name", "the notebook saved under another name", wrong_name, status="not graded",
         reason="must keep its name"),
    Case("empty-folder", "an assignment folder with nothing in it", empty_folder, status="not graded",
         reason="holds no notebook"),
]


def attack_course(folder, limits):
    """A course copy in ``folder`` with ``limits`` added to its nbgrader config and Part 2 generated.

    Returns (course, grader, submit): ``submit(build, student)`` writes that student's submission with a
    builder (a :class:`Case`'s ``build``, :func:`answers`, ...).
    """
    from tests.conftest import make_course_copy  # (conftest imports pytest: not for the bench scripts)

    course = make_course_copy(folder)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(limits)
    grader = Grader(course, log=lambda *a: None)
    grader.generate(ASSIGNMENT)
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    solution = submissions.solution_code(nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4))
    filename = course.notebook_names(ASSIGNMENT)[0]

    def submit(build, student):
        build(solution, release, course.submitted / student / ASSIGNMENT, filename)
    return course, grader, submit


from tests.adversarial import during  # noqa: E402  (its cases are built from the helpers above)

CASES += during.CASES
