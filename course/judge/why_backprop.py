"""Part 1's hidden tests (오차역전파법, why backprop), the judge's half: exact gradients, the SGD update, the
four steps and the least-squares slope, with the known mistakes.

A numerical gradient is judged against the exact gradient of functions whose derivative is known by formula,
so only a central difference with h near 1e-4 is accurate enough.  The probe's record (where the student's code
evaluated ``f``: which offsets, on which array) names the mistake: a forward difference, an h far from 1e-4,
nudging a copy, entries not restored.
"""
from dataclasses import dataclass, field

import numpy as np

from course.checks import why_backprop as exercises
from course.checks.exercises import key
from course.diagnose import diagnose
from course.gradcheck import compare, likely
from course.i18n import t
from course.judge.engine import Missing, describe, lookup

# A central difference with h = 1e-4 is within ~1e-8 of these functions' exact gradients; a forward
# difference is ~1e-4 off, and h = 1e-10 leaves ~1e-6 of round-off noise.
ACCURACY = dict(rtol=1e-6, atol=1e-8)
# Judging only where each entry's gradient lands: any reasonable difference formula passes.
PLACEMENT = dict(rtol=1e-3, atol=1e-4)
# Below this relative error a gradient is right but for the numerics (the step, the difference formula), which
# the probe names; a "constant factor of 1.001" there would send the student after a bug that is not there.
NUMERICS = 1e-2


def _softmax_cross_entropy_gradient(z, labels):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(z)), labels.astype(int)] -= 1
    return p / len(z)


GRADIENTS = {
    "sum_squares": lambda x: 2 * x,
    "cubic": lambda x: 3 * x ** 2 - 2,
    "steep_exp": lambda x: np.exp(3 * x),
    "cross_entropy": _softmax_cross_entropy_gradient,
    "least_squares": lambda w, a, b: a.T @ (a @ w - b),
    "weighted": lambda x, weights: weights + 0.1 * x,
    "wavy": lambda x, weights: weights * np.cos(x) + 2 * x,
}

BORROWED = t("numerical_gradient uses the course's own helper (course.gradcheck): that one is for the tests. "
             "Write the loop over the entries of x yourself.")


@dataclass(frozen=True)
class _Check:
    """A check of one exercise; the subclasses say how the record is judged (``judge(entries, c)``)."""
    exercise: object
    title: str
    subject: str = ""
    builds_on: dict = field(default_factory=dict)

    @property
    def test(self):
        return self.exercise.test


# ---------------------------------------------------------------------------------------------------
# What went wrong, from the probe's record (hints only, never the verdict)

def restore_hint(before, after):
    drift = float(np.abs(np.asarray(after) - np.asarray(before)).max())
    if drift < 1e-9 * max(1.0, float(np.abs(np.asarray(before)).max())):
        return t("x is back only up to round-off (off by up to {drift:.1e}): adding and subtracting h does not "
                 "return exactly to the original number in floating point. Save the original value "
                 "(tmp = x[idx]) and assign it back (x[idx] = tmp)", drift=drift)
    return t("x was not restored (entries off by up to {drift:.2g}): after evaluating f(x+h) and f(x-h), "
             "put the original value back (x[idx] = tmp) before moving to the next entry", drift=drift)


