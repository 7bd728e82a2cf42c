"""Submissions that attack the wall around the grading kernel (course/sandbox.py), built from Part 2.

Each attack comes with wrong answers (``ALL_WRONG`` scores 0 graded honestly), so any point is one it did
not earn.  Its code says what it tried on its output: ``WALL-BLOCKED <what>`` when the wall stopped it,
``WALL-BREACH <what>`` when it got through (tests/test_sandbox.py requires the first and forbids the second).
Where an attack would do harm if it got through, it does the least that proves the point (a comment
appended, an empty file) outside the throwaway course copy.

:func:`cases` needs the course copy's root, the port of the test's loopback server, a canary the instructor's
home holds, the honest neighbour whose work the attacks read and change, and the file lingering
processes would write.
"""
import os
import sysconfig

from tests.adversarial import ALL_WRONG, ASSIGNMENT, Case, answers

NEIGHBOUR = "next-perfect"  # the honest student graded after the attacks (and attacked by them)

# Every attack reports through this helper (defined in the attack's own cell).
REPORT = '''
def _wall(what, attempt):
    try:
        got = attempt()
    except BaseException as exc:
        print(f"WALL-BLOCKED {what}: {type(exc).__name__}: {exc}")
        return None
    print(f"WALL-BREACH {what}: {str(got)[:2000]}")
    return got
'''


def _attack(code):
    """A builder: wrong answers, and the attack in a cell of its own after the setup cell."""
    return answers(ALL_WRONG, extra=REPORT + code)


def cases(root, port, canary_home, linger_marker):
    """The wall's cases for a course copy at ``root`` (the attacks aim at its real paths)."""
    nb = f"{ASSIGNMENT}/computation_graphs.ipynb"
    package = sysconfig.get_paths()["purelib"]
    from course import checks
    checks_file = os.path.join(os.path.dirname(checks.__file__), "computation_graphs.py")
    paths = {"root": str(root), "source": f"{root}/source/{nb}", "release": f"{root}/release/{nb}",
             "gradebook": f"{root}/gradebook.db", "neighbour": f"{root}/submitted/{NEIGHBOUR}/{nb}",
             "neighbour_graded": f"{root}/autograded/{NEIGHBOUR}/{nb}", "checks": checks_file,
             "home": str(canary_home), "home_dir": os.path.dirname(canary_home), "marker": str(linger_marker), "site": package}
    p = {k: repr(v) for k, v in paths.items()}
    return [
        Case("wall-read", "reads the solutions in source/, the hidden tests in gradebook.db and the instructor's home",
             _attack(f"_wall('read source/', lambda: open({p['source']}).read())\n"
                     f"_wall('list the course folder', lambda: __import__('os').listdir({p['root']}))\n"
                     f"_wall('read release/', lambda: open({p['release']}).read())\n"
                     f"_wall('read the instructor\\'s notes', lambda: open({p['root']} + '/instructor-notes.txt').read())\n"
                     "import sqlite3\n"
                     f"_wall('read the gradebook', lambda: sqlite3.connect('file:' + {p['gradebook']} + '?mode=ro', "
                     "uri=True).execute('select source from source_cell').fetchall())\n"
                     f"_wall('read the home canary', lambda: open({p['home']}).read())\n"
                     f"_wall('find the canary in the home', lambda: [n for n in __import__('os').listdir({p['home_dir']}) "
                     "if 'canary' in n] or 1 / 0)\n"
                     "_wall('list /home', lambda: __import__('os').listdir('/home') or 1 / 0)\n"), most=0),
        Case("wall-copy-neighbour", "runs the answers of another student's submitted notebook as its own",
             answers({**ALL_WRONG, "mul_layer": ALL_WRONG["mul_layer"] + REPORT + _COPY_NEIGHBOUR.format(p["neighbour"])}),
             most=0),
        Case("wall-write", "writes into the course folder, another student's submission, the course package, "
             "sitecustomize.py on sys.path and IPython's startup folder",
             _attack(f"_wall('create a file in the course folder', lambda: open({p['root']} + '/planted.txt', 'w').write('x'))\n"
                     f"_wall('append to source/', lambda: open({p['source']}, 'a').write(' '))\n"
                     f"_wall('append to release/', lambda: open({p['release']}, 'a').write(' '))\n"
                     f"_wall('append to the gradebook', lambda: open({p['gradebook']}, 'ab').write(b' '))\n"
                     f"_wall('append to a submitted notebook', lambda: open({p['neighbour']}, 'a').write(' '))\n"
                     f"_wall('plant a file beside it', lambda: open({p['neighbour']} + '.py', 'w').write('x'))\n"
                     f"_wall('append to its autograded copy', lambda: open({p['neighbour_graded']}, 'a').write(' '))\n"
                     + _WRITE_PACKAGE.format(checks=p["checks"], site=p["site"])), most=0),
        Case("wall-network", "connects to a TCP server the test runs on the loopback interface",
             _attack("import socket\n"
                     f"_wall('connect to 127.0.0.1:{port}', lambda: socket.create_connection(('127.0.0.1', {port}), "
                     "timeout=3).sendall(b'WALL-BREACH'))\n"
                     "_wall('resolve a host name', lambda: socket.getaddrinfo('example.com', 80))\n"), most=0),
        Case("wall-fork-bomb", "a process that forks until the system refuses, every child holding its slot",
             _attack(_FORK_BOMB), most=0),
        Case("wall-disk-filler", "writes to its folder, /tmp and /dev/shm until the disk is full",
             _attack(_DISK_FILLER), most=0),
        Case("wall-lingering", "a detached double-forked process and a thread that rewrite the gradebook later",
             _attack(_LINGERING.format(gradebook=p["gradebook"], marker=p["marker"])), most=0),
        Case("wall-symlinks", "a submission folder with symbolic links to source/ and /etc/passwd",
             _symlinks(paths["source"]), status="not graded", reason="symbolic links"),
        Case("wall-shadow-modules", "numpy.py, sitecustomize.py and ipykernel_launcher.py beside the notebook",
             _shadow_modules, most=0),
    ]


