"""Run nbgrader for the course: generate, autograde, feedback and export, with a status per submission.

nbgrader's own export writes 0.0 for a submission whose grading crashed.  Here every submission gets
a :class:`Result` whose ``status`` is ``"graded"`` or says why it was not graded, and that status goes
into every table and CSV.  Nothing under submitted/ is ever written.

Every notebook runs in a guarded kernel (:mod:`course.kernel` and :mod:`course.guarded_execute`, configured in nbgrader_config.py):
a memory limit, a time limit per cell and per notebook, a cap on printed output, and the guard of
:mod:`course.guard` that keeps the tests' own tools intact.  What happened on the way (a cell
interrupted, the kernel killed, the tests' tools changed) becomes ``notes`` on the result, and what
:mod:`course.exploits` finds in the submitted code becomes ``flags`` for the instructor to review; neither
changes a score by itself.
"""
import contextlib
import csv
import io
import json
import logging
import os
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry

from course import exploits, structure, submission_files
from course.guarded_execute import EVENTS
from course.i18n import t
from course.folders import Course, CourseError
from course.notes import CELLS_CHANGED, SCAN_FAILED, TAMPERING, Note, kinds

GRADED = "graded"
NOT_GRADED = "not graded"
NO_SUBMISSION = "no submission"


@dataclass
class Result:
    student: str
    assignment: str
    status: str
    score: float = None
    max_score: float = None
    reason: str = ""
    seconds: float = 0.0
    cells: dict = field(default_factory=dict)  # grade_id -> (score, max_score)
    notes: list = field(default_factory=list)  # Notes: what happened while grading (a cell interrupted, ...)
    flags: list = field(default_factory=list)  # Notes: what the instructor should look at (tampering, exploits)
    sandboxed: bool = False  # its kernel ran in the sandbox of course.sandbox (False: --no-sandbox, or unknown)

    @classmethod
    def from_dict(cls, data):
        """A result read back from JSON (grading_status.json)."""
        notes = {k: [Note.from_dict(n) for n in data.get(k, ())] for k in ("notes", "flags")}
        return cls(**{**data, **notes, "cells": {k: tuple(v) for k, v in data.get("cells", {}).items()}})

    def summary(self):
        if self.status == GRADED:
            marks = ([kinds(self.notes)] if self.notes else []) + ([t("flagged")] if self.flags else [])
            return f"{_num(self.score)}/{_num(self.max_score)}" + (f" ({', '.join(marks)})" if marks else "")
        return f"{status_text(self.status)}: {self.reason}" if self.reason else status_text(self.status)


def status_text(status):
    """A status as the instructor reads it, in the edition's language."""
    return {GRADED: t("graded"), NOT_GRADED: t("not graded"), NO_SUBMISSION: t("no submission")}.get(status, status)


def _num(x):
    return f"{x:g}" if x is not None else "-"


