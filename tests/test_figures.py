"""The course's figures drawn once and shown again while a class is graded (course/figure_cache.py).

Part 2 submissions graded through the real pipeline, in the sandbox: with the release notebook's record a
submission's autograded notebook is byte for byte what drawing every figure gives; a record whose PNGs are
all replaced by a marker shows the marker for every course figure, on the cluster too (so the record is
really used); a figure the notebook changed after drawing it is rendered; a submission cannot write the
record it is shown.
"""
import base64
import json
import os

import nbformat
import pytest

from course import cluster, figure_record, sandbox
from course.grading import GRADED
from tests.adversarial import ASSIGNMENT, answers, attack_course

pytestmark = pytest.mark.sandbox
needs_bwrap = pytest.mark.skipif(not sandbox.available().ok and os.environ.get("CI") != "true",
                                 reason=f"no sandbox here: {sandbox.available().why}")

MARKER = base64.b64encode(b"the recorded figure").decode()
CHANGED = '''
fig = draw(graphs.apple(), title="2 apples at 100 won, 10 % tax")
fig.axes[0].set_title("my own title")
fig
'''
POISON = '''
import os
try:
    with open(os.environ["COURSE_FIGURES"], "a") as record:
        record.write("[]\\n")
    print("the record took it")
except OSError as exc:
    print("refused:", type(exc).__name__)
'''
PERFECT = ["perfect-1", "perfect-2"]


def _outputs(course, student):
    nb = nbformat.read(next((course.autograded / student / ASSIGNMENT).glob("*.ipynb")), as_version=4)
    return [cell.outputs for cell in nb.cells if cell.cell_type == "code"]


def _pngs(outputs):
    return [o["data"]["image/png"] for cell in outputs for o in cell if "image/png" in o.get("data", {})]


def _marked(record):
    return b"".join(json.dumps([key, MARKER]).encode() + b"\n" for key, _ in map(json.loads, record.splitlines()))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    course, grader, submit = attack_course(folder, "")
    for student in ["drawn", "shown", *PERFECT]:
        submit(answers(), student)
    submit(answers(extra=CHANGED), "changed")
    submit(answers(extra=POISON), "poisoner")
    record = figure_record.record(course, ASSIGNMENT)
    results = {"drawn": grader.autograde("drawn", ASSIGNMENT)}
    grader.figures = str(folder / "record.json")
    (folder / "record.json").write_bytes(record)
    results["shown"] = grader.autograde("shown", ASSIGNMENT)
    # On the cluster, the record the client makes travels with the bundle: here, the marked one, and for a
    # class of four (a real one records from figure_record.RECORD_FROM submissions on).
    real, least = figure_record.record, figure_record.RECORD_FROM
    figure_record.record, figure_record.RECORD_FROM = (lambda *args: _marked(real(*args))), len(PERFECT) + 2
    try:
        with cluster.connect(jobs=1) as client:
            results.update({r.student: r for r in cluster.grade(client, course, ASSIGNMENT,
                                                                [*PERFECT, "changed", "poisoner"])})
    finally:
        figure_record.record, figure_record.RECORD_FROM = real, least
    return course, record, results


@needs_bwrap
def test_the_record_holds_every_course_figure_of_part_2(graded):
    course, record, _ = graded
    assert len(record.splitlines()) == len(_pngs(_outputs(course, "drawn"))) == 8


@needs_bwrap
def test_shown_from_the_record_the_notebook_is_what_drawing_gives(graded):
    course, _, results = graded
    assert results["drawn"].status == results["shown"].status == GRADED
    assert results["shown"].score == results["shown"].max_score
    assert _outputs(course, "shown") == _outputs(course, "drawn")


@needs_bwrap
def test_on_the_cluster_every_course_figure_comes_from_the_record(graded):
    course, _, results = graded
    for student in PERFECT:
        assert results[student].score == results[student].max_score, results[student].summary()
        assert _pngs(_outputs(course, student)) == [MARKER] * 8, student


@needs_bwrap
def test_a_figure_changed_after_drawing_is_rendered(graded):
    course, _, results = graded
    drawn = _pngs(_outputs(course, "drawn"))
    pngs = _pngs(_outputs(course, "changed"))
    assert results["changed"].score == results["changed"].max_score
    assert len(pngs) == 9 and pngs[1:] == [MARKER] * 8, "the extra cell's figure comes first"
    assert pngs[0] not in (MARKER, drawn[0]), "the changed figure is rendered, with its own title"


@needs_bwrap
def test_a_submission_cannot_write_the_record_it_is_shown(graded):
    course, _, results = graded
    outputs = _outputs(course, "poisoner")
    said = [o.get("text", "") for cell in outputs for o in cell if o.get("output_type") == "stream"]
    assert any(text.startswith("refused:") for text in said), said
    assert results["poisoner"].score == results["poisoner"].max_score
    assert _pngs(outputs) == [MARKER] * 8
