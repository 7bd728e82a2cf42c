"""The Korean edition (한국어판): built from the English sources and the catalogue, complete, and graded the same.

* every text a student or an instructor reads has a current Korean translation (not missing, not fuzzy);
* a Korean notebook differs from the English one only in those texts: the same cells, cell types and nbgrader
  metadata, and code equal token for token once comments, docstrings and translated strings are set aside;
* so the whole mistake catalogue grades the same in both editions: tests/test_catalogue.py proves it on the English
  notebooks, and the code a Korean run executes is the English code but for translated strings.  A sample proves the
  translated strings change no verdict: every mistake that covers an answer cell or a lost test cell no earlier
  one covered, run in the Korean notebooks; and one Korean submission autograded by the real nbgrader gets the
  English scores, with its feedback in Korean;
* every figure of the Korean notebooks draws its Hangul with the font the course ships (no missing glyph);
* a changed English text turns its Korean entry fuzzy, and a fuzzy entry is not used.
"""
import functools
import html
import io
import logging
import re
import shutil
import tokenize
import warnings

import matplotlib
import nbformat
import pytest
from babel.messages.pofile import read_po
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from course import edition, i18n, submissions
from course.grading import Grader, table
from course.folders import Course
from tests.conftest import ASSIGNMENTS, ROOT, catalogue, make_course_copy, selected, write_submission
from tests.notebook_runner import run_ahead, run_notebook, run_once

COURSE = Course(ROOT)
HANGUL = re.compile("[가-힣]")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def korean_sample(assignment):
    """The catalogued mistakes run in Korean: in catalogue order, each that reaches an answer cell or loses a
    test cell no earlier one did (every answer cell and every failing test cell, about a third of the catalogue)."""
    chosen, seen = [], set()
    for m in catalogue(assignment):
        reaches = {("answer", c) for c in m.cells} | {("test", c) for c in m.loses}
        if not reaches <= seen:
            chosen.append(m)
            seen |= reaches
    return chosen


CASES = [(a, m) for a in ASSIGNMENTS for m in korean_sample(a)]


@pytest.fixture(scope="module")
def korean(tmp_path_factory):
    """The Korean edition of a course copy, built (source/ only: no nbgrader needed)."""
    course, missing = edition.build(make_course_copy(tmp_path_factory.mktemp("course")), "ko")
    return course, missing


# -- the catalogue ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _templates():
    return edition.templates(COURSE)


@pytest.mark.parametrize("domain", sorted(_templates()))
def test_every_text_has_a_current_korean_translation(domain):
    template = _templates()[domain]
    current = i18n.messages("ko", domain)
    missing = [m.id for m in template if m.id and (m.context, m.id) not in current]
    assert not missing, f"{len(missing)} texts without a current translation in {i18n.po_path('ko', domain)} " \
                        f"(run `course i18n update`, then translate the new and fuzzy entries): {missing[:5]}"
    for m in template:
        if not m.id:
            continue
        korean = current[m.context, m.id]
        assert set(PLACEHOLDER.findall(korean)) == set(PLACEHOLDER.findall(m.id)), (m.id, korean)
        kind = m.auto_comments[0] if m.auto_comments else "message"
        if kind != "string" and edition.PROSE.search(m.id):  # a label may stay as it is ("lower right")
            assert HANGUL.search(korean), f"not translated into Korean: {m.id!r} -> {korean!r}"


def test_the_catalogue_files_are_what_update_writes(tmp_path, monkeypatch):
    """The committed .pot/.po are current: `course i18n update` would change nothing in them."""
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE, copy)
    monkeypatch.setattr(i18n, "LOCALE", copy)
    edition.update_catalogues(COURSE)
    i18n.messages.cache_clear()
    for path in sorted(copy.rglob("*.po*")):
        committed = ROOT / "course" / "locale" / path.relative_to(copy)
        assert _entries(path) == _entries(committed), f"{committed} is out of date: run `course i18n update`"


def _entries(path):
    with open(path, "rb") as f:
        return {(m.context, m.id): (m.string, m.fuzzy) for m in read_po(f) if m.id}