_COPY_NEIGHBOUR = '''
import json

def _steal():
    cells = json.load(open({0}))["cells"]
    mine = {{c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cells
            if c.get("metadata", {{}}).get("nbgrader", {{}}).get("solution")}}
    exec(mine["mul_layer"] + "\\n" + mine["add_layer"], globals())
    return "ran the neighbour's MulLayer and AddLayer"

_wall("run another student's answers", _steal)
'''

_WRITE_PACKAGE = '''
import os, sys
_wall("append to the course's checks", lambda: open({checks}, "a").write("\\n# WALL-BREACH\\n"))
_wall("plant sitecustomize.py in site-packages", lambda: open(os.path.join({site}, "sitecustomize.py"), "x").write(""))
for folder in [p for p in sys.path if p and os.path.isdir(p)]:
    _wall(f"plant usercustomize.py in {{folder}}", lambda: open(os.path.join(folder, "usercustomize.py"), "x").write(""))
_wall("write the IPython startup folder of the grader's home", lambda: open("/root/.ipython/profile_default/startup/00-wall.py", "x").write(""))
'''

_FORK_BOMB = '''
import subprocess, sys
bomb = subprocess.run([sys.executable, "-c", """
import os, sys, time
n = 0
try:
    while n < 20000:
        if os.fork() == 0:
            os.closerange(0, 3)  # (so that the parent's output ends when it does)
            time.sleep(3600)  # WALL-FORK-BOMB: every child keeps its slot
            os._exit(0)
        n += 1
except OSError as exc:
    print(n, exc)
    sys.exit(0)
print(n, 'no limit')
sys.exit(1)
"""], capture_output=True, text=True, start_new_session=True, timeout=50)
print(f"WALL-{'BLOCKED' if bomb.returncode == 0 else 'BREACH'} fork bomb: {bomb.stdout.strip()} processes")
'''

_DISK_FILLER = '''
import os

def _fill(path):
    written = 0
    with open(path, "wb") as f:
        while written < 4 * 2**30:
            f.write(b"x" * 2**20)
            f.flush()
            written += 2**20
    return f"{written // 2**20} MiB and no end"

for place in ("filler.bin", "/tmp/filler.bin", "/dev/shm/filler.bin"):
    _wall(f"fill the disk through {place}", lambda: _fill(place))
'''

_LINGERING = '''
import os, sys, subprocess, threading, time
LATER = """
import os, sqlite3, sys, time
end = time.time() + 120
while time.time() < end:  # WALL-LINGER
    try:
        db = sqlite3.connect(%r, timeout=1)
        db.execute("update grade set auto_score = 100, manual_score = 100")
        db.commit()
        open(%r, "a").write("WALL-BREACH a process outlived its notebook\\\\n")
    except Exception:
        pass
    time.sleep(0.5)
""" % ({gradebook}, {marker})

def _detach():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", LATER])
        os._exit(0)
    os.wait()
    return "a detached process started (it must die with the notebook)"

print("WALL-BLOCKED lingering (checked after the notebook):", _detach())
threading.Thread(target=lambda: exec(LATER), daemon=False).start()
'''


def _symlinks(source):
    def build(solution, release, folder, filename):
        answers(ALL_WRONG)(solution, release, folder, filename)
        os.symlink(source, folder / "solutions.txt")
        os.symlink("/etc/passwd", folder / "passwd")
    return build


def _shadow_modules(solution, release, folder, filename):
    _attack("import builtins\n_wall('run a module shipped beside the notebook', lambda: builtins.WALL_SHADOWED)\n")(
        solution, release, folder, filename)
    cheat = "import builtins\nbuiltins.WALL_SHADOWED = True\nprint('WALL-BREACH a module the student shipped was imported')\n"
    (folder / "numpy.py").write_text(cheat + "allclose = isclose = lambda *a, **k: True\n")
    for name in ("sitecustomize.py", "ipykernel_launcher.py"):
        (folder / name).write_text(cheat)

