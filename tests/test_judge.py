"""The judge outside the kernel: what a hidden test records, how the grader reads and judges it, and what
it writes into the cell (course/checks/record.py, course/checks/exercises.py, course/judge/)."""
import ast
import json
import math
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.checks import MAX_LINES
from course.checks import computation_graphs as exercises
from course.checks import record
from course.judge import diagnosis, engine
from course.judge.diagnosis import Diagnosis
from course.judge.engine import Verdict, judge
from course.judge.preprocessor import JudgeHiddenTests
from course.repair import RestoreCells
from tests.conftest import ROOT
from mistakes.computation_graphs import MISTAKES
from tests.notebook_runner import run_once


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


def _shop(apple, apple_num, orange, orange_num, tax):
    total = (apple * apple_num + orange * orange_num) * tax
    return total, {"apple": apple_num * tax, "apple_num": apple * tax, "orange": orange_num * tax,
                   "orange_num": orange * tax, "tax": apple * apple_num + orange * orange_num}


def _bundles(exercise, subject):
    with record.capture() as bundles:
        exercise(subject)
    return bundles


def _records(exercise, subject):
    """What the judge reads: the record data of each emitted output."""
    return [bundle[record.MIME] for bundle in _bundles(exercise, subject)]


def _data(exercise, subject):
    [data] = _records(exercise, subject)
    return data


# -- the record ------------------------------------------------------------------------------------------
def test_values_survive_json_exactly_nan_inf_and_negative_zero_included():
    value = (np.array([[1 / 3, np.nan], [np.inf, -0.0]]), {"a": 2, "b": [1.5, None]}, None, True)
    back = record.decode(json.loads(json.dumps(record.encode(value))))
    arr, d, none, flag = back
    assert arr.dtype == float and arr.shape == (2, 2) and arr[0, 0] == 1 / 3 and math.isnan(arr[0, 1])
    assert arr[1, 0] == np.inf and arr[1, 1] == 0 and math.copysign(1, arr[1, 1]) == -1
    assert d["a"].shape == () and float(d["a"]) == 2.0 and float(d["b"][0]) == 1.5 and d["b"][1] is None
    assert none is None and flag is True


def test_a_huge_array_or_a_non_number_is_recorded_by_its_description_only():
    class Layer:
        pass

    huge, opaque, text = (record.decode(record.encode(v)) for v in (np.zeros((200, 100)), Layer(), "715"))
    assert isinstance(huge, record.Opaque) and "(200, 100)" in huge.type_name and "too large" in huge.type_name
    assert opaque.type_name == "Layer" and text.type_name == "str"
    assert len(json.dumps(record.encode(list(range(10_000))))) < 20_000  # a long list keeps MAX_ITEMS items


def test_objects_are_converted_once_at_the_call_and_a_failing_conversion_is_no_crash():
    class Raising:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("no")

    class Loop(list):
        pass

    loop = Loop()
    loop.append(loop)
    assert record.decode(record.encode(Raising())).type_name == "Raising"
    assert record.decode(record.encode(loop))  # nested until MAX_DEPTH, then described


def test_an_object_that_reads_the_callers_frames_finds_nothing_to_copy():
    """The kernel's frames hold inputs, never expected values: an __array__ that looks for the right answer
    in every frame above it (the attack that beat the in-kernel checks) finds nothing and earns nothing."""
    found = []

    class Snoop:
        def __init__(self, shape):
            self.shape = shape

        def __array__(self, dtype=None, copy=None):
            frame = sys._getframe(1)
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    if isinstance(value, np.ndarray) and value.shape == self.shape and value.dtype == float:
                        found.append(value)
                frame = frame.f_back
            return np.zeros(self.shape)

    class SnoopingMul(MulLayer):
        def backward(self, dout):
            shape = np.shape(dout)
            return Snoop(shape), Snoop(shape)

    verdict = judge("test_mul_layer_random", _records(exercises.test_mul_layer_random, SnoopingMul))
    truths = [dout * y for case in exercises.binary_layer_cases(2100) for (x, y), dout in [(case.inputs, case.dout)]]
    assert not verdict.ok and found  # it did read the exercise's arrays: the inputs, nothing more
    assert not any(np.array_equal(f, truth) for f in found for truth in truths if f.shape == truth.shape)


