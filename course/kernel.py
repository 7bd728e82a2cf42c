"""The kernel a submission runs in while nbgrader grades it.

:class:`LimitedKernelManager` starts it under a memory limit (``RLIMIT_AS``: allocating 20 GB raises
``MemoryError`` inside the notebook instead of taking the machine down), kills it when the whole notebook runs
too long, and, unless the sandbox is off, walls it in with :mod:`course.sandbox`.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer

from course import sandbox
from course.folders import ROOT

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
        cmd = [sys.executable, "-c", LAUNCHER, str(self.memory_limit), *kernel_cmd]
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
