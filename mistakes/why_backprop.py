"""Realistic wrong answers for Part 1 (why_backprop.ipynb), each with the test cells it must lose."""
from mistakes import Mistake

_GRADIENT_HEAD = '''def numerical_gradient(f, x):
    h = {h}
    grad = np.zeros(x.shape)
'''


def _gradient(body, h="1e-4"):
    """A numerical_gradient cell: the skeleton's first lines, then the student's loop."""
    return _GRADIENT_HEAD.format(h=h) + body.strip("\n") + "\n    return grad\n"


_CENTRAL_LOOP = '''
    for idx in np.ndindex(x.shape):
        tmp = x[idx]
        x[idx] = tmp + h
        f_plus = f(x)
        x[idx] = tmp - h
        f_minus = f(x)
        x[idx] = tmp
        grad[idx] = (f_plus - f_minus) / (2 * h)
'''

def _sgd(body):
    return "def sgd_step(params, grads, lr):\n" + body.strip("\n") + "\n"


def _train(body):
    return ("def train(model, params, x, t, lr, batch_size, steps, rng):\n    losses = []\n"
            "    for step in range(steps):\n" + body.strip("\n") + "\n    return losses\n")


MISTAKES = [
    Mistake(
        name="numerical_gradient_hard_coded",
        description="returns 2 * x, the gradient of the example's function_2, whatever f is",
        cells={"numerical_gradient": _gradient("    grad = 2 * x\n")},
        loses=["numerical_gradient_accuracy", "numerical_gradient_any_array", "numerical_gradient_restores"],
    ),
    Mistake(
        name="forward_difference",
        description="(f(x+h) - f(x)) / h: the error shrinks only like h, about 1e-4 with h = 1e-4",
        cells={"numerical_gradient": _gradient('''
    fx = f(x)
    for idx in np.ndindex(x.shape):
        tmp = x[idx]
        x[idx] = tmp + h
        grad[idx] = (f(x) - fx) / h
        x[idx] = tmp
''')},
        loses=["numerical_gradient_example", "numerical_gradient_accuracy"],
    ),
    Mistake(
        name="h_too_small",
        description="central difference with h = 1e-10: round-off error dominates",
        cells={"numerical_gradient": _gradient(_CENTRAL_LOOP, h="1e-10")},
        loses=["numerical_gradient_accuracy"],
    ),
    Mistake(
        name="divided_by_h",
        description="central difference divided by h instead of 2h: every entry twice too large",
        cells={"numerical_gradient": _gradient(_CENTRAL_LOOP.replace("/ (2 * h)", "/ h"))},
        loses=["numerical_gradient_example", "numerical_gradient_accuracy", "numerical_gradient_any_array"],
    ),
    Mistake(
        name="not_restored",
        description="the entry is left at x - h after its two evaluations",
        cells={"numerical_gradient": _gradient(_CENTRAL_LOOP.replace("        x[idx] = tmp\n", ""))},
        loses=["numerical_gradient_example", "numerical_gradient_accuracy", "numerical_gradient_restores"],
    ),
    Mistake(
        name="restored_by_arithmetic",
        description="x[idx] += h, then -= 2h, then += h: the last bit of some entries changes",
        cells={"numerical_gradient": _gradient('''
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = f(x)
        x[idx] -= 2 * h
        f_minus = f(x)
        x[idx] += h
        grad[idx] = (f_plus - f_minus) / (2 * h)
''')},
        loses=["numerical_gradient_restores"],
    ),
    Mistake(
        name="one_dimensional_loop",
        description="a 1-D loop for i in range(x.size) with x[i]: wrong for 2-D and higher",
        cells={"numerical_gradient": _gradient('''
    for i in range(x.size):
        tmp = x[i]
        x[i] = tmp + h
        f_plus = f(x)
        x[i] = tmp - h
        f_minus = f(x)
        x[i] = tmp
        grad[i] = (f_plus - f_minus) / (2 * h)
''')},
        loses=["numerical_gradient_accuracy", "numerical_gradient_any_array", "numerical_gradient_restores"],
    ),
    Mistake(
        name="reshape_copies_views",
        description="nudges x.reshape(-1), a copy when x is a non-contiguous view",
        cells={"numerical_gradient": _gradient('''
    flat_x = x.reshape(-1)
    flat_grad = grad.reshape(-1)
    for i in range(flat_x.size):
        tmp = flat_x[i]
        flat_x[i] = tmp + h
        f_plus = f(x)
        flat_x[i] = tmp - h
        f_minus = f(x)
        flat_x[i] = tmp
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
''')},
        loses=["numerical_gradient_any_array"],
    ),
    Mistake(
        name="nudges_a_copy",
        description="copies x first to protect the caller's array: f that reads x itself never sees a nudge",
        cells={"numerical_gradient": _gradient("    x = np.array(x, dtype=float)\n" + _CENTRAL_LOOP)},
        loses=["numerical_gradient_any_array"],
    ),
    Mistake(
        name="flatten_copy",
        description="nudges x.flatten() (always a copy) and evaluates f on the copy reshaped",
        cells={"numerical_gradient": _gradient('''
    flat_x = x.flatten()
    for i in range(flat_x.size):
        tmp = flat_x[i]
        flat_x[i] = tmp + h
        f_plus = f(flat_x.reshape(x.shape))
        flat_x[i] = tmp - h
        f_minus = f(flat_x.reshape(x.shape))
        flat_x[i] = tmp
        grad.flat[i] = (f_plus - f_minus) / (2 * h)
''')},
        loses=["numerical_gradient_any_array"],
    ),
    Mistake(
        name="borrowed_helper",
        description="calls the course's own numerical gradient instead of writing the loop",
        cells={"numerical_gradient": '''def numerical_gradient(f, x):
    from course.gradcheck import numerical_gradient as reference
    return reference(f, x)
'''},
        loses=["numerical_gradient_accuracy", "numerical_gradient_any_array", "numerical_gradient_restores"],
    ),
    Mistake(
        name="imported_helper",
        description="the answer cell only imports the course's numerical gradient",
        cells={"numerical_gradient": "from course.gradcheck import numerical_gradient\n"},
        loses=["numerical_gradient_example", "numerical_gradient_accuracy", "numerical_gradient_any_array", "numerical_gradient_restores"],
    ),
    Mistake(
        name="h_too_large",
        description="central difference with h = 1e-2: a near miss (off by about 1e-4 of the gradient), not a bug",
        cells={"numerical_gradient": _gradient(_CENTRAL_LOOP, h="1e-2")},
        loses=["numerical_gradient_accuracy"],
    ),
    Mistake(
        name="sgd_scales_grads_in_place",
        description="grads[key] *= lr, then params[key] -= grads[key]: the right update, but the gradients are changed",
        cells={"sgd_step": _sgd('''
    for key in params:
        grads[key] *= lr
        params[key] -= grads[key]
''')},
        loses=["sgd_step_in_place"],
    ),
    Mistake(
        name="sgd_new_arrays",
        description="params[key] = params[key] - lr * grads[key]: new arrays the layers never see",
        cells={"sgd_step": _sgd('''
    for key in params:
        params[key] = params[key] - lr * grads[key]
''')},
        loses=["sgd_step_example", "sgd_step_in_place", "train_four_steps"],
    ),
    Mistake(
        name="sgd_loop_variable",
        description="p = p - lr * g on the loop variable: nothing changes",
        cells={"sgd_step": _sgd('''
    for key, p in params.items():
        p = p - lr * grads[key]
''')},
        loses=["sgd_step_example", "sgd_step_in_place", "train_example", "train_four_steps"],
    ),
    Mistake(
        name="sgd_uphill",
        description="params += lr * grads: gradient ascent",
        cells={"sgd_step": _sgd('''
    for key in params:
        params[key] += lr * grads[key]
''')},
        loses=["sgd_step_example", "sgd_step_in_place", "train_example", "train_four_steps"],
    ),
    Mistake(
        name="sgd_paired_by_position",
        description="zip(params.values(), grads.values()): wrong pairs when grads lists its keys in another order",
        cells={"sgd_step": _sgd('''
    for param, grad in zip(params.values(), grads.values()):
        param -= lr * grad
''')},
        loses=["sgd_step_in_place"],
    ),
    Mistake(
        name="sgd_hard_coded_keys",
        description="the book's loop over ('W1', 'b1', 'W2', 'b2'), adapted to ('W', 'b'): other dicts fail",
        cells={"sgd_step": _sgd('''
    for key in ("W", "b"):
        params[key] -= lr * grads[key]
''')},
        loses=["sgd_step_in_place"],
    ),
    Mistake(
        name="train_ignores_rng",
        description="the book's np.random.choice: random batches, but not drawn with the rng train is given",
        cells={"train": _train('''
        idx = np.random.choice(len(x), batch_size)
        loss, grads = model(params, x[idx], t[idx])
        sgd_step(params, grads, lr)
        losses.append(loss)
''')},
        loses=["train_four_steps"],
    ),
    Mistake(
        name="train_same_batch",
        description="always trains on the first batch_size rows: no random mini-batch",
        cells={"train": _train('''
        loss, grads = model(params, x[:batch_size], t[:batch_size])
        sgd_step(params, grads, lr)
        losses.append(loss)
''')},
        loses=["train_four_steps"],
    ),
    Mistake(
        name="train_unpaired_batch",
        description="draws the rows of x and of t separately: images get other images' labels",
        cells={"train": _train('''
        x_batch = x[rng.choice(len(x), batch_size)]
        t_batch = t[rng.choice(len(t), batch_size)]
        loss, grads = model(params, x_batch, t_batch)
        sgd_step(params, grads, lr)
        losses.append(loss)
''')},
        loses=["train_example", "train_four_steps"],
    ),
    Mistake(
        name="train_full_batch",
        description="every step uses the whole data set: batch gradient descent, not mini-batches",
        cells={"train": _train('''
        loss, grads = model(params, x, t)
        sgd_step(params, grads, lr)
        losses.append(loss)
''')},
        loses=["train_four_steps"],
    ),
    Mistake(
        name="train_no_update",
        description="computes the gradient but forgets the update step",
        cells={"train": _train('''
        idx = rng.choice(len(x), batch_size)
        loss, grads = model(params, x[idx], t[idx])
        losses.append(loss)
''')},
        loses=["train_example", "train_four_steps"],
    ),
    Mistake(
        name="train_consecutive_slices",
        description="walks through the data in its stored order, x[i:i + batch_size]: no random mini-batch",
        cells={"train": _train('''
        start = (step * batch_size) % (len(x) - batch_size + 1)
        idx = np.arange(start, start + batch_size)
        loss, grads = model(params, x[idx], t[idx])
        sgd_step(params, grads, lr)
        losses.append(loss)
''')},
        loses=["train_four_steps"],
    ),
    Mistake(
        name="train_own_seeded_rng",
        description="a generator of its own with a fixed seed: every rng gives the same mini-batches",
        cells={"train": '''def train(model, params, x, t, lr, batch_size, steps, rng):
    rng = np.random.default_rng(0)
    losses = []
    for step in range(steps):
        idx = rng.choice(len(x), batch_size, replace=False)
        loss, grads = model(params, x[idx], t[idx])
        sgd_step(params, grads, lr)
        losses.append(loss)
    return losses
'''},
        loses=["train_four_steps"],
    ),
    Mistake(
        name="slope_hard_coded",
        description="returns the visible test's slopes: 2 for a steep line, else 1",
        cells={"loglog_slope": '''def loglog_slope(sizes, times):
    return 2.0 if times[-1] / times[0] > 100 else 1.0
'''},
        loses=["loglog_slope_fit"],
    ),
    Mistake(
        name="slope_mixed_logs",
        description="log10 of the sizes but natural log of the times: the slope is scaled by ln 10",
        cells={"loglog_slope": '''def loglog_slope(sizes, times):
    slope, _ = np.polyfit(np.log10(sizes), np.log(times), 1)
    return float(slope)
'''},
        loses=["loglog_slope_example", "loglog_slope_fit"],
    ),
    Mistake(
        name="slope_from_the_ends",
        description="the slope between the first and the last point only, not the least-squares line",
        cells={"loglog_slope": '''def loglog_slope(sizes, times):
    return float((np.log(times[-1]) - np.log(times[0])) / (np.log(sizes[-1]) - np.log(sizes[0])))
'''},
        loses=["loglog_slope_fit"],
    ),
]
