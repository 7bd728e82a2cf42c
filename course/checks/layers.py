"""Hidden checks for Part 3 (계층, layers): Sigmoid, Relu, Affine, SoftmaxWithLoss, TwoLayerNet, gradient_check.

Backward passes are compared with central-difference gradients of the *true* function, written here
and independent of the student's forward pass, on random float64 inputs of several shapes, batch sizes
1 and more, and a random upstream gradient ``dout`` for every layer but the loss.  Inputs of ReLU are
kept away from its kink (and entries whose ±h nudge would cross it are not judged), so a correct layer
never fails by bad luck.  The book's own code passes: its Relu changes ``dout`` in place (every call gets
a fresh copy) and its SoftmaxWithLoss ignores ``dout`` (it is only ever called with 1).
"""
import io
import warnings
from contextlib import redirect_stdout

import numpy as np

from course.checks import checklist, fresh, rng
from course.gradcheck import kinks_crossed, numerical_gradient, numerical_gradients, relative_error

_array = np.array
_array_equal = np.array_equal
_arange = np.arange
_exp = np.exp
_log = np.log
_maximum = np.maximum
_isfinite = np.isfinite
_zeros = np.zeros
_sign = np.sign
_abs = np.abs
_argmax = np.argmax
_ndarray = np.ndarray
_prod = np.prod
_allclose = np.allclose

PARAMS = ("W1", "b1", "W2", "b2")
SHAPES = [(1, 5), (4, 3), (7,), (2, 3, 2)]


# ---------------------------------------------------------------------------------------------------
# The true functions, written independently of the student's code

def _sigmoid(x):
    return 1 / (1 + _exp(-x))


def _relu(x):
    return _maximum(x, 0.0)


def _softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    e = _exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    return z - _log(_exp(z).sum(axis=1, keepdims=True))


def _one_hot(labels, classes):
    t = _zeros((len(labels), classes))
    t[_arange(len(labels)), labels] = 1.0
    return t


def _cross_entropy(scores, labels, eps=0.0):
    """Mean cross-entropy of softmax(scores); with ``eps`` as the book computes it, -log(y + eps)."""
    rows = _arange(len(labels))
    if eps:
        return float(-_log(_softmax(scores)[rows, labels] + eps).sum() / len(labels))
    return float(-_log_softmax(scores)[rows, labels].sum() / len(labels))


def _labels_as(kind, labels, classes):
    """The labels as a fresh array in the requested format: class indices (ints) or one-hot rows."""
    return _one_hot(labels, classes) if kind == "one-hot" else _array(labels, dtype=int, copy=True)


def _net_scores(p, x, relu=True):
    a1 = x @ p["W1"] + p["b1"]
    return (_relu(a1) if relu else a1) @ p["W2"] + p["b2"]


def _net_backprop(p, x, labels, relu=True, relu_mask=True):
    """The two-layer net's gradients; without ``relu`` for a net that lacks the ReLU layer, without
    ``relu_mask`` for one whose backward pass ignores the mask."""
    a1 = x @ p["W1"] + p["b1"]
    h = _relu(a1) if relu else a1
    dscores = (_softmax(h @ p["W2"] + p["b2"]) - _one_hot(labels, p["b2"].size)) / len(labels)
    dh = dscores @ p["W2"].T
    da1 = dh * (a1 > 0) if relu and relu_mask else dh
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": h.T @ dscores, "b2": dscores.sum(axis=0)}


def _attempt(make):
    """An alternative array, or None where that mistake would not even produce an array of this shape."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return make()
    except (ValueError, IndexError):
        return None


def _alternatives(candidates):
    return {label: value for label, value in candidates.items() if value is not None}


# ---------------------------------------------------------------------------------------------------
# Shared verdicts

def _unchanged(c, what, given, original):
    """The student's call must leave the array it was given as it was."""
    same = isinstance(given, _ndarray) and given.shape == original.shape and _array_equal(given, original)
    return c.expect(same, f"{what} leaves its input unchanged" if same else
                    f"{what} changed its input x in place: compute on a copy or into a new array "
                    "(the caller may still need x, and other layers may hold the same array)")


