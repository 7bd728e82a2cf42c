"""The instructor's grade report: one self-contained HTML page, and the grades as CSV beside it.

For each assignment: the score distribution, the share of submissions that earned full marks on each
test cell, and the mistakes the tests diagnosed most often.  The diagnoses are the typed records the judge
wrote into the test cells of the autograded notebooks (:mod:`course.judge.diagnosis`), one per failed
check: never the messages, which the student's code can imitate.
Submissions that were not graded, and those flagged for review, are listed apart: they are never
counted as zeros.
"""
import base64
import csv
import html
import io
import re
import textwrap
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import nbformat
from matplotlib.figure import Figure

from course import cells, i18n
from course.grading import GRADED, NO_SUBMISSION, NOT_GRADED, status_text, unsandboxed, unsandboxed_notice, write_csv
from course.i18n import N_, t
from course.judge import diagnosis

TOP_MISTAKES = 10
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")
_VALUES = re.compile(r"\s*\([N/,. ]*\)")  # "(1/3.2)" after a factor: no meaning once numbers are N
NOT_ANSWERED = N_("not answered (the cell still raises NotImplementedError)")
UNRECOGNISED = N_("wrong values that match no catalogued mistake")


def write_report(course, results, path):
    """Write the HTML report to ``path``, grades.csv and grades-by-cell.csv beside it; return the three paths."""
    path = Path(path)
    grades_csv = write_csv(results, path.with_name("grades.csv"))
    cells_csv = _write_cells_csv(results, path.with_name("grades-by-cell.csv"))
    assignments = [a for a in course.assignments() if any(r.assignment == a for r in results)]
    sections = [_assignment_section(course, a, [r for r in results if r.assignment == a]) for a in assignments]
    path.write_text(_PAGE.format(
        lang=i18n.language(), title=html.escape(t("Grade report: Backprop from the Ground Up")),
        written=t("Written {when}. Data: {grades} (one row per submission), {cells} (one row per submission and "
                  "test cell).", when=datetime.now().strftime("%Y-%m-%d %H:%M"),
                  grades=_link(grades_csv.name), cells=_link(cells_csv.name)),
        look=html.escape(t("Submissions to look at")),
        overview=_overview(results, assignments),
        sections="\n".join(sections),
        problems=_problems(results),
    ))
    return path, grades_csv, cells_csv


# -- what the autograded notebooks say -------------------------------------------------------------
def diagnoses(notebook):
    """(test cell, mistake) pairs for the failures the judge diagnosed in an autograded notebook, one per check."""
    return [(cells.grade_id(cell), _mistake(d)) for cell in notebook.cells for d in diagnosis.read(cell)]


def _mistake(found):
    """A :class:`course.judge.diagnosis.Diagnosis` in the report's words."""
    if found.kind == diagnosis.MISTAKE:
        return found.text
    if found.kind == diagnosis.NOT_ANSWERED:
        return NOT_ANSWERED
    if found.kind == diagnosis.RAISED:
        return t("the code raised {error}", error=found.text)
    if found.kind == diagnosis.ERROR:
        return found.text[:120]
    return UNRECOGNISED


def tally(submissions):
    """(students per mistake, test cells per mistake) over each submission's (test cell, mistake) pairs.

    A student counts once per mistake, however many checks it failed.  A mistake's name can carry the numbers
    of the student's own case ("off by a constant factor of 4.2 (1/0.238)", "the batch size 4 is missing"):
    names that differ only in their numbers are one mistake, written with N for the numbers (and without a
    bracket of them), unless every student's name for it is the same ("it works for 1-D arrays only").
    """
    spellings = defaultdict(set)
    for pairs in submissions:
        for _, mistake in pairs:
            spellings[_numbers_out(mistake)].add(mistake)
    label = {key: next(iter(names)) if len(names) == 1 else key for key, names in spellings.items()}
    students, where = Counter(), defaultdict(set)
    for pairs in submissions:
        for cell, mistake in pairs:
            where[label[_numbers_out(mistake)]].add(cell)
        students.update({label[_numbers_out(mistake)] for _, mistake in pairs})
    return students, where