def probe_hints(entries):
    """Student-readable guesses at what is wrong, from where f saw x change."""
    offsets, caller_changed = entries.get(key("probe", "offsets")), entries.get(key("probe", "caller changed"))
    after = entries.get(key("probe", "x after"))
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or type(caller_changed) is not bool:
        return []
    x0 = exercises.probe_x(np.array(exercises.PROBE_BASE))
    hints = []
    if not offsets.size:
        hints.append(t("f always saw the original x: your code never changes the entries of x before calling f"))
    elif not caller_changed:
        hints.append(t("you nudge a copy of x (x.copy(), np.array(x), x.flatten() or a reshape that copies), "
                       "not x itself: change x in place, so that f sees the change even when it reads the "
                       "array through a closure, like lambda W: net.loss(x, t)"))
    big = offsets[np.abs(offsets) > 1e-14]
    if big.size:
        sizes = sorted({float(f"{abs(o):.1e}") for o in big})
        if not ((big > 0).any() and (big < 0).any()):
            hints.append(t("f is evaluated on one side only (x + h and x): that is a forward difference, whose "
                           "error shrinks only like h. Use the central difference (f(x+h) - f(x-h)) / (2h)"))
        step = max(sizes)
        if step < 1e-6:
            hints.append(t("your h is about {step:.0e}: so small that f(x+h) and f(x-h) agree in almost all "
                           "their digits and round-off error dominates. Use h = 1e-4", step=step))
        elif step > 1e-3 and not any(1e-5 < s < 1e-3 for s in sizes):
            hints.append(t("your h is about {step:.0e}: too large, the difference quotient is then far from "
                           "the derivative. Use h = 1e-4", step=step))
    if isinstance(after, np.ndarray) and after.shape == x0.shape and not np.array_equal(after, x0):
        hints.append(restore_hint(x0, after))
    return hints


def _fail_with_hints(c, entries):
    for hint in probe_hints(entries):
        c.expect(False, t("Likely mistake: {hint}.", hint=hint), hint)


# ---------------------------------------------------------------------------------------------------
# numerical_gradient

@dataclass(frozen=True)
class GradientCheck(_Check):
    """numerical_gradient on the cases of a :class:`course.checks.why_backprop.GradientExercise`.

    aspect: "accuracy" (exact gradients, ACCURACY), "placement" (any array, PLACEMENT) or "restores" (the array
    holds exactly its original values afterwards, and f was evaluated at all).
    """
    subject: str = "numerical_gradient"
    aspect: str = "accuracy"

    def judge(self, entries, c):
        if entries.get("borrowed") is not False:
            c.expect(False, BORROWED)
            return
        results = {}
        for case in self.exercise.cases():
            try:
                results[case.label] = self._case(entries, case, c)
            except Missing:
                results[case.label] = False
        if all(results.values()):
            return
        if self.aspect == "placement":
            _layout_pattern(results, c)
        if self.aspect != "restores":
            _fail_with_hints(c, entries)

    def _case(self, entries, case, c):
        got = lookup(entries, key(case.label, "gradient"), t("numerical_gradient on {case}", case=case.label), c)
        if self.aspect == "restores":
            return self._restored(entries, case, got, c)
        x = case.x(np.array(case.base))
        expected = GRADIENTS[case.loss](x, *case.data)
        if self.aspect == "placement":
            return c.gradient(t("gradient for {case}", case=case.label), expected, got, **PLACEMENT)
        outcome = compare(case.label, expected, got, diagnosis=False, **ACCURACY)
        # wrong values (or a wrong shape, whose error is nan) beyond the numerics: a classic mistake may fit
        if not outcome.ok and not outcome.mistake and outcome.problem in ("", "shape") and not outcome.error < NUMERICS:
            hint = diagnose(expected, got)
            if hint:
                outcome.mistake = hint
                outcome.message += likely(hint)
        return c.comparison(outcome)

    def _restored(self, entries, case, got, c):
        calls = entries.get(key(case.label, "calls of f"))
        x = case.x(np.array(case.base))
        if not (type(calls) is int and calls >= x.size):
            return c.expect(False, t("{case}: f was called {n} times, fewer than once per entry of x: restoring x "
                                     "counts only when x was nudged", case=case.label, n=calls))
        if not (isinstance(got, np.ndarray) and got.shape == x.shape):
            return c.expect(False, t("{case}: numerical_gradient must return an array of x's shape {shape}; it "
                                     "returned {got}", case=case.label, shape=x.shape, got=describe(got)))
        after = entries.get(key(case.label, "array after"))
        before = np.array(case.base)
        if not (isinstance(after, np.ndarray) and after.shape == before.shape):
            return c.expect(False, t("{case}: the test recorded no result", case=case.label))
        restored = bool(np.array_equal(after, before))
        return c.expect(restored, t("{case} holds exactly its original values afterwards", case=case.label)
                        if restored else t("{case}: {hint}.", case=case.label, hint=restore_hint(before, after)))