def _loss_close(c, name, loss, scores, labels):
    """A mean cross-entropy: the book's value (1e-7 inside the log) or the exact one are both right."""
    book = _cross_entropy(scores, labels, eps=1e-7)
    exact = _cross_entropy(scores, labels)
    try:
        value = float(loss)
    except (TypeError, ValueError):
        shape = getattr(loss, "shape", None)
        what = f"an array of shape {shape}" if shape is not None else type(loss).__name__
        return c.expect(False, f"{name}: expected one number (the mean over the batch), got {what}")
    if not _isfinite(value):
        return c.expect(False, f"{name}: got {value}. Subtract each row's maximum before exp, and add 1e-7 "
                        "inside the log, so that no exp overflows and no log sees 0")
    ok = any(abs(value - v) <= 1e-7 * max(1.0, abs(v)) for v in (book, exact))
    if ok:
        return c.expect(True, f"{name} = {value:.10g}")
    n = len(labels)
    hint = ""
    if n > 1 and abs(value - book * n) <= 1e-6 * abs(book * n):
        hint = f" Likely mistake: the sum over the batch, not the mean (divide by the batch size {n})."
    elif abs(value + book) <= 1e-6 * abs(book):
        hint = " Likely mistake: the sign is flipped (the loss is -log of the correct class's probability)."
    return c.expect(False, f"{name}: expected {book:.10g} (the mean cross-entropy), got {value:.10g}.{hint}")


# ---------------------------------------------------------------------------------------------------
# Sigmoid and Relu

def sigmoid_layer(Sigmoid):
    """Forward values and backward vs numerical gradients of sum(sigmoid(x) * dout)."""
    with checklist("Sigmoid on random inputs") as c:
        for k, shape in enumerate(SHAPES):
            g = rng(3100 + k)
            x, dout = g.normal(size=shape) * 2, g.normal(size=shape)
            y = _sigmoid(x)
            layer = c.call("Sigmoid()", Sigmoid)
            given = fresh(x)
            out = c.call(f"forward on shape {shape}", layer.forward, given)
            c.close(f"forward output for shape {shape}", y, out)
            _unchanged(c, f"forward on shape {shape}", given, x)
            dx = c.call(f"backward on shape {shape}", layer.backward, fresh(dout))
            expected = numerical_gradient(lambda v: float((_sigmoid(v) * dout).sum()), fresh(x))
            c.gradient(f"dx for shape {shape} with a random dout", expected, dx, alternatives={
                "x used where the output belongs: the local gradient is out * (1 - out), "
                "with out stored by forward": dout * x * (1 - x),
                "dout is ignored: multiply the local gradient out * (1 - out) by dout": y * (1 - y),
                "a factor is missing: the local gradient is out * (1 - out)": dout * (1 - y),
                "the formula uses exp(x): the local gradient simplifies to out * (1 - out)":
                    _attempt(lambda: dout * y * y * _exp(x)),
            })


