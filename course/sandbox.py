"""The wall around a grading kernel: the bubblewrap (``bwrap``) command that runs it, and whether it works here.

Inside the wall a kernel sees the system's programs and libraries, the Python environment and the
``course`` package, all read-only, and one private scratch folder (a size-capped tmpfs) holding a copy of
its own submission.  Nothing else of the course folder exists for it (``course/judge/`` is covered by an
empty folder), nor the instructor's home; it has no network, its own PID namespace, a cap on processes
and on CPU time, and everything in it dies with it.  It talks to the grader over ZMQ ``ipc`` sockets
that live on its own tmpfs, which the grader reaches through ``/proc/<pid>/root`` (so the kernel has no
writable folder on the host at all).

The process cap is RLIMIT_NPROC, which Linux does not enforce for uid 0: run by root, the sandbox drops
to a uid of its own (:func:`sandbox_uid`) before any student code runs; run by an ordinary account, it
is that account, in a user namespace of its own, and the limit counts only the sandbox's processes.
"""
import functools
import json
import os
import select
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course import figure_cache, submission_files
from course.folders import ROOT

# Grader-only code inside the course package (the judge's expected values): the kernel sees an empty folder.
JUDGE = ROOT / "course" / "judge"

# Paths inside the sandbox.  Only /tmp is writable; the submission's copy is the kernel's working folder.
SCRATCH = "/tmp"
WORK = f"{SCRATCH}/submission"
HOME = f"{SCRATCH}/home"
IPC = f"{SCRATCH}/.kernel/ipc"   # the ZMQ ipc prefix: sockets are {IPC}-{port}
STAGING = "/run/staging"         # read-only: what the grader copied in, copied to /tmp before the kernel starts
STAGED_SUBMISSION = f"{STAGING}/{Path(WORK).name}"  # the submission as staged: where a spare kernel takes it
CONNECTION = f"{Path(IPC).parent}/connection.json"  # the kernel rewrites it, so it is a copy on the tmpfs
FIGURES = f"{STAGING}/figures.json"  # the record of figures drawn ahead (course.figure_cache), read-only

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs and Python need of /etc (the loader's cache, time zone, fonts, users); not the rest of it.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
       "fonts", "alternatives", "mime.types", "matplotlibrc")
# The kernel's environment starts empty: these pass through from the grader's (the rest, database URLs
# and tokens among them, stays outside).
PASSED_ENV = ("PYTHONHASHSEED", "PYTHONSAFEPATH", "PYTHONPATH", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
              "LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Root's sandboxes run as a uid no account uses, two per grading process (a kernel and the spare started
# for the next submission alternate), so that no two live kernels share a process count (RLIMIT_NPROC
# counts per uid).
UID_BASE = 0x40000000

INSTALL = ("install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`), "
           "or grade without the sandbox with --no-sandbox (only for submissions you trust)")

# Runs inside the sandbox before the kernel: become the sandbox's user, copy the staged files to the
# scratch tmpfs (its folders; a file staged there, the figures' record, is read where it is), set the limits,
# start the kernel in the submission's copy.
INNER = (
    "import sys; del sys.path[0]\n"
    "import os, resource, shutil\n"
    "staging, scratch, work, uid, nproc, cpu, fsize = sys.argv[1:8]\n"
    "if int(uid):\n"
    "    os.setgroups([]); os.setgid(int(uid)); os.setuid(int(uid))\n"
    "for name in os.listdir(staging):\n"
    "    if os.path.isdir(os.path.join(staging, name)):\n"
    "        shutil.copytree(os.path.join(staging, name), os.path.join(scratch, name), symlinks=True)\n"
    "for name, value in (('NPROC', nproc), ('CPU', cpu), ('FSIZE', fsize)):\n"
    "    resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (int(value), int(value)))\n"
    "os.chdir(work)\n"
    "os.execvp(sys.argv[8], sys.argv[8:])\n"
)


@dataclass(frozen=True)
class Availability:
    ok: bool
    why: str = ""  # why the sandbox cannot run here, and what to do


@dataclass(frozen=True)
class Limits:
    processes: int = 256           # processes and threads of the sandbox's user
    cpu_seconds: int = 1800        # CPU time of each process
    scratch_bytes: int = 256 * 2**20   # the tmpfs holding the submission's copy, HOME and the sockets


def bwrap():
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def available():
    """Whether a sandbox with this module's options starts here (probed once per process)."""
    exe = bwrap()
    if exe is None:
        return Availability(False, f"bubblewrap (`bwrap`) is not installed: {INSTALL}")
    probe = [exe, *_namespaces(), "--die-with-parent", *_system(), "--proc", "/proc", "--dev", "/dev",
             "--", "/bin/true"]
    try:
        run = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return Availability(False, f"bubblewrap could not be started ({exc}): {INSTALL}")
    if run.returncode != 0:
        why = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit status {run.returncode}"
        hint = ("" if os.geteuid() == 0 else
                "; an ordinary account needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0, "
                "and kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 "
                "where those exist)")
        return Availability(False, f"bubblewrap is installed but cannot make a sandbox here: {why}{hint}")
    return Availability(True)


def sandbox_uid(n=0):
    """The uid the ``n``-th kernel of this process runs as when root grades (0: the caller's own uid, in a
    user namespace)."""
    return UID_BASE + 2 * os.getpid() + n % 2 if os.geteuid() == 0 else 0


def _namespaces():
    if os.geteuid() == 0:
        # Without a user namespace, so that the kernel's uid is a real one that RLIMIT_NPROC applies to;
        # bwrap keeps CAP_SETUID/SETGID for the inner launcher only, which drops them with root.
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-all"]


def _system():
    args = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _ro_bind(path, made, dest=None):
    """Bind ``path`` read-only at ``dest`` (its own place by default), the folders above made traversable
    for the kernel's user (bwrap would make them for root only)."""
    dest = Path(dest or path)
    args = []
    for parent in reversed(dest.parents):
        if str(parent) != "/" and parent not in made and not _under_system(parent):
            made.add(parent)
            args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(path), str(dest)]


