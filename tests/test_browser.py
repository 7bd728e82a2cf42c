"""The course as students and instructors meet it: JupyterLab in headless Chromium, driven by Playwright.

One JupyterLab server serves a temporary copy of the course for the whole module.  For every release
notebook: Run All, then nbgrader's Validate button.  On Part 2 with every answer filled in: the widgets
respond, and Validate reports success.  And the formgrader lists the assignments.
Screenshots go to test-artifacts/browser/.

Needs Debian's Chromium (`apt-get install -y --no-install-recommends chromium`) and playwright; without
them the tests skip, except in CI (CI=true), where they fail.
"""
import base64
import re
import subprocess
import sys

import nbformat
import pytest

from course import submissions
from course.widgets import SHOPPING
from tests.browser_support import (Lab, Notebook, chromium_browser, copy_course, image_bytes, missing_browser,
                                   open_lab)
from tests.conftest import ASSIGNMENTS, ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "browser"
RELEASE_NOTEBOOKS = sorted((ROOT / "release").glob("*/*.ipynb"))
PART_2 = ROOT / "release" / "02-computation-graphs" / "computation_graphs.ipynb"
ANSWERED = "answered"      # where the course copy keeps notebooks with every answer filled in
# What an untouched release notebook may raise: the stub of an unanswered task, a name that task should
# have defined, or a test cell's verdict on it.
UNANSWERED_ERRORS = {"NotImplementedError", "NameError", "CheckFailed"}
DRAWS = re.compile(r"\bdraw\(|\bplt\.|\bdisplay\(")
HANGUL = re.compile("[가-힣]")


def _assignment(notebook):
    return notebook.parent.name


@pytest.fixture(scope="module")
def chromium():
    # the kernel redraws a figure before a widget changes: give it time
    yield from chromium_browser("the browser tests", missing_browser(), ARTIFACTS, timeout_ms=30_000)


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """JupyterLab on a course copy (config, source/, release/, and answered copies of Part 2)."""
    course = copy_course(tmp_path_factory.mktemp("browser-course"), ROOT)
    if PART_2.exists():
        source = nbformat.read(ROOT / "source" / _assignment(PART_2) / PART_2.name, as_version=4)
        answered = course / ANSWERED / _assignment(PART_2) / PART_2.name
        answered.parent.mkdir(parents=True)
        nbformat.write(submissions.perfect(source, nbformat.read(PART_2, as_version=4)), answered)
    server = Lab(course, tmp_path_factory.mktemp("browser-home"), ARTIFACTS / "jupyterlab.log")
    try:
        yield server.start()
    finally:
        left = server.stop()
        assert server.process is None or server.process.poll() is not None, "jupyter lab is still running"
        assert not left, f"processes left running after jupyter lab stopped: {left}"


@pytest.fixture(scope="module")
def context(chromium, lab):
    """One browser tab with JupyterLab loaded, shared by the tests (loading Lab takes seconds)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    with open(ARTIFACTS / "console.log", "w") as console:
        context.on("console", lambda m: console.write(f"{m.type}: {m.text}\n") if m.type in ("error", "warning")
                   else None)
        open_lab(context.new_page(), lab)
        yield context
        context.close()


@pytest.fixture
def page(context, request):
    """JupyterLab's tab, with no dialog left open by an earlier test; a screenshot if the test fails."""
    page = context.pages[0]
    if page.locator(".jp-Dialog").count():
        page.keyboard.press("Escape")
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:   # counted once the test's call has been reported
        page.screenshot(path=ARTIFACTS / f"FAILED-{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}.png")


def shot(page_or_locator, name):
    page_or_locator.screenshot(path=ARTIFACTS / f"{name}.png")


def _errors(cells):
    """(cell index, error output) for every error in the cells of a saved notebook."""
    return [(i, out) for i, cell in enumerate(cells) for out in cell.get("outputs", []) if out.output_type == "error"]


def _first_line(cell):
    return cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty cell)"


def _check_ran_and_drew(cells):
    """Every code cell ran, and every one that draws shows a picture."""
    code = [c for c in cells if c.cell_type == "code"]
    not_run = [_first_line(c) for c in code if c.execution_count is None]
    assert not not_run, f"cells that did not run: {not_run}"
    no_figure = [_first_line(c) for c in code if DRAWS.search(c.source)
                 and not any("image/png" in out.get("data", {}) for out in c.outputs)]
    assert not no_figure, f"cells that should draw showed no figure: {no_figure}"


def _runs_and_validates(lab, page, path, name):
    """Run All stops only at an unanswered task; everything before it ran and drew; Validate reports it."""
    nb = Notebook(page, path).open()
    nb.run_all()
    nb.save()
    cells = nbformat.read(lab.root / path, as_version=4).cells
    errors = _errors(cells)
    if errors:
        nb.show_cell(errors[0][0])
    shot(page, f"{name}-run-all")

    unexpected = [f"{err.ename}: {err.evalue}" for _, err in errors if err.ename not in UNANSWERED_ERRORS]
    assert not unexpected, f"errors other than unanswered tasks: {unexpected}"
    assert errors, "an untouched release notebook should stop at its first unanswered task"
    stop = errors[0][0]
    setup = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    assert stop > setup, f"the setup cell failed: {errors[0][1].ename}: {errors[0][1].evalue}"
    # JupyterLab stops a Run All at the first error: everything before it must have run, and drawn.
    _check_ran_and_drew(cells[:stop])

    dialog = nb.validate()
    shot(page, f"{name}-validate")
    text = dialog.inner_text()
    assert "Validation Results" in text
    assert "The following cell failed" in text and "NotImplementedError" in text, text[:2000]
    dialog.get_by_role("button", name="Ok").click()
    return cells


