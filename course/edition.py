"""Editions of the course in other languages, built from the English notebooks and a message catalogue.

There is one source of truth: ``source/`` in English.  What a student reads in a notebook is cut into
translation units, each keyed by its English text (the gettext msgid):

* a markdown cell, whole;
* in code, a comment (consecutive full-line comments form one unit), a docstring, and a string literal
  written for a reader: a literal with two words or more (printed sentences, the tests' labels) and any
  title, label, xlabel or ylabel of a figure;
* the ``edition("en")`` call of each notebook's first cell, which the build sets to the edition's language.

``units`` lists them, ``localize`` puts their translations back in place, and nothing else changes: cells,
cell types, nbgrader metadata and the code itself stay token for token the English notebook's (the tests
check this with :mod:`tokenize`).  ``update_catalogues`` refreshes the templates (``course/locale/*.pot``) and the
catalogues (``course/locale/<lang>/LC_MESSAGES/*.po``) from the English sources with Babel: a changed English text
keeps its old translation marked *fuzzy*, which counts as untranslated until someone reviews it.

An edition is a course folder of its own, ``<course>/<lang>/``: its ``source/`` is built here, and its
nbgrader_config.py loads the course's own and sets the language, so nbgrader's release, autograde and
feedback work unchanged in it (``cd ko && nbgrader release_assignment ...``).
"""
import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import i18n
from course.i18n import edition_of
from course.folders import Course, CourseError

NBGRADER_MARKER = re.compile(r"^#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")
STRING = re.compile(r"^([A-Za-z]*)('''|\"\"\"|'|\")(.*)\2$", re.DOTALL)
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
PROSE = re.compile(r"[A-Za-z]{2,}[^\S\n]+\S*[A-Za-z]")  # two words: text for a reader, not a key or a format
LABELS = {"title", "label", "xlabel", "ylabel", "description"}  # keyword arguments that name a figure's parts
COMMENT_WIDTH = 60  # characters per line of a translated comment (Hangul is twice as wide as Latin)
PROGRAM_SOURCES = ("course", "nbgrader_config.py")  # where the t("...") messages live
EDITION_CALL = "edition"
KEYWORDS = {"t": None, "N_": None}  # the functions whose first argument is a message (course/i18n.py)

CONFIG = '''"""The {name} ({lang}) edition of the course in the folder above (written by `course generate --lang {lang}`).

The notebooks in source/ here are built from ../source/ and the catalogue in course/locale/{lang}/; edit those,
never this folder.  nbgrader runs here as in the course folder: `cd {lang} && nbgrader release_assignment ...`.
"""
import os
from pathlib import Path

os.environ["{env}"] = "{lang}"  # the grader's messages, and the kernels it starts, in this edition's language
load_subconfig(str(Path(__file__).resolve().parent.parent / "nbgrader_config.py"))  # noqa: F821
c = get_config()  # noqa: F821

HERE = Path(__file__).resolve().parent
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = os.environ.get("COURSE_DB_URL", f"sqlite:///{{HERE / 'gradebook.db'}}")
'''


@dataclass(frozen=True)
class Unit:
    """One translatable text of a notebook: where it is, what kind it is, and its English text."""
    cell: int
    kind: str  # "markdown", "comment", "trailing comment", "docstring", "string" or "edition"
    text: str
    start: tuple = None  # (line, column) of the code token(s), or None for a markdown cell
    end: tuple = None
    indent: str = ""  # of a comment block or a docstring
    prefix: str = ""  # a string's prefix and quotes, e.g. ('f', '"')
    quote: str = ""
    multiline: bool = False  # a docstring whose closing quotes sit on their own line


