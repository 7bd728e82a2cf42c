"""How a submission's notebook runs while nbgrader grades it: a guarded kernel.

nbgrader_config.py puts these classes into nbgrader's autograde steps: a kernel under a memory limit
and a whole-notebook time limit (:class:`LimitedKernelManager`), an Execute step that protects each test
cell from code that patched numpy, the checks or IPython and caps printed output (:class:`GuardedExecute`,
with the in-kernel guard of :mod:`course.limits`), and two repairs of cell metadata a student changed or
duplicated (:class:`RestoreCells`, :class:`DropDuplicateIds`).  What happened on the way is collected as
events that :meth:`course.grading.Grader.autograde` turns into notes and flags.
"""
import ast
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import DeduplicateIds, Execute, OverwriteCells
from traitlets import Bool, Integer

from course import cells, limits, sandbox, scan
from course.layout import ROOT

# What the Execute preprocessor saw, per (student, assignment), for Grader.autograde to pick up: nbgrader
# itself only reports success or failure.  Each event reads "<kind>: <what happened> (<cells>)".
_EVENTS = {}
TAMPERING = "tampering"
FATAL = ("kernel died", "notebook time limit", "not interruptible")


class LimitedKernelManager(AsyncKernelManager):
    """A kernel started under a memory limit, killed when the whole notebook runs too long, and (unless
    ``sandbox`` is off) walled in by :mod:`course.sandbox`: it sees a copy of its own submission and
    nothing else of the course folder, and nothing it starts outlives it."""

    memory_limit = Integer(3 * 2**30, help="Bytes of address space for a grading kernel (0: no limit).").tag(config=True)
    notebook_timeout = Integer(900, help="Seconds a whole notebook may run (0: no limit).").tag(config=True)
    _defaults = sandbox.Limits()
    sandbox = Bool(True, help="Run the kernel in the bubblewrap sandbox of course.sandbox.").tag(config=True)
    process_limit = Integer(_defaults.processes, help="Processes and threads in a sandbox.").tag(config=True)
    cpu_limit = Integer(_defaults.cpu_seconds, help="CPU seconds of each sandboxed process.").tag(config=True)
    scratch_limit = Integer(_defaults.scratch_bytes, help="Bytes a sandboxed kernel may write.").tag(config=True)

    overdue = False
    _watchdog = None
    _kernel_dir = None

    async def _async_pre_start_kernel(self, **kw):
        if self.sandbox:
            # The connection file is the grader's; the sockets live on the sandbox's own tmpfs (at IPC inside,
            # reached from here through /proc/<pid>/root once the sandbox exists).
            self._kernel_dir = Path(tempfile.mkdtemp(prefix="course-kernel-"))
            self.transport, self.ip = "ipc", sandbox.IPC
            self.connection_file = str(self._kernel_dir / "connection.json")
            # SIGINT would reach bwrap, not the kernel: interrupts go as messages on the control channel.
            self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # Fixed hash seeds make set and dict orders, and so grading, repeatable; the safe path keeps
        # `-m ipykernel_launcher` from importing a module the student put in the submission folder.
        # PYTHONPATH makes the kernel import the very `course` package this grader runs (a second checkout
        # installed in the environment must not answer instead: the guard trusts only this one).
        env = kw.get("env") or os.environ
        path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        kw["env"] = {**env, "PYTHONHASHSEED": "0", "PYTHONSAFEPATH": "1", "PYTHONPATH": path}
        cmd = [sys.executable, "-c", limits.LAUNCHER, str(self.memory_limit), *kernel_cmd]
        if self.sandbox:
            await self._launch_sandboxed(cmd, kw)
        else:
            await super()._async_launch_kernel(cmd, **kw)
        if self.notebook_timeout > 0:
            self._watchdog = threading.Timer(self.notebook_timeout, self._kill_overdue, [self.provisioner])
            self._watchdog.daemon = True
            self._watchdog.start()

    async def _launch_sandboxed(self, cmd, kw):
        staging = self._kernel_dir / "staging"
        sandbox.stage(staging, kw.pop("cwd", None) or os.getcwd(), self.connection_file)
        read_end, write_end = os.pipe()
        limits_ = sandbox.Limits(self.process_limit, self.cpu_limit, self.scratch_limit)
        wrapped = sandbox.command(cmd, staging, self.connection_file, write_end, limits_)
        # The kernel's own messages (it believes it runs alone and prints how to connect to it) and bwrap's
        # go to a log that says why, if the sandbox does not start.
        log = self._kernel_dir / "kernel.log"
        with open(log, "wb") as out:
            kw.update(env=sandbox.environment(kw["env"]), cwd=str(self._kernel_dir), pass_fds=(write_end,),
                      stdout=subprocess.DEVNULL, stderr=out)
            try:
                await super()._async_launch_kernel(wrapped, **kw)
            finally:
                os.close(write_end)
        info = sandbox.read_info(read_end, self.provisioner.process, log)
        self.ip = f"/proc/{info['child-pid']}/root{sandbox.IPC}"

    def _kill_overdue(self, provisioner):
        self.overdue = True
        with contextlib.suppress(OSError, AttributeError, TypeError):
            os.killpg(provisioner.pgid, signal.SIGKILL)

    def _stop_watchdog(self):
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def shutdown_kernel(self, now=False, restart=False):
        self._stop_watchdog()
        await super().shutdown_kernel(now=now, restart=restart)

    async def cleanup_resources(self, restart=False):
        self._stop_watchdog()
        await super().cleanup_resources(restart=restart)
        if self._kernel_dir is not None and not restart:
            shutil.rmtree(self._kernel_dir, ignore_errors=True)


