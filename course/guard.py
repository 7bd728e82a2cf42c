"""What a submission can do to the grading machine and to its own tests while it is graded.

It runs where the student's code runs (the grader's side is :mod:`course.guarded_execute`).
:class:`Guard` is installed in the kernel before the first cell runs.  It imports numpy and the
  course's checks from their installed places (a ``course`` package shipped in the submission folder
  is not used), seeds the global random generators (student code that uses them grades the same every
  time), and remembers the objects the tests judge with: numpy's and the checks' namespaces, builtins,
  sys.modules, IPython's error display, hooks and transformers, the kernel's message sender, and the
  helpers the instructor's cells bind (``expect_close``, ``checklist``).  Before each test cell it puts
  them back; while the test runs, the course's numerical gradients refuse to work inside a ``backward``
  method; after the test it reports whatever changed while the test ran, and the grader voids the test.

Code that runs in the same process as the tests can in principle defeat anything in that process:
the guard stops the known tricks, and :mod:`course.exploits` lists for review every submission whose code
reaches for this machinery.  This module imports only the standard library: the kernel loads it.
"""
import functools
import importlib
import json
import os
import pkgutil
import random
import shutil
import sys

# Modules whose functions the checks use or that hold the checks themselves; course.checks.* is added.
JUDGING_MODULES = ("builtins", "numpy", "numpy.random", "numpy.testing", "numpy.linalg",
                   "course", "course.gradcheck", "course.diagnose", "course.checks")
# Objects of the kernel between a test's failure and the error the grader sees: their methods, and
# the attributes named here, must stay as they were (hiding errors, rewriting cells, faking replies).
KERNEL_OBJECTS = {
    "shell": ("custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "events", "ast_transformers",
              "input_transformers_post", "input_transformer_manager", "displayhook", "display_pub", "compile",
              "builtin_trap", "display_trap", "kernel", "hooks", "prefilter_manager"),
    "shell.kernel": ("session", "shell", "iopub_socket", "iopub_thread", "shell_stream", "shell_handlers",
                     "control_handlers", "shell_class"),
    "shell.kernel.session": (),
    "shell.events": ("callbacks",),
    "shell.input_transformer_manager": ("cleanup_transforms", "line_transforms", "token_transformers"),
    "shell.displayhook": (),
    "shell.display_pub": (),
}
# A backward pass that calls these computes a numerical gradient instead of applying the chain rule.
NUMERICAL = ("numerical_gradient", "numerical_gradients")
_MISSING = object()


class _Attributes:
    """Some attributes of one object as they were at install time, and the differences from it now.

    ``added_matters(name)`` says whether a name that was not there at install time is a change: for a
    class always (a method added to a subclass overrides the inherited one), for a module never (numpy
    adds submodules as they are first used).
    """

    def __init__(self, label, owner, mapping=vars, names=None, added_matters=lambda name: False):
        self.label, self.owner, self.mapping, self.names = label, owner, mapping, names
        self.added_matters = added_matters
        self.original = self.state()

    def state(self):
        return {k: v for k, v in self.mapping(self.owner).items() if self.names is None or k in self.names}

    def _differences(self):
        now = self.state()
        changed = [k for k, v in self.original.items() if now.get(k, _MISSING) is not v]
        added = [k for k in now if k not in self.original and self.added_matters(k)]
        return changed, added

    def changes(self):
        changed, added = self._differences()
        return [f"{self.label}.{k}" for k in sorted(changed + added)]

    def restore(self):
        changed, added = self._differences()
        for k in changed:
            self._set(k, self.original[k])
        for k in added:
            self._delete(k)

    def accept(self, before):
        """Take what an instructor's cell changed since ``before`` as the original, unless it is the
        notebook's own code (an instructor's cell may call a student's function)."""
        now = self.state()
        for k in set(now) | set(before):
            if now.get(k, _MISSING) is not before.get(k, _MISSING):
                if k not in now:
                    self.original.pop(k, None)
                elif not _from_notebook(now[k]):
                    self.original[k] = now[k]

    def _set(self, name, value):
        setattr(self.owner, name, value)

    def _delete(self, name):
        delattr(self.owner, name)


class _Dict(_Attributes):
    """A plain dict (a module's namespace, traitlets' values, a handler table) restored in place."""

    def __init__(self, label, owner, keys=False, **kwargs):
        super().__init__(label, owner, mapping=lambda d: d, **kwargs)
        self.keys = keys  # name entries label[key] rather than label.key

    def changes(self):
        if not self.keys:
            return super().changes()
        changed, added = self._differences()
        return [f"{self.label}[{k!r}]" for k in sorted(changed + added)]

    def _set(self, name, value):
        self.owner[name] = value

    def _delete(self, name):
        del self.owner[name]


