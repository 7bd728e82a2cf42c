"""nbgrader's Execute step with the grading guard around every test cell.

nbgrader_config.py runs :class:`GuardedExecute` in place of nbgrader's Execute, in the kernel of
:mod:`course.kernel`, with the in-kernel half of the guard in :mod:`course.guard`.  What happened on the way is
collected as events that :meth:`course.grading.Grader.autograde` turns into notes and flags.
"""
import json
import os
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from course import cells, sandbox, submission_files
from course.notes import (KERNEL_DIED, NOT_INTERRUPTIBLE, NOTEBOOK_TIME_LIMIT, OUT_OF_MEMORY, OUTPUT_CUT,
                          TAMPERING, TIMED_OUT, Note, listed, merged)
from course.pycode import names_bound, names_used
from course.folders import ROOT
from course.kernel import SPARES, LimitedKernelManager, guard_answer, guard_request

# What the Execute preprocessor saw, per (student, assignment), as notes for Grader.autograde to pick up:
# nbgrader itself only reports success or failure.
EVENTS = {}


class GuardedExecute(Execute):
    """nbgrader's Execute, with the guard of :mod:`course.guard` around every test cell.

    Before a test cell the guard puts back whatever the notebook changed among the tests' tools; after it,
    anything changed while the test ran voids the test (an error output, so nbgrader gives 0).  Test cells
    cannot claim partial credit by showing a value, printed output is capped, and what happened is recorded.
    """

    max_output_chars = Integer(200_000, help="Characters of printed output kept per cell.").tag(config=True)
    max_outputs = Integer(200, help="Outputs (figures, displays, ...) kept per cell.").tag(config=True)

    spare_kernels = Bool(True, help="While a notebook runs, start the next one's kernel in its sandbox "
                                    "(see course.kernel.Spares).").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(**kwargs)

    def preprocess(self, nb, resources=None, km=None):
        info = (resources or {}).get("nbgrader", {})
        self.roles = _cell_roles(nb, self._release(info))
        self.events, self.dropped, self.guarded = [], {}, False
        warm = self._warm_kernel(nb, resources) if km is None else None
        try:
            return super().preprocess(nb, resources, warm or km)
        finally:
            if warm is not None:  # a kernel handed in is not nbclient's to stop
                self._cleanup_kernel()
            EVENTS.setdefault((info.get("student"), info.get("assignment")), []).extend(merged(self.events))

    def _warm_kernel(self, nb, resources):
        """The spare kernel started for this notebook, its files copied in (or None); the next one starts."""
        kernel = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        if not (self.spare_kernels and self.kernel_manager_class is LimitedKernelManager
                and self.config.LimitedKernelManager.get("sandbox", True)):
            return None
        # The figures' record is staged when a spare is taken, like the submission: it is not the spare's setting.
        settings = {k: {n: repr(v) for n, v in self.config.get(k, {}).items() if n != "figures"}
                    for k in ("KernelManager", "LimitedKernelManager")}
        key = json.dumps([kernel, settings, self.extra_arguments, os.environ.get("NBGRADER_EXECUTION")], sort_keys=True)
        km = SPARES.take(key)
        SPARES.prepare(key, lambda: self.kernel_manager_class(kernel_name=kernel, config=self.config), self.extra_arguments)
        if km is not None:
            path = (resources or {}).get("metadata", {}).get("path") or os.getcwd()
            submission_files.copy(path, km.staged_submission)
            km.stage_figures(self.config.LimitedKernelManager.get("figures", ""))
            km.start_watchdog()
        return km

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        name = cells.label(cell, index)
        try:
            return self._guarded_cell(cell, resources, index, name)
        except CellTimeoutError:
            self._event(NOT_INTERRUPTIBLE, f"ran past the {self.timeout} s limit and ignored the interrupt, "
                                             "so the kernel was stopped", name)
            raise
        except DeadKernelError:
            if getattr(self.km, "overdue", False):
                self._event(NOTEBOOK_TIME_LIMIT, f"the notebook ran longer than {self.km.notebook_timeout} s "
                                                   "and its kernel was stopped", name)
            else:
                self._event(KERNEL_DIED, "the code exited the kernel process, crashed it "
                                           "or exhausted its memory", name)
            raise

    def _guarded_cell(self, cell, resources, index, name):
        role, names = self.roles.get(index, (None, ()))
        if not self.guarded:
            self.guarded = True
            if getattr(self.km, "warm", False):
                self._guard("arrive", sandbox.STAGED_SUBMISSION, cell=name)
            else:
                self._guard("install", str(ROOT), cell=name)
        if role == "given":
            self._guard("before_given", cell=name)
        if role == "test":
            restored = self._guard("before_test", cell=name)
            if restored:
                self._event(TAMPERING, f"the grader put back {listed(restored)} before the test", name)
        cell, resources = super().preprocess_cell(cell, resources, index)
        self._after_cell(cell, index, name)
        if role == "given":
            self._guard("after_given", list(names), cell=name)
        if role == "test":
            changed = self._guard("after_test", cell=name)
            if changed:
                self._void(cell, name, f"while the test ran, the notebook changed {listed(changed)}")
            self._no_partial_credit(cell, name)
            cells.scrub_hidden_lines(cell)
        return cell, resources

    def _event(self, kind, detail, cell):
        self.events.append(Note(kind, detail, (cell,)))

    def _release(self, info):
        """The release notebook this one was handed out as (its unchanged cells are the instructor's code)."""
        root = self.config.CourseDirectory.get("root") or os.getcwd()
        path = Path(root) / "release" / str(info.get("assignment")) / f"{info.get('notebook')}.ipynb"
        return nbformat.read(path, as_version=4) if path.exists() else None

    def _guard(self, action, *args, cell):
        """Call the kernel-side guard; when it does not answer, say so (and void the test it was to check)."""
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"guard": guard_request(action, *args)})
        ok, answer = guard_answer(self.wait_for_reply(msg_id))
        if ok:
            return answer
        self._event(TAMPERING, f"the grading guard failed at {action} ({answer})", cell)
        return ["the grading guard"] if action == "after_test" else []

    def _void(self, cell, name, why):
        self._event(TAMPERING, f"test voided: {why}", name)
        if not any(o.output_type == "error" for o in cell.outputs):
            message = f"this test does not count: {why}"
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="GradingIntegrityError", evalue=message, traceback=[f"GradingIntegrityError: {message}"]))

    def _no_partial_credit(self, cell, name):
        """nbgrader reads a value shown by a test cell as its score: here a test passes or raises."""
        shown = [o for o in cell.outputs if o.output_type == "execute_result"]
        for out in shown:
            cell.outputs[cell.outputs.index(out)] = nbformat.v4.new_output(
                "display_data", data=out.data, metadata=out.metadata)
        if shown:
            self._event(TAMPERING, "a test showed a value, which nbgrader would have read as its score (ignored)", name)

    def _after_cell(self, cell, index, name):
        dropped = self.dropped.pop(index, 0)
        if dropped:
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text=f"\n[the grader dropped {dropped} characters of further output]\n"))
            self._event(OUTPUT_CUT, f"printed more than {self.max_output_chars} characters; the rest was dropped", name)
        if any(o.output_type == "error" and o.ename == "MemoryError" for o in cell.outputs):
            limit = getattr(self.km, "memory_limit", 0)
            self._event(OUT_OF_MEMORY, "MemoryError" + (f" (the limit is {limit / 2**30:g} GiB)" if limit else ""), name)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._event(TIMED_OUT, f"ran longer than {timeout} s and was interrupted", cells.label(cell))
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream" or len(outs) >= self.max_outputs:
            size = len(msg["content"].get("text", "")) or 1
            kept = sum(len(o.get("text", "")) for o in outs if o.get("output_type") == "stream")
            if kept + size > self.max_output_chars or len(outs) >= self.max_outputs:
                self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
                return None
        return super().output(outs, msg, display_id, cell_index)


def _cell_roles(nb, release=None):
    """index -> ("test" | "given", names) for test cells and for the instructor's other cells.

    "given" cells are locked, or identical to a release cell that is not an answer: what they change in
    the kernel (matplotlib registering its hooks, say) is legitimate, and the helpers they bind that test
    cells use (``expect_close``, ``checklist``, ...) are remembered and lent back to every test.
    """
    given = {c.source for c in (release.cells if release else []) if c.cell_type == "code" and not cells.is_answer(c)}
    tests = {i for i, c in enumerate(nb.cells) if cells.is_test(c)}
    used = set().union(*(names_used(nb.cells[i].source) for i in tests)) if tests else set()
    roles = {i: ("test", ()) for i in tests}
    for i, cell in enumerate(nb.cells):
        if i not in roles and cell.cell_type == "code" and (cells.is_locked(cell) or cell.source in given):
            roles[i] = ("given", tuple(sorted(names_bound(cell.source) & used)))
    return roles


