"""Name the likely mistake behind a wrong gradient.

Given the correct gradient and a student's, :func:`diagnose` returns a short phrase such as
"transposed" or "off by a factor of 4 (the batch size?)", or ``""`` when no pattern fits.
The patterns are the classic backprop mistakes; callers add their own through ``alternatives``.
"""
import numpy as np

from course.i18n import t

_asarray = np.asarray
_allclose = np.allclose
_abs = np.abs


def _transposed():
    return t("transposed (check the order of the matrix product and where .T goes)")


def _same(a, b):
    return a.shape == b.shape and _allclose(a, b, rtol=1e-4, atol=1e-8 * max(1.0, float(_abs(a).max(initial=0))))


def _factor(expected, actual):
    """The constant c with actual ≈ c * expected, or None.

    Any two single numbers differ by some factor, so a factor is evidence only where it is the same across
    at least two entries that are not zero (the caller may stack the same gradient from several cases).
    """
    mask = _abs(expected) > 1e-8 * max(1.0, float(_abs(expected).max(initial=0)))
    if mask.sum() < 2:
        return None
    ratios = actual[mask] / expected[mask]
    c = float(np.median(ratios))
    if c != 0 and _same(expected * c, actual):
        return c
    return None


def _describe_factor(c, batch_size):
    if abs(c + 1) < 1e-6:
        return t("the sign is flipped")
    if batch_size and batch_size > 1:
        if abs(c - batch_size) < 1e-6 * batch_size:
            return t("{n} times too large: the batch size {n} is missing from a division", n=batch_size)
        if abs(c * batch_size - 1) < 1e-6:
            return t("{n} times too small: divided by the batch size {n} once too often (mean instead of sum?)",
                     n=batch_size)
    if abs(c) >= 1:
        return t("off by a constant factor of {c:.4g}", c=c)
    return t("off by a constant factor of {c:.4g} (1/{inverse:.4g})", c=c, inverse=1 / c)


def diagnose(expected, actual, alternatives=None, batch_size=None):
    """Return the likely mistake that turns ``expected`` into ``actual``, or ``""``.

    ``alternatives`` maps a description to an array a known mistake would produce; it is tried first.
    """
    exp = _asarray(expected, dtype=float)
    try:
        act = _asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return ""
    for label, wrong in (alternatives or {}).items():
        wrong = _asarray(wrong, dtype=float)
        if _same(wrong, act) and not _same(exp, act):
            return label
    if act.shape == exp.shape and _same(exp, act):
        return ""  # close, just not within the caller's tolerance: no classic mistake to name
    if act.shape != exp.shape:
        if exp.ndim == 2 and act.shape == exp.T.shape:
            return _transposed()
        if act.ndim == exp.ndim + 1 and act.shape[1:] == exp.shape:
            return t("not summed over the batch axis (expected shape {shape}: sum over axis 0)", shape=exp.shape)
        if act.size == exp.size:
            return t("the right numbers in the wrong shape: reshape to {shape}", shape=exp.shape)
        if act.shape == exp.shape[:-1] or act.shape == exp.shape[1:]:
            return t("an axis was summed away that should stay")
        return ""
    if exp.size and not _abs(act).any() and _abs(exp).any():
        return t("all zeros: the gradient never reaches this input")
    if exp.ndim == 2 and exp.shape[0] == exp.shape[1] and _same(exp.T, act):
        return _transposed()
    c = _factor(exp, act)
    if c is not None:
        return _describe_factor(c, batch_size)
    return ""
