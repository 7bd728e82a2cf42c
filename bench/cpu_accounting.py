#!/usr/bin/env python3
"""Where the CPU of a grading run goes, by kind of process (issue #15: why two workers on two cores stay under 2x).

Builds the same K Part 2 submissions as bench_grading.py and grades them twice, one kernel at a time with plain
``nbgrader autograde`` and with ``course grade --jobs N``, sampling every process's CPU time (from /proc) ten
times a second.  It prints, for each run, the CPU seconds of the kernels, of the Dask worker processes (their
nannies included), of the command's own process and of the sandbox, per submission, and how many cores the
run kept busy on average.  A process that ends between two samples loses up to 0.1 s of its CPU here, so
the machine's own count of busy time (/proc/stat) is printed next to the sum.

Two cores give at most 2 / (cores the sequential run keeps busy) over it, and only if nothing is added:
what the cluster adds per submission and once per run is in the table.  First of all, the machine's own
ceiling (bench_grading.machine_ceiling): a pure-Python loop alone and then N copies of it at once.

    python bench/cpu_accounting.py [-k 12] [--jobs 2]
"""
import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_grading import (COURSE_GRADE, SEQUENTIAL, _env, build_course, fresh_start, load_average,  # noqa: E402
                           machine_ceiling)

TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("kernels", "Dask workers and nannies", "the command's process", "sandbox (bwrap)", "other")


def kind(cmdline, command_pid, pid):
    if pid == command_pid:
        return "the command's process"
    if "ipykernel" in cmdline or "del sys.path[0]" in cmdline:  # course.kernel's launcher execs the kernel
        return "kernels"
    if "bwrap" in cmdline:
        return "sandbox (bwrap)"
    if "multiprocessing" in cmdline:  # Dask's nanny and worker processes are spawned by multiprocessing
        return "Dask workers and nannies"
    return "other"


def busy_seconds():
    """The machine's busy CPU seconds so far (all cores), from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def processes():
    """pid -> (command line, CPU seconds) of every process now."""
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            cmdline = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seen[pid] = (cmdline, (int(fields[11]) + int(fields[12])) / TICK)
    return seen


def account(cmd, cwd):
    """(wall seconds, machine busy seconds, kind -> CPU seconds) of running ``cmd``."""
    before = processes()
    kinds, cpu = {}, {}
    busy, start = busy_seconds(), time.perf_counter()
    run = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while run.poll() is None:
        for pid, (cmdline, seconds) in processes().items():
            if cmdline and pid not in kinds:  # a zombie's command line is empty: keep what it was
                kinds[pid] = kind(cmdline, str(run.pid), pid)
            cpu[pid] = seconds - before.get(pid, ("", 0.0))[1]
        time.sleep(0.1)
    wall, busy = time.perf_counter() - start, busy_seconds() - busy
    totals = collections.Counter()
    for pid, seconds in cpu.items():
        totals[kinds.get(pid, "other")] += seconds
    return wall, busy, totals


def report(title, k, wall, busy, totals):
    print(f"\n{title}: {wall:.1f} s wall, {busy:.1f} CPU s ({busy / wall:.2f} cores busy on average)")
    for name in KINDS:
        if totals[name] >= 0.05:
            print(f"  {name:28}{totals[name]:7.1f} s{totals[name] / k:8.2f} s per submission")
    print(f"  {'sum of the samples':28}{sum(totals.values()):7.1f} s   (the machine counted {busy:.1f} s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", type=int, default=12, help="number of submissions (default 12)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for course grade (default 2)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    try:
        course, _ = build_course(work / "course", args.k)
        shutil.copy(course.root / "gradebook.db", work / "generated.db")
        print(f"Part 2, {args.k} submissions; {os.cpu_count()} CPUs; load average before: {load_average()}", flush=True)
        machine_ceiling(args.jobs)
        runs = [("nbgrader autograde, one kernel at a time", SEQUENTIAL),
                (f"course grade --jobs {args.jobs}", COURSE_GRADE + ["--jobs", str(args.jobs)])]
        for title, cmd in runs:
            fresh_start(course, work / "generated.db")
            report(title, args.k, *account(cmd, course.root))
        print(f"\nload average after: {load_average()}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