class Grader:
    """nbgrader's API for one course folder, loaded once (each nbgrader command costs seconds of start-up)."""

    def __init__(self, course=None, log=print, sandbox=True, figures=""):
        self.course = course or Course()
        self.log = log
        self.sandbox = sandbox  # run every grading kernel in the sandbox (course.sandbox)
        self.figures = figures  # the figures' record the kernels show (course.figure_record), or "": none
        self._api = None

    @property
    def api(self):
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from nbgrader.coursedir import CourseDirectory
            from traitlets.config.loader import PyFileConfigLoader

            # nbgrader runs `alembic` and kernels by name: use this environment's, not whatever PATH finds.
            bindir = str(Path(sys.executable).parent)
            if bindir not in os.environ.get("PATH", "").split(os.pathsep):
                os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
            config_file = self.course.root / "nbgrader_config.py"
            if not config_file.exists():
                raise CourseError(t("{path} is missing: run the course command inside the course folder", path=config_file))
            config = PyFileConfigLoader(config_file.name, path=str(self.course.root)).load_config()
            config.CourseDirectory.root = str(self.course.root)
            config.LimitedKernelManager.sandbox = self.sandbox
            self._api = NbGraderAPI(CourseDirectory(config=config), config=config)
            logging.getLogger("traitlets").setLevel(logging.ERROR)
        return self._api

    # -- generate ------------------------------------------------------------------------------
    def generate(self, assignment):
        self.course.check_assignment(assignment)
        exchange = self.api.config.Exchange.get("root")
        if isinstance(exchange, str):  # the Assignment List and release_assignment need it to exist
            Path(exchange).mkdir(parents=True, exist_ok=True)
        out = self._quiet(self.api.generate_assignment, assignment, force=True)
        if not out["success"]:
            raise CourseError(t("nbgrader could not generate {assignment}:\n{error}", assignment=assignment,
                                 error=_last_error(out)))

    # -- autograde -----------------------------------------------------------------------------
    def preflight(self, student, assignment):
        """Why this submission cannot be graded, or "" if it looks gradable. Reads, never writes."""
        rel = lambda p: p.relative_to(self.course.root)  # noqa: E731 (short paths read better in tables)
        folder = self.course.submitted / student / assignment
        if not (self.course.submitted / student).is_dir():
            return NO_SUBMISSION, t("unknown student: there is no folder {folder}",
                                    folder=rel(self.course.submitted / student))
        if not folder.is_dir():
            return NO_SUBMISSION, t("no folder {folder}", folder=rel(folder))
        links = submission_files.symbolic_links(folder)
        if links:
            # nbgrader would copy what they point to (another student's notebook, source/) into autograded/
            return NOT_GRADED, t("{folder} holds symbolic links ({links}): a submission is plain files; ask the student "
                                 "to hand in the files themselves", folder=rel(folder), links=", ".join(links[:3]))
        for name in self.course.notebook_names(assignment):
            path = folder / name
            if not path.exists():
                found = sorted(p.name for p in folder.glob("*.ipynb"))
                if found:
                    return NOT_GRADED, t("{path} is missing (found {found}: the notebook must keep its name)",
                                         path=rel(path), found=", ".join(found))
                return NOT_GRADED, t("{path} is missing (the folder holds no notebook)", path=rel(path))
            try:
                nb = nbformat.read(path, as_version=4)
            except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError):
                return NOT_GRADED, t("{path} is corrupt (not valid notebook JSON)", path=rel(path))
            except Exception as exc:  # nbformat raises a variety of errors for broken files
                return NOT_GRADED, t("{path} could not be read: {error}", path=rel(path), error=_error(exc)[:160])
            if not any("nbgrader" in c.get("metadata", {}) for c in nb.cells):
                return NOT_GRADED, t("{path} has lost its nbgrader cell metadata (some editors strip it): "
                                     "ask the student to copy their answers into a fresh release copy", path=rel(path))
        return GRADED, ""

    def autograde(self, student, assignment):
        start = time.perf_counter()
        status, reason = self.preflight(student, assignment)
        flags = self.scan(student, assignment) if status != NO_SUBMISSION else []
        if status != GRADED:
            return Result(student, assignment, status, reason=reason, seconds=time.perf_counter() - start, flags=flags,
                          sandboxed=self.sandbox)
        EVENTS.pop((student, assignment), None)
        self.api.config.LimitedKernelManager.figures = str(self.figures or "")
        out = self._quiet(self.api.autograde, assignment, student, force=True, create=True)
        events = EVENTS.pop((student, assignment), [])
        result = self.result(student, assignment)
        result.seconds = time.perf_counter() - start
        result.sandboxed = self.sandbox
        result.notes = [e for e in events if e.kind != TAMPERING] + self.structure(student, assignment)
        result.flags = flags + [e for e in events if e.kind == TAMPERING]
        fatal = [str(e) for e in events if e.fatal]
        if not out["success"] and result.status == GRADED:
            result.status, result.reason = NOT_GRADED, fatal[-1] if fatal else _failure_reason(out)
        elif result.status != GRADED:
            result.reason = fatal[-1] if fatal else result.reason or _failure_reason(out)
        return result

    def scan(self, student, assignment):
        """What the static scan finds in a submission's own code (see :mod:`course.exploits`); reads only."""
        folder = self.course.submitted / student / assignment
        try:
            return exploits.scan_submission(folder, self.course.release_notebook(assignment))
        except Exception as exc:  # the scan reads anything a student hands in; it must not stop the grading
            return [Note(SCAN_FAILED, t("the static scan failed ({error}): review this submission by hand", error=_error(exc)))]

    def structure(self, student, assignment):
        """Notes on test cells the student changed, deleted, moved or copied (nbgrader repairs or ignores them)."""
        path = self.course.submitted / student / assignment / self.course.notebook_names(assignment)[0]
        try:
            return structure.structure_notes(nbformat.read(path, as_version=4), nbformat.read(
                self.course.release_notebook(assignment), as_version=4))
        except Exception as exc:  # as for the scan: a note, never a crash
            return [Note(CELLS_CHANGED, f"the notebook's structure could not be compared ({_error(exc)})")]

    def result(self, student, assignment):
        """What the gradebook says of a submission; a crashed grading has no auto_score."""
        gb = self.api.gradebook
        try:
            with contextlib.closing(gb):
                sub = gb.find_submission(assignment, student)
                cells = {}
                crashed = False
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.auto_score is None and grade.manual_score is None:
                            crashed = True
                        cells[grade.name] = (grade.score, grade.max_score)
                score, max_score = sub.score, sub.max_score
        except MissingEntry:
            return Result(student, assignment, NOT_GRADED, reason=t("nbgrader recorded no submission"))
        if crashed or not (self.course.autograded / student / assignment).exists():
            return Result(student, assignment, NOT_GRADED, reason=t("grading did not finish"), cells=cells)
        return Result(student, assignment, GRADED, score, max_score, cells=cells)

    # -- feedback ------------------------------------------------------------------------------
    def feedback(self, student, assignment):
        out = self._quiet(self.api.generate_feedback, assignment, student, force=True)
        if not out["success"]:
            raise CourseError(t("no feedback for {student}/{assignment}: {error}", student=student,
                                assignment=assignment, error=_last_error(out)))
        return sorted((self.course.feedback / student / assignment).glob("*.html"))

    @staticmethod
    def _quiet(fn, *args, **kwargs):
        """nbgrader prints a great deal; keep its words for error messages only."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return fn(*args, **kwargs)


def _error(exc):
    return f"{type(exc).__name__}: {exc}"


def _last_error(out):
    text = out.get("error") or out.get("log") or "unknown error"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def _failure_reason(out):
    text = (out.get("log") or "") + (out.get("error") or "")
    if "Timeout" in text or "CellTimeoutError" in text or "timed out" in text:
        return t("timed out (a cell ran longer than the per-cell limit)")
    if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text.lower():
        return t("the kernel died (the notebook exited the process or ran out of memory)")
    return _last_error(out)[:200]


def write_csv(results, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([t("student"), t("assignment"), t("status"), t("score"), t("max_score"), t("reason"), t("notes"),
                    t("flags"), t("sandboxed")])
        for r in results:
            w.writerow([r.student, r.assignment, status_text(r.status),
                        "" if r.score is None else r.score, "" if r.max_score is None else r.max_score, r.reason,
                        " | ".join(map(str, r.notes)), " | ".join(map(str, r.flags)), "yes" if r.sandboxed else "no"])
    return Path(path)


def table(results, assignments):
    """A plain-text student × assignment table of scores or reasons, then what happened and what to review."""
    by = {(r.student, r.assignment): r for r in results}
    students = sorted({r.student for r in results})
    header = [t("student")] + assignments
    rows = [[s] + [_cell(by.get((s, a))) for a in assignments] for s in students]
    widths = [max(_width(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines = [line(header), line(["-" * w for w in widths])] + [line(row) for row in rows]
    sections = [
        (t("Not graded (never counted as 0):"), [(r, [r.reason]) for r in results if r.status == NOT_GRADED]),
        (t("What happened while grading:"), [(r, r.notes) for r in results if r.notes and r.status == GRADED]),
        (t("Flagged for review (the score is not changed):"), [(r, r.flags) for r in results if r.flags]),
    ]
    for title, entries in sections:
        if entries:
            lines += ["", title]
            for r, texts in entries:
                lines += [f"  {r.student} / {r.assignment}: {text}" for text in map(str, texts)]
    notice = unsandboxed_notice(results)
    return "\n".join(lines + (["", notice] if notice else []))


def unsandboxed(results):
    """Submissions whose code ran outside the sandbox."""
    return [r for r in results if not r.sandboxed and r.status != NO_SUBMISSION]


def unsandboxed_notice(results):
    """One sentence for every table and report that shows grades some of which were not sandboxed."""
    outside = unsandboxed(results)
    if not outside:
        return ""
    return (f"UNSANDBOXED: {len(outside)} of these submissions were graded without the sandbox: "
            "their code could read and change the course folder, so their grades are only as trustworthy as their code.")


def _width(text):
    """Columns a text takes in a terminal: Hangul (and other wide characters) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(result):
    if result is None or result.status == NO_SUBMISSION:
        return "—"
    if result.status == GRADED:
        return result.summary()
    return t("NOT GRADED") + (t(" (flagged)") if result.flags else "")