@pytest.mark.parametrize("notebook", RELEASE_NOTEBOOKS, ids=_assignment)
def test_release_notebook_runs_and_validates(lab, page, notebook):
    _runs_and_validates(lab, page, notebook.relative_to(ROOT).as_posix(), _assignment(notebook))


# -- the Korean edition ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def korean_release(lab):
    """The Korean edition's release notebooks in the served course copy (ko/release/...), built by the course
    command as an instructor would (in its own process: the edition's settings stay out of this one)."""
    subprocess.run([sys.executable, "-m", "course", "generate", "--lang", "ko"], cwd=lab.root, check=True,
                   capture_output=True)
    return sorted(p.relative_to(lab.root).as_posix() for p in (lab.root / "ko" / "release").glob("*/*.ipynb"))


def _korean_fonts():
    """The font families fontconfig knows to cover Korean (what Chromium can draw Hangul with)."""
    listing = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in listing.splitlines() for name in line.split(",") if name.strip()}


def _fonts_drawing(page, selector):
    """The fonts Chromium really used to draw the text of the first element matching ``selector`` (DevTools'
    CSS.getPlatformFontsForNode): [{"familyName": ..., "glyphCount": ...}]."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"nothing matches {selector}"
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_korean_release_notebook_shows_hangul_runs_and_validates(lab, page, korean_release, assignment):
    """A Korean release notebook opens with its Hangul drawn by a Korean font (not as boxes), then runs and
    validates like the English one, and an unanswered task says so in Korean."""
    path = next(p for p in korean_release if f"/{assignment}/" in p)
    Notebook(page, path).open()
    heading = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownOutput h1"
    page.locator(heading).first.wait_for()
    shot(page, f"ko-{assignment}-open")
    fonts = _fonts_drawing(page, heading)
    korean_fonts = _korean_fonts()
    hangul = [f for f in fonts if f["familyName"] in korean_fonts and f["glyphCount"] > 0]
    assert hangul, f"the Korean heading is drawn with {fonts}, none of them a Korean font ({sorted(korean_fonts)}): " \
                   "install one (Debian: fonts-nanum), else Chromium shows boxes"

    cells = _runs_and_validates(lab, page, path, f"ko-{assignment}")
    first_error = _errors(cells)[0][1]
    assert first_error.ename != "NotImplementedError" or HANGUL.search(first_error.evalue), first_error.evalue


@pytest.fixture
def answered_part_2(lab, page):
    if not PART_2.exists():
        pytest.skip(f"{PART_2.relative_to(ROOT)} does not exist yet")
    return Notebook(page, f"{ANSWERED}/{_assignment(PART_2)}/{PART_2.name}").open()


def test_part_2_widgets_respond(lab, answered_part_2, page):
    """With every answer filled in, Run All runs clean and the explorer and the stepper react to the mouse."""
    from playwright.sync_api import expect

    nb = answered_part_2
    nb.run_all()
    nb.save()
    cells = nbformat.read(lab.root / nb.path, as_version=4).cells
    assert not _errors(cells), [f"{err.ename}: {err.evalue}" for _, err in _errors(cells)]
    _check_ran_and_drew(cells)

    explorer = nb.output_area("apple_orange_explorer()")
    expect(explorer.get_by_role("slider")).to_have_count(len(SHOPPING))
    picture = explorer.locator("img.widget-image")
    expect(picture).to_have_attribute("src", re.compile("^blob:"))
    explorer.scroll_into_view_if_needed()
    shot(explorer, "explorer-before")
    before_src, before_png = picture.get_attribute("src"), image_bytes(picture)
    assert base64.b64decode(before_png).startswith(b"\x89PNG"), "the explorer's picture is not a PNG"

    apple = explorer.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^apple$")))
    handle = apple.get_by_role("slider")
    start = SHOPPING["apple"]
    expect(handle).to_have_attribute("aria-valuenow", re.compile(rf"^{start[0]}(\.0)?$"))
    handle.focus()
    handle.press("ArrowRight")     # one step up, as a student would with the keyboard
    expect(apple.locator(".widget-readout")).to_have_text(str(start[0] + start[3]))
    expect(picture).not_to_have_attribute("src", before_src)   # the kernel drew a new picture
    assert image_bytes(picture) != before_png, "moving the apple slider did not change the picture"
    shot(explorer, "explorer-after-apple-step")

    stepper = nb.output_area("backward_stepper(")
    caption = stepper.locator(".widget-html-content")
    expect(caption).to_contain_text("Start:")
    graph = stepper.locator("img.widget-image")
    graph_src, graph_png = graph.get_attribute("src"), image_bytes(graph)
    stepper.scroll_into_view_if_needed()
    stepper.get_by_role("button", name="Step", exact=True).click()
    expect(caption).to_contain_text("Step 1/")
    expect(graph).not_to_have_attribute("src", graph_src)
    assert image_bytes(graph) != graph_png, "Step did not highlight the next node"
    shot(stepper, "stepper-after-one-step")


def test_part_2_answered_validates(answered_part_2, page):
    dialog = answered_part_2.validate()
    shot(page, "answered-validate")
    text = dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in text, text[:2000]
    dialog.get_by_role("button", name="Ok").click()


def test_news_pop_up_is_switched_off(lab):
    """The settings override reached JupyterLab (else a pop-up asks about news over every screenshot)."""
    notification = lab.get_json("lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"


def test_formgrader_lists_the_assignments(lab, context):
    page = context.new_page()
    page.goto(lab.url("formgrader"))
    table = page.locator("table")
    for assignment in sorted(p.name for p in (lab.root / "source").iterdir() if p.is_dir()):
        table.get_by_role("link", name=assignment, exact=True).wait_for()
    shot(page, "formgrader")
    page.close()
