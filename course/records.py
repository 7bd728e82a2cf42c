"""Gradebook contents as plain values that travel between gradebooks (and between machines).

Two moves, both used by :mod:`course.cluster`: an assignment's definition (its notebooks and cells, the
hidden tests among them) goes from the course's gradebook into a worker's private SQLite gradebook, and
one graded submission (student, submission, notebooks, grades, comments) comes back.  Values are copied
without their row ids, which differ from one gradebook to the next.
"""
import warnings

from sqlalchemy import inspect

CELL_KINDS = ("grade_cells", "solution_cells", "task_cells", "source_cells")


def record(gb, assignment, student):
    """Everything a gradebook holds about one submission, as plain values (None if it has none)."""
    from nbgrader.api import MissingEntry

    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    return {
        "assignment": assignment,
        "student": (student, _values(sub.student)),
        "submission": _values(sub),
        "notebooks": {nb.name: (_values(nb),
                                {g.name: _values(g) for g in nb.grades},
                                {c.name: _values(c) for c in nb.comments})
                      for nb in sub.notebooks},
    }


def restore(gb, rec):
    """Write a :func:`record` into ``gb``: the submission ends up as it was where it was recorded."""
    from sqlalchemy.exc import SAWarning

    assignment = rec["assignment"]
    student, student_values = rec["student"]
    gb.update_or_create_student(student, **student_values)
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warnings
        warnings.simplefilter("ignore", SAWarning)
        sub = gb.update_or_create_submission(assignment, student)
    _assign(sub, rec["submission"])
    for nb in sub.notebooks:
        nb_values, grades, comments = rec["notebooks"][nb.name]
        _assign(nb, nb_values)
        for grade in nb.grades:
            _assign(grade, grades[grade.name])
        for comment in nb.comments:
            _assign(comment, comments[comment.name])
    gb.db.commit()


def assignment_record(gb, assignment):
    """An assignment as ``nbgrader generate_assignment`` recorded it: notebooks, and every kind of cell."""
    found = gb.find_assignment(assignment)
    return {
        "assignment": (found.name, _values(found)),
        "notebooks": [(nb.name, _values(nb), {kind: [_values(cell) for cell in getattr(nb, kind)]
                                              for kind in CELL_KINDS})
                      for nb in found.notebooks],
    }


def restore_assignment(gb, rec):
    """Write an :func:`assignment_record` into ``gb`` (a gradebook of the same course)."""
    name, values = rec["assignment"]
    gb.update_or_create_assignment(name, **_without_name(values))
    for nb_name, nb_values, cells in rec["notebooks"]:
        gb.update_or_create_notebook(nb_name, name, **_without_name(nb_values))
        for kind, rows in cells.items():
            create = getattr(gb, f"update_or_create_{kind[:-1]}")
            for row in rows:
                create(row["name"], nb_name, name, **_without_name(row))


def _values(row):
    """A row's own column values: no ids, no links to other rows, no class tag (nbgrader sets it)."""
    mapper = inspect(type(row))
    return {c.key: getattr(row, c.key) for table in mapper.tables for c in table.columns
            if not (c.primary_key or c.foreign_keys or c is mapper.polymorphic_on)}


def _without_name(values):
    return {k: v for k, v in values.items() if k != "name"}


def _assign(row, values):
    for key, value in values.items():
        setattr(row, key, value)
