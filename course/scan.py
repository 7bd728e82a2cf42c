"""A static scan of what a student submitted, run by the grader outside the kernel.

:func:`scan_submission` reads the student's own code (every code cell not identical to one of the
release notebook) and lists what looks like an attempt on the grading itself: exiting the kernel,
patching numpy, ``course`` or IPython, fake result objects, frame inspection, a backward pass that is
a numerical gradient, hard-coded answers, Python files shipped next to the notebook...  Each finding
names the cell and line.  Findings are for the instructor to review: they never change a score (the
runtime defences of :mod:`course.limits` and :mod:`course.execution` decide what a test is worth).

:func:`structure_notes` says which test cells the student edited, deleted, moved or copied.
"""
import ast
import re

import nbformat

# Modules whose objects the tests judge with: assigning to their attributes is patching the tests.
PROTECTED = ("numpy", "course", "builtins", "sys", "IPython", "ipykernel", "nbgrader", "jupyter_client",
             "traitlets", "math", "random", "importlib", "os", "gc", "inspect")

# What only shows up when code reaches for the machinery around it.  "name" matches a bare name (a
# builtin), ".attr" any attribute of that name, "module.name" that object however it was imported.
REACHES = {
    "reaches into IPython or the kernel": {
        "get_ipython", ".set_custom_exc", ".showtraceback", "._showtraceback", ".InteractiveTB", ".CustomTB",
        ".ast_transformers", ".input_transformers_post", ".input_transformers_cleanup", ".input_transformer_manager",
        ".run_cell", ".run_code", ".run_ast_nodes", ".do_execute", ".execute_request", ".shell_handlers",
        ".display_pub", ".user_ns", ".user_expressions", ".ask_exit", ".events", "sys.displayhook", "sys.excepthook"},
    "inspects call frames, code or the garbage collector": {
        "sys._getframe", "inspect.currentframe", "inspect.stack", "inspect.getouterframes", ".f_locals", ".f_globals",
        ".f_back", ".f_code", ".tb_frame", ".gi_frame", ".cr_frame", ".__globals__", ".__code__", ".__closure__",
        ".__subclasses__", ".__defaults__", ".__kwdefaults__", "sys.settrace", "sys.setprofile", "threading.settrace",
        "gc.get_referrers", "gc.get_objects", "sys.addaudithook"},
    "edits sys.modules or the import system": {
        "sys.modules", "sys.meta_path", "sys.path_hooks", "__import__", "importlib.reload", "importlib.import_module"},
    "touches builtins": {"__builtins__"},
    "runs code built from strings": {"exec", "eval", "compile"},
    "exits or signals the process": {
        "os._exit", "os.kill", "os.killpg", "os.abort", "signal.raise_signal", "signal.alarm", "signal.setitimer",
        "signal.signal", "sys.exit", "exit", "quit", "SystemExit"},
}
MODULES = {
    "reaches into IPython or the kernel": ("IPython", "ipykernel", "jupyter_client", "zmq", "traitlets", "nbgrader"),
    "inspects call frames, code or the garbage collector": ("inspect", "gc"),
    "touches builtins": ("builtins",),
    "edits sys.modules or the import system": ("importlib", "imp", "pkgutil", "runpy"),
    "exits or signals the process": ("signal", "atexit"),
    "starts threads, processes or native code": ("threading", "_thread", "multiprocessing", "subprocess",
                                                 "concurrent", "ctypes", "cffi", "asyncio", "pty", "resource"),
    "imports the tests' own checks": ("course.checks", "course.gradcheck", "course.diagnose", "course.limits",
                                      "course.grading", "course.execution", "course.scan", "course.judge"),
}
# Methods that let an object pass a comparison it has not earned.
FAKE_RESULTS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__array__",
                "__array_ufunc__", "__array_function__", "__array_interface__", "__array_priority__", "__float__",
                "__int__", "__index__", "__complex__", "__abs__", "__instancecheck__", "__getattribute__"}
BACKWARD_NAMES = {"backward", "gradient"}
SHELL_MAGICS = re.compile(r"^\s*(!|%%?(system|sx|bash|sh|script|writefile|run|load)\b)")