# -- finding the units ---------------------------------------------------------------------------
def units(nb):
    """Every translation unit of a notebook, in order."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.strip():
            found.append(Unit(index, "markdown", cell.source))
        elif cell.cell_type == "code":
            found += code_units(cell.source, index)
    return found


def code_units(source, cell=0):
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    docstrings = _docstring_starts(source)
    found, block = [], []

    def close_block():
        if block:
            first, last = block[0], block[-1]
            text = " ".join(_comment_text(tok.string) for tok in block)
            found.append(Unit(cell, "comment", text, first.start, last.end, indent=lines[first.start[0] - 1][:first.start[1]]))
            block.clear()

    for k, tok in enumerate(tokens):
        if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type != tokenize.COMMENT:
            close_block()
            unit = _string_unit(tok, tokens[:k], cell, docstrings, lines) if tok.type == tokenize.STRING else None
            found += [unit] if unit else []
        elif NBGRADER_MARKER.match(tok.string) or not re.search("[A-Za-z]{2}", tok.string):
            close_block()
        elif lines[tok.start[0] - 1][:tok.start[1]].strip():  # after code on its line
            close_block()
            found.append(Unit(cell, "trailing comment", _comment_text(tok.string), tok.start, tok.end))
        else:
            if block and (tok.start[0] != block[-1].start[0] + 1 or tok.start[1] != block[0].start[1]):
                close_block()
            block.append(tok)
    close_block()
    return sorted(found, key=lambda u: u.start)


def _comment_text(comment):
    return re.sub(r"^#\s?", "", comment).strip()


def _docstring_starts(source):
    """(line, column) of every docstring of a function or class in the code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    starts = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                starts.add((first.value.lineno, first.value.col_offset))
    return starts


def _string_unit(tok, before, cell, docstrings, lines):
    prefix, quote, body = STRING.match(tok.string).groups()
    if "b" in prefix.lower():
        return None
    if tok.start in docstrings:
        indent = lines[tok.start[0] - 1][:tok.start[1]]
        multiline = bool(re.search(r"\n[ \t]*$", body))
        return Unit(cell, "docstring", _dedent_docstring(body), tok.start, tok.end, indent=indent,
                    prefix=prefix, quote=quote, multiline=multiline)
    significant = [b for b in before if b.type not in (tokenize.NL, tokenize.COMMENT)]
    if (len(significant) >= 2 and significant[-1].string == "(" and significant[-2].string == EDITION_CALL
            and body == i18n.ENGLISH):
        return Unit(cell, "edition", body, tok.start, tok.end, prefix=prefix, quote=quote)
    labelled = (len(significant) >= 2 and significant[-1].string == "=" and significant[-2].string in LABELS
                and re.search("[A-Za-z]{2}", body))
    if labelled or PROSE.search(PLACEHOLDER.sub(" ", body)):
        return Unit(cell, "string", body, tok.start, tok.end, prefix=prefix, quote=quote)
    return None


def _dedent_docstring(body):
    first, _, rest = body.partition("\n")
    return (first.strip() + ("\n" + textwrap.dedent(rest) if rest else "")).strip()


# -- putting translations in -------------------------------------------------------------------------
def localize(nb, lang, domain):
    """A copy of ``nb`` with every unit in ``lang``; returns (notebook, the English texts left untranslated)."""
    out = nbformat.from_dict(nb)
    by_cell, missing = {}, []
    for unit in units(nb):
        by_cell.setdefault(unit.cell, []).append(unit)
    for index, cell_units in by_cell.items():
        translated = []
        for unit in cell_units:
            if unit.kind == "edition":
                translated.append((unit, lang))
                continue
            if (None, unit.text) not in i18n.messages(lang, domain):
                missing.append(unit.text)
            translated.append((unit, i18n.translate(unit.text, domain, lang=lang)))
        cell = out.cells[index]
        if cell.cell_type == "markdown":
            cell.source = translated[0][1]
        else:
            cell.source = _replace_in_code(cell.source, translated)
    return out, missing


def _replace_in_code(source, translated):
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    position = lambda point: offsets[point[0] - 1] + point[1]  # noqa: E731
    for unit, text in sorted(translated, key=lambda pair: pair[0].start, reverse=True):
        start, end = position(unit.start), position(unit.end)
        source = source[:start] + _render(unit, text) + source[end:]
    return source


def _render(unit, text):
    if unit.kind == "trailing comment":
        return "# " + text.replace("\n", " ")
    if unit.kind == "comment":
        pieces = [line for part in text.split("\n") for line in (textwrap.wrap(part, COMMENT_WIDTH) or [""])]
        return ("\n" + unit.indent).join("# " + line if line else "#" for line in pieces)
    if unit.kind == "docstring":
        first, *rest = text.split("\n")
        body = first + "".join("\n" + (unit.indent + line if line.strip() else "") for line in rest)
        if unit.multiline:
            body += "\n" + unit.indent
        return f"{unit.prefix}{unit.quote}{body}{unit.quote}"
    return f"{unit.prefix}{unit.quote}{text}{unit.quote}"


