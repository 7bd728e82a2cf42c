"""What students receive (`course bundle`): the release notebooks and their helpers, no solution, no test."""
import json
import subprocess
import sys
import zipfile

import nbformat
import pytest

from course import bundle
from course.folders import Course
from tests.conftest import ASSIGNMENTS, ROOT
from tests.test_notebooks import _hidden_lines, _solution_lines

COURSE = Course(ROOT)
# Solution lines that the student helpers hold on purpose: file -> (why, the lines).  Any other solution line
# in these files fails the test like anywhere else.
SHARED_ON_PURPOSE = {
    "course/gradcheck.py": ("the numerical gradient every gradient check needs (the book's §4.4 code); Part 1 "
                            "grades the student's own numerical_gradient on inputs of its own",
                            {"grad[idx] = (f_plus - f_minus) / (2 * h)", "original = x[idx]",
                             "x[idx] = original + h", "x[idx] = original - h"}),
    "course/checks/layers.py": ("the reference softmax the Part 3 checks compare with (the book's §3.5 code)",
                                {"return e / e.sum(axis=1, keepdims=True)"}),
    "course/graphs.py": ("the drawings' topological order, the same iterative depth-first search as the bonus "
                         "Value.backward of Part 4 (the bonus earns its points for the autograd around it)",
                         {"if inputs_done:"}),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = bundle.write_bundle(COURSE, tmp_path_factory.mktemp("bundle") / "student.zip")
    with zipfile.ZipFile(path) as z:
        return {name.split("/", 1)[1]: z.read(name).decode() for name in z.namelist() if not name.endswith("/")}, path


def _text_lines(name, text):
    if name.endswith(".ipynb"):
        return {line.strip() for c in json.loads(text)["cells"] for line in "".join(c["source"]).splitlines()}
    return {line.strip() for line in text.splitlines()}


def test_the_bundle_holds_the_release_and_the_student_helpers_only(archive):
    files, _ = archive
    assert {f"release/{a}/{COURSE.notebook_names(a)[0]}" for a in ASSIGNMENTS} <= set(files)
    assert {"run.py", "requirements.txt", "pyproject.toml", "README.md", "course/checks/computation_graphs.py"} <= set(files)
    tops = {name.split("/")[0] for name in files}
    assert tops == {"release", "course", "run.py", "requirements.txt", "pyproject.toml", "README.md"}
    grader_only = ("grading", "kernel", "guarded_execute", "repair", "guard", "sandbox", "exploits", "structure", "pycode", "cluster", "records", "report", "feedback", "cli",
                   "examples", "submissions", "bundle", "__main__")
    assert not [n for n in files if n.startswith("course/judge/") or n in {f"course/{m}.py" for m in grader_only}]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_line_is_in_the_bundle(archive, assignment):
    files, _ = archive
    source = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    releases = [nbformat.read(COURSE.release_notebook(a), as_version=4) for a in ASSIGNMENTS]
    given = {line.strip() for nb in releases for c in nb.cells for line in c.source.splitlines()}
    secret = _solution_lines(source) - given  # what only the solutions say (not `return out`, ...)
    hidden = _hidden_lines(source) - given
    for name, text in files.items():
        lines = _text_lines(name, text)
        assert not hidden & lines, (name, sorted(hidden & lines)[:3])
        shared = SHARED_ON_PURPOSE.get(name, ("", set()))[1]
        assert not (secret & lines) - shared, (name, sorted((secret & lines) - shared)[:3])


def test_the_student_helpers_import_without_the_rest_of_the_course(archive, tmp_path):
    _, path = archive
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    folder = tmp_path / bundle.NAME
    imports = "import course, course.checks.why_backprop, course.checks.computation_graphs, course.checks.layers, " \
              "course.checks.homework, course.graphs, course.widgets, course.data; print(course.__file__)"
    run = subprocess.run([sys.executable, "-c", imports], cwd=folder, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(folder), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-1000:]
    assert run.stdout.strip().startswith(str(folder))