def _source_code(source):
    """Python source with IPython magics blanked (line numbers kept), and whether shell commands were found."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "", bool(SHELL_MAGICS.match(lines[0]))
    shell = any(SHELL_MAGICS.match(line) for line in lines)
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines), shell


def _parse(source):
    code, _ = _source_code(source)
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def names_used(source):
    """Names a cell reads (its free variables, roughly)."""
    tree = _parse(source)
    if tree is None:
        return set(re.findall(r"[A-Za-z_]\w*", source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_bound(source):
    """Names a cell binds at its top level (imports, assignments, functions, classes)."""
    tree = _parse(source)
    if tree is None:
        return set()
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        else:
            bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return bound


def _aliases(trees):
    """name -> module it stands for, from every import in the notebook (``np`` -> ``numpy``)."""
    aliases = {"np": "numpy", "numpy": "numpy", "course": "course", "sys": "sys", "builtins": "builtins",
               "__builtins__": "builtins"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _protected(module):
    return bool(module) and module.split(".")[0] in PROTECTED


class _Cell:
    def __init__(self, label, source):
        self.label = label
        self.lines = source.splitlines()

    def where(self, node):
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return f"`{text[:70]}` ({self.label}, line {line})"


def _findings(tree, cell, aliases, helpers):
    """(label, evidence) for everything suspicious in one cell."""
    found = []

    def add(label, node):
        found.append((label, cell.where(node)))

    for node in ast.walk(tree):
        # patching: assigning to (or deleting) an attribute of a module or object the tests use
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, (ast.Attribute, ast.Subscript)) and isinstance(t.ctx, (ast.Store, ast.Del)):
                    root = _root(t)
                    if _protected(aliases.get(root)):
                        add(f"patches {aliases[root].split('.')[0]}", node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            root = _root(node.args[0]) if node.args else None
            if _protected(aliases.get(root)) or root in helpers:
                add(f"patches {aliases.get(root, root).split('.')[0]}", node)
        # a locked cell's helper that the tests use, defined again
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in helpers:
            add("redefines a helper the tests use", node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in helpers:
            add("redefines a helper the tests use", node)
        # names that only show up when code reaches for the machinery
        if isinstance(node, (ast.Name, ast.Attribute)):
            for label in _reaches(node, aliases):
                add(label, node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for label, prefixes in MODULES.items():
                if any(m == p or m.startswith(p + ".") for m in modules for p in prefixes):
                    add(label, node)
        # handlers that keep a notebook from being interrupted or exited
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            if caught & {"KeyboardInterrupt", "BaseException", "SystemExit", "GeneratorExit"}:
                add("catches KeyboardInterrupt or SystemExit", node)
        # objects that pass comparisons they have not earned
        if isinstance(node, ast.ClassDef):
            methods = {b.name for b in node.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))}
            methods |= {t.id for b in node.body if isinstance(b, ast.Assign) for t in b.targets if isinstance(t, ast.Name)}
            bases = {_dotted(b) or "" for b in node.bases}
            if methods & FAKE_RESULTS or any(aliases.get(b.split(".")[0], "").startswith("numpy") or
                                             b.endswith(("ndarray", "float", "int")) for b in bases if b):
                add("defines objects that compare or convert themselves (could fake a result)", node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in BACKWARD_NAMES and _numerical(node):
                add("a backward pass computes a numerical gradient", node)
            if _returns_constants(node):
                add("returns hard-coded numbers", node)
    return found


def _reaches(node, aliases):
    dotted = _dotted(node)
    if dotted is None:
        return []
    first, _, rest = dotted.partition(".")
    resolved = aliases.get(first, first) + (f".{rest}" if rest else "")
    attr = f".{node.attr}" if isinstance(node, ast.Attribute) else None
    return [label for label, marks in REACHES.items()
            if resolved in marks or attr in marks or (isinstance(node, ast.Name) and node.id in marks)]


def _numerical(function):
    """A difference quotient, a call of forward or of a numerical-gradient helper inside a backward pass."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            if "numerical" in name or "gradcheck" in name or name.split(".")[-1] in ("forward", "diff", "gradient"):
                return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.BinOp) and isinstance(right.op, ast.Mult) and any(
                    isinstance(s, ast.Constant) and s.value == 2 for s in (right.left, right.right)):
                return True
    return False


def _constant(node):
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _constant(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts) and all(_constant(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.values) and all(_constant(v) for v in node.values)
    return False


def _returns_constants(function):
    """Every return of a function with arguments is made of number literals, not all of them 0 or ±1."""
    params = [a.arg for a in function.args.args if a.arg not in ("self", "cls")]
    returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]
    if not (params and returns and all(_constant(r) for r in returns)):
        return False
    numbers = {abs(n.value) for r in returns for n in ast.walk(r) if isinstance(n, ast.Constant) and _constant(n)}
    return bool(numbers - {0, 1})