def relu_layer(Relu):
    """Forward values and backward vs numerical gradients of sum(relu(x) * dout), away from the kink."""
    with checklist("Relu on random inputs") as c:
        for k, shape in enumerate(SHAPES):
            g = rng(3200 + k)
            x = g.normal(size=shape)
            x = x + 0.05 * _sign(x)          # keep every input at least 0.05 away from the kink at 0
            dout = g.normal(size=shape)
            layer = c.call("Relu()", Relu)
            given = fresh(x)
            out = c.call(f"forward on shape {shape}", layer.forward, given)
            c.close(f"forward output for shape {shape}", _relu(x), out)
            _unchanged(c, f"forward on shape {shape}", given, x)
            dx = c.call(f"backward on shape {shape}", layer.backward, fresh(dout))
            expected = numerical_gradient(lambda v: float((_relu(v) * dout).sum()), fresh(x))
            c.gradient(f"dx for shape {shape} with a random dout", expected, dx, skip=kinks_crossed(x),
                       alternatives={
                           "no mask: dout is passed on unchanged, but entries where x <= 0 must get 0": dout,
                           "the mask is inverted: zero dout where x <= 0 (self.mask), keep it where x > 0":
                               dout * (x <= 0),
                           "dout is ignored: return dout with the masked entries set to 0, not the 0/1 mask":
                               (x > 0) * 1.0,
                           "dout multiplied by the forward output: ReLU's local gradient is 1 or 0, not out":
                               dout * _relu(x),
                           "the mask must come from the forward input x, not from the sign of dout":
                               dout * (dout > 0),
                       })


# ---------------------------------------------------------------------------------------------------
# Affine

# (N, D, M): batch sizes 1 and more; first a square W, so that a missing transpose is named before a later
# shape error stops the check.
AFFINE_CASES = [(3, 3, 3), (1, 4, 3), (5, 4, 3), (6, 2, 5)]