def _layout_pattern(results, c):
    """Name the kind of array the student's loop handles, when the failures follow one."""
    plain = [results[label] for label in exercises.LAYOUTS]
    if plain[1] and not all(plain[2:4]):
        hint = t("it works for 1-D arrays only. Loop over every index of an array of any shape, e.g. with "
                 "np.ndindex(x.shape) or np.nditer(x, flags=['multi_index'])")
    elif all(plain[:4]) and not all(plain[4:7]):
        hint = t("it works for contiguous arrays only. x.reshape(-1) and x.ravel() return a copy when x is a "
                 "strided view, so your changes never reach x: index x itself with a tuple of indices "
                 "(np.ndindex(x.shape))")
    else:
        return
    c.expect(False, t("Likely mistake: {hint}.", hint=hint), hint)


# ---------------------------------------------------------------------------------------------------
# sgd_step

@dataclass(frozen=True)
class SgdCheck(_Check):
    subject: str = "sgd_step"

    def judge(self, entries, c):
        for label, params0, grads0, lr in self.exercise.cases():
            try:
                self._case(entries, label, params0, grads0, lr, c)
            except Missing:
                if c.failed and c.failed[-1].raised == "KeyError":
                    c.amend(t(" (loop over the keys params has, for key in params, not a fixed list of names)"))

    def _case(self, entries, label, params0, grads0, lr, c):
        lookup(entries, key(label, "call"), t("sgd_step with {case}", case=label), c)
        params = lookup(entries, key(label, "params"), t("params after sgd_step with {case}", case=label), c)
        keys = set(params) if isinstance(params, dict) else None
        c.expect(keys == set(params0), t("{case}: params keeps its keys {keys}", case=label, keys=sorted(params0)))
        grads = entries.get(key(label, "grads"))
        by_position = dict(zip(params0, grads0.values()))
        for name, p0 in params0.items():
            g0 = grads0[name]
            if entries.get(key(label, f"same array {name}")) is not True:
                c.expect(False, t("{case}: params['{name}'] is a new array, so a layer that holds the old one never "
                                  "sees the update. Change the array in place: params[key] -= lr * grads[key]",
                                  case=label, name=name))
                continue
            wrong = {
                t("the parameter did not change: assigning to a loop variable (p = p - lr * g) only renames the "
                  "result; write into the array with -="): p0,
                t("moved uphill: subtract lr * grad (gradient descent), do not add it"): p0 + lr * g0,
                t("the learning rate is missing: subtract lr * grad, not grad"): p0 - g0,
            }
            if by_position[name] is not g0:
                wrong[t("paired with another parameter's gradient: take grads[key] for params[key] (the two dicts "
                        "may list their keys in different orders)")] = p0 - lr * by_position[name]
            c.gradient(t("{case}: params['{name}'] after the step", case=label, name=name), p0 - lr * g0,
                       entries.get(key(label, f"array of {name}")), rtol=1e-12, atol=1e-14, alternatives=wrong)
            after = grads.get(name) if isinstance(grads, dict) else None
            same = isinstance(after, np.ndarray) and np.array_equal(after, g0)
            c.expect(same, t("{case}: grads['{name}'] is left unchanged", case=label, name=name) if same else
                     t("{case}: sgd_step changed grads['{name}']: grads is only read (compute lr * grads[key] as a "
                       "new array, do not scale grads[key] in place)", case=label, name=name))


# ---------------------------------------------------------------------------------------------------
# train

