"""The judge's reference math, written once: the true functions the expected values come from.

Shared by every notebook's judge half (Part 3's layers, Part 1's and the homework's checks): softmax,
cross-entropy and one-hot labels live here and nowhere else.  It runs in the grader's process only; the
kernel's exercises (course/checks/) never import it.
"""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def softmax(a):
    """Row-wise softmax of the logits ``a`` (N, C), the row maximum subtracted first (no overflow)."""
    z = a - a.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def one_hot(labels, classes):
    """Class indices (N,) as one-hot rows (N, classes)."""
    labels = np.asarray(labels, dtype=int)
    t = np.zeros((len(labels), classes))
    t[np.arange(len(labels)), labels] = 1.0
    return t


def class_indices(t):
    """Labels in either format, one-hot rows (N, C) or class indices (N,), as class indices (N,)."""
    t = np.asarray(t)
    return t.argmax(axis=1) if t.ndim == 2 else t.astype(int)


def cross_entropy(probabilities, labels, eps=1e-7):
    """The book's mean cross-entropy of ``probabilities`` (N, C): -log(y + eps) of each correct class."""
    rows = np.arange(len(probabilities))
    return float(-np.log(probabilities[rows, class_indices(labels)] + eps).sum() / len(probabilities))


def softmax_cross_entropy(scores, labels, eps=0.0):
    """Mean cross-entropy of softmax(scores); exact (log-softmax) without ``eps``, the book's value with it."""
    if eps:
        return cross_entropy(softmax(scores), labels, eps)
    rows = np.arange(len(scores))
    return float(-log_softmax(scores)[rows, class_indices(labels)].sum() / len(scores))


def softmax_cross_entropy_gradient(scores, labels):
    """d mean cross-entropy / d scores = (softmax(scores) - one-hot labels) / N."""
    return (softmax(scores) - one_hot(class_indices(labels), scores.shape[1])) / len(scores)
