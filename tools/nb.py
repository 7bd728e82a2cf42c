"""Authoring helpers: build an nbgrader source notebook from a list of cells.

The notebooks under source/ are the source of truth (instructors edit them in JupyterLab); these
helpers only spare a script-writing author the nbgrader metadata.  Usage::

    from tools.nb import md, setup, answer, test, hidden_test, write
    write("source/02-computation-graphs/computation_graphs.ipynb", [md("# ..."), setup("import ..."), ...])
"""
import textwrap

import nbformat

from course import cells

SCHEMA = 3


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {"schema_version": SCHEMA, "grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text):
    """A markdown cell students may edit (notes)."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text):
    """A plain code cell (demonstrations students may change)."""
    return nbformat.v4.new_code_cell(text.strip("\n"))


def setup(text, grade_id="setup"):
    """A locked code cell (imports): restored from the gradebook copy at autograde time."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(grade_id, locked=True))


def answer(grade_id, text):
    """A student's answer cell; code between ### BEGIN/END SOLUTION is removed in the release."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(grade_id, solution=True))


def test(grade_id, points, text):
    """A visible, locked test cell worth ``points``."""
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=_meta(grade_id, grade=True, locked=True, points=points))


def hidden_test(grade_id, points, what, call):
    """A locked test cell whose ``call`` is hidden from students; ``what`` tells them what it checks."""
    header = textwrap.wrap(f"Hidden test ({points} point{'s' if points != 1 else ''}): {what}", 100)
    text = "\n".join(f"# {line}" for line in header)
    text += f"\n{cells.BEGIN_HIDDEN}\n{call.strip()}\n{cells.END_HIDDEN}"
    return test(grade_id, points, text)


def write(path, cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    nbformat.write(nb, path)