@dataclass(frozen=True)
class TrainCheck(_Check):
    subject: str = "train"

    def judge(self, entries, c):
        s = self.exercise.setting()
        rows = {row.tobytes(): i for i, row in enumerate(s.x)}
        batches = {}
        for run, seed in s.runs:
            try:
                batches[run] = self._run(entries, s, run, rows, c, first=not batches)
            except Missing:
                return
        (first, same_seed, other_seed) = (batches[run] for run, _ in s.runs)
        c.expect(first == same_seed, t("the same rng seed gives the same mini-batches (drawn with the rng train is "
                                       "given)") if first == same_seed else
                 t("a second run with an rng of the same seed drew other mini-batches: draw every mini-batch with "
                   "the rng train is given, not with np.random or a generator of your own"))
        c.expect(first != other_seed, t("an rng with another seed draws other mini-batches") if first != other_seed
                 else t("an rng with another seed drew the same mini-batches: draw them with the rng train is "
                        "given, not a generator of your own with a fixed seed"))

    def _run(self, entries, s, run, rows, c, first):
        """The row numbers of each mini-batch of one run; the first run is judged in full."""
        losses = lookup(entries, key(run, "train"), t("train(model, params, x, t, lr=0.3, batch_size=8, steps=12, "
                                                      "rng=...) in {run}", run=run), c)
        calls = entries.get(key(run, "model calls"))
        if not c.expect(calls == s.steps, t("the model (step 2, the gradient) is called once per step: {steps} "
                                            "times (it was called {n} times)", steps=s.steps, n=calls)):
            raise Missing
        seen = [{name: entries.get(key(run, f"call {i}: {name}")) for name in ("x", "t", "W", "b")}
                for i in range(s.steps)]
        if not all(isinstance(v, np.ndarray) for call in seen for v in call.values()):
            c.expect(False, t("{run}: the test recorded no mini-batch", run=run))
            raise Missing
        index = [[rows.get(row.tobytes(), -1) for row in call["x"]] if call["x"].ndim == 2 else [] for call in seen]
        batches = tuple(tuple(i) for i in index)
        if not first:
            return batches
        sizes = {len(i) for i in index}
        c.expect(sizes == {s.batch_size}, t("every mini-batch has batch_size = {bs} rows of x (got {sizes}; {n} rows "
                                            "is the whole data set, not a mini-batch)", bs=s.batch_size,
                                            sizes=sorted(sizes), n=len(s.x)))
        c.expect(all(i >= 0 for b in index for i in b),
                 t("every row of a mini-batch is a row of x (x[idx] for an array idx of row numbers)"))
        paired = all(call["t"].shape == (len(b), s.t.shape[1]) and np.array_equal(call["t"], s.t[b])
                     for call, b in zip(seen, index) if b and min(b) >= 0)
        c.expect(paired, t("each mini-batch's labels belong to its images: use the same row numbers for x and t "
                           "(x[idx], t[idx] with one idx)"))
        c.expect(len(set(batches)) > s.steps // 2, t("the mini-batches are drawn at random each step (step 1): only "
                                                    "{n} different batches in {steps} steps", n=len(set(batches)),
                                                    steps=s.steps))
        slices = sum(_consecutive(b, len(s.x)) for b in index)
        c.expect(slices <= s.steps // 2, t("{n} of {steps} mini-batches are runs of consecutive rows: a mini-batch is "
                                           "batch_size row numbers drawn at random with rng, not a slice "
                                           "x[i:i + batch_size] of the data in its stored order", n=slices,
                                           steps=s.steps))
        self._updates(entries, s, run, seen, losses, c)
        return batches

    def _updates(self, entries, s, run, seen, losses, c):
        # step 3: between two calls of the model, params moved by -lr * the gradient the model returned
        after = {name: entries.get(key(run, f"array of {name}")) for name in s.params}
        results = [exercises.softmax_model(call["W"], call["b"], call["x"], call["t"]) for call in seen]
        updated = True
        for i, (call, (_, grads)) in enumerate(zip(seen, results)):
            now = seen[i + 1] if i + 1 < len(seen) else after
            for name in ("W", "b"):
                if not compare(name, call[name] - s.lr * grads[name], now[name], rtol=1e-9, atol=1e-12):
                    updated = False
        c.expect(updated, t("after each gradient, every parameter moves by -lr * its gradient (step 3) before the "
                            "next mini-batch"))
        c.expect(all(entries.get(key(run, f"same array {name}")) is True for name in s.params),
                 t("params holds the same arrays after training (updated in place, so layers sharing them see it)"))
        c.expect(not all(isinstance(after[n], np.ndarray) and np.array_equal(after[n], s.params[n]) for n in s.params),
                 t("training changes the parameters"))
        try:
            got = [float(v) for v in losses]
        except (TypeError, ValueError):
            got = None
        expected = [loss for loss, _ in results]
        c.expect(got is not None and len(got) == s.steps and np.allclose(got, expected, rtol=1e-9, atol=0),
                 t("train returns the list of the mini-batch losses the model returned, one per step, in order"))