def _under_system(path):
    return any(str(path) == d or str(path).startswith(d + "/") for d in SYSTEM_DIRS)


def python_dirs():
    """The Python environment the kernel runs: the venv and the installation it was made from."""
    dirs = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return sorted(d for d in dirs if not _under_system(d))


def command(kernel_cmd, staging, connection_file, info_fd, limits=Limits(), uid=None):
    """The bwrap command that runs ``kernel_cmd`` (whose connection file is ``connection_file``) in a sandbox.

    ``staging`` is a folder :func:`stage` filled with what the kernel starts with (its ``submission/`` becomes
    the kernel's working folder); bwrap writes the sandbox's host pids as JSON to ``info_fd``.
    """
    uid = sandbox_uid() if uid is None else uid
    made = set()
    args = [bwrap(), *_namespaces(), "--die-with-parent", "--new-session", "--info-fd", str(info_fd),
            "--unsetenv", "JPY_PARENT_PID", "--setenv", "HOME", HOME, "--setenv", "USER", "student",
            # where the figures' record is once staged (a spare kernel gets it only when it is taken)
            "--setenv", figure_cache.CACHE_ENV, FIGURES,
            "--setenv", "PATH", f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
            *_system()]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.scratch_bytes),
             "--tmpfs", SCRATCH]
    for path in python_dirs():
        args += _ro_bind(path, made)
    args += _ro_bind(ROOT / "course", made)
    if JUDGE.is_dir():
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", str(JUDGE), "--remount-ro", str(JUDGE)]
    args += _ro_bind(staging, made, STAGING)
    args += ["--remount-ro", "/", "--chdir", "/"]
    inner = [sys.executable, "-c", INNER, STAGING, SCRATCH, WORK, str(uid),
             str(limits.processes), str(limits.cpu_seconds), str(limits.scratch_bytes)]
    return args + ["--", *inner, *[CONNECTION if a == str(connection_file) else a for a in kernel_cmd]]


def environment(env):
    """What the sandboxed kernel inherits of ``env`` (bwrap adds HOME, USER and PATH)."""
    return {k: v for k, v in env.items() if k in PASSED_ENV}


def staged_submission(staging):
    """Where, outside, the submission lies in ``staging``: the kernel sees it at STAGED_SUBMISSION."""
    return Path(staging) / Path(STAGED_SUBMISSION).relative_to(STAGING)


def staged_figures(staging):
    """Where, outside, the figures' record lies in ``staging``: the kernel sees it at FIGURES."""
    return Path(staging) / Path(FIGURES).relative_to(STAGING)


def stage(staging, submission, connection_file):
    """Fill ``staging``: the submission's copy, the connection file, and a HOME holding the grader's
    matplotlib font list (without it every kernel would spend seconds rebuilding it, and say so on stderr)."""
    submission_files.copy(submission, staged_submission(staging))
    for folder in ("home", Path(IPC).parent.name):
        (Path(staging) / folder).mkdir(mode=0o755)
    connection = Path(staging) / Path(CONNECTION).relative_to(SCRATCH)
    shutil.copyfile(connection_file, connection)
    os.chmod(connection, 0o644)  # for the sandbox's own uid; the folder around it stays private
    home = Path(staging) / "home"
    try:
        import matplotlib
        cache = Path(matplotlib.get_cachedir())
    except Exception:  # no matplotlib, no font list to lend
        return
    fonts = home / ".cache" / "matplotlib"
    for font_list in cache.glob("fontlist-*.json"):
        fonts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(font_list, fonts / font_list.name)
    for folder in (home / ".cache", fonts):
        if folder.exists():
            os.chmod(folder, 0o755)


def read_info(fd, process, log, timeout=60):
    """The JSON bwrap writes to its info fd (``child-pid`` is the sandbox's first process, on the host).

    A plain blocking read (bwrap writes it within milliseconds): a thread pool here would hang in worker
    processes forked from a grader whose pool had already started a thread.
    """
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while select.select([pipe], [], [], timeout)[0]:
            chunk = pipe.read(4096)
            if not chunk:
                break
            data += chunk
            try:
                return json.loads(data)
            except ValueError:
                continue
    said = Path(log).read_text(errors="replace").strip().splitlines()[-3:]
    raise RuntimeError(f"the sandbox did not start (bwrap exit status {process.poll()}): " + " / ".join(said))
