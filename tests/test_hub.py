"""A real class on a real JupyterHub: release, fetch, submit, grade, feedback, with real Unix accounts.

The hub runs from deploy/jupyterhub_config.py as root on 127.0.0.1 (PAM logins, LocalProcessSpawner, the
formgrader as a service), with the system-wide nbgrader config deploy/jupyter/nbgrader_config.py and an
exchange made by deploy/setup-course.sh in a temporary folder.  One instructor and two students are new Unix
accounts (deploy/add-account.sh, passwords through chpasswd), removed afterwards with their homes and processes.

The steps run in order, each on what the one before left:
  1. the instructor generates and releases Part 2 (command line, as their account);
  2. in headless Chromium each student logs in, fetches Part 2 in the Assignment List, writes MulLayer (one
     correctly, one with the classic mistake of not swapping the inputs), presses Validate and submits;
  3. the instructor collects, grades with `course grade` (never with --no-sandbox: grading is walled in by
     bubblewrap wherever `course grade` has its sandbox), writes and releases the feedback;
  4. each student fetches their feedback and sees their own scores and messages only;
  5. the formgrader opens for the instructor through the hub, in its own tab, and refuses a student;
  6. as one student, the other student's submission and home, the course folder, the released assignment
     (for writing) and the solutions are out of reach.
The hub and every command run as an account see this checkout reduced to its environment, the course
package and deploy/ (tests/hub_support.hub_view).  Screenshots and the hub's log go to test-artifacts/hub/.

Needs root, useradd & co., bubblewrap, Debian's Chromium, playwright and the npm configurable-http-proxy
(`npm install -g configurable-http-proxy@5.3.0`); without them the test skips, except in CI (CI=true).
"""
import grp
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from course.submissions import solution_code
from tests.browser_support import chromium_browser
from tests.adversarial import MUL_TESTS
from tests.conftest import ROOT, points
from tests.hub_support import DEPLOY, Accounts, Hub, as_user, missing_prerequisites, remove_stale_accounts
from mistakes.computation_graphs import MISTAKES

pytestmark = pytest.mark.hub

ARTIFACTS = ROOT / "test-artifacts" / "hub"
ASSIGNMENT = "02-computation-graphs"
NOTEBOOK = "computation_graphs"
COURSE_ID = "backprop"
NOT_SWAPPED = next(m for m in MISTAKES if m.name == "mul_not_swapped")
DIAGNOSIS = "the inputs are not swapped"     # what the feedback says about that mistake
POINTS = points(ASSIGNMENT)
# A student answers MulLayer only: right, the points of MulLayer's tests; wrong, none.
RIGHT_SCORE = f"Score: {sum(POINTS[c] for c in MUL_TESTS):.1f} / {sum(POINTS.values()):.1f}"
WRONG_SCORE = f"Score: 0.0 / {sum(POINTS.values()):.1f}"
DONE = set()     # the steps that passed: a step whose predecessor failed is skipped, not failed twice


def after(step):
    if step not in DONE:
        pytest.skip(f"needs the step '{step}', which did not pass")


@pytest.fixture(scope="module")
def chromium():
    yield from chromium_browser("the hub test", missing_prerequisites(), ARTIFACTS, timeout_ms=60_000)


class Class:
    """The hub, its accounts and folders, as the fixture set them up."""

    def __init__(self, root, hub, instructor, students, course, exchange, graders):
        self.root, self.hub, self.instructor, self.students = root, hub, instructor, students
        self.course, self.exchange, self.graders = course, exchange, graders
        self.env = {"COURSE_EXCHANGE": hub.env["COURSE_EXCHANGE"], "JUPYTER_CONFIG_PATH": str(DEPLOY / "jupyter")}
        self.submissions = {}   # student name -> their submission's folder in inbound/

    def instructor_runs(self, *command):
        return as_user(self.instructor, *command, cwd=self.course, env=self.env)

    @property
    def course_exchange(self):
        return self.exchange / COURSE_ID


def _copy_course(dest, owner):
    dest.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder, dest / folder)
    subprocess.run(["chown", "-R", f"{owner.name}:{owner.name}", str(dest)], check=True)