def _affine_gradients(c, layer, x, W, b, dout, note):
    """Compare dx (returned) and self.dW, self.db (stored) with numerical gradients of sum(affine * dout)."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    dx = c.call(f"backward{note}", layer.backward, fresh(dout))
    ex, eW, eb = numerical_gradients(lambda x_, W_, b_: float(((x_.reshape(n, -1) @ W_ + b_) * dout).sum()),
                                     fresh(x), fresh(W), fresh(b))
    c.gradient(f"dx{note}", ex, dx, batch_size=n, alternatives=_alternatives({
        "dx = dout · W: the transpose is missing (dx = dout · Wᵀ, so that dx has x's shape)":
            _attempt(lambda: (dout @ W).reshape(x.shape)),
        "dx is not reshaped back to the shape of the input x": _attempt(lambda: dout @ W.T),
    }))
    c.gradient(f"self.dW{note}", eW, getattr(layer, "dW", None), batch_size=n, alternatives=_alternatives({
        "dW = x · dout needs a transpose: dW = xᵀ · dout": _attempt(lambda: flat @ dout),
        "dW uses only the first sample: xᵀ · dout sums over the whole batch": _attempt(lambda: _outer(flat[0], dout[0])),
    }))
    c.gradient(f"self.db{note}", eb, getattr(layer, "db", None), batch_size=n, alternatives=_alternatives({
        "db is dout itself: sum dout over the batch (axis 0), since b was added to every sample": dout,
        "db summed over axis 1 (the outputs): sum over axis 0 (the batch) instead": dout.sum(axis=1),
        "db uses only the first sample: sum dout over the whole batch (axis 0)": dout[0],
    }))


def _outer(a, b):
    return a[:, None] * b[None, :]


def affine_backward(Affine):
    """Affine on 2-D batches: forward values, dx, self.dW and self.db, with a random dout."""
    with checklist("Affine on random batches") as c:
        for k, (n, d, m) in enumerate(AFFINE_CASES):
            g = rng(3300 + k)
            x, W, b, dout = g.normal(size=(n, d)), g.normal(size=(d, m)), g.normal(size=m), g.normal(size=(n, m))
            note = f" (N={n}, x {x.shape}, W {W.shape})"
            layer = c.call("Affine(W, b)", Affine, fresh(W), fresh(b))
            out = c.call(f"forward{note}", layer.forward, fresh(x))
            c.close(f"forward output{note}", x @ W + b, out)
            _affine_gradients(c, layer, x, W, b, dout, note)


def affine_any_rank(Affine):
    """Affine on inputs of rank 1 to 4 per sample, its input left unchanged, and shared parameter arrays."""
    with checklist("Affine on image-shaped input, with shared parameters") as c:
        for k, shape in enumerate([(2, 3, 2, 2), (1, 2, 5), (3, 2, 1, 4)]):
            g = rng(3400 + k)
            n, d = shape[0], int(_prod(shape[1:]))
            x, W, b, dout = g.normal(size=shape), g.normal(size=(d, 4)), g.normal(size=4), g.normal(size=(n, 4))
            note = f" for x of shape {shape}"
            layer = c.call("Affine(W, b)", Affine, fresh(W), fresh(b))
            given = fresh(x)
            out = c.call(f"forward{note}", layer.forward, given)
            c.close(f"forward output{note} (flattened to ({n}, {d}))", x.reshape(n, -1) @ W + b, out)
            _unchanged(c, f"forward{note}", given, x)
            _affine_gradients(c, layer, x, W, b, dout, note)
        # A network changes its parameters in place (training, gradient checks): the layer must see that.
        g = rng(3450)
        W, b, x = fresh(g.normal(size=(3, 2))), fresh(g.normal(size=2)), g.normal(size=(2, 3))
        layer = c.call("Affine(W, b)", Affine, W, b)
        W *= 2.0
        b += 1.0
        out = c.call("forward after W and b were changed in place", layer.forward, fresh(x))
        shared = isinstance(out, _ndarray) and out.shape == (2, 2) and _allclose(out, x @ W + b)
        c.expect(shared, "Affine uses the W and b arrays it was given, so in-place updates reach it" if shared else
                 "after W and b were changed in place, forward still used the old values: keep the arrays "
                 "themselves (self.W = W), not copies, because the network updates its parameters in place")


# ---------------------------------------------------------------------------------------------------
# SoftmaxWithLoss

# (N, classes, label format): batch sizes 1 and more, both label formats.
SOFTMAX_CASES = [(1, 3, "indices"), (1, 4, "one-hot"), (5, 3, "indices"), (6, 10, "one-hot"), (4, 5, "indices")]


def _softmax_alternatives(scores, labels, kind):
    n, classes = scores.shape
    y = _softmax(scores)
    t = _one_hot(labels, classes)
    candidates = {
        "the labels are not subtracted: dx = (y - t) / N with t one-hot": y / n,
        "the sign is flipped: dx = (y - t) / N, not (t - y) / N": (t - y) / n,
        "dx uses the logits x instead of the softmax output y: dx = (y - t) / N": (scores - t) / n,
    }
    if kind == "indices":
        candidates["class-index labels were used as if they were one-hot: subtract 1 at each row's label, "
                   "or convert the labels to one-hot rows first"] = _attempt(lambda: (y - labels) / n)
    return _alternatives(candidates)


def softmax_with_loss(SoftmaxWithLoss):
    """Loss values and dx = (y - t) / N vs numerical gradients of the mean cross-entropy, both label formats."""
    with checklist("SoftmaxWithLoss on random logits") as c:
        for k, (n, classes, kind) in enumerate(SOFTMAX_CASES):
            g = rng(3500 + k)
            scores, labels = g.normal(size=(n, classes)) * 3, g.integers(0, classes, size=n)
            note = f" for {n}×{classes} logits with {kind} labels"
            layer = c.call("SoftmaxWithLoss()", SoftmaxWithLoss)
            given = fresh(scores)
            loss = c.call(f"forward{note}", layer.forward, given, _labels_as(kind, labels, classes))
            _loss_close(c, f"loss{note}", loss, scores, labels)
            _unchanged(c, f"forward{note}", given, scores)
            dx = c.call(f"backward(1){note}", layer.backward, 1)
            expected = numerical_gradient(lambda a: _cross_entropy(a, labels), fresh(scores))
            c.gradient(f"dx{note}", expected, dx, batch_size=n,
                       alternatives=_softmax_alternatives(scores, labels, kind))


def softmax_with_loss_extreme(SoftmaxWithLoss):
    """Logits of ±1000: the loss and dx stay finite and right (softmax must subtract the row maximum)."""
    scores = _array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [1000.0, 1000.0, -1000.0]])
    labels = _array([1, 2, 0])
    with checklist("SoftmaxWithLoss on logits of ±1000") as c:
        for kind in ("indices", "one-hot"):
            layer = c.call("SoftmaxWithLoss()", SoftmaxWithLoss)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # an overflow is judged below, not printed
                loss = c.call(f"forward with {kind} labels", layer.forward, fresh(scores),
                              _labels_as(kind, labels, 3))
                _loss_close(c, f"loss with {kind} labels", loss, scores, labels)
                dx = c.call(f"backward(1) with {kind} labels", layer.backward, 1)
            expected = (_softmax(scores) - _one_hot(labels, 3)) / len(labels)
            c.gradient(f"dx with {kind} labels", expected, dx, batch_size=len(labels))


# ---------------------------------------------------------------------------------------------------
# TwoLayerNet

# (input, hidden, output, batch size, label format)
NET_CASES = [(5, 4, 3, 3, "indices"), (6, 5, 4, 1, "one-hot"), (4, 6, 3, 4, "one-hot")]


def _net_problem(seed, d, h, m, n):
    """Parameters, inputs and labels whose hidden pre-activations all stay 0.05 or more away from 0."""
    g = rng(seed)
    while True:
        p = {"W1": g.normal(size=(d, h)) * 0.7, "b1": g.normal(size=h) * 0.3,
             "W2": g.normal(size=(h, m)) * 0.7, "b2": g.normal(size=m) * 0.3}
        x = g.normal(size=(n, d))
        if _abs(x @ p["W1"] + p["b1"]).min() > 0.05:
            return p, x, g.integers(0, m, size=n)


def _net_with(c, TwoLayerNet, d, h, m, p):
    """A student's net whose parameters are set, in place, to ``p``."""
    net = c.call(f"TwoLayerNet({d}, {h}, {m})", TwoLayerNet, d, h, m)
    params = getattr(net, "params", None)
    ok = isinstance(params, dict) and all(
        isinstance(params.get(k), _ndarray) and params[k].shape == p[k].shape for k in PARAMS)
    if not c.expect(ok, "net.params holds W1, b1, W2, b2 with the right shapes" if ok else
                    f"net.params must be a dict of arrays W1 {p['W1'].shape}, b1 {p['b1'].shape}, "
                    f"W2 {p['W2'].shape}, b2 {p['b2'].shape}"):
        return None
    for key in PARAMS:
        params[key][...] = p[key]        # in place, as training does: the layers hold these same arrays
    return net