class GuardedExecute(Execute):
    """nbgrader's Execute, with the guard of :mod:`course.limits` around every test cell.

    Before a test cell the guard puts back whatever the notebook changed among the tests' tools; after it,
    anything changed while the test ran voids the test (an error output, so nbgrader gives 0).  Test cells
    cannot claim partial credit by showing a value, printed output is capped, and what happened is recorded.
    """

    max_output_chars = Integer(200_000, help="Characters of printed output kept per cell.").tag(config=True)
    max_outputs = Integer(200, help="Outputs (figures, displays, ...) kept per cell.").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(**kwargs)

    def preprocess(self, nb, resources=None, km=None):
        info = (resources or {}).get("nbgrader", {})
        self.roles = _cell_roles(nb, self._release(info))
        self.events, self.dropped, self.guarded = [], {}, False
        try:
            return super().preprocess(nb, resources, km)
        finally:
            _EVENTS.setdefault((info.get("student"), info.get("assignment")), []).extend(_summarize(self.events))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        name = cells.label(cell, index)
        try:
            return self._guarded_cell(cell, resources, index, name)
        except CellTimeoutError:
            self._event("not interruptible", f"ran past the {self.timeout} s limit and ignored the interrupt, "
                                             "so the kernel was stopped", name)
            raise
        except DeadKernelError:
            if getattr(self.km, "overdue", False):
                self._event("notebook time limit", f"the notebook ran longer than {self.km.notebook_timeout} s "
                                                   "and its kernel was stopped", name)
            else:
                self._event("kernel died", "the code exited the kernel process, crashed it "
                                           "or exhausted its memory", name)
            raise

    def _guarded_cell(self, cell, resources, index, name):
        role, names = self.roles.get(index, (None, ()))
        if not self.guarded:
            self.guarded = True
            self._guard("install", str(ROOT), cell=name)
        if role == "given":
            self._guard("before_given", cell=name)
        if role == "test":
            restored = self._guard("before_test", cell=name)
            if restored:
                self._event(TAMPERING, f"the grader put back {_list(restored)} before the test", name)
        cell, resources = super().preprocess_cell(cell, resources, index)
        self._after_cell(cell, index, name)
        if role == "given":
            self._guard("after_given", list(names), cell=name)
        if role == "test":
            changed = self._guard("after_test", cell=name)
            if changed:
                self._void(cell, name, f"while the test ran, the notebook changed {_list(changed)}")
            self._no_partial_credit(cell, name)
            scrub_hidden_lines(cell)
        return cell, resources

    def _event(self, kind, detail, cell):
        self.events.append((kind, detail, cell))

    def _release(self, info):
        """The release notebook this one was handed out as (its unchanged cells are the instructor's code)."""
        root = self.config.CourseDirectory.get("root") or os.getcwd()
        path = Path(root) / "release" / str(info.get("assignment")) / f"{info.get('notebook')}.ipynb"
        return nbformat.read(path, as_version=4) if path.exists() else None

    def _guard(self, action, *args, cell):
        """Call the kernel-side guard; when it does not answer, say so (and void the test it was to check)."""
        expression = f"__import__('course.limits', fromlist=['call']).call({action!r}, *{args!r})"
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"guard": expression})
        reply = self.wait_for_reply(msg_id) or {}
        answer = reply.get("content", {}).get("user_expressions", {}).get("guard", {})
        try:
            payload = json.loads(ast.literal_eval(answer["data"]["text/plain"]))
            if payload["ok"]:
                return list(payload["changed"])
            problem = "; ".join(payload["changed"])
        except (KeyError, TypeError, ValueError, SyntaxError):
            problem = f"{answer.get('ename', 'no answer')}: {str(answer.get('evalue', ''))[:100]}"
        self._event(TAMPERING, f"the grading guard failed at {action} ({problem})", cell)
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
            self._event("output cut", f"printed more than {self.max_output_chars} characters; the rest was dropped", name)
        if any(o.output_type == "error" and o.ename == "MemoryError" for o in cell.outputs):
            limit = getattr(self.km, "memory_limit", 0)
            self._event("out of memory", "MemoryError" + (f" (the limit is {limit / 2**30:g} GiB)" if limit else ""), name)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._event("timed out", f"ran longer than {timeout} s and was interrupted", cells.label(cell))
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream" or len(outs) >= self.max_outputs:
            size = len(msg["content"].get("text", "")) or 1
            kept = sum(len(o.get("text", "")) for o in outs if o.get("output_type") == "stream")
            if kept + size > self.max_output_chars or len(outs) >= self.max_outputs:
                self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
                return None
        return super().output(outs, msg, display_id, cell_index)


