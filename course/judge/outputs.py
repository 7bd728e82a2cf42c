"""A judged test cell's outputs: the record taken out, the verdict written in.

Shared by the nbgrader preprocessor (:mod:`course.judge.preprocessor`) and the in-process notebook runner of
the tests, so both grade a cell the same way.  nbgrader scores a test cell by its outputs: an error output
costs its points, so does a stderr stream; otherwise it earns them all.
"""
from dataclasses import replace

import nbformat

from course.checks.record import MIME
from course.judge import diagnosis
from course.judge.engine import judge


def is_record(output):
    return output.get("output_type") in ("display_data", "execute_result") and MIME in output.get("data", {})


def strip_records(outputs):
    """The outputs without any record (a record is data for the judge, never shown to the student)."""
    return [o for o in outputs if not is_record(o)]


def judge_cell(test, outputs, earlier, checks=None):
    """(Verdict, new outputs) for the test cell ``test`` whose execution left ``outputs``.

    An error the judge did not write (the guard voiding the test, a timeout, a name the notebook never
    defined) stays, and the cell fails whatever its record says, diagnosed by that error.  The student's stderr
    becomes stdout: in a judged cell the verdict speaks for the values, and a warning costs nothing.
    """
    records = [o["data"][MIME] for o in outputs if is_record(o)]
    kept = [nbformat.v4.new_output("stream", name="stdout", text=o.get("text", ""))
            if o.get("output_type") == "stream" and o.get("name") == "stderr" else o for o in strip_records(outputs)]
    verdict = judge(test, records, earlier, checks)
    foreign = [o for o in kept if o.get("output_type") == "error"]
    if foreign:
        ename, evalue = foreign[0].get("ename", "Error"), foreign[0].get("evalue", "")
        return replace(verdict, ok=False, message=f"{ename}: {evalue}",
                       diagnoses=(diagnosis.of_error(ename, evalue),)), kept
    if verdict.ok:
        return verdict, kept + [nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n")]
    return verdict, kept + [nbformat.v4.new_output("error", ename="CheckFailed", evalue=verdict.message,
                                                   traceback=[f"CheckFailed: {verdict.message}"])]