# -- the edition's course folder ---------------------------------------------------------------------
def domain(notebook_path):
    """A notebook's catalogue is named after its file (why_backprop.po, ...)."""
    return Path(notebook_path).stem


def folder(course, lang):
    """The Course of edition ``lang`` of ``course`` (the course itself for English, or if it is that edition)."""
    if lang == i18n.ENGLISH or edition_of(course.root) == lang:
        return course
    return Course(course.root / lang)


def english(course):
    """The English course a Course belongs to."""
    return Course(course.root.parent) if edition_of(course.root) else course


def build(course, lang):
    """Write the edition's source/ and nbgrader_config.py from the English course; returns (Course, untranslated)."""
    english_course = english(course)
    target = folder(english_course, lang)
    if target is english_course:
        return target, []
    missing = []
    keep = set()
    for assignment in english_course.assignments():
        path = english_course.source_notebook(assignment)
        nb, left = localize(nbformat.read(path, as_version=4), lang, domain(path))
        missing += left
        out = target.source / assignment / path.name
        keep.add(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(nb) + "\n"
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            out.write_text(text, encoding="utf-8")
    for stale in target.source.glob("*/*.ipynb"):
        if stale not in keep:
            stale.unlink()
    config = CONFIG.format(name=i18n.LANGUAGES[lang], lang=lang, env=i18n.ENV)
    (target.root / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return target, missing


def require_built(course):
    if not (course.root / "nbgrader_config.py").exists() or not course.source.is_dir():
        raise CourseError(i18n.t("the {lang} edition is not built yet: run `course generate --lang {lang}` first",
                                 lang=course.root.name))
    return course


# -- the catalogues ------------------------------------------------------------------------------------
def templates(course):
    """{domain: babel Catalog} of everything to translate, read from the English sources."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_file

    english_course = english(course)
    found = {}
    for assignment in english_course.assignments():
        path = english_course.source_notebook(assignment)
        catalog = found.setdefault(domain(path), Catalog(project="backprop-course", fuzzy=False))
        relative = path.relative_to(english_course.root)
        for unit in units(nbformat.read(path, as_version=4)):
            if unit.kind != "edition":
                flags = ("python-brace-format",) if unit.kind == "string" and PLACEHOLDER.search(unit.text) else ()
                catalog.add(unit.text, locations=[(f"{relative}:cell {unit.cell}", unit.start[0] if unit.start else 0)],
                            auto_comments=[unit.kind], flags=flags)
    catalog = found.setdefault(i18n.DOMAIN, Catalog(project="backprop-course", fuzzy=False))
    package = Path(i18n.__file__).resolve().parent
    files = {f"course/{p.relative_to(package)}": p for p in sorted(package.rglob("*.py"))}
    if (english_course.root / "nbgrader_config.py").exists():
        files["nbgrader_config.py"] = english_course.root / "nbgrader_config.py"
    for name, path in files.items():
        text = path.read_text(encoding="utf-8")
        for lineno, message, comments, context in extract_from_file("python", path, keywords=KEYWORDS):
            if message.split("\n")[0][:30] in text:  # Babel misreads some f-strings outside t() as messages
                catalog.add(message, locations=[(name, lineno)], auto_comments=comments, context=context)
    return found


def update_catalogues(course, langs=("ko",)):
    """Rewrite the .pot templates and merge them into each language's .po; returns {path: (entries, untranslated)}."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    summary = {}
    for name, template in templates(course).items():
        pot = i18n.LOCALE / f"{name}.pot"
        pot.parent.mkdir(parents=True, exist_ok=True)
        with open(pot, "wb") as f:
            write_po(f, template, width=110, omit_header=True, sort_output=False)
        for lang in langs:
            path = i18n.po_path(lang, name)
            if path.exists():
                with open(path, "rb") as f:
                    catalog = read_po(f, locale=lang)
            else:
                catalog = Catalog(locale=lang, project="backprop-course")
            catalog.update(template, no_fuzzy_matching=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                write_po(f, catalog, width=110, omit_header=True, include_previous=True)
            summary[path] = (len(template), sum(1 for m in catalog if m.id and (not m.string or m.fuzzy)))
    i18n.messages.cache_clear()
    return summary