def test_an_exercise_emits_one_complete_record_with_no_expected_value_and_no_warning():
    class Noisy(MulLayer):
        def forward(self, x, y):
            warnings.warn("loud")
            return super().forward(x, y)

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        [bundle] = _bundles(exercises.test_mul_layer_random, Noisy)
    assert not shown
    data = bundle[record.MIME]
    assert set(bundle) == {record.MIME, "text/plain"} and data["complete"] and data["test"] == "test_mul_layer_random"
    assert {e["key"].split(": ")[-1] for e in data["entries"]} >= {"construct", "forward", "backward"}


def test_a_raise_is_recorded_and_stops_only_its_case():
    class Stub:
        def forward(self, x, y):
            raise NotImplementedError("replace this line with your code")

    data = _data(exercises.test_mul_layer_random, Stub)
    raised = [e for e in data["entries"] if "raised" in e]
    assert len(raised) == 6 and all(e["raised"] == "NotImplementedError" for e in raised)
    verdict = judge("test_mul_layer_random", [data])
    assert not verdict.ok and "still has `raise NotImplementedError" in verdict.message


def test_checks_never_import_the_judge():
    """The sandbox hides course/judge from the kernel; the kernel's side must not need it."""
    for path in (ROOT / "course" / "checks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("course.judge") for n in names), path


# -- the judge --------------------------------------------------------------------------------------------
def test_a_correct_layer_passes_and_a_forged_record_cannot_claim_more_than_its_numbers():
    data = _data(exercises.test_mul_layer_random, MulLayer)
    assert judge("test_mul_layer_random", [data]).ok
    forged = json.loads(json.dumps(data))
    forged["entries"] = [e for e in forged["entries"] if not e["key"].startswith("inputs near 1e13")]
    verdict = judge("test_mul_layer_random", [forged])
    assert not verdict.ok and "inputs near 1e13" in verdict.message and "recorded no result" in verdict.message


def test_a_constant_factor_is_named_only_when_it_is_the_same_in_every_case():
    def doubled(*args):
        total, grads = _shop(*args)
        return total, {k: 2 * v for k, v in grads.items()}

    def scrambled(*args):
        total, grads = _shop(*args)
        return total, {k: v * (1 + args[0]) for k, v in grads.items()}  # a different factor in each case

    assert "constant factor of 2 (the same in every case)" in judge(
        "test_shopping_random", _records(exercises.test_shopping_random, doubled)).message
    verdict = judge("test_shopping_random", _records(exercises.test_shopping_random, scrambled))
    assert not verdict.ok and "factor" not in verdict.message


def test_a_failure_that_builds_on_a_failed_layer_says_so_first():
    def wrong(*args):
        total, grads = _shop(*args)
        return total, {**grads, "tax": 0.0}

    failed_mul = {"test_mul_layer_random": Verdict("test_mul_layer_random", False, "...")}
    records = _records(exercises.test_shopping_random, wrong)
    verdict = judge("test_shopping_random", records, failed_mul)
    assert verdict.message.startswith("`buy_apples_and_oranges` uses your `MulLayer`, whose own test failed: fix it first.")
    assert verdict.depends_on == ("test_mul_layer_random",)
    assert judge("test_shopping_random", records, {}).depends_on == ()
    assert judge("test_shopping_random", _records(exercises.test_shopping_random, _shop), failed_mul).ok


def test_the_notebook_run_judges_outside_the_kernel_with_dependencies_and_no_lost_messages():
    nb = ROOT / "source" / "02-computation-graphs" / "computation_graphs.ipynb"
    mistakes = {m.name: m for m in MISTAKES}
    swapped = run_once(nb, mistakes["mul_not_swapped"].cells)
    assert swapped.verdicts["test_shopping_random"].depends_on == ("test_mul_layer_random",)
    assert "constant factor" not in swapped.failed["test_shopping_random"]
    one_value = run_once(nb, mistakes["mul_returns_one_value"].cells).failed["test_mul_layer_random"]
    assert "must return (dx, dy); it returned a single array of shape (3,)" in one_value
    assert "6 check(s) passed" in one_value  # the forward checks collected before the bad backward are kept


# -- the nbgrader step --------------------------------------------------------------------------------------
HIDDEN = "### BEGIN HIDDEN TESTS\nchecks.test_mul_layer_random(MulLayer)\n### END HIDDEN TESTS"


def _cell(grade_id, outputs, points=3):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points,
                         "schema_version": 3}}
    return nbformat.v4.new_code_cell(HIDDEN, metadata=meta, outputs=outputs)


def _display(bundle):
    return nbformat.v4.new_output("display_data", data=bundle)