class RestoreCells(OverwriteCells):
    """nbgrader's OverwriteCells, which also survives the metadata a student (or an editor) changed.

    nbgrader stops grading a notebook whose test cell was marked as an answer or as no test at all
    ("Inconsistent checksums"): here every known cell gets back its kind before nbgrader compares it,
    and a cell that claims a grade_id the assignment does not have becomes an ordinary cell.
    """

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader")
        if not meta or "grade_id" not in meta:
            cell.metadata.pop("nbgrader", None)
            return cell, resources
        try:
            source = self.gradebook.find_source_cell(meta["grade_id"], self.notebook_id, self.assignment_id)
        except MissingEntry:
            cell.metadata.pop("nbgrader")
            return cell, resources
        meta["locked"] = source.locked
        meta["grade"] = self._exists(self.gradebook.find_graded_cell, meta["grade_id"])
        meta["solution"] = self._exists(self.gradebook.find_solution_cell, meta["grade_id"])
        if meta["grade"]:
            meta.setdefault("points", 0)
        return super().preprocess_cell(cell, resources, index)

    def _exists(self, find, grade_id):
        try:
            find(grade_id, self.notebook_id, self.assignment_id)
            return True
        except MissingEntry:
            return False


class DropDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, leaving no empty metadata behind (OverwriteCells fails on it)."""

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


def scrub_hidden_lines(cell):
    """Student code can print a hidden test's source (from IPython's history) or raise it as a message;
    the feedback a student receives must not show it, so no output of the test keeps those lines."""
    hidden = sorted({line.strip() for block in cells.hidden_code(cell.source)
                     for line in block.splitlines() if line.strip()}, key=len, reverse=True)
    if not hidden:
        return

    def scrub(text):
        for line in hidden:
            text = text.replace(line, "[hidden test]")
        return text

    for out in cell.outputs:
        if "text" in out:
            out.text = scrub(out.text)
        if "evalue" in out:
            out.evalue = scrub(out.evalue)
            out.traceback = [scrub(line) for line in out.traceback]
        if isinstance(out.get("data", {}).get("text/plain"), str):
            out.data["text/plain"] = scrub(out.data["text/plain"])


def _summarize(events):
    """One line per kind of event and detail, naming every cell it happened in."""
    cells = {}
    for kind, detail, cell in events:
        cells.setdefault((kind, detail), []).append(cell)
    return [f"{kind}: {detail} ({_list(names)})" for (kind, detail), names in cells.items()]


def _list(items, n=4):
    items = list(dict.fromkeys(items))
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _cell_roles(nb, release=None):
    """index -> ("test" | "given", names) for test cells and for the instructor's other cells.

    "given" cells are locked, or identical to a release cell that is not an answer: what they change in
    the kernel (matplotlib registering its hooks, say) is legitimate, and the helpers they bind that test
    cells use (``expect_close``, ``checklist``, ...) are remembered and lent back to every test.
    """
    given = {c.source for c in (release.cells if release else []) if c.cell_type == "code" and not cells.is_answer(c)}
    tests = {i for i, c in enumerate(nb.cells) if cells.is_test(c)}
    used = set().union(*(scan.names_used(nb.cells[i].source) for i in tests)) if tests else set()
    roles = {i: ("test", ()) for i in tests}
    for i, cell in enumerate(nb.cells):
        if i not in roles and cell.cell_type == "code" and (cells.is_locked(cell) or cell.source in given):
            roles[i] = ("given", tuple(sorted(scan.names_bound(cell.source) & used)))
    return roles


