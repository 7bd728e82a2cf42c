"""Where things live in a course folder, and what its assignments are.

A course folder holds nbgrader_config.py, source/<assignment>/<notebook>.ipynb and the folders nbgrader
writes (release/, submitted/, autograded/, feedback/).  Assignment names start with their place in the
course (01-why-backprop, 02-computation-graphs, ...).
"""
from dataclasses import dataclass
from pathlib import Path

from course.i18n import t

ROOT = Path(__file__).resolve().parent.parent


class CourseError(Exception):
    """A problem the instructor can fix, with a message that says how."""


@dataclass(frozen=True)
class Course:
    root: Path = ROOT

    @classmethod
    def here(cls):
        """The course folder we are in (it has nbgrader_config.py), else the one this package belongs to."""
        cwd = Path.cwd()
        return cls(cwd if (cwd / "nbgrader_config.py").exists() else ROOT)

    @property
    def source(self):
        return self.root / "source"

    @property
    def release(self):
        return self.root / "release"

    @property
    def submitted(self):
        return self.root / "submitted"

    @property
    def autograded(self):
        return self.root / "autograded"

    @property
    def feedback(self):
        return self.root / "feedback"

    def assignments(self):
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))

    def check_assignment(self, name):
        known = self.assignments()
        if name not in known:
            raise CourseError(t("unknown assignment {name!r}: the assignments in {folder} are {known}",
                                 name=name, folder=self.source, known=", ".join(known)))
        return name

    def notebook_names(self, assignment):
        """The notebook file names an assignment expects (from source/)."""
        return sorted(p.name for p in (self.source / assignment).glob("*.ipynb"))

    def source_notebook(self, assignment):
        """The assignment's single source notebook (every assignment of this course has one)."""
        return self.source / assignment / self.notebook_names(assignment)[0]

    def release_notebook(self, assignment):
        return self.release / assignment / self.notebook_names(assignment)[0]

    def students(self):
        if not self.submitted.exists():
            return []
        return sorted(p.name for p in self.submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
