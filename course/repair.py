"""Two repairs of the cell metadata a student (or an editor) changed or duplicated, before nbgrader grades.

nbgrader_config.py runs them in place of nbgrader's own DeduplicateIds and OverwriteCells.
"""
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import DeduplicateIds, OverwriteCells

from course.judge import diagnosis


class RestoreCells(OverwriteCells):
    """nbgrader's OverwriteCells, which also survives the metadata a student (or an editor) changed.

    nbgrader stops grading a notebook whose test cell was marked as an answer or as no test at all
    ("Inconsistent checksums"): here every known cell gets back its kind before nbgrader compares it,
    and a cell that claims a grade_id the assignment does not have becomes an ordinary cell.
    """

    def preprocess_cell(self, cell, resources, index):
        diagnosis.drop(cell)  # a submission's own "diagnoses" never reach the report: only the judge writes them
        meta = cell.metadata.get("nbgrader")
        if not meta or "grade_id" not in meta:
            cell.metadata.pop("nbgrader", None)
            return cell, resources
        try:
            source = self.gradebook.find_source_cell(meta["grade_id"], self.notebook_id, self.assignment_id)
        except MissingEntry:
            cell.metadata.pop("nbgrader")
            return cell, resources
        meta["locked"] = source.locked
        meta["grade"] = self._exists(self.gradebook.find_graded_cell, meta["grade_id"])
        meta["solution"] = self._exists(self.gradebook.find_solution_cell, meta["grade_id"])
        if meta["grade"]:
            meta.setdefault("points", 0)
        return super().preprocess_cell(cell, resources, index)

    def _exists(self, find, grade_id):
        try:
            find(grade_id, self.notebook_id, self.assignment_id)
            return True
        except MissingEntry:
            return False


class DropDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, leaving no empty metadata behind (OverwriteCells fails on it)."""

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
