"""What a notebook cell's Python code reads and binds, read without running it (IPython magics blanked)."""
import ast
import re

SHELL_MAGICS = re.compile(r"^\s*(!|%%?(system|sx|bash|sh|script|writefile|run|load)\b)")
PARSE_TRIES = 3


def source_code(source):
    """Python source with IPython magics blanked (line numbers kept), and whether shell commands were found."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "", bool(SHELL_MAGICS.match(lines[0]))
    shell = any(SHELL_MAGICS.match(line) for line in lines)
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines), shell


def parse(source):
    """The cell's syntax tree, or None if it is not Python."""
    code, _ = source_code(source)
    for attempt in range(PARSE_TRIES):
        try:
            return ast.parse(code)
        except SyntaxError:
            return None
        except SystemError as exc:
            # CPython 3.11 now and then miscounts its AST constructor's depth in a threaded process (a Dask
            # worker: python/cpython#106905) and refuses a tree it has built; parsing again succeeds.
            if "recursion depth mismatch" not in str(exc) or attempt == PARSE_TRIES - 1:
                raise


def names_used(source):
    """Names a cell reads (its free variables, roughly)."""
    tree = parse(source)
    if tree is None:
        return set(re.findall(r"[A-Za-z_]\w*", source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_bound(source):
    """Names a cell binds at its top level (imports, assignments, functions, classes)."""
    tree = parse(source)
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
