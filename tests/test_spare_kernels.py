"""Spare kernels (course/kernel.py): the next notebook's sandboxed kernel starts while this one runs.

Three Part 2 submissions graded one after the other in this process, through the real pipeline: the second
and the third run in kernels started before they were known.  Each must find its own files beside its
notebook and nothing of the student before it, and score exactly as its answers deserve.
"""
import os

import pytest

from course import kernel, sandbox
from course.grading import GRADED
from tests.adversarial import ALL_WRONG, answers, attack_course

pytestmark = pytest.mark.sandbox
needs_bwrap = pytest.mark.skipif(not sandbox.available().ok and os.environ.get("CI") != "true",
                                 reason=f"no sandbox here: {sandbox.available().why}")

# The answer cell reads the student's MulLayer from a file handed in beside the notebook, after checking
# that nothing the previous student handed in is there.
FROM_FILE = '''
import os
assert not os.path.exists("{other}"), "a file of the previous student is here"
exec(open("{mine}").read())
'''
MUL_LAYER = {"right": "class MulLayer:\n    def forward(self, x, y):\n        self.x, self.y = x, y\n        return x * y\n\n"
                      "    def backward(self, dout):\n        return dout * self.y, dout * self.x\n",
             "wrong": ALL_WRONG["mul_layer"]}


@needs_bwrap
def test_each_spare_kernel_holds_its_own_submission_and_nothing_before_it(tmp_path, monkeypatch):
    kernel.SPARES.discard()  # a spare another test's grading left, with the same settings, would be taken first
    course, grader, submit = attack_course(tmp_path, "")
    plan = [("ann", "right", "bob.txt"), ("bob", "wrong", "ann.txt"), ("cy", "right", "bob.txt")]
    for student, version, other in plan:
        submit(answers({"mul_layer": FROM_FILE.format(other=other, mine=f"{student}.txt")}), student)
        (course.submitted / student / "02-computation-graphs" / f"{student}.txt").write_text(MUL_LAYER[version])
    taken = []
    take = kernel.Spares.take
    monkeypatch.setattr(kernel.Spares, "take", lambda self, key: taken.append(take(self, key)) or taken[-1])

    results = {student: grader.autograde(student, "02-computation-graphs") for student, _, _ in plan}

    assert [km is not None and km.warm for km in taken] == [False, True, True], "the 2nd and 3rd ran in spares"
    assert all(r.status == GRADED for r in results.values()), {s: r.summary() for s, r in results.items()}
    for student, version, _ in plan:
        lost = {cell for cell, (score, top) in results[student].cells.items() if score < top}
        assert ("test_mul_layer_random" in lost) == (version == "wrong"), (student, lost)
        assert not lost - {"test_mul_layer_random", "test_shopping_random", "test_drinks_random"}, (student, lost)
    assert results["ann"].cells == results["cy"].cells and results["ann"].score == results["ann"].max_score