@pytest.fixture(scope="module")
def deployment(chromium):
    remove_stale_accounts()
    accounts = Accounts()
    # A folder every account can enter (pytest's own temporary folders are private to root).
    root = Path(tempfile.mkdtemp(prefix="course-hub-"))
    root.chmod(0o755)
    hub = None
    try:
        exchange, state = root / "exchange", root / "hub"
        state.mkdir(mode=0o700)
        groups = {"COURSE_STUDENTS_GROUP": accounts.group("students"),
                  "COURSE_GRADERS_GROUP": accounts.group("graders"), "COURSE_EXCHANGE": str(exchange)}
        instructor_name = accounts.name("i")
        subprocess.run([str(DEPLOY / "setup-course.sh"), instructor_name], env={**os.environ, **groups},
                       check=True, capture_output=True)
        instructor = accounts.activate(instructor_name)
        students = []
        for n in (1, 2):
            name = accounts.name(f"s{n}")
            subprocess.run([str(DEPLOY / "add-account.sh"), name, groups["COURSE_STUDENTS_GROUP"]], check=True,
                           capture_output=True)
            students.append(accounts.activate(name))
        course = instructor.home / COURSE_ID
        _copy_course(course, instructor)
        for account in (instructor, *students):   # every account runs this very environment
            seen = as_user(account, "python", "-c", "import sys, course, nbgrader, jupyterhub; print(sys.version)",
                           cwd="/").stdout.strip()
            assert seen == sys.version, f"{account.name} runs another Python ({seen}), not this one ({sys.version})"

        hub = Hub(state, {**groups, "COURSE_JUPYTER_CONFIG": str(DEPLOY / "jupyter"),
                          "COURSE_GRADER_ACCOUNT": instructor.name, "COURSE_DIR": str(course)},
                  ARTIFACTS / "jupyterhub.log")
        hub.start()
        yield Class(root, hub, instructor, students, course, exchange, groups["COURSE_GRADERS_GROUP"])
    finally:
        _tear_down(hub, accounts, root)


def _tear_down(hub, accounts, root):
    """Stop the hub, remove the accounts and the folder, each even if the one before failed."""
    try:
        left = hub.stop() if hub else []
    finally:
        try:
            not_removed = accounts.remove()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    assert not left, f"processes left running after the hub stopped: {left}"
    assert not not_removed, f"accounts or groups not removed: {not_removed}"
    assert not root.exists(), f"{root} was not removed"


@pytest.fixture(scope="module")
def browser_of(chromium, deployment):
    """``browser_of(account)``: a tab logged in to the hub as that account (one browser context each)."""
    contexts = {}

    def open_as(account, next_path=None):
        if account.name not in contexts:
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.goto(deployment.hub.url("hub/login" + (f"?next={next_path}" if next_path else "")))
            page.fill("#username_input", account.name)
            page.fill("#password_input", account.password)
            page.click("#login_submit")
            contexts[account.name] = context
        return contexts[account.name]

    yield open_as
    for context in contexts.values():
        context.close()


def shot(page, name):
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def _permissions(path):
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------------- 1. release

def test_instructor_releases_part_2(deployment):
    c = deployment
    c.instructor_runs("python", "-m", "course", "generate", ASSIGNMENT)
    c.instructor_runs("nbgrader", "release_assignment", ASSIGNMENT)
    released = c.course_exchange / "outbound" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert released.read_bytes() == (c.course / "release" / ASSIGNMENT / released.name).read_bytes()
    assert released.stat().st_uid == c.instructor.uid and _permissions(released) == 0o644
    inbound = c.course_exchange / "inbound"
    assert _permissions(inbound) == 0o2733, oct(_permissions(inbound))   # write-only: students cannot list it
    DONE.add("release")


# ------------------------------------------------------------------------------- 2. fetch, answer, submit

