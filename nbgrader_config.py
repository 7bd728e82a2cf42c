"""nbgrader configuration for Backprop from the Ground Up (nbgrader 0.9).

Paths are relative to this file's folder, so a copy of the course (as the tests make) is self-contained.
"""
import os
from pathlib import Path

from course.i18n import t

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "backprop"
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = os.environ.get("COURSE_DB_URL", f"sqlite:///{HERE / 'gradebook.db'}")

# Students hand in through this folder (JupyterLab's Assignment List); it must exist.
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", str(HERE / "exchange"))
c.Exchange.path_includes_course = True

# -- Execution and its limits (course/kernel.py runs the kernel, course/guard.py guards it) --------
# Per-cell limit.  Heavy demonstration cells shrink under NBGRADER_EXECUTION, so 60 s is generous
# for every answer and test cell; an infinite loop costs one minute, not the whole grading run.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# nbgrader's autograde steps, three of them replaced and one added: cells whose nbgrader metadata a student
# changed or duplicated are repaired instead of stopping the grading, the notebook runs in a guarded kernel
# (memory and time limits, a cap on printed output, tests protected from code that patches numpy, the
# checks or IPython; see course/guarded_execute.py), and the hidden tests' records are judged in this process,
# out of the student's code's reach, before SaveAutoGrades reads the grades (see course/judge/).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "course.repair.DropDuplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "course.repair.RestoreCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "course.guarded_execute.GuardedExecute",
    "course.judge.preprocessor.JudgeHiddenTests",  # hidden tests judged here, outside the student's kernel
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# nbgrader lists ClearMetadataPreprocessor, but it stays disabled (nbconvert's default); should it ever be enabled,
# test cells keep nbgrader's marks and the judge's diagnoses (metadata "course", read by course/report.py).
c.ClearMetadataPreprocessor.preserve_cell_metadata_mask = {("nbgrader",), ("course",)}
c.LimitedKernelManager.memory_limit = 3 * 2**30  # bytes of address space: a 20 GB allocation fails inside the notebook
c.LimitedKernelManager.notebook_timeout = 15 * 60  # seconds for the whole notebook, then the kernel is killed
c.GuardedExecute.max_output_chars = 200_000  # printed characters kept per cell (a print loop cannot fill the disk)
# Every grading kernel runs in the bubblewrap sandbox of course/sandbox.py (`course grade --no-sandbox` turns it off):
c.LimitedKernelManager.process_limit = 256  # processes and threads inside (a fork bomb fails there)
c.LimitedKernelManager.cpu_limit = 30 * 60  # CPU seconds per process
c.LimitedKernelManager.scratch_limit = 256 * 2**20  # bytes the kernel may write (its tmpfs: filling the disk fails there)

# Kernels talk to the grader over CurveZMQ-encrypted sockets (and ipykernel stops warning about plain TCP).
c.KernelManager.transport_encryption = "auto"

# A test cell the student deleted is put back and graded instead of silently scoring None.
c.OverwriteCells.add_missing_cells = True

# What replaces a solution in the release: say what to do instead of a bare NotImplementedError.
# In the edition's language (COURSE_LANG; the Korean course folder ko/ sets it, see course/edition.py).
c.ClearSolutions.code_stub = {
    "python": t("# YOUR CODE HERE\nraise NotImplementedError(\"replace this line with your code\")"),
}

# Feedback shows each test's points and diagnostic message, never hidden test code (see course/feedback.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