def two_layer_net_forward(TwoLayerNet):
    """predict (scores before softmax), loss (mean cross-entropy) and accuracy, both label formats."""
    with checklist("TwoLayerNet predict, loss and accuracy") as c:
        for k, (d, h, m, _, kind) in enumerate(NET_CASES):
            p, x = _net_problem(3600 + k, d, h, m, 9)[:2]
            scores = _net_scores(p, x)
            predicted = _argmax(scores, axis=1)
            labels = predicted.copy()
            labels[::3] = (labels[::3] + 1) % m          # a third of the answers wrong: accuracy 6/9
            net = _net_with(c, TwoLayerNet, d, h, m, p)
            if net is None:
                return
            note = f" ({d}-{h}-{m} net, 9 samples)"
            out = c.call(f"predict{note}", net.predict, fresh(x))
            c.close(f"predict(x): the scores before softmax{note}", scores, out)
            loss = c.call(f"loss with {kind} labels{note}", net.loss, fresh(x), _labels_as(kind, labels, m))
            _loss_close(c, f"loss with {kind} labels{note}", loss, scores, labels)
            for fmt in ("indices", "one-hot"):
                acc = c.call(f"accuracy with {fmt} labels", net.accuracy, fresh(x), _labels_as(fmt, labels, m))
                c.close(f"accuracy with {fmt} labels{note}", 6 / 9, acc)


