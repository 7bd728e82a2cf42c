"""The nbgrader step that judges hidden tests outside the student's kernel.

nbgrader_config.py runs :class:`JudgeHiddenTests` right after the notebook has been executed
(``course.guarded_execute.GuardedExecute``) and before ``SaveAutoGrades`` reads the grades from the outputs.
The verdict's diagnoses go into the cell's metadata for the instructor's report (:mod:`course.judge.diagnosis`).
"""
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course import cells
from course.judge import diagnosis
from course.judge.outputs import judge_cell, strip_records
from course.judge.engine import registry


def _test_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") and not meta.get("solution") else None


class JudgeHiddenTests(Preprocessor):
    """Every test cell with a registered judge gets its verdict as its outputs; every test cell gets its diagnoses
    as its metadata (a visible test's from its error), no other cell keeps any; every record is removed."""

    enabled = Bool(True)  # nbconvert registers configured preprocessors disabled unless they say otherwise

    def preprocess(self, nb, resources):
        checks, earlier = registry(), {}
        for cell in nb.cells:
            diagnosis.drop(cell)  # whatever the submission put there: only the lines below write diagnoses
            if cell.cell_type != "code":
                continue
            test = _test_id(cell)
            if test in checks:
                earlier[test], cell.outputs = judge_cell(test, cell.outputs, earlier, checks)
                diagnosis.write(cell, earlier[test].diagnoses)
                cells.scrub_hidden_lines(cell)  # the record's texts (what the student's code raised) are the student's
            else:
                cell.outputs = strip_records(cell.outputs)
                if test:
                    diagnosis.write(cell, diagnosis.of_outputs(cell.outputs))
        return nb, resources