def _numbers_out(mistake):
    return _VALUES.sub("", _NUMBER.sub("N", mistake))


def _shown(mistake):
    """A mistake as the report writes it: the report's own two kinds in the edition's language."""
    return i18n.translate(mistake) if mistake in (NOT_ANSWERED, UNRECOGNISED) else mistake


def _autograded_notebooks(course, result):
    folder = course.autograded / result.student / result.assignment
    return [nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))]


def _test_cells(course, assignment):
    """The assignment's graded cells in notebook order, with their points."""
    points = {}
    for cell in nbformat.read(course.source_notebook(assignment), as_version=4).cells:
        if cells.is_test(cell):
            points[cells.grade_id(cell)] = cells.marks(cell).get("points", 0)
    return points


# -- the page ------------------------------------------------------------------------------------
def _assignment_section(course, assignment, results):
    graded = [r for r in results if r.status == GRADED]
    parts = [f"<h2>{html.escape(assignment)}</h2>",
             "<p>" + html.escape(t("{graded} graded, {not_graded} not graded, {none} without a submission.",
                                   graded=len(graded), not_graded=_count(results, NOT_GRADED),
                                   none=_count(results, NO_SUBMISSION))) + "</p>"]
    if not graded:
        return "\n".join(parts + ["<p>" + html.escape(t("Nothing graded yet.")) + "</p>"])
    parts.append(_img(_score_histogram(assignment, graded)))
    parts.append(_img(_pass_rates(_test_cells(course, assignment), graded)))
    mistakes, cells = tally([[d for nb in _autograded_notebooks(course, r) for d in diagnoses(nb)] for r in graded])
    parts.append(_mistakes(mistakes, cells, len(graded)))
    return "\n".join(parts)


def _score_histogram(assignment, graded):
    percent = [100 * r.score / r.max_score if r.max_score else 0 for r in graded]
    fig = Figure(figsize=(7, 2.6))
    ax = fig.subplots()
    ax.hist(percent, bins=range(0, 101, 10), color="#4c72b0", edgecolor="white")
    mean = sum(percent) / len(percent)
    ax.axvline(mean, color="#c44e52", linestyle="--", label=t("mean {mean:.0f}%", mean=mean))
    ax.set(xlim=(0, 100), xlabel=t("score (% of the points)"), ylabel=t("submissions"),
           title=t("Score distribution ({n} graded)", n=len(graded)))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", framealpha=0.9)
    fig.tight_layout()
    return fig