class _SysHooks(_Attributes):
    """sys.excepthook, sys.displayhook and the trace and profile functions."""

    def __init__(self):
        super().__init__("sys", sys, mapping=lambda _: {
            "excepthook": sys.excepthook, "displayhook": sys.displayhook,
            "settrace": sys.gettrace(), "setprofile": sys.getprofile()})

    def _set(self, name, value):
        if name in ("settrace", "setprofile"):
            getattr(sys, name)(value)
        else:
            setattr(sys, name, value)


class _List:
    """The contents of a list (hook and transformer registries)."""

    def __init__(self, label, items):
        self.label, self.items, self.original = label, items, list(items)

    def state(self):
        return list(self.items)

    def changes(self):
        same = len(self.items) == len(self.original) and all(a is b for a, b in zip(self.items, self.original))
        return [] if same else [self.label]

    def restore(self):
        self.items[:] = self.original

    def accept(self, before):
        added = [x for x in self.items if not any(x is y for y in before) and not _from_notebook(x)]
        removed = [x for x in before if not any(x is y for y in self.items)]
        self.original = [x for x in self.original if not any(x is y for y in removed)] + added


def _from_notebook(value):
    """Whether ``value`` is (or wraps) a function, class or object defined in the notebook."""
    for obj in (value, getattr(value, "__func__", None), getattr(value, "func", None), type(value)):
        if obj is not None and getattr(obj, "__module__", None) == "__main__":
            return True
    return False


def _import_trusted(names, trusted_root):
    """Import ``names`` from the installed locations, never from the submission folder (the cwd).

    matplotlib's backend is started too: it registers IPython hooks on first use, and they belong in
    the snapshot, not among the changes a student's cell made.
    """
    for name in [n for n in sys.modules if n == "course" or n.startswith("course.")]:
        if not _inside(getattr(sys.modules[name], "__file__", None), trusted_root):
            del sys.modules[name]
    saved = sys.path[:]
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    try:
        modules = {name: importlib.import_module(name) for name in names}
        for info in pkgutil.iter_modules(modules["course.checks"].__path__, "course.checks."):
            modules[info.name] = importlib.import_module(info.name)
        try:
            pyplot = importlib.import_module("matplotlib.pyplot")
            pyplot.switch_backend(pyplot.get_backend())
        except ImportError:
            pass
    finally:
        sys.path[:] = saved
    return modules


def _inside(path, root):
    return bool(path) and os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


def _own_classes(module):
    return [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]


def _watch_modules(modules):
    watched = [_Dict("sys.modules", sys.modules, keys=True, names=set(modules))]
    for name, module in modules.items():
        watched.append(_Dict(name, vars(module)))
        if name.startswith("course"):
            watched += [_Attributes(f"{name}.{c.__name__}", c, added_matters=lambda k: True)
                        for c in _own_classes(module)]
    return watched


def _watch_kernel(shell):
    """The shell, the kernel and the objects between them, each with its class hierarchy."""
    watched, seen = [], set()
    for path, attributes in KERNEL_OBJECTS.items():
        obj = shell
        for part in path.split(".")[1:]:
            obj = getattr(obj, part, None)
        if obj is None:
            continue
        for name in attributes:  # traitlets creates default values on first access
            getattr(obj, name, None)
        cls = type(obj)
        methods = {n for n in dir(cls) if not n.startswith("__") and callable(getattr(cls, n, None))}
        names = methods | set(attributes)
        watched.append(_Attributes(path, obj, names=names, added_matters=lambda k: True))
        if hasattr(obj, "_trait_values"):
            watched.append(_Dict(path, obj._trait_values, names=set(attributes), added_matters=lambda k: True))
        for klass in cls.__mro__[:-1]:
            if klass not in seen:
                seen.add(klass)
                watched.append(_Attributes(f"{klass.__module__}.{klass.__qualname__}", klass,
                                           added_matters=lambda k: True))
    watched.append(_Dict("shell.events.callbacks", shell.events.callbacks, keys=True, added_matters=lambda k: True))
    watched += [_List(f"shell.events.callbacks[{name!r}]", hooks) for name, hooks in shell.events.callbacks.items()]
    manager = shell.input_transformer_manager
    for attr in ("cleanup_transforms", "line_transforms", "token_transformers"):
        if isinstance(getattr(manager, attr, None), list):
            watched.append(_List(f"shell.input_transformer_manager.{attr}", getattr(manager, attr)))
    watched += [_List("shell.ast_transformers", shell.ast_transformers),
                _List("shell.input_transformers_post", shell.input_transformers_post)]
    for name in ("shell_handlers", "control_handlers"):
        handlers = getattr(shell.kernel, name, None)
        if isinstance(handlers, dict):
            watched.append(_Dict(f"shell.kernel.{name}", handlers, keys=True, added_matters=lambda k: True))
    return watched


