"""Example submissions for the demo: a perfect one, an untouched release copy, classic mistakes, bad input.

They are written under submitted/example-*/ only where nothing is there yet: an existing submission is
never overwritten.
"""
import importlib
from dataclasses import dataclass

import nbformat

from course import submissions
from course.i18n import t
from course.folders import Course

MISTAKES_PER_ASSIGNMENT = 2


@dataclass
class Example:
    student: str
    assignment: str
    what: str
    notebook: object = None   # an nbformat notebook, or
    raw: str = None           # raw text for a corrupt file
    filename: str = None      # a wrong file name


def mistake_catalogue(course, assignment):
    """The MISTAKES list of the catalogue package mistakes/<notebook stem>.py, or [] if there is none."""
    try:
        return importlib.import_module(f"mistakes.{course.source_notebook(assignment).stem}").MISTAKES
    except ModuleNotFoundError:
        return []


def examples(course=None):
    course = course or Course()
    out = []
    for assignment in course.assignments():
        source = nbformat.read(course.source_notebook(assignment), as_version=4)
        release = nbformat.read(course.release_notebook(assignment), as_version=4)
        out.append(Example("example-perfect", assignment, t("every answer right"),
                           submissions.perfect(source, release)))
        out.append(Example("example-untouched", assignment, t("the release copy handed in as it is"), release))
        for mistake in mistake_catalogue(course, assignment)[:MISTAKES_PER_ASSIGNMENT]:
            out.append(Example(f"example-{mistake.name.replace('_', '-')}", assignment, mistake.description,
                               submissions.with_mistake(source, release, mistake)))
    first = course.assignments()[0]
    release = nbformat.read(course.release_notebook(first), as_version=4)
    out.append(Example("example-corrupt", first, t("a notebook file cut off in the middle"),
                       raw=nbformat.writes(release)[:500]))
    out.append(Example("example-renamed", first, t("the notebook saved under another name"),
                       release, filename="my_homework.ipynb"))
    return out


def put_in_place(course, example):
    """Write the example under submitted/ unless that folder exists; returns True if written."""
    folder = course.submitted / example.student / example.assignment
    if folder.exists():
        return False
    folder.mkdir(parents=True)
    path = folder / (example.filename or course.notebook_names(example.assignment)[0])
    if example.raw is not None:
        path.write_text(example.raw)
    else:
        nbformat.write(example.notebook, path)
    return True