def test_a_changed_english_text_makes_its_translation_fuzzy_and_unused(tmp_path, monkeypatch):
    course = make_course_copy(tmp_path / "course")
    path = course.source_notebook("02-computation-graphs")
    nb = nbformat.read(path, as_version=4)
    old = nb.cells[2].source
    nb.cells[2].source = old.replace("Buy 2 apples", "Buy two apples")
    nbformat.write(nb, path)
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE, copy)
    monkeypatch.setattr(i18n, "LOCALE", copy)
    edition.update_catalogues(course)
    with open(i18n.po_path("ko", "computation_graphs"), "rb") as f:
        entry = read_po(f)[nb.cells[2].source]
    assert entry.fuzzy and HANGUL.search(entry.string), "the old translation is kept, marked fuzzy"
    assert i18n.translate(nb.cells[2].source, "computation_graphs", lang="ko") == nb.cells[2].source
    built, missing = edition.build(course, "ko")
    assert missing == [nb.cells[2].source]
    assert nbformat.read(built.source_notebook("02-computation-graphs"), as_version=4).cells[2].source == \
        nb.cells[2].source, "an outdated translation is not used: the text stays English until reviewed"
    i18n.messages.cache_clear()


def test_t_renders_english_templates_unchanged_and_korean_from_the_catalogue(monkeypatch):
    monkeypatch.delenv(i18n.ENV, raising=False)
    assert i18n.t("price = {price}", price=715) == "price = 715"
    assert i18n.t("never translated {x}", x=1) == "never translated 1"
    monkeypatch.setenv(i18n.ENV, "ko")
    assert i18n.t("price = {price}", price=715) == "가격 = 715"
    assert i18n.t("never translated {x}", x=1) == "never translated 1"
    monkeypatch.setenv(i18n.ENV, "xx")
    assert i18n.language() == "en"


