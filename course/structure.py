"""Which test cells a student edited, deleted, moved or copied (nbgrader restores, re-adds or ignores them)."""
from course import cells
from course.notes import CELLS_CHANGED, Note, listed


def structure_notes(nb, release):
    """Test cells the student edited, deleted, moved or copied (nbgrader restores, re-adds or ignores them)."""
    grade_id, is_test = cells.grade_id, cells.is_test
    positions = {}
    for i, cell in enumerate(nb.cells):
        if grade_id(cell):
            positions.setdefault(grade_id(cell), []).append(i)
    answer, tested_by = None, {}
    for cell in release.cells:
        if cells.is_answer(cell):
            answer = grade_id(cell)
        elif is_test(cell):
            tested_by[grade_id(cell)] = answer
    found = {}
    for cell in (c for c in release.cells if is_test(c)):
        gid = grade_id(cell)
        where = positions.get(gid, [])
        if not where:
            found.setdefault("deleted or stripped of their metadata (nbgrader put them back)", []).append(gid)
            continue
        if len(where) > 1:
            found.setdefault("duplicated (only the last copy is graded)", []).append(gid)
        last = nb.cells[where[-1]]
        if last.source != cell.source or last.metadata.get("nbgrader") != cell.metadata.get("nbgrader"):
            found.setdefault("edited (nbgrader graded the original)", []).append(gid)
        tested = tested_by.get(gid)
        if tested in positions and where[-1] < positions[tested][0]:
            found.setdefault("moved above the answer they test", []).append(f"{gid} above {tested}")
    return [Note(CELLS_CHANGED, f"test cells {what}: {listed(ids)}") for what, ids in found.items()]