def _student_cells(nb, release):
    """(label, source) of every code cell the student wrote or changed."""
    given = {c.source for c in release.cells if c.cell_type == "code"}
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source in given or not cell.source.strip():
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cells.append((f"cell {grade_id}" if grade_id else f"cell #{i}", cell.source))
    return cells


def _test_helpers(release):
    """Names that locked cells bind and test cells use (expect_close, checklist, ...)."""
    def meta(c):
        return c.get("metadata", {}).get("nbgrader", {})
    tests = [c for c in release.cells if c.cell_type == "code" and meta(c).get("grade") and not meta(c).get("solution")]
    used = set().union(*(names_used(c.source) for c in tests)) if tests else set()
    locked = [c for c in release.cells if c.cell_type == "code" and meta(c).get("locked") and not meta(c).get("grade")]
    return set().union(*(names_bound(c.source) for c in locked)) & used if locked else set()


def scan_notebook(nb, release):
    """Findings in one notebook, as ``label: evidence`` strings, at most two pieces of evidence per label."""
    helpers = _test_helpers(release)
    cells = _student_cells(nb, release)
    trees = [t for t in (_parse(c.source) for c in release.cells if c.cell_type == "code") if t]
    parsed = [(label, source, _parse(source)) for label, source in cells]
    aliases = _aliases(trees + [t for _, _, t in parsed if t])
    by_label = {}
    for label, source, tree in parsed:
        cell = _Cell(label, source)
        if _source_code(source)[1]:
            by_label.setdefault("runs shell commands", []).append(f"({label})")
        if tree is None:
            by_label.setdefault("does not parse as Python (not scanned)", []).append(f"({label})")
            continue
        for finding, evidence in _findings(tree, cell, aliases, helpers):
            by_label.setdefault(finding, []).append(evidence)
    findings = []
    for label, evidence in by_label.items():
        evidence = list(dict.fromkeys(evidence))
        more = f" and {len(evidence) - 2} more" if len(evidence) > 2 else ""
        findings.append(f"{label}: {'; '.join(evidence[:2])}{more}")
    return findings


def scan_submission(folder, release_path):
    """Findings for a submission folder: its notebooks' code, and Python files shipped beside them."""
    release = nbformat.read(release_path, as_version=4)
    findings = []
    shipped = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                     if p.suffix in (".py", ".pyc", ".so", ".pth") or (p.is_dir() and (p / "__init__.py").exists()))
    if shipped:
        findings.append(f"ships Python files next to the notebook, which could shadow modules the tests import: "
                        f"{', '.join(shipped[:5])}")
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # unreadable notebooks are reported by the grader's preflight
            continue
        findings += scan_notebook(nb, release)
    return findings


def structure_notes(nb, release):
    """Test cells the student edited, deleted, moved or copied (nbgrader restores, re-adds or ignores them)."""
    def grade_id(c):
        return c.get("metadata", {}).get("nbgrader", {}).get("grade_id")

    def is_test(c):
        m = c.get("metadata", {}).get("nbgrader", {})
        return m.get("grade") and not m.get("solution")

    positions = {}
    for i, cell in enumerate(nb.cells):
        if grade_id(cell):
            positions.setdefault(grade_id(cell), []).append(i)
    answer, tested_by = None, {}
    for cell in release.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            answer = grade_id(cell)
        elif is_test(cell):
            tested_by[grade_id(cell)] = answer
    found = {}
    for cell in (c for c in release.cells if is_test(c)):
        gid = grade_id(cell)
        where = positions.get(gid, [])
        if not where:
            found.setdefault("deleted or stripped of their metadata (nbgrader put them back)", []).append(gid)
            continue
        if len(where) > 1:
            found.setdefault("duplicated (only the last copy is graded)", []).append(gid)
        last = nb.cells[where[-1]]
        if last.source != cell.source or last.metadata.get("nbgrader") != cell.metadata.get("nbgrader"):
            found.setdefault("edited (nbgrader graded the original)", []).append(gid)
        tested = tested_by.get(gid)
        if tested in positions and where[-1] < positions[tested][0]:
            found.setdefault("moved above the answer they test", []).append(f"{gid} above {tested}")
    return [f"cells changed: test cells {what}: {', '.join(ids[:4])}" + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
            for what, ids in found.items()]