# -- the notebooks ---------------------------------------------------------------------------------------
def _significant(source):
    """The code's tokens without comments and line breaks inside brackets: (type, text, is a translated unit)."""
    units = {u.start for u in edition.code_units(source) if u.kind in ("docstring", "string", "edition")}
    return [(tok.type, tok.string, tok.start in units)
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type not in (tokenize.COMMENT, tokenize.NL)]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_korean_notebook_differs_from_the_english_one_only_in_translated_text(korean, assignment):
    english = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    ko = nbformat.read(korean[0].source_notebook(assignment), as_version=4)
    assert ko.metadata == english.metadata and ko.nbformat == english.nbformat
    assert [c.cell_type for c in ko.cells] == [c.cell_type for c in english.cells]
    for index, (en, kr) in enumerate(zip(english.cells, ko.cells)):
        assert kr.metadata == en.metadata, f"cell {index}: metadata (nbgrader grade id, points, ...) changed"
        if en.cell_type == "markdown":
            assert HANGUL.search(kr.source), f"cell {index} is not in Korean"
            continue
        compile(kr.source, f"<cell {index}>", "exec")
        en_tokens, ko_tokens = _significant(en.source), _significant(kr.source)
        assert len(ko_tokens) == len(en_tokens), f"cell {index}: the code changed"
        for (en_type, en_text, translated), (ko_type, ko_text, _) in zip(en_tokens, ko_tokens):
            assert ko_type == en_type, f"cell {index}: {en_text!r} became {ko_text!r}"
            if not translated:
                assert ko_text == en_text, f"cell {index}: {en_text!r} became {ko_text!r}"
    setup = next(c for c in ko.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert 'edition("ko")' in setup.source


def test_the_edition_folder_is_an_nbgrader_course_of_its_own(korean):
    course, missing = korean
    assert not missing
    assert course.root.name == "ko" and course.assignments() == ASSIGNMENTS
    config = (course.root / "nbgrader_config.py").read_text()
    assert 'os.environ["COURSE_LANG"] = "ko"' in config and "load_subconfig" in config
    assert edition.edition_of(course.root) == "ko" and edition.english(course).root == course.root.parent


# -- grading in both editions ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def korean_sample_run_ahead(korean, request):
    """The selected cases of the sample run first on every core (the test below then reads their results)."""
    run_ahead([(korean[0].source_notebook(a), m.cells) for a, m in selected(request, "assignment", "mistake")])


@pytest.mark.parametrize("assignment,mistake", CASES, ids=[f"{a}:{m.name}" for a, m in CASES])
def test_mistake_loses_the_same_cells_in_korean(korean, korean_sample_run_ahead, assignment, mistake):
    """tests/test_catalogue.py proves the English notebooks lose exactly ``mistake.loses``; so must the Korean."""
    run = run_once(korean[0].source_notebook(assignment), mistake.cells)
    assert set(run.failed) == set(mistake.loses), mistake.description


@pytest.fixture(scope="module")
def korean_solution(korean):
    """assignment -> (Run, the figures it made, the fonts matplotlib knew at its end): each Korean solution run
    once, with only the Hangul font the course ships (any Nanum font of the machine hidden), for the two tests below."""
    runs = {}

    def solution(assignment):
        if assignment not in runs:
            drawn = []
            with pytest.MonkeyPatch.context() as patch:
                _shipped_font_only(patch)
                patch.setattr(Figure, "__init__", _recording(Figure.__init__, drawn))
                run = run_notebook(korean[0].source_notebook(assignment))
                runs[assignment] = run, drawn, list(font_manager.fontManager.ttflist)
            font_manager.fontManager._findfont_cached.cache_clear()
        return runs[assignment]
    return solution


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_korean_solution_passes_every_test_cell(korean_solution, assignment):
    run = korean_solution(assignment)[0]
    assert run.failed == {} and run.errors == {}
    assert i18n.language() == "en", "the Korean notebook's edition() leaked out of its run"


@pytest.mark.pipeline
def test_a_korean_submission_autograded_by_nbgrader_scores_as_in_english(tmp_path, monkeypatch):
    """One real nbgrader autograde of the Korean edition: the solution and a catalogued mistake get the English
    scores, and the mistake's feedback speaks Korean and keeps the hidden tests secret."""
    monkeypatch.setenv(i18n.ENV, "ko")  # what `course --lang ko` sets; undone after the test
    assignment = "02-computation-graphs"
    mistake = next(m for m in catalogue(assignment) if "test_mul_layer_random" in m.loses)
    course, _ = edition.build(make_course_copy(tmp_path), "ko")
    grader = Grader(course, log=lambda *a: None)
    grader.generate(assignment)
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    release = nbformat.read(course.release_notebook(assignment), as_version=4)
    assert HANGUL.search(release.cells[0].source) and "이 줄을 지우고" in nbformat.writes(release)
    write_submission(course, "perfect", assignment, submissions.perfect(source, release))
    write_submission(course, "mistake", assignment, submissions.with_mistake(source, release, mistake))
    perfect, wrong = grader.autograde("perfect", assignment), grader.autograde("mistake", assignment)

    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in source.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    assert perfect.status == wrong.status == "graded", (perfect.reason, wrong.reason)
    assert perfect.score == perfect.max_score == sum(points.values())
    assert wrong.score == perfect.max_score - sum(points[c] for c in mistake.loses), wrong.cells
    assert {c for c, (score, top) in wrong.cells.items() if score != top} == {c for c in mistake.loses if points[c]}

    page = grader.feedback("mistake", assignment)[0].read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "숨은 테스트: 코드는 보여 주지 않습니다" in text
    assert "예상되는 실수: " in text, "the diagnosis comes in Korean"
    assert "BEGIN HIDDEN TESTS" not in page and "checks.mul_layer_backward" not in page
    assert "학생" in table([perfect, wrong], [assignment]).splitlines()[0]


def test_the_report_counts_korean_diagnoses(monkeypatch):
    from course import report
    from course.checks import computation_graphs as exercises, record
    from course.judge.diagnosis import Diagnosis, RAISED
    from course.judge.engine import judge

    class Swapped:
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y

        def backward(self, dout):
            return dout * self.x, dout * self.y

    monkeypatch.setenv(i18n.ENV, "ko")
    with record.capture() as bundles:
        exercises.test_mul_layer_random(Swapped)
    verdict = judge("test_mul_layer_random", [b[record.MIME] for b in bundles])
    [mistake] = verdict.mistakes
    assert HANGUL.search(mistake) and f"예상되는 실수: {mistake}" in verdict.message, "the Korean diagnosis itself"
    assert HANGUL.search(report._mistake(Diagnosis(RAISED, "TypeError")))
    assert HANGUL.search(report._shown(report.NOT_ANSWERED))


def test_korean_grade_table_lines_up_hangul(monkeypatch):
    from course.grading import Result

    monkeypatch.setenv(i18n.ENV, "ko")
    results = [Result("kim", "02-computation-graphs", "not graded", reason="x"),
               Result("lee", "02-computation-graphs", "graded", 3, 13)]
    lines = table(results, ["02-computation-graphs"]).splitlines()
    assert lines[0].startswith("학생") and "채점 안 됨" in lines[2]
    assert lines[0].index("02") + 2 == lines[3].index("3/13"), "Hangul counts two columns wide"
    assert lines[5].startswith("채점 안 됨 (0점으로 세지 않습니다)")


# -- Hangul in figures -----------------------------------------------------------------------------------
class _Messages(logging.Handler):
    def __init__(self):
        super().__init__()
        self.texts = []

    def emit(self, record):
        self.texts.append(record.getMessage())


def _shipped_font_only(monkeypatch):
    """Hide every Nanum font but the course's."""
    ours = {str(p) for p in i18n.hangul_font_files()}
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [
        f for f in font_manager.fontManager.ttflist if "Nanum" not in f.name or f.fname in ours])
    font_manager.fontManager._findfont_cached.cache_clear()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_korean_figure_draws_its_hangul(korean_solution, assignment, monkeypatch):
    """Draw every figure of the Korean notebook with only the font the course ships (any Nanum font of the
    machine hidden), and fail on a missing glyph: matplotlib's warning, or mathtext's log message."""
    _, drawn, fonts = korean_solution(assignment)
    ours = {str(p) for p in i18n.hangul_font_files()}
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts)  # as the run left them, the course's first
    font_manager.fontManager._findfont_cached.cache_clear()

    messages = _Messages()
    logging.getLogger("matplotlib").addHandler(messages)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for figure in drawn:
                figure.savefig(io.BytesIO(), format="png")
    finally:
        logging.getLogger("matplotlib").removeHandler(messages)
        font_manager.fontManager._findfont_cached.cache_clear()
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    missing += [m for m in messages.texts if "does not have a glyph" in m or "Failed to find font" in m]
    assert not missing, set(missing)
    with_hangul = [f for f in drawn if any(HANGUL.search(t.get_text()) for t in f.findobj(Text))]
    assert drawn and len(with_hangul) == len(drawn), f"{len(drawn) - len(with_hangul)} figures without Korean text"
    assert str(font_manager.findfont(font_manager.FontProperties(family="NanumGothic"))) in ours
    matplotlib.pyplot.close("all")


def _recording(init, drawn):
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        drawn.append(self)
    return __init__


def test_course_command_speaks_the_edition(tmp_path, monkeypatch, capsys):
    from course import cli

    monkeypatch.setenv(i18n.ENV, "en")  # main() switches the process to the edition; this undoes it
    course = make_course_copy(tmp_path / "course")
    monkeypatch.chdir(course.root)
    assert cli.main(["grade", "02-computation-graphs", "--lang", "ko"]) == 2
    assert "오류: ko 판이 아직 만들어지지 않았습니다" in capsys.readouterr().err
    edition.build(course, "ko")
    assert cli.main(["grade", "nope", "--lang", "ko"]) == 2
    assert "오류: 모르는 과제 'nope'입니다" in capsys.readouterr().err
    monkeypatch.chdir(course.root / "ko")  # inside the edition's folder, --lang is not needed
    assert cli.main(["grade", "nope"]) == 2
    assert "모르는 과제" in capsys.readouterr().err
