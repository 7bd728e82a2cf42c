"""Part 3's hidden tests (계층), the judge's half: the truth, the tolerances and the known mistakes.

The layers are :class:`LayerCheck` s; softmax / cross_entropy_error, the network and the gradient check are
small checks of their own.  The math they compare against is :mod:`course.judge.reference`.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np

from course.checks import layers as exercises
from course.checks.exercises import key
from course.gradcheck import kinks_crossed, numerical_gradient, relative_error
from course.i18n import t
from course.judge import reference as R
from course.judge.engine import Missing, describe, lookup
from course.judge.layer import LayerCheck

PARAMS = exercises.PARAMS
LAYERS = {"Affine": "test_affine_random", "Relu": "test_relu_random", "SoftmaxWithLoss": "test_softmax_with_loss_random"}


def _attempt(make):
    """What a mistake would give, or None where it would not even produce an array (a shape error)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return make()
    except (ValueError, IndexError):
        return None


def _known(candidates):
    return {label: value for label, value in candidates.items() if value is not None}


def _quotient(case, expected_shape):
    """Near 1e13 a difference quotient posing as a backward pass returns zeros: name it there."""
    if not case.exact:
        return {}
    return {t("a difference quotient posing as a backward pass: near 1e13, x ± h rounds back to x and the "
              "quotient is 0; use the local derivative"): np.zeros(expected_shape)}


def _unchanged(c, entries, k, original, what):
    """An input the student's code had must be as it was (when the record has it)."""
    if k not in entries:
        return
    after = entries[k]
    same = isinstance(after, np.ndarray) and after.shape == original.shape and bool(
        np.array_equal(after, original, equal_nan=True))
    c.expect(same, t("{what} leaves its input unchanged", what=what) if same else
             t("{what} changed its input in place: compute on a copy or into a new array (the caller may still "
               "need it, and other layers may hold the same array)", what=what))


# ---------------------------------------------------------------------------------------------------
# Sigmoid and Relu

def _sigmoid_mistakes(name, case):
    (x,), dout = case.inputs, case.dout
    y = R.sigmoid(x)
    return _known({
        t("x used where the output belongs: the local gradient is out * (1 - out), with out stored by forward"):
            dout * x * (1 - x),
        t("dout is ignored: multiply the local gradient out * (1 - out) by dout"): y * (1 - y),
        t("a factor is missing: the local gradient is out * (1 - out)"): dout * (1 - y),
        t("the formula uses exp(x): the local gradient simplifies to out * (1 - out)"):
            _attempt(lambda: dout * y * y * np.exp(x)),
    })


def _relu_mistakes(name, case):
    (x,), dout = case.inputs, case.dout
    return {
        **_quotient(case, x.shape),
        t("no mask: dout is passed on unchanged, but entries where x <= 0 must get 0"): dout,
        t("the mask is inverted: zero dout where x <= 0 (self.mask), keep it where x > 0"): dout * (x <= 0),
        t("dout is ignored: return dout with the masked entries set to 0, not the 0/1 mask"): (x > 0) * 1.0,
        t("dout multiplied by the forward output: ReLU's local gradient is 1 or 0, not out"): dout * R.relu(x),
        t("the mask must come from the forward input x, not from the sign of dout"): dout * (dout > 0),
    }


# ---------------------------------------------------------------------------------------------------
# Affine

def _affine(x, W, b):
    return x.reshape(len(x), -1) @ W + b


