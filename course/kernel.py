"""The kernel a submission runs in while nbgrader grades it.

:class:`LimitedKernelManager` starts it under a memory limit (``RLIMIT_AS``: allocating 20 GB raises
``MemoryError`` inside the notebook instead of taking the machine down), kills it when the whole notebook runs
too long, and, unless the sandbox is off, walls it in with :mod:`course.sandbox`.

A sandboxed kernel takes a second or two to start and to import what every notebook imports.  While one
notebook runs, :class:`Spares` starts the kernel of the next one in its sandbox, with the grading guard
installed and nothing of any submission in it yet; the next notebook's files are copied in when it takes
that kernel.  No student code runs in a kernel before its own submission arrives, and each kernel serves one
submission only.
"""
import asyncio
import ast
import atexit
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode

from course import figure_cache, sandbox
from course.folders import ROOT

_KERNELS = itertools.count()  # numbers this process's kernels: consecutive ones run as different uids

# Run as `python -c LAUNCHER LIMIT_BYTES KERNEL_COMMAND...`.  `-c` puts the submission folder (the
# kernel's working directory) first on sys.path: drop it before importing anything a student could shadow.
LAUNCHER = (
    "import sys; del sys.path[0]\n"
    "import os, resource\n"
    "limit = int(sys.argv[1])\n"
    "if limit > 0:\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


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
    figures = Unicode("", help="The record of the release notebook's figures (course.figure_record) that the "
                               "kernel shows instead of drawing them again, read-only; '' draws every figure."
                      ).tag(config=True)

    overdue = False
    warm = False  # started before its submission was known (see Spares); the guard copies the files in
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
        if self.figures and not self.sandbox:  # a sandbox names its own staged copy (course.sandbox.FIGURES)
            kw["env"][figure_cache.CACHE_ENV] = self.figures
        cmd = [sys.executable, "-c", LAUNCHER, str(self.memory_limit), *kernel_cmd]
        if self.sandbox:
            await self._launch_sandboxed(cmd, kw)
        else:
            await super()._async_launch_kernel(cmd, **kw)
        if not self.warm:
            self.start_watchdog()

    def start_watchdog(self):
        """The whole-notebook time limit starts counting (for a spare, when its submission arrives)."""
        if self.notebook_timeout > 0 and self._watchdog is None:
            self._watchdog = threading.Timer(self.notebook_timeout, self._kill_overdue, [self.provisioner])
            self._watchdog.daemon = True
            self._watchdog.start()

    async def _launch_sandboxed(self, cmd, kw):
        staging = self._kernel_dir / "staging"
        sandbox.stage(staging, kw.pop("cwd", None) or os.getcwd(), self.connection_file)
        if not self.warm:  # a spare gets its record when it is taken, with its submission
            self.stage_figures(self.figures)
        read_end, write_end = os.pipe()
        limits_ = sandbox.Limits(self.process_limit, self.cpu_limit, self.scratch_limit)
        wrapped = sandbox.command(cmd, staging, self.connection_file, write_end, limits_,
                                  uid=sandbox.sandbox_uid(next(_KERNELS)))
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
        """Kill the kernel at once.  Its outputs are all in and its sandbox is thrown away, so a graceful end
        buys nothing; it costs a shutdown request, up to a second of waiting, and an interrupt first (which
        the kernel logs as "KeyboardInterrupt caught in kernel" in the grader's output)."""
        self._stop_watchdog()
        if restart or not self.owns_kernel:
            return await super().shutdown_kernel(now=now, restart=restart)
        self.shutting_down = True
        await self._async_kill_kernel()
        await self.cleanup_resources()

    async def cleanup_resources(self, restart=False):
        self._stop_watchdog()
        await super().cleanup_resources(restart=restart)
        if self._kernel_dir is not None and not restart:
            shutil.rmtree(self._kernel_dir, ignore_errors=True)

    @property
    def staged_submission(self):
        """Where, on this side, a spare kernel's submission goes (the kernel sees it at STAGED_SUBMISSION)."""
        return sandbox.staged_submission(self._kernel_dir / "staging")

    def stage_figures(self, record):
        """Put the figures' ``record`` (a file, or '': none) where this sandboxed kernel reads it, read-only."""
        if record:
            staged = sandbox.staged_figures(self._kernel_dir / "staging")
            shutil.copyfile(record, staged)
            os.chmod(staged, 0o644)  # for the sandbox's own uid, whatever the grader's umask


def guard_request(action, *args):
    """The user expression that calls the kernel-side guard (:func:`course.guard.call`)."""
    return f"__import__('course.guard', fromlist=['call']).call({action!r}, *{args!r})"


def guard_answer(reply):
    """(True, what changed) from the guard's reply, or (False, why the guard did not answer)."""
    answer = (reply or {}).get("content", {}).get("user_expressions", {}).get("guard", {})
    try:
        payload = json.loads(ast.literal_eval(answer["data"]["text/plain"]))
        return (True, list(payload["changed"])) if payload["ok"] else (False, "; ".join(payload["changed"]))
    except (KeyError, TypeError, ValueError, SyntaxError):
        return False, f"{answer.get('ename', 'no answer')}: {str(answer.get('evalue', ''))[:100]}"


class Spares:
    """At most one sandboxed kernel started ahead, for the next notebook graded in this process.

    The kernels start on one thread that lives as long as the process: bwrap's --die-with-parent ties a
    sandbox to the thread that started it, so that thread must outlive every kernel it starts.
    """

    def __init__(self):
        self._forget()
        atexit.register(self.discard)
        # A forked child has this object but not the thread that ran its loop (nor the spare: its kernel
        # belongs to the parent); it starts afresh.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._loop = None
        self._next = None  # (key, Future of a LimitedKernelManager)

    def take(self, key):
        """The spare kernel started for ``key`` (the kernel's settings), or None; never the same one twice."""
        spare, self._next = self._next, None
        if spare is None:
            return None
        wanted, future = spare
        try:
            km = future.result(timeout=120)
        except Exception:  # a spare that failed to start: the notebook starts its own kernel, and says why
            return None
        if wanted != key:
            _kill(km)
            return None
        return km

    def prepare(self, key, make_km, extra_arguments):
        """Start a kernel for the next notebook with settings ``key``; ``make_km()`` makes its manager."""
        self.discard()
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="spare-kernels", daemon=True).start()
        self._next = (key, asyncio.run_coroutine_threadsafe(_start_spare(make_km(), extra_arguments), self._loop))

    def discard(self):
        """Kill the spare kernel nobody took (the last notebook is graded, or the settings changed)."""
        spare, self._next = self._next, None
        if spare is not None:
            spare[1].add_done_callback(lambda future: future.exception() is None and _kill(future.result()))


async def _start_spare(km, extra_arguments):
    km.warm = True
    empty = tempfile.mkdtemp(prefix="course-spare-")
    try:
        await km.start_kernel(extra_arguments=extra_arguments, cwd=empty)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        msg_id = kc.execute("", silent=True, store_history=False,
                            user_expressions={"guard": guard_request("install", str(ROOT))})
        reply = await kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:  # kernel_info replies of wait_for_ready
            reply = await kc.get_shell_msg(timeout=120)
        ok, why = guard_answer(reply)
        if not ok:
            raise RuntimeError(f"the grading guard did not install in a spare kernel ({why})")
    except BaseException:
        await km.shutdown_kernel(now=True)
        raise
    finally:
        kc.stop_channels()
    # Its control socket belongs to this thread's loop; the grading thread opens its own when it needs one.
    km._close_control_socket()
    return km


def _kill(km):
    with contextlib.suppress(Exception):
        asyncio.run(km.shutdown_kernel(now=True))


SPARES = Spares()
