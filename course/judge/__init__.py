"""The judge: hidden tests are judged here, in the grader's process, never in the student's kernel.

How a hidden test works
-----------------------
1. **Exercise, in the kernel** (``course/checks/``, which holds no expected value and never imports this
   package).  The hidden test cell calls an exercise object named after its grade id::

       ### BEGIN HIDDEN TESTS
       from course.checks import computation_graphs as checks
       checks.test_mul_layer_random(MulLayer)
       ### END HIDDEN TESTS

   The exercise builds its cases with a deterministic builder (seeded, so the inputs need not be secret),
   calls the student's code on copies, and emits ONE record (:mod:`course.checks.record`): each call's
   result as float64 data, or what it raised, plus observations, marked complete at the end.
2. **Judge, in the grader** (:class:`course.judge.preprocessor.JudgeHiddenTests`, right after
   ``course.guarded_execute.GuardedExecute`` in nbgrader_config.py; the test runner ``tests/notebook_runner.py``
   calls the same :func:`course.judge.outputs.judge_cell`).  The check registered under the grade id rebuilds
   the cases by calling the SAME builder, computes the expected values itself, compares them with what was
   recorded (:mod:`course.gradcheck`), names mistakes (:mod:`course.diagnose`) and returns a
   :class:`~course.judge.engine.Verdict`.  The verdict becomes the cell's outputs: a pass is a "✓ ..." line,
   a failure one ``CheckFailed`` error with the message (the points and the feedback follow from that); its
   diagnoses go into the cell's metadata for the instructor's report (:mod:`course.judge.diagnosis`).

API
---
``course.checks.exercises``: ``LayerCase(label, inputs, dout, init=(), numbers=False, exact=False, other=(),
batch=None)``; ``LayerExercise(test, cases, params=())`` (forward, inputs after forward, backward, then
``self.<param>`` for each of ``params``); ``FunctionExercise(test, cases)`` (``fn(*args)`` per case).
``course.judge``: ``LayerCheck(exercise, title, f, grads=("dx",), exact=None, mistakes=..., unchanged=False,
skip=None, subject="", builds_on={}, tolerance={}, two_layers_hint="")``; ``FunctionCheck(exercise, title,
subject, names, f, result="total", builds_on={})``; ``engine.judge(test, records, earlier) -> Verdict(test, ok,
message, diagnoses, depends_on)`` (a :class:`course.judge.diagnosis.Diagnosis` per failed check: record a
failure's mistake with ``checklist.expect(ok, message, mistake)``, ``checklist.name_mistake(hint)`` or a
Comparison's ``mistake``, never only in the message's text).  Messages go through
``course.i18n.t("literal template {field}", field=...)``.

Converting a check (Parts 1, 3 and 4)
-------------------------------------
Worked example: Part 2, ``course/checks/computation_graphs.py`` (the kernel half) and
``course/judge/computation_graphs.py`` (the judge's half).

1. Move the case construction into a builder function in ``course/checks/<part>.py`` that returns
   ``LayerCase`` objects (or argument tuples); it draws from ``course.checks.rng(seed)`` and computes NO
   expected value.  Mark the 1e13 case ``exact=True``; a two-instance case is a case with ``other=``.
2. Define the exercise object there, named after the grade id: ``test_relu_random = LayerExercise(
   "test_relu_random", lambda: relu_cases(3200))``, and make the hidden cell call it.
3. In ``course/judge/<part>.py`` add ``CHECKS = [LayerCheck(exercises.test_relu_random, t("Relu on random
   inputs"), f=relu, mistakes=..., unchanged=True, skip=..., subject="Relu")]`` and list the module in
   :data:`course.judge.engine.PARTS`.  ``f`` is the true forward; expected gradients are its numerical
   gradients (``exact`` gives the exact rule for ``exact`` cases).  ``mistakes(name, case)`` returns
   ``{t("description"): what that mistake would return}``; a name is offered only on such a match or a pattern
   that holds across several entries (never a "factor" between two single numbers).  ``builds_on`` maps the
   student's names this task uses to the grade ids testing them, for "`f` uses your `X`, whose own test
   failed: fix it first".
4. A check that fits neither spec: write a class with ``test``, ``title``, ``subject``, ``builds_on`` and
   ``judge(entries, checklist)``, reading entries with :func:`course.judge.engine.lookup` and the same
   ``course.checks.exercises.key``; keep the kernel half a plain exercise that only calls and records.
5. Delete the old in-kernel judging code, move the visible test's point into the hidden test (visible tests
   are 0-point cells), regenerate ``release/`` and keep ``tests/test_catalogue.py`` green.
"""