def _affine_exact(x, W, b, dout):
    return (dout @ W.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum(axis=0)


def _affine_mistakes(name, case):
    (x,), (W, b), dout = case.inputs, case.init, case.dout
    flat = x.reshape(len(x), -1)
    zero = {"dx": _quotient(case, x.shape), "dW": {}, "db": _quotient(case, b.shape)}[name]
    return _known({**zero, **{
        "dx": {
            t("dx = dout · W: the transpose is missing (dx = dout · Wᵀ, so that dx has x's shape)"):
                _attempt(lambda: (dout @ W).reshape(x.shape)),
            t("dx is not reshaped back to the shape of the input x"): _attempt(lambda: dout @ W.T),
        },
        "dW": {
            t("dW = x · dout needs a transpose: dW = xᵀ · dout"): _attempt(lambda: flat @ dout),
            t("dW uses only the first sample: xᵀ · dout sums over the whole batch"): np.outer(flat[0], dout[0]),
        },
        "db": {
            t("db is dout itself: sum dout over the batch (axis 0), since b was added to every sample"): dout,
            t("db summed over axis 1 (the outputs): sum over axis 0 (the batch) instead"): dout.sum(axis=1),
            t("db uses only the first sample: sum dout over the whole batch (axis 0)"): dout[0],
        },
    }[name]})


def _affine_check(exercise, title):
    return LayerCheck(exercise, title, _affine, exact=_affine_exact, mistakes=_affine_mistakes, unchanged=True,
                      subject="Affine")


@dataclass(frozen=True)
class SharedParamsCheck:
    """The Affine cases, then: after ``W *= 2; b += 1`` in place, forward must use the new values."""
    layer: LayerCheck

    test = property(lambda self: self.layer.test)
    title = property(lambda self: self.layer.title)
    subject = property(lambda self: self.layer.subject)
    builds_on = property(lambda self: self.layer.builds_on)

    def judge(self, entries, c):
        self.layer.judge(entries, c)
        W, b, x = self.layer.exercise.shared()
        try:
            lookup(entries, key(exercises.SHARED, "construct"), t("Affine(W, b)"), c)
            out = lookup(entries, key(exercises.SHARED, "forward"), t("forward after W and b were changed in place"), c)
        except Missing:
            return
        expected = x @ (W * 2.0) + (b + 1.0)
        shared = isinstance(out, np.ndarray) and out.shape == expected.shape and bool(np.allclose(out, expected))
        c.expect(shared, t("Affine uses the W and b arrays it was given, so in-place updates reach it") if shared else
                 t("after W and b were changed in place, forward still used the old values: keep the arrays "
                   "themselves (self.W = W), not copies, because the network updates its parameters in place"))


# ---------------------------------------------------------------------------------------------------
# softmax, cross-entropy and SoftmaxWithLoss

OVERFLOW = t("Subtract each row's maximum before exp, and add 1e-7 inside the log, so that no exp overflows and no "
             "log sees 0")


def _loss_close(c, what, loss, scores, labels):
    """A mean cross-entropy of softmax(scores): the book's value (1e-7 inside the log) or the exact one."""
    book, exact = R.softmax_cross_entropy(scores, labels, eps=1e-7), R.softmax_cross_entropy(scores, labels)
    if not (isinstance(loss, np.ndarray) and loss.size == 1):
        return c.expect(False, t("{what}: expected one number (the mean over the batch), got {got}", what=what,
                                 got=describe(loss)))
    value = float(loss.reshape(()))
    if not np.isfinite(value):
        return c.expect(False, t("{what}: got {value}. {advice}", what=what, value=value, advice=OVERFLOW))
    if any(abs(value - v) <= 1e-7 * max(1.0, abs(v)) for v in (book, exact)):
        return c.expect(True, t("{what} = {value:.10g}", what=what, value=value))
    n, hint = len(scores), ""
    if n > 1 and abs(value - book * n) <= 1e-6 * abs(book * n):
        hint = t("the sum over the batch, not the mean (divide by the batch size {n})", n=n)
    elif abs(value + book) <= 1e-6 * abs(book):
        hint = t("the sign is flipped (the loss is -log of the correct class's probability)")
    c.expect(False, t("{what}: expected {expected:.10g} (the mean cross-entropy), got {value:.10g}", what=what,
                      expected=book, value=value))
    if hint:
        c.name_mistake(hint)
    return False


def _loss_forward(c, what, case, out):
    _loss_close(c, t("loss for {case}", case=case.label), out, *case.inputs)


def _softmax_loss(scores, labels):
    return R.softmax_cross_entropy(scores, labels)


def _softmax_loss_exact(scores, labels, dout):
    return (dout * R.softmax_cross_entropy_gradient(scores, labels),)


def _softmax_loss_mistakes(name, case):
    scores, labels = case.inputs
    n, classes = scores.shape
    y, onehot = R.softmax(scores), R.one_hot(R.class_indices(labels), classes)
    candidates = {
        t("the labels are not subtracted: dx = (y - t) / N with t one-hot"): y / n,
        t("the sign is flipped: dx = (y - t) / N, not (t - y) / N"): (onehot - y) / n,
        t("dx uses the logits x instead of the softmax output y: dx = (y - t) / N"): (scores - onehot) / n,
    }
    if not case.exact:
        book_loss = lambda v: R.softmax_cross_entropy(v, labels, eps=1e-7)  # noqa: E731
        candidates[t("a numerical gradient of the loss (with its 1e-7), not the backward rule dx = (y - t) / N")] = \
            numerical_gradient(book_loss, np.array(scores, dtype=float))
    candidates.update(_quotient(case, scores.shape))
    if 1 in case.integer:
        candidates[t("class-index labels were used as if they were one-hot: subtract 1 at each row's label, "
                     "or convert the labels to one-hot rows first")] = _attempt(lambda: (y - labels) / n)
    return _known(candidates)


def _softmax_loss_check(exercise, title, unchanged):
    return LayerCheck(exercise, title, _softmax_loss, exact=_softmax_loss_exact, mistakes=_softmax_loss_mistakes,
                      unchanged=unchanged, subject="SoftmaxWithLoss", forward=_loss_forward,
                      builds_on={"softmax": "test_softmax_functions_random"})


@dataclass(frozen=True)
class SoftmaxFunctionsCheck:
    """softmax on random and ±1000 logits; cross_entropy_error, with its 1e-7, in both label formats."""
    test: str = "test_softmax_functions_random"
    title: str = t("softmax and cross_entropy_error on random batches")
    subject: str = "softmax"
    builds_on: dict = field(default_factory=dict)

    def judge(self, entries, c):
        for label, x in exercises.softmax_function_cases(3550):
            try:
                out = lookup(entries, key(label, "softmax"), t("softmax for {case}", case=label), c)
            except Missing:
                continue
            what = t("softmax of {case}", case=label)
            if not c.close(what, R.softmax(x), out) and isinstance(out, np.ndarray) and not np.isfinite(out).all():
                c.name_mistake(t("an overflow in exp: subtract each row's maximum first"))
            _unchanged(c, entries, key(label, "input 0 after softmax"), x, t("softmax for {case}", case=label))
        for label, y, labels in exercises.cross_entropy_cases(3560):
            try:
                out = lookup(entries, key(label, "cross_entropy_error"), t("cross_entropy_error for {case}",
                                                                           case=label), c)
            except Missing:
                continue
            expected = R.cross_entropy(y, labels)
            if c.close(t("cross_entropy_error for {case}", case=label), expected, out):
                continue
            value = np.asarray(out, dtype=float) if isinstance(out, np.ndarray) else None
            n = len(y)
            with np.errstate(divide="ignore"):
                no_epsilon = R.cross_entropy(y, labels, eps=0.0)
            if value is not None and value.size == 1:
                v = float(value.reshape(()))
                if n > 1 and np.isclose(v, expected * n, rtol=1e-7):
                    c.name_mistake(t("the sum over the batch, not the mean (divide by N = {n})", n=n))
                elif not np.isfinite(v) or np.isclose(v, no_epsilon, rtol=1e-7):
                    c.name_mistake(t("the 1e-7 inside the log is missing: -log(y + 1e-7)"))
            _unchanged(c, entries, key(label, "input 0 after cross_entropy_error"), y,
                       t("cross_entropy_error for {case}", case=label))


# ---------------------------------------------------------------------------------------------------
# TwoLayerNet

def _scores(p, x, relu=True):
    a1 = x @ p["W1"] + p["b1"]
    return (R.relu(a1) if relu else a1) @ p["W2"] + p["b2"]


def _backprop(p, x, labels, relu=True, mask=True):
    """The two-layer net's gradients; without ``relu`` for a net that lacks the ReLU layer, without ``mask`` for
    one whose backward pass ignores ReLU's mask."""
    a1 = x @ p["W1"] + p["b1"]
    h = R.relu(a1) if relu else a1
    dscores = R.softmax_cross_entropy_gradient(h @ p["W2"] + p["b2"], labels)
    dh = dscores @ p["W2"].T
    da1 = dh * (a1 > 0) if relu and mask else dh
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": h.T @ dscores, "b2": dscores.sum(axis=0)}


def _grads(c, grads, problem):
    """Whether ``grads`` is a dict with W1, b1, W2, b2."""
    ok = isinstance(grads, dict) and all(k in grads for k in PARAMS)
    return c.expect(ok, t("gradient returns a dict with W1, b1, W2, b2 ({case})", case=problem.label) if ok else
                    t("gradient(x, t) must return a dict with the keys W1, b1, W2, b2 ({case}); it returned {got}",
                      case=problem.label, got=describe(grads) + (
                          t(" with keys {keys}", keys=sorted(grads)) if isinstance(grads, dict) else "")))


@dataclass(frozen=True)
class NetCheck:
    """A TwoLayerNet exercise: every problem's net must have fitting ``params``; ``steps`` judges the rest."""
    exercise: object
    title: str
    steps: object
    subject: str = "TwoLayerNet"
    builds_on: dict = field(default_factory=lambda: dict(LAYERS))

    @property
    def test(self):
        return self.exercise.test

    def judge(self, entries, c):
        for problem in self.exercise.problems():
            label, p = problem.label, problem.params
            try:
                lookup(entries, key(label, "construct"), t("TwoLayerNet{sizes}", sizes=problem.sizes), c)
                lookup(entries, key(label, "params"), t("net.params"), c)
                fits = lookup(entries, key(label, "params fit"), t("net.params"), c)
                if not c.expect(fits is True, t("net.params holds W1, b1, W2, b2 with the right shapes") if fits is True
                                else t("net.params must be a dict of arrays W1 {W1}, b1 {b1}, W2 {W2}, b2 {b2}",
                                       **{k: p[k].shape for k in PARAMS})):
                    continue
                lookup(entries, key(label, "set params"), t("setting net.params in place"), c)
                self.steps(c, entries, problem)
            except Missing:
                continue


def _judge_forward(c, entries, problem):
    label, p, x = problem.label, problem.params, problem.x
    scores = _scores(p, x)
    out = lookup(entries, key(label, "predict"), t("predict for {case}", case=label), c)
    c.gradient(t("predict(x): the scores before softmax ({case})", case=label), scores, out, alternatives={
        t("predict returns probabilities (softmax): it must return the scores before softmax"): R.softmax(scores),
        t("the network has no ReLU layer between Affine1 and Affine2"): _scores(p, x, relu=False)})
    loss = lookup(entries, key(label, "loss"), t("loss for {case}", case=label), c)
    _loss_close(c, t("loss with {kind} labels ({case})", kind=problem.kind, case=label), loss, scores, problem.labels)
    right = float((scores.argmax(axis=1) == problem.labels).mean())
    for kind in ("indices", "one-hot"):
        acc = lookup(entries, key(label, f"accuracy with {kind} labels"), t("accuracy with {kind} labels", kind=kind), c)
        c.close(t("accuracy with {kind} labels ({case})", kind=kind, case=label), right, acc)


def _judge_gradient(c, entries, problem):
    label, p, x, labels = problem.label, problem.params, problem.x, problem.labels
    grads = lookup(entries, key(label, "gradient"), t("gradient for {case}", case=label), c)
    if not _grads(c, grads, problem):
        return
    args = {k: np.array(v, dtype=float) for k, v in p.items()}
    expected = [numerical_gradient(lambda _: R.softmax_cross_entropy(_scores(args, x), labels), args[k])
                for k in PARAMS]
    no_mask, linear = _backprop(p, x, labels, mask=False), _backprop(p, x, labels, relu=False)
    for k, exp in zip(PARAMS, expected):
        wrong = {t("the network has no ReLU layer between Affine1 and Affine2"): linear[k]}
        if k in ("W1", "b1"):
            wrong[t("the ReLU mask is not applied in the backward pass (is Relu1 in the layers, and is every layer's "
                    "backward called?)")] = no_mask[k]
        c.gradient(t("d loss / d {param} ({case})", param=k, case=label), exp, grads[k], alternatives=wrong,
                   batch_size=len(x))


def _judge_backprop(c, entries, problem):
    label, p = problem.label, problem.params
    names = lookup(entries, key(label, "layer names"), t("net.layers"), c)
    last = lookup(entries, key(label, "has lastLayer"), t("net.lastLayer"), c)
    if not problem.huge:  # said once, under the first net
        c.expect(names == "Affine1, Relu1, Affine2", t("net.layers are Affine1, Relu1, Affine2, in this order")
                 if names == "Affine1, Relu1, Affine2" else
                 t("net.layers must be an OrderedDict of the layers Affine1, Relu1, Affine2, in this order (got: "
                   "{names})", names=str(names) or t("none")))
        c.expect(last is True, t("net.lastLayer holds the SoftmaxWithLoss layer"))
    grads = lookup(entries, key(label, "gradient"), t("gradient(x, t) for {case}", case=label), c)
    passes = lookup(entries, key(label, "forward passes"), t("the count of forward passes"), c)
    passes = passes if type(passes) is int else 0
    size = sum(v.size for v in p.values())
    c.expect(passes <= 2, t("gradient ran {n} forward pass(es)", n=passes) if passes <= 2 else
             t("gradient ran {n} forward passes for {size} parameters: that is a numerical gradient. Run one forward "
               "pass, then the layers' backward in reverse order", n=passes, size=size))
    if _grads(c, grads, problem):
        shaped = all(isinstance(grads[k], np.ndarray) and grads[k].shape == p[k].shape for k in PARAMS)
        nonzero = shaped and any((grads[k] != 0).any() for k in PARAMS)  # nan is not a difference quotient's 0
        if not c.expect(shaped and nonzero, t("each gradient has its parameter's shape") if shaped and nonzero else
                        t("each gradient must be an array of its parameter's shape, and not all zeros")) \
                and problem.huge and shaped:
            c.name_mistake(t("a numerical gradient posing as backpropagation: near ±1e12 a nudge of h does not move "
                             "the loss, so a difference quotient is 0"))
    after = lookup(entries, key(label, "params after gradient"), t("net.params after gradient"), c)
    same = isinstance(after, dict) and all(
        isinstance(after.get(k), np.ndarray) and np.array_equal(after[k], p[k]) for k in PARAMS)
    c.expect(same, t("gradient leaves the parameters as they were") if same else
             t("gradient changed the parameters: it must only compute gradients (the update is training's job)"))


# ---------------------------------------------------------------------------------------------------
# The student's gradient check

@dataclass(frozen=True)
class GradientCheckCheck:
    """gradient_check(net, x, t) returns each parameter's relative error: tiny when right, the error where wrong."""
    test: str = "test_gradient_check"
    title: str = t("gradient_check on a correct network and on broken ones")
    subject: str = "gradient_check"
    builds_on: dict = field(default_factory=dict)

    def judge(self, entries, c):
        for what, numerical, backprop in exercises.gradient_pairs(3900):
            try:
                errors = lookup(entries, key(what, "gradient_check"), t("gradient_check(net, x, t) on {net}", net=what), c)
            except Missing:
                continue
            for name in ("numerical_gradient", "gradient"):
                calls = entries.get(key(what, f"{name} calls"))
                if calls == 0:
                    c.expect(False, t("gradient_check never called net.{name}(x, t) on {net}: compare "
                                      "net.numerical_gradient(x, t) with net.gradient(x, t)", name=name, net=what))
            if not c.expect(isinstance(errors, dict) and all(k in errors for k in PARAMS),
                            t("gradient_check returns a dict with W1, b1, W2, b2 on {net}", net=what)
                            if isinstance(errors, dict) and all(k in errors for k in PARAMS) else
                            t("gradient_check must return a dict {{parameter name: relative error}} with the keys "
                              "W1, b1, W2, b2; it returned {got}", got=describe(errors))):
                return
            for k in PARAMS:
                self._error(c, what, k, relative_error(numerical[k], backprop[k]), errors[k])
            printed = entries.get(key(what, "printed"))
            c.expect(printed == ", ".join(PARAMS), t("gradient_check prints a line for W1, b1, W2 and b2 on {net}",
                                                     net=what) if printed == ", ".join(PARAMS) else
                     t("gradient_check must print the relative error of every parameter (W1, b1, W2, b2); on {net} "
                       "it printed {names}", net=what, names=printed or t("none of them")))

    def _error(self, c, what, k, expected, value):
        if not (isinstance(value, np.ndarray) and value.size == 1):
            c.expect(False, t("{param} on {net}: expected a number, got {got}", param=k, net=what, got=describe(value)))
            return
        value = float(value.reshape(()))
        # Where backprop is right, any tiny number will do; where it is wrong, the relative error itself.
        ok = (expected < 1e-5 and 0 <= value < 1e-5) or abs(value - expected) <= 0.1 * expected + 1e-9
        verdict = t("large: the check catches the bug") if expected > 1e-2 else t("small")
        c.expect(ok, t("{param} on {net}: {value:.1e} ({verdict})", param=k, net=what, value=value, verdict=verdict)
                 if ok else t("{param} on {net}: expected the relative error {expected:.1e} between the numerical and "
                              "the backprop gradient, got {value:.3g}. Compare net.numerical_gradient(x, t) with "
                              "net.gradient(x, t) using relative_error", param=k, net=what, expected=expected,
                              value=value))


CHECKS = [
    LayerCheck(exercises.test_sigmoid_random, t("Sigmoid on random inputs"), R.sigmoid, mistakes=_sigmoid_mistakes,
               unchanged=True, subject="Sigmoid"),
    LayerCheck(exercises.test_relu_random, t("Relu on random inputs"), R.relu, exact=lambda x, dout: (dout * (x > 0),),
               mistakes=_relu_mistakes, unchanged=True, skip=lambda name, case: kinks_crossed(case.inputs[0]),
               subject="Relu"),
    _affine_check(exercises.test_affine_random, t("Affine on random batches")),
    SharedParamsCheck(_affine_check(exercises.test_affine_any_shape,
                                    t("Affine on image-shaped input, with shared parameters"))),
    SoftmaxFunctionsCheck(),
    _softmax_loss_check(exercises.test_softmax_with_loss_random, t("SoftmaxWithLoss on random logits"), unchanged=True),
    _softmax_loss_check(exercises.test_softmax_with_loss_extreme, t("SoftmaxWithLoss on logits of ±1000 and near 1e13"),
                        unchanged=False),
    NetCheck(exercises.test_two_layer_net_forward, t("TwoLayerNet predict, loss and accuracy"), _judge_forward),
    NetCheck(exercises.test_two_layer_net_gradient, t("TwoLayerNet.gradient on tiny networks"), _judge_gradient),
    NetCheck(exercises.test_two_layer_net_backprop, t("TwoLayerNet.gradient is backpropagation"), _judge_backprop),
    GradientCheckCheck(),
]
