"""Figures drawn once and shown again: the course's own pictures while a class is graded.

Every submission of an assignment draws the same graphs (the shopping example, the drinks quiz), and
rendering them to PNG (matplotlib's layout, a tight bounding box, compression) costs a grading kernel more
time than the tests do.  So before grading, the grader runs the release notebook once in a kernel of its
own that records the PNG of each course drawing (``COURSE_FIGURES_RECORD``, see :mod:`course.figure_record`),
and every grading kernel gets that record read-only (``COURSE_FIGURES``).

:func:`course.drawing.draw` makes its Figure as always, so a notebook that keeps it, changes it or saves it has
a real Figure, and calls :func:`remember` with what it was asked to draw.  When IPython shows the figure,
its PNG comes from the record if one was recorded for the same request (the graph's values and gradients, the
title, ...) under the same drawing constants, rcParams, matplotlib version, inline-backend settings and
installed fonts, and the figure has not changed since it was drawn; otherwise it is rendered as usual.
A submission that rewrites the drawing functions themselves still sees the recorded picture for the same
request, in its own notebook only: no grade depends on a figure.
"""
import hashlib
import json
import os
import sys

RECORD_ENV = "COURSE_FIGURES_RECORD"  # a file: the recording kernel appends each PNG it renders
CACHE_ENV = "COURSE_FIGURES"          # a file: the record a grading kernel shows PNGs from

_recorded = None  # key -> PNG (base64, as IPython's printer returns it), read once from CACHE_ENV's file
_fonts = None     # a digest of the installed fonts' files, computed once
_wrapped = None   # our PNG printer of Figures, once installed


def remember(fig, *request):
    """Let IPython show ``fig`` as recorded if ``request`` (JSON-able) was recorded as drawn alike."""
    if (os.environ.get(CACHE_ENV) or os.environ.get(RECORD_ENV)) and _install(type(fig)):
        fig._course_request = request
        fig.stale = False  # drawn in full by now: any later change to an artist marks the figure stale again
    return fig


def _install(figure_type):
    """Wrap the PNG printer that matplotlib's inline backend registers for Figures (IPython asks a printer
    registered for the type before any _repr_ method, so the printer is where a PNG can be spared)."""
    global _wrapped
    try:
        from IPython import get_ipython

        png = get_ipython().display_formatter.formatters["image/png"]
        printer = png.lookup_by_type(figure_type)
    except (AttributeError, KeyError):  # no IPython, or no inline backend: no PNG is made anyway
        return False
    if printer is not _wrapped:  # first use, or `%matplotlib inline` registered the backend's own again
        _wrapped = lambda fig: _png(fig, printer)  # noqa: E731 (a closure over the printer it wraps)
        png.for_type(figure_type, _wrapped)
    return True


def _png(fig, printer):
    """The PNG IPython shows for ``fig``: the recorded one if there is one, else what ``printer`` renders."""
    request = getattr(fig, "_course_request", None)
    if request is None or fig.stale:
        return printer(fig)
    try:
        key = _key(request)
    except ValueError:  # a request JSON cannot say (a loop in it): render it
        return printer(fig)
    if os.environ.get(RECORD_ENV):
        data = printer(fig)
        with open(os.environ[RECORD_ENV], "a", encoding="utf-8") as out:
            out.write(json.dumps([key, data]) + "\n")
        return data
    found = _load().get(key)
    return printer(fig) if found is None else found


def _key(request):
    import matplotlib

    drawing = sys.modules.get("course.drawing")
    inline = sys.modules.get("matplotlib_inline.backend_inline")
    settings = inline.InlineBackend.instance() if inline else None
    described = {
        "request": request,
        "constants": {k: v for k, v in vars(drawing).items() if k.isupper()} if drawing else None,
        "rc": sorted((k, repr(v)) for k, v in matplotlib.rcParams.items()),
        "matplotlib": matplotlib.__version__,
        "inline": [sorted(settings.figure_formats), repr(settings.print_figure_kwargs)] if settings else None,
        "fonts": _font_digest(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode()).hexdigest()


def _font_digest():
    global _fonts
    if _fonts is None:
        from matplotlib.font_manager import fontManager

        _fonts = hashlib.sha256("\0".join(sorted(f.fname for f in fontManager.ttflist)).encode()).hexdigest()
    return _fonts


def _load():
    global _recorded
    if _recorded is None:
        _recorded = {}
        try:
            with open(os.environ[CACHE_ENV], encoding="utf-8") as record:
                for line in record:
                    key, data = json.loads(line)
                    _recorded[key] = data
        except (OSError, ValueError, TypeError):  # no record, or a broken one: every figure is rendered
            _recorded = {}
    return _recorded