def _gradient_dict(c, grads, note):
    ok = isinstance(grads, dict) and all(k in grads for k in PARAMS)
    return c.expect(ok, f"gradient returns a dict with W1, b1, W2, b2{note}" if ok else
                    f"gradient(x, t) must return a dict with the keys W1, b1, W2, b2{note}, "
                    f"got {type(grads).__name__}" + (f" with keys {sorted(grads)}" if isinstance(grads, dict) else ""))


def two_layer_net_gradient(TwoLayerNet):
    """net.gradient vs numerical gradients of the true loss on tiny nets, away from ReLU's kinks."""
    with checklist("TwoLayerNet.gradient on tiny networks") as c:
        for k, (d, h, m, n, kind) in enumerate(NET_CASES):
            p, x, labels = _net_problem(3700 + k, d, h, m, n)
            net = _net_with(c, TwoLayerNet, d, h, m, p)
            if net is None:
                return
            note = f" ({d}-{h}-{m} net, N={n}, {kind} labels)"
            grads = c.call(f"gradient{note}", net.gradient, fresh(x), _labels_as(kind, labels, m))
            if not _gradient_dict(c, grads, note):
                continue
            expected = numerical_gradients(lambda W1, b1, W2, b2: _cross_entropy(
                _net_scores({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, x), labels), *(fresh(p[key]) for key in PARAMS))
            no_mask = _net_backprop(p, x, labels, relu_mask=False)
            linear = _net_backprop(p, x, labels, relu=False)
            for key, exp in zip(PARAMS, expected):
                wrong = {"the network has no ReLU layer between Affine1 and Affine2": linear[key]}
                if key in ("W1", "b1"):
                    wrong["the ReLU mask is not applied in the backward pass (is Relu1 in the layers, "
                          "and is every layer's backward called?)"] = no_mask[key]
                c.gradient(f"d loss / d {key}{note}", exp, grads[key], alternatives=wrong, batch_size=n)


def _count_calls(obj, names, counts):
    """Make the instance ``obj`` count the calls of its methods ``names`` in ``counts["Class.method"]``."""
    for name in names:
        method = getattr(obj, name, None)
        if not callable(method):
            continue
        key = f"{type(obj).__name__}.{name}"
        counts.setdefault(key, 0)

        def counting(*args, _method=method, _key=key, **kwargs):
            counts[_key] += 1
            return _method(*args, **kwargs)
        try:
            setattr(obj, name, counting)
        except (AttributeError, TypeError):
            pass


def two_layer_net_analytic(TwoLayerNet):
    """gradient() runs one forward and one backward pass, not two forward passes per parameter."""
    with checklist("TwoLayerNet.gradient is backpropagation") as c:
        d, h, m, n = 5, 4, 3, 3
        p, x, labels = _net_problem(3800, d, h, m, n)
        net = _net_with(c, TwoLayerNet, d, h, m, p)
        if net is None:
            return
        layers = getattr(net, "layers", None)
        layers = list(layers.values()) if hasattr(layers, "values") else list(layers or [])
        counts = {}
        for layer in layers + [getattr(net, "lastLayer", None)]:
            if layer is not None:
                _count_calls(layer, ["forward"], counts)
        _count_calls(net, ["loss", "predict"], counts)
        c.expect(bool(layers), "net.layers holds the layers in order" if layers else
                 "net.layers must hold the layers (an OrderedDict: Affine1, Relu1, Affine2)")
        grads = c.call("gradient(x, t)", net.gradient, fresh(x), labels.copy())
        passes = max(counts.values(), default=0)
        c.expect(passes <= 2, f"gradient ran {passes} forward pass(es)" if passes <= 2 else
                 f"gradient ran {passes} forward passes for {sum(v.size for v in p.values())} parameters: that is "
                 "a numerical gradient. Run one forward pass, then the layers' backward in reverse order")
        if _gradient_dict(c, grads, ""):
            sizes_ok = all(_array(grads[key], dtype=float).shape == p[key].shape for key in PARAMS)
            nonzero = sizes_ok and any(_abs(_array(grads[key], dtype=float)).max() > 0 for key in PARAMS)
            c.expect(sizes_ok and nonzero, "each gradient has its parameter's shape" if sizes_ok and nonzero else
                     "each gradient must be an array of its parameter's shape, and not all zeros")
        unchanged = all(_array_equal(net.params[key], p[key]) for key in PARAMS)
        c.expect(unchanged, "gradient leaves the parameters as they were" if unchanged else
                 "gradient changed the parameters: it must only compute gradients (the update is training's job)")


# ---------------------------------------------------------------------------------------------------
# The student's gradient check

class _ReferenceNet:
    """A correct two-layer net with the book's API, or one with a planted bug in one parameter's gradient."""

    def __init__(self, p, bug=None):
        self.params = {key: fresh(value) for key, value in p.items()}
        self.bug = bug

    def predict(self, x):
        return _net_scores(self.params, x)

    def loss(self, x, t):
        labels = _argmax(t, axis=1) if t.ndim == 2 else t
        return _cross_entropy(self.predict(x), labels, eps=1e-7)

    def numerical_gradient(self, x, t):
        return {key: numerical_gradient(lambda _: self.loss(x, t), self.params[key]) for key in PARAMS}

    def gradient(self, x, t):
        labels = _argmax(t, axis=1) if t.ndim == 2 else t
        grads = _net_backprop(self.params, x, labels)
        if self.bug is not None:
            key, factor = self.bug
            grads[key] = grads[key] * factor
        return grads


def gradient_check_function(gradient_check):
    """gradient_check(net, x, t) returns each parameter's relative error: small when right, large where wrong."""
    p, x, labels = _net_problem(3900, 6, 5, 4, 3)
    with checklist("gradient_check on a correct network and on broken ones") as c:
        for bug, what in [(None, "a correct network"), (("W2", 2.0), "a network whose W2 gradient is doubled"),
                          (("b1", -1.0), "a network whose b1 gradient has the wrong sign")]:
            net = _ReferenceNet(p, bug)
            numerical = _ReferenceNet(p).numerical_gradient(x, labels)
            analytic = net.gradient(x, labels)
            with redirect_stdout(io.StringIO()):       # its printed table would only repeat the verdicts below
                errors = c.call(f"gradient_check(net, x, t) on {what}", gradient_check, net, fresh(x), labels.copy())
            complete = isinstance(errors, dict) and all(k in errors for k in PARAMS)
            if not c.expect(complete, f"gradient_check returns a dict with W1, b1, W2, b2 on {what}" if complete else
                            f"gradient_check must return a dict {{parameter name: relative error}} with the keys "
                            f"W1, b1, W2, b2; got {type(errors).__name__}"):
                return
            for key in PARAMS:
                expected = relative_error(numerical[key], analytic[key])
                try:
                    value = float(errors[key])
                except (TypeError, ValueError):
                    c.expect(False, f"{key} on {what}: expected a number, got {type(errors[key]).__name__}")
                    continue
                # Where backprop is right, any tiny number will do; where it is wrong, the relative error itself.
                small = expected < 1e-5 and 0 <= value < 1e-5
                ok = small or abs(value - expected) <= 0.1 * expected + 1e-9
                verdict = "large: the check catches the bug" if expected > 1e-2 else "small"
                c.expect(ok, f"{key} on {what}: {value:.1e} ({verdict})" if ok else
                         f"{key} on {what}: expected the relative error {expected:.1e} between the numerical "
                         f"and the backprop gradient, got {value:.3g}. Compare net.numerical_gradient(x, t) "
                         "with net.gradient(x, t) using relative_error")