def _answer(student_index):
    source = nbformat.read(ROOT / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    return solution_code(source)["mul_layer"] if student_index == 0 else NOT_SWAPPED.cells["mul_layer"]


def _open_assignment_list(page):
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    return page.locator(".nbgrader-mainarea-widget:visible")


def _lab(context, account):
    page = context.pages[0]
    page.wait_for_url(re.compile(rf"/user/{account.name}/lab"), timeout=180_000)   # the hub spawned the server
    page.locator(".jp-LabShell").wait_for()
    return page


def test_students_fetch_answer_validate_and_submit(deployment, browser_of):
    from playwright.sync_api import expect

    after("release")
    c = deployment
    for i, student in enumerate(c.students):
        page = _lab(browser_of(student), student)
        assignments = _open_assignment_list(page)
        released = assignments.locator("#released_assignments_list")
        released.get_by_text(ASSIGNMENT).wait_for()
        released.get_by_role("button", name="Fetch").click()
        fetched = assignments.locator("#fetched_assignments_list")
        fetched.get_by_text(ASSIGNMENT).wait_for()
        copy = student.home / COURSE_ID / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        assert copy.stat().st_uid == student.uid, "the fetched notebook is not the student's own file"
        shot(page, f"{i + 1}-assignment-list-fetched")

        page.goto(c.hub.url(f"user/{student.name}/lab/tree/{COURSE_ID}/{ASSIGNMENT}/{NOTEBOOK}.ipynb"))
        notebook = page.locator(".jp-NotebookPanel:visible")
        cell = notebook.locator(".jp-CodeCell").filter(has=page.locator(".jp-Editor", has_text="class MulLayer"))
        editor = cell.locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(_answer(i))
        expect(cell.locator(".jp-Editor")).not_to_contain_text("NotImplementedError")

        notebook.get_by_role("button", name="Validate", exact=True).click()   # saves, then validates
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=180_000)
        expect(dialog).to_contain_text("Validation Results")
        shot(page, f"{i + 1}-validate")
        text = dialog.inner_text()
        # Validation ran the notebook: the tasks left undone fail for both; the visible test of MulLayer (the
        # book's apple example) fails only for the mistaken student.
        assert "NotImplementedError" in text, text[:3000]
        assert ('checklist("the apple example")' in text) == (i == 1), text[:3000]
        dialog.get_by_role("button", name="Ok").click()
        saved = nbformat.read(copy, as_version=4)
        assert any(_answer(i).strip() in cell.source for cell in saved.cells), "the answer was not saved"

        assignments = _open_assignment_list(page)
        assignments.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
        assignments.locator("#submitted_assignments_list").get_by_text(re.compile(r"\d{4}-\d\d-\d\d")).wait_for()
        shot(page, f"{i + 1}-submitted")

        mine = list((c.course_exchange / "inbound").glob(f"{student.name}+{ASSIGNMENT}+*"))
        assert len(mine) == 1, mine
        # nbgrader leaves it mode 777; deploy/jupyter/nbgrader_config.py closes it to all but the graders.
        assert (_permissions(mine[0]), grp.getgrgid(mine[0].stat().st_gid).gr_name) == (0o770, c.graders)
        submitted = nbformat.read(mine[0] / f"{NOTEBOOK}.ipynb", as_version=4)
        assert any(_answer(i).strip() in cell.source for cell in submitted.cells)
        c.submissions[student.name] = mine[0]
    DONE.add("submit")


# --------------------------------------------------------------------- 3. collect, grade, feedback out

