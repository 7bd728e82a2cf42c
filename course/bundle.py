"""What students receive: the release notebooks and the helpers they import, never solutions or tests.

``course bundle`` writes a zip archive with one folder: release/, the student part of the ``course``
package (an allow-list: a module added later stays out until it is put here), requirements.txt, run.py
(whose ``lab`` command opens JupyterLab on release/) and a package file without the instructor's command.
The course folder itself (source/, tests/, the gradebook, submissions) must never be handed out.
"""
import zipfile
from pathlib import Path

from course.folders import ROOT, Course, CourseError

NAME = "backprop-course-student"
# What the release notebooks import: the checks their tests call, numerical gradients, drawings, the data.
# The catalogues in locale/ speak the Korean edition's messages.
STUDENT_MODULES = ("__init__.py", "checks", "data.py", "diagnose.py", "drawing.py", "figure_cache.py", "gradcheck.py",
                   "graphs.py", "i18n.py", "locale", "widgets.py")
FILES = ("requirements.txt", "run.py")

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "backprop-course-student"
version = "0.1.0"
description = "Backprop from the Ground Up: the student notebooks and their helpers"
requires-python = ">=3.10"

[tool.setuptools.packages.find]
include = ["course*"]
"""

README = """# Backprop from the Ground Up: student copy

With Python 3.11:

    python3 run.py lab

creates `.venv/` (about a minute the first time) and opens JupyterLab on `release/`. Open the notebook of the
current assignment, run its first cell first, and press Validate before you hand it in.
"""


def student_files(course):
    """(path in the archive, file on disk) for everything a student gets."""
    # An edition's course folder (ko/) has its own release/; the package and the set-up files are the course's.
    files = [(Path("release") / p.relative_to(course.release), p) for p in sorted(course.release.rglob("*"))
             if p.is_file() and ".ipynb_checkpoints" not in p.parts]
    for name in STUDENT_MODULES:
        path = ROOT / "course" / name
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        files += [(p.relative_to(ROOT), p) for p in found if "__pycache__" not in p.parts]
    files += [(Path(name), ROOT / name) for name in FILES]
    return files


def write_bundle(course=None, path=None):
    """Write the students' archive; returns its path."""
    course = course or Course()
    path = Path(path or course.root / f"{NAME}.zip")
    if not course.release.is_dir():
        raise CourseError(f"{course.release} is missing: run `course generate` first")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for inside, disk in student_files(course):
            archive.write(disk, f"{NAME}/{inside.as_posix()}")
        archive.writestr(f"{NAME}/pyproject.toml", PYPROJECT)
        archive.writestr(f"{NAME}/README.md", README)
    return path