class Guard:
    """The judging objects as they were before any student code ran (see the module docstring)."""

    def __init__(self, shell, trusted_root):
        modules = _import_trusted(JUDGING_MODULES, trusted_root)
        self.shell = shell
        # An instructor's cell may change the kernel's state (a library registering its hooks), never
        # the judging modules: only the kernel's state can take what such a cell changed as legitimate.
        self.kernel_state = _watch_kernel(shell) + [_SysHooks()]
        self.watched = _watch_modules(modules) + self.kernel_state
        self.gradcheck = modules["course.gradcheck"]
        self.pristine = {}    # name -> the object an instructor's cell bound it to
        self.lent = {}        # name -> the student's own object, while a test runs
        self.tripwires = []   # (namespace, name, original, wrapper), while a test runs
        # Student code that uses the global random state behaves the same in every grading.
        random.seed(0)
        modules["numpy"].random.seed(0)

    # -- what the grader calls (through ``call`` below) ---------------------------------------------
    def before_given(self):
        """Before an instructor's cell: note the state, to tell its changes from the student's."""
        self.marks = [w.state() for w in self.kernel_state]
        return []

    def after_given(self, names):
        """After an instructor's cell: what it changed is legitimate (a library registering hooks, say);
        the helpers it bound that the tests use (functions, classes, modules) are remembered."""
        for w, before in zip(self.kernel_state, self.marks):
            w.accept(before)
        ns = self.shell.user_ns
        for name in names:
            if name in ns and (callable(ns[name]) or isinstance(ns[name], type(sys))):
                self.pristine.setdefault(name, ns[name])
        return []

    def arrive(self, staged):
        """A kernel started ahead of its submission: copy the submission's files in from ``staged`` (read-only)
        to the working folder, as the kernel's own user, so the notebook may change them."""
        for entry in os.scandir(staged):
            if entry.is_dir(follow_symlinks=False):
                shutil.copytree(entry.path, entry.name, symlinks=True, dirs_exist_ok=True)
            elif entry.is_file(follow_symlinks=False):
                shutil.copyfile(entry.path, entry.name)
        return []

    def before_test(self):
        """Put every judging object back; return what had to be put back."""
        changed = self._restore()
        ns = self.shell.user_ns
        for name, obj in self.pristine.items():
            if ns.get(name, _MISSING) is not obj:
                self.lent[name] = ns.get(name, _MISSING)
                ns[name] = obj
                changed.append(f"{name} (redefined by the notebook)")
        self._set_tripwires()
        return changed

    def after_test(self):
        """What changed while the test ran (which voids the test); then the same clean-up as before."""
        self._remove_tripwires()
        changed = self._restore()
        ns = self.shell.user_ns
        for name, obj in self.lent.items():
            if obj is _MISSING:
                ns.pop(name, None)
            else:
                ns[name] = obj
        self.lent.clear()
        return changed

    def _set_tripwires(self):
        """While a test runs, the course's numerical gradients refuse to work inside a backward pass."""
        namespaces = [vars(self.gradcheck), self.shell.user_ns]
        for name in NUMERICAL:
            original = vars(self.gradcheck)[name]
            wrapper = _refused_in_backward(original)
            for ns in namespaces:
                for key in [k for k, v in ns.items() if v is original]:
                    ns[key] = wrapper
                    self.tripwires.append((ns, key, original, wrapper))

    def _remove_tripwires(self):
        for ns, key, original, wrapper in self.tripwires:
            if ns.get(key) is wrapper:
                ns[key] = original
        self.tripwires.clear()

    def _restore(self):
        changed = [c for w in self.watched for c in w.changes()]
        if changed:
            for w in self.watched:
                w.restore()
        return changed


def _refused_in_backward(function):
    """``function``, except that it raises when a ``backward`` method of the notebook calls it."""
    @functools.wraps(function)
    def refused(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "backward" and frame.f_globals.get("__name__") == "__main__":
                raise RuntimeError(f"backward() calls {function.__name__}(): a backward pass applies the chain rule; "
                                   "numerical gradients are only for checking it")
            frame = frame.f_back
        return function(*args, **kwargs)
    return refused


_guard = None


def call(action, *args):
    """Entry point for the grader (evaluated as a user expression in the kernel); returns JSON."""
    global _guard
    if action == "install":
        shell = sys.modules["IPython"].get_ipython()
        _guard = Guard(shell, *args)
        return json.dumps({"ok": True, "changed": []})
    if _guard is None:
        return json.dumps({"ok": False, "changed": ["the guard was never installed"]})
    return json.dumps({"ok": True, "changed": getattr(_guard, action)(*args)})