def _consecutive(rows, n):
    """True if the row numbers are one run i, i+1, ..., in the data's order (wrapping around at n)."""
    return len(rows) > 1 and all((b - a) % n == 1 for a, b in zip(rows, rows[1:]))


# ---------------------------------------------------------------------------------------------------
# loglog_slope

@dataclass(frozen=True)
class SlopeCheck(_Check):
    subject: str = "loglog_slope"

    def judge(self, entries, c):
        for k, (sizes, times) in enumerate(self.exercise.cases()):
            u, v = np.log(np.asarray(sizes, dtype=float)), np.log(np.asarray(times, dtype=float))
            label = t("loglog_slope on {n} points (sizes {first:g} to {last:g})", n=len(u), first=float(sizes[0]),
                      last=float(sizes[-1]))
            try:
                got = lookup(entries, key(f"case {k}", "call"), label, c)
            except Missing:
                continue
            expected = float(np.polyfit(u, v, 1)[0])
            wrong = {t("the slope between the first and the last point only: fit the least-squares line through "
                       "all the points (np.polyfit)"): (v[-1] - v[0]) / (u[-1] - u[0]),
                     t("two different log bases: use the same log for sizes and times"): expected * np.log(10),
                     t("two different log bases: use the same log for sizes and times (1/ln 10)"):
                         expected / np.log(10)}
            ok = isinstance(got, np.ndarray) and got.shape == () and np.isclose(got, expected, rtol=1e-6, atol=1e-12)
            if ok:
                c.expect(True, t("{what} = {slope:.6g}", what=label, slope=float(got)))
                continue
            hint = next((name for name, value in wrong.items() if not np.isclose(value, expected, rtol=1e-3)
                         and isinstance(got, np.ndarray) and got.shape == () and np.isclose(got, value, rtol=1e-6)), "")
            shown = f"{float(got):.6g}" if isinstance(got, np.ndarray) and got.shape == () else describe(got)
            c.expect(False, t("{what}: expected {expected:.6g}, got {got}", what=label, expected=expected, got=shown)
                     + likely(hint), hint)


CHECKS = [
    GradientCheck(exercises.numerical_gradient_accuracy, t("numerical_gradient against exact gradients")),
    GradientCheck(exercises.numerical_gradient_any_array, t("numerical_gradient on arrays of any shape"),
                  aspect="placement"),
    GradientCheck(exercises.numerical_gradient_restores, t("numerical_gradient restores x"), aspect="restores"),
    SgdCheck(exercises.sgd_step_in_place, t("sgd_step")),
    TrainCheck(exercises.train_four_steps, t("train: the four steps"), builds_on={"sgd_step": "sgd_step_in_place"}),
    SlopeCheck(exercises.loglog_slope_fit, t("loglog_slope")),
]
