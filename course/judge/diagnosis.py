"""What a test cell's failures say about the student's code, as typed records for the instructor's report.

The judge knows, for every failed check, whether it named a likely mistake, whether the student's code raised
(the stub's NotImplementedError or another exception), or neither; :class:`Diagnosis` keeps exactly that.
:class:`course.judge.preprocessor.JudgeHiddenTests` writes every test cell's diagnoses into the cell's metadata
under :data:`KEY` (a judged cell's from its verdict, a visible test's from its error), and :mod:`course.report`
reads them there: nobody parses a message back.

Trust: the metadata comes from the grader only.  Code running in the student's kernel can produce outputs, never
cell metadata (the kernel sends outputs; the grader writes the notebook file).  A submitted notebook can carry
any metadata, though: ``course.repair.RestoreCells`` drops :data:`KEY` from every cell before the notebook runs,
and the judge drops it again from every cell and then writes it on the test cells, so whatever a submission put
there never reaches the report.
"""
from dataclasses import asdict, dataclass

from course import cells

KEY = "course"  # the cell metadata the judge writes (nbgrader's own marks are under "nbgrader")

MISTAKE = "mistake"            # the check named a likely mistake (text: the mistake)
NOT_ANSWERED = "not answered"  # the student's code still raises the stub's NotImplementedError
RAISED = "raised"              # the student's code raised another exception (text: its type)
ERROR = "error"                # the test could not be judged (text: why, or the error the judge did not write)
UNRECOGNISED = "unrecognised"  # wrong, and no catalogued mistake fits
KINDS = (MISTAKE, NOT_ANSWERED, RAISED, ERROR, UNRECOGNISED)
MAX_TEXT = 200  # characters: an error's first line is the student's text, and metadata is no place for essays


@dataclass(frozen=True)
class Diagnosis:
    """One failed check's diagnosis: its kind (one of KINDS) and, for some kinds, a text (see above)."""
    kind: str
    text: str = ""


def of_failure(failure):
    """The diagnosis of one failed check (a :class:`course.checks.Failure`)."""
    if failure.mistake:
        return Diagnosis(MISTAKE, failure.mistake)
    if failure.not_answered:
        return Diagnosis(NOT_ANSWERED)
    if failure.raised:
        return Diagnosis(RAISED, failure.raised)
    return Diagnosis(UNRECOGNISED)


def of_error(ename, evalue=""):
    """The diagnosis of an error output the judge did not write (the guard voiding the test, a timeout, a name
    the notebook never defined, a visible test's failure)."""
    if ename == "NotImplementedError":
        return Diagnosis(NOT_ANSWERED)
    if ename == "CheckFailed":
        # A checklist's verdict in the kernel (a visible test): its text is the kernel's, which the student's code
        # can imitate, so it is not read for mistakes.
        return Diagnosis(UNRECOGNISED)
    first = _first_line(evalue)
    return Diagnosis(ERROR, (f"{ename}: {first}" if first else ename)[:MAX_TEXT])


def of_outputs(outputs):
    """The diagnoses of a test cell the judge does not judge (a visible test), from its error outputs."""
    return tuple(of_error(o.get("ename", "Error"), o.get("evalue", "")) for o in outputs
                 if o.get("output_type") == "error")


def unjudged(why):
    """A test whose record could not be judged, and why."""
    return Diagnosis(ERROR, _first_line(why)[:MAX_TEXT])


def _first_line(text):
    text = str(text).strip()
    return text.splitlines()[0] if text else ""


def write(cell, diagnoses):
    """Put ``diagnoses`` into a test cell's metadata, replacing whatever was there."""
    cell.metadata[KEY] = {"diagnoses": [asdict(d) for d in diagnoses]}


def drop(cell):
    """Remove any diagnoses from a cell (a submission may have put some there)."""
    cell.get("metadata", {}).pop(KEY, None)


def read(cell):
    """The diagnoses the judge wrote into a test cell; [] for any other cell."""
    meta = (cell.get("metadata") or {}).get(KEY)
    if not cells.is_test(cell) or not isinstance(meta, dict) or not isinstance(meta.get("diagnoses"), list):
        return []
    return [Diagnosis(d["kind"], str(d.get("text", ""))) for d in meta["diagnoses"]
            if isinstance(d, dict) and d.get("kind") in KINDS]