def _pass_rates(points, graded):
    """Share of graded submissions with full marks on each test cell, in notebook order.

    A 0-point cell (a visible test) has "full marks" whether it passed or not: it is left out."""
    names = [c for c in points if points[c]] + sorted({c for r in graded for c in r.cells} - set(points))
    full = [sum(1 for r in graded if c in r.cells and r.cells[c][0] == r.cells[c][1]) for c in names]
    fig = Figure(figsize=(7, 0.6 + 0.32 * len(names)))
    ax = fig.subplots()
    y = range(len(names))
    ax.barh(y, [100 * k / len(graded) for k in full], color="#55a868")
    ax.set_yticks(list(y), [t("{cell} ({points:g} pt)", cell=c, points=points[c]) if c in points else c for c in names],
                  fontsize=8)
    for i, k in enumerate(full):
        ax.text(101, i, f"{k}/{len(graded)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 112), xlabel=t("% of graded submissions with full marks"), title=t("Pass rate per test cell"))
    fig.tight_layout()
    return fig


def _mistakes(mistakes, cells, n_graded):
    unrecognised = mistakes.pop(UNRECOGNISED, 0)
    note = ("<p>" + html.escape(t("{n} of {graded} students also failed checks whose message names no likely "
                                  "mistake (in {cells}): worth a look, and perhaps a new entry in the checks' known "
                                  "mistakes.", n=unrecognised, graded=n_graded,
                                  cells=", ".join(sorted(cells[UNRECOGNISED])))) + "</p>") if unrecognised else ""
    if not mistakes:
        return "<p>" + html.escape(t("No diagnosed mistakes.")) + "</p>" + note
    top = mistakes.most_common(TOP_MISTAKES)
    fig = Figure(figsize=(8, 0.8 + 0.5 * len(top)))
    ax = fig.subplots()
    ax.barh(range(len(top)), [k for _, k in top], color="#dd8452")
    ax.set_yticks(range(len(top)), [textwrap.fill(textwrap.shorten(_shown(m), 90), 45) for m, _ in top], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set(xlabel=t("students"), title=t("Most frequent diagnosed mistakes"))
    fig.tight_layout()
    rows = "".join(_row(_shown(m), t("{k} of {n}", k=k, n=n_graded), ", ".join(sorted(cells[m]))) for m, k in top)
    return (_img(fig) + _header(t("mistake (as the tests diagnosed it)"), t("students"), t("test cells"))
            + f"{rows}</table>" + note)


def _overview(results, assignments):
    rows = "".join(f"<tr><td>{html.escape(a)}</td>"
                   + "".join(f"<td>{_count([r for r in results if r.assignment == a], s)}</td>"
                             for s in (GRADED, NOT_GRADED, NO_SUBMISSION)) + "</tr>"
                   for a in assignments)
    notice = unsandboxed_notice(results)
    return ((f"<p><strong>{html.escape(notice)}</strong></p>" if notice else "")
            + _header(t("assignment"), t("graded"), t("not graded"), t("no submission")) + f"{rows}</table>")


def _problems(results):
    """Not graded, no submission and flagged submissions, each in its own table."""
    tables = [
        (t("Not graded (never counted as 0)"), [r for r in results if r.status == NOT_GRADED],
         lambda r: r.reason),
        (t("No submission"), [r for r in results if r.status == NO_SUBMISSION], lambda r: r.reason),
        (t("Flagged for review (the score stands until you change it)"), [r for r in results if r.flags],
         lambda r: "; ".join(map(str, r.flags))),
        ("Graded without the sandbox", unsandboxed(results), lambda r: "its code ran outside the sandbox"),
    ]
    out = []
    for title, rows, why in tables:
        out.append(f"<h3>{html.escape(title)}: {len(rows)}</h3>")
        if rows:
            body = "".join(f"<tr><td>{html.escape(r.student)}</td><td>{html.escape(r.assignment)}</td>"
                           f"<td>{html.escape(_score(r))}</td><td>{html.escape(why(r))}</td></tr>"
                           for r in sorted(rows, key=lambda r: (r.assignment, r.student)))
            out.append(_header(t("student"), t("assignment"), t("score"), t("why")) + f"{body}</table>")
    return "\n".join(out)


def _row(*cells):
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def _link(name):
    return f'<a href="{html.escape(name)}">{html.escape(name)}</a>'


def _header(*names):
    """A table's opening and its row of column names."""
    return "<table><tr>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"


def _score(result):
    return f"{result.score:g}/{result.max_score:g}" if result.status == GRADED else "—"


def _count(results, status):
    return sum(r.status == status for r in results)


def _img(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _write_cells_csv(results, path):
    """One row per submission and test cell, for a spreadsheet or pandas."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([t("student"), t("assignment"), t("status"), t("cell"), t("score"), t("max_score")])
        for r in results:
            for cell, (score, max_score) in r.cells.items():
                w.writerow([r.student, r.assignment, status_text(r.status), cell,
                            "" if score is None else score, "" if max_score is None else max_score])
    return Path(path)


_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, "NanumGothic", "Noto Sans CJK KR", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; font-size: .9rem; }}
th {{ background: #f3f3f3; }}
img {{ display: block; max-width: 100%; margin: .5rem 0; }}
h2 {{ border-bottom: 2px solid #4c72b0; padding-bottom: .2rem; margin-top: 2.5rem; }}
</style></head><body>
<h1>{title}</h1>
<p>{written}</p>
{overview}
{sections}
<h2>{look}</h2>
{problems}
</body></html>
"""