def test_instructor_collects_grades_and_releases_feedback(deployment):
    after("submit")
    c = deployment
    c.instructor_runs("nbgrader", "collect", ASSIGNMENT)
    for student in c.students:
        assert (c.course / "submitted" / student.name / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    graded = c.instructor_runs("python", "-m", "course", "grade", ASSIGNMENT)
    (ARTIFACTS / "course-grade.txt").write_text(graded.stdout + graded.stderr)
    status = {r["student"]: r for r in json.loads((c.course / "grading_status.json").read_text())}
    right, wrong = (status[s.name] for s in c.students)
    assert (right["status"], right["score"]) == ("graded", 4.0), right
    assert (wrong["status"], wrong["score"]) == ("graded", 0.0), wrong

    c.instructor_runs("python", "-m", "course", "feedback", ASSIGNMENT)
    c.instructor_runs("nbgrader", "release_feedback", ASSIGNMENT)
    released = list((c.course_exchange / "feedback").glob("*.html"))
    assert len(released) == 2, released
    DONE.add("feedback")


# ---------------------------------------------------------------------------------- 4. feedback back

def test_students_see_their_own_feedback_only(deployment, browser_of):
    after("feedback")
    c = deployment
    expected = [(RIGHT_SCORE, WRONG_SCORE), (WRONG_SCORE, RIGHT_SCORE)]
    for i, (student, (own, other)) in enumerate(zip(c.students, expected)):
        context = browser_of(student)
        page = context.pages[0]
        assignments = _open_assignment_list(page)
        submitted = assignments.locator("#submitted_assignments_list")
        submitted.get_by_role("button", name="Fetch Feedback").click()
        submitted.get_by_text("(view feedback)").wait_for()
        shot(page, f"{i + 1}-feedback-fetched")

        files = list((student.home / COURSE_ID / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
        assert len(files) == 1, files
        relative = files[0].relative_to(student.home).as_posix()
        feedback = context.new_page()
        feedback.goto(c.hub.url(f"user/{student.name}/files/{relative}"))
        text = feedback.locator("body").inner_text()
        shot(feedback, f"{i + 1}-feedback")
        feedback.close()
        assert own in text and other not in text, text[:2000]
        assert (DIAGNOSIS in text) == (i == 1), text[:3000]
        other_student = c.students[1 - i].name
        assert other_student not in text
        assert "BEGIN HIDDEN TESTS" not in text and "check_mul_layer" not in text
    DONE.add("feedback back")


# ----------------------------------------------------------------------------------- 5. the formgrader

def test_formgrader_opens_for_the_instructor_and_refuses_students(deployment, browser_of):
    from playwright.sync_api import expect

    after("feedback")
    c = deployment
    formgrader = f"services/{COURSE_ID}/formgrader"
    page = browser_of(c.instructor, next_path=f"/{formgrader}").pages[0]
    page.wait_for_url(re.compile(rf"/{formgrader}"), timeout=180_000)
    row = page.locator("tr", has=page.get_by_role("link", name=ASSIGNMENT, exact=True))
    expect(row).to_contain_text("released")
    expect(row.locator("td").nth(8)).to_have_text("2")    # the column "# Submissions"
    shot(page, "formgrader-instructor")
    # nbgrader's Lab panel shows the formgrader in an iframe; JupyterHub >= 4.1 forbids framing its servers.
    response = page.request.get(c.hub.url(formgrader))
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")
    page.goto(c.hub.url(f"{formgrader}/gradebook/{ASSIGNMENT}/{NOTEBOOK}"))
    for student in c.students:   # the formgrader hides names until asked: they are in the page all the same
        expect(page.locator("a.name-shown", has_text=student.name)).to_have_count(1)
    shot(page, "formgrader-gradebook")

    student = c.students[0]
    page = browser_of(student).new_page()
    response = page.goto(c.hub.url(formgrader))
    shot(page, "formgrader-student")
    assert response.status == 403, (response.status, response.url)
    assert ASSIGNMENT not in page.content()
    page.close()


# --------------------------------------------------------------------------------- 6. permissions

def _denied(account, *command):
    result = as_user(account, *command, cwd="/", check=False)
    # "Operation not permitted": the sticky bit of the exchange root refuses to rename another's folder.
    refused = "Permission denied" in result.stderr or "Operation not permitted" in result.stderr
    assert result.returncode != 0 and refused, (command, result.stdout, result.stderr)


def test_students_cannot_reach_each_others_work_or_the_course(deployment):
    after("feedback back")
    c = deployment
    first, second = c.students
    theirs = c.submissions[second.name]
    inbound = c.course_exchange / "inbound"
    home_copy = second.home / COURSE_ID / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    released = c.course_exchange / "outbound" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    # What the checks below reach for exists, and its owner can read it: a denial means a closed door.
    for owner, path in [(second, theirs / f"{NOTEBOOK}.ipynb"), (second, home_copy), (c.instructor, c.course / "gradebook.db")]:
        as_user(owner, "cat", str(path), cwd="/")

    _denied(first, "ls", str(inbound))
    _denied(first, "cat", str(theirs / f"{NOTEBOOK}.ipynb"))              # even knowing the random name
    _denied(first, "cat", str(theirs / "submission_secret.txt"))           # which names their feedback file
    _denied(first, "ls", str(c.course_exchange / "feedback"))
    _denied(first, "ls", str(second.home))
    _denied(first, "cat", str(home_copy))
    _denied(first, "ls", str(c.course / "source"))
    _denied(first, "cat", str(c.course / "gradebook.db"))
    _denied(first, "sh", "-c", f"echo 'print(1)' > {released}")
    _denied(first, "rm", "-rf", str(released.parent))
    _denied(first, "mkdir", str(released.parent.parent / "99-fake"))
    _denied(first, "mv", str(c.course_exchange), str(c.exchange / "taken"))
    assert released.read_bytes() == (c.course / "release" / ASSIGNMENT / released.name).read_bytes()
    # Nor does the environment they run hold a solution (a real server builds it from the student bundle;
    # here hub_view() shows them the checkout without its source/).
    solution = ROOT / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    result = as_user(first, "cat", str(solution), cwd="/", check=False)
    assert solution.exists() and result.returncode != 0 and not result.stdout


# ------------------------------------------------------------------------------ the guide quotes these files

QUOTE = re.compile(r"<!-- quoted from (\S+) -->\n```\w*\n(.*?)```", re.S)


def test_scaling_guide_quotes_the_deployment_files_verbatim():
    quotes = QUOTE.findall((ROOT / "docs" / "scaling.md").read_text())
    assert {path for path, _ in quotes} >= {"deploy/jupyterhub_config.py", "deploy/jupyter/nbgrader_config.py",
                                            "deploy/setup-course.sh", "deploy/add-account.sh"}
    for path, block in quotes:
        assert block in (ROOT / path).read_text(), f"docs/scaling.md quotes {path}, but the file says otherwise:\n{block}"
