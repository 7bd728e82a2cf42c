"""How fast is the course's two-layer net?  A benchmark to run by hand, not a unit test.

    PYTHONPATH=. python bench/bench_training.py [--epochs 30] [--repeats 3]

Measured in one run, on scikit-learn's bundled digits (1,348 training images of 64 pixels):

1. seconds per epoch of mini-batch SGD for the reference TwoLayerNet (the solution code of
   source/03-layers/layers.ipynb, executed from the notebook itself) and for scikit-learn's MLPClassifier
   with the same architecture (64-50-10, ReLU, softmax cross-entropy), solver="sgd", the same batch size and
   learning rate, no momentum and no L2 penalty, so both do the same work per epoch;
2. the time of one numerical gradient over the time of one backprop gradient on the same net.

Each timing is the best of ``--repeats`` runs, so a busy machine disturbs it less.
"""
import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import course  # noqa: F401  (the notebook's setup cell expects it first)
from course.data import load_digits

NOTEBOOK = Path(__file__).resolve().parent.parent / "source" / "03-layers" / "layers.ipynb"
HIDDEN, BATCH, LEARNING_RATE = 50, 100, 0.5


def reference_code():
    """The namespace of the notebook after its setup and solution cells (demonstrations and tests skipped)."""
    namespace = {"__name__": "bench"}
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta and not meta.get("grade"):
            exec(compile("".join(cell["source"]), meta["grade_id"], "exec"), namespace)
    return namespace


def best_of(repeats, run):
    """The shortest of ``repeats`` timings of ``run()``, and what its last call returned."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def train_reference(TwoLayerNet, x, t, epochs, seed=0):
    """Plain mini-batch SGD over shuffled epochs, as MLPClassifier(solver="sgd") does it."""
    np.random.seed(seed)
    net = TwoLayerNet(input_size=x.shape[1], hidden_size=HIDDEN, output_size=10)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        shuffled = order.permutation(len(x))
        for start in range(0, len(x), BATCH):
            batch = shuffled[start:start + BATCH]
            grads = net.gradient(x[batch], t[batch])
            for key in net.params:
                net.params[key] -= LEARNING_RATE * grads[key]
    return net


def train_sklearn(x, t, epochs, seed=0):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="sgd", batch_size=BATCH,
                          learning_rate="constant", learning_rate_init=LEARNING_RATE, momentum=0.0,
                          nesterovs_momentum=False, alpha=0.0, max_iter=epochs, tol=0.0,
                          n_iter_no_change=epochs + 1, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter is the point, not a failure
        model.fit(x, t)
    return model


def gradient_ratio(TwoLayerNet, x, t, repeats):
    np.random.seed(0)
    net = TwoLayerNet(input_size=x.shape[1], hidden_size=HIDDEN, output_size=10)
    numerical, _ = best_of(repeats, lambda: net.numerical_gradient(x, t))
    calls = 200
    backprop, _ = best_of(repeats, lambda: [net.gradient(x, t) for _ in range(calls)])
    return numerical, backprop / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import sklearn
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
          f"digits, {HIDDEN} hidden units, batch {BATCH}, learning rate {LEARNING_RATE}, {args.epochs} epochs, "
          f"best of {args.repeats}")
    TwoLayerNet = reference_code()["TwoLayerNet"]
    x_train, t_train, x_test, t_test = load_digits()

    ours, net = best_of(args.repeats, lambda: train_reference(TwoLayerNet, x_train, t_train, args.epochs))
    theirs, model = best_of(args.repeats, lambda: train_sklearn(x_train, t_train, args.epochs))
    ours, theirs = ours / args.epochs, theirs / args.epochs
    print(f"training, per epoch:  TwoLayerNet {ours * 1e3:7.2f} ms (test accuracy {net.accuracy(x_test, t_test):.3f})")
    print(f"                      MLPClassifier {theirs * 1e3:5.2f} ms (test accuracy {model.score(x_test, t_test):.3f})")
    print(f"                      TwoLayerNet / MLPClassifier = {ours / theirs:.2f}")

    for n in (3, BATCH):
        numerical, backprop = gradient_ratio(TwoLayerNet, x_train[:n], t_train[:n], args.repeats)
        print(f"gradient, batch {n:3d}:  numerical {numerical * 1e3:7.1f} ms, backprop {backprop * 1e3:.3f} ms, "
              f"numerical / backprop = {numerical / backprop:,.0f}")


if __name__ == "__main__":
    main()