def _judged(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    JudgeHiddenTests().preprocess(nb, {})
    return nb.cells


def _errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


@pytest.fixture(scope="module")
def good():
    return _bundles(exercises.test_mul_layer_random, MulLayer)[0]


def test_a_pass_becomes_a_tick_and_a_warning_on_stderr_costs_nothing(good):
    stderr = nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: overflow\n")
    [cell] = _judged(_cell("test_mul_layer_random", [stderr, _display(good)]))
    assert not _errors(cell) and all(o.get("name") != "stderr" for o in cell.outputs)
    assert cell.outputs[-1].text.startswith("✓ MulLayer on random inputs")
    assert not any(record.MIME in o.get("data", {}) for o in cell.outputs)


@pytest.mark.parametrize("outputs,message", [
    (lambda good: [], "the test did not finish"),
    (lambda good: [_display(good), _display(good)], "more than one record"),
    (lambda good: [_display({record.MIME: {**good[record.MIME], "complete": False, "stopped": "KeyboardInterrupt"}})],
     "the test did not finish: it stopped at KeyboardInterrupt"),
    (lambda good: [_display({record.MIME: {**good[record.MIME], "test": "test_add_layer_random"}})],
     "another test"),
    (lambda good: [_display({record.MIME: {**good[record.MIME], "entries": [{"key": "x", "value": {"t": "array",
                                                                  "shape": [2], "hex": ["0x1p+0"]}}]}})],
     "cannot be read"),
    (lambda good: [_display({record.MIME: "not json"})], "cannot be read"),
])
def test_a_missing_duplicate_or_forged_record_fails_with_a_clear_message(good, outputs, message):
    [cell] = _judged(_cell("test_mul_layer_random", outputs(good)))
    [error] = _errors(cell)
    assert error.ename == "CheckFailed" and message in error.evalue


def test_an_error_the_judge_did_not_write_stays_and_fails_the_test(good):
    void = nbformat.v4.new_output("error", ename="GradingIntegrityError", evalue="this test does not count",
                                  traceback=["GradingIntegrityError: this test does not count"])
    [cell] = _judged(_cell("test_mul_layer_random", [_display(good), void]))
    assert [e.ename for e in _errors(cell)] == ["GradingIntegrityError"]
    assert not any(o.get("text", "").startswith("✓") for o in cell.outputs)


def test_a_raised_message_quoting_the_hidden_test_is_scrubbed_from_the_verdict():
    class Leaky(MulLayer):
        def backward(self, dout):
            raise RuntimeError(HIDDEN)  # what In[-1] holds while the hidden test runs

    [cell] = _judged(_cell("test_mul_layer_random", [_display(b) for b in _bundles(exercises.test_mul_layer_random,
                                                                                    Leaky)]))
    [error] = _errors(cell)
    assert "raised RuntimeError" in error.evalue and "test_mul_layer_random(MulLayer)" not in error.evalue + str(
        error.traceback)


def test_records_outside_judged_cells_are_removed_and_later_tests_see_earlier_verdicts(good):
    wrong_shop = _bundles(exercises.test_shopping_random, lambda *a: (_shop(*a)[0], {}))[0]
    visible = _cell("test_mul_layer_apple", [_display(good)], points=0)
    cells = _judged(_cell("test_mul_layer_random", []), visible, _cell("test_shopping_random", [_display(wrong_shop)]))
    assert visible.outputs == []
    assert _errors(cells[2])[0].evalue.startswith("`buy_apples_and_oranges` uses your `MulLayer`")


def test_every_judged_test_is_a_test_cell_of_its_notebook():
    ids = set()
    for path in (ROOT / "source").glob("*/*.ipynb"):
        ids |= {c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(path, as_version=4).cells}
    assert set(engine.registry()) <= ids
    assert all(Path(ROOT / "course" / "judge" / f"{p.rsplit('.', 1)[1]}.py").exists() for p in engine.PARTS)


# -- the diagnoses it writes for the instructor's report ------------------------------------------------------
def _diagnoses(*outputs, points=3, grade_id="test_mul_layer_random"):
    [cell] = _judged(_cell(grade_id, list(outputs), points))
    return diagnosis.read(cell)


def _diagnosed(layer):
    """(the verdict's message, the diagnoses in the cell's metadata) for MulLayer's hidden test on ``layer``."""
    [cell] = _judged(_cell("test_mul_layer_random", [_display(b) for b in _bundles(exercises.test_mul_layer_random,
                                                                                    layer)]))
    return _errors(cell)[0].evalue, diagnosis.read(cell)


class Swapped(MulLayer):
    def backward(self, dout):
        return dout * self.x, dout * self.y


class Raising(MulLayer):
    def backward(self, dout):
        raise TypeError("unsupported operand")


class Stub:
    def forward(self, x, y):
        raise NotImplementedError("replace this line with your code")


def test_each_failed_check_is_diagnosed_in_the_cells_metadata_as_its_message_says():
    message, swapped = _diagnosed(Swapped)
    mistake = swapped[0].text
    assert message.startswith("MulLayer on random inputs: 12 problem(s)") and "not swapped" in mistake
    assert swapped == [Diagnosis(diagnosis.MISTAKE, mistake)] * 12, "the checks past the message's 8 lines too"
    assert message.count(f"\n    likely mistake: {mistake}\n") == MAX_LINES
    message, stub = _diagnosed(Stub)
    assert stub == [Diagnosis(diagnosis.NOT_ANSWERED)] * message.count("✗") == [Diagnosis(diagnosis.NOT_ANSWERED)] * 6
    message, raising = _diagnosed(Raising)
    assert set(raising) == {Diagnosis(diagnosis.RAISED, "TypeError")} and "raised TypeError" in message


def test_a_failure_the_judge_did_not_write_is_diagnosed_by_its_error(good):
    name = nbformat.v4.new_output("error", ename="NameError", evalue="name 'MulLayer' is not defined", traceback=[])
    assert _diagnoses(name) == [Diagnosis(diagnosis.ERROR, "NameError: name 'MulLayer' is not defined")]
    void = nbformat.v4.new_output("error", ename="GradingIntegrityError", evalue="this test does not count\n...",
                                  traceback=[])
    assert _diagnoses(_display(good), void) == [Diagnosis(diagnosis.ERROR, "GradingIntegrityError: this test does "
                                                                            "not count")]
    assert _diagnoses(_display({record.MIME: "not json"}))[0].kind == diagnosis.ERROR
    assert _diagnoses(_display(good)) == []


def test_a_visible_tests_failure_is_diagnosed_by_its_error_never_by_its_text():
    def visible(*outputs):
        return _diagnoses(*outputs, points=0, grade_id="test_mul_layer_apple")

    imitation = nbformat.v4.new_output("error", ename="CheckFailed", traceback=[],
                                       evalue="MulLayer: 1 problem(s)\n  ✗ dx\n    likely mistake: forged")
    assert visible(imitation) == [Diagnosis(diagnosis.UNRECOGNISED)]
    stub = nbformat.v4.new_output("error", ename="NotImplementedError", evalue="replace this line", traceback=[])
    assert visible(stub) == [Diagnosis(diagnosis.NOT_ANSWERED)]
    assert visible(nbformat.v4.new_output("stream", name="stdout", text="✓ all 3 checks passed\n")) == []


def test_diagnoses_a_submission_put_into_its_cells_never_survive_grading(good):
    forged = {"diagnoses": [{"kind": diagnosis.MISTAKE, "text": "forged"}]}
    answer = nbformat.v4.new_code_cell("class MulLayer: ...", metadata={
        "course": forged, "nbgrader": {"grade": False, "solution": True, "grade_id": "mul_layer"}})
    markdown = nbformat.v4.new_markdown_cell("text", metadata={"course": forged})
    visible, judged = _cell("test_mul_layer_apple", [], points=0), _cell("test_mul_layer_random", [_display(good)])
    plain = nbformat.v4.new_code_cell("x = 1", metadata={"course": forged})
    for cell in (visible, judged):
        cell.metadata["course"] = forged
    cells = _judged(answer, markdown, visible, judged, plain)
    assert "forged" not in json.dumps([c.metadata for c in cells])
    assert [diagnosis.read(c) for c in cells] == [[], [], [], [], []]
    assert RestoreCells().preprocess_cell(plain, {}, 0)[0].metadata == {}, "dropped before the notebook runs, too"
    RestoreCells().preprocess_cell(markdown, {}, 1)
    assert "course" not in markdown.metadata


def test_the_readmes_example_feedback_is_what_the_test_prints():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("   MulLayer on random inputs"):]
    example = "\n".join(line[3:] for line in block[:block.index("   ```")].splitlines())
    nb = ROOT / "source" / "02-computation-graphs" / "computation_graphs.ipynb"
    swapped = run_once(nb, {m.name: m for m in MISTAKES}["mul_not_swapped"].cells).failed["test_mul_layer_random"]
    assert swapped.startswith(example) and swapped.endswith("\n  ... and 4 more")
