"""Interactive pictures for the notebooks (ipywidgets front ends to :mod:`course.drawing`).

Each function returns a widget when a browser front end can show one, and otherwise (nbgrader's
autograding, a plain Python process) draws the same picture once and returns the matplotlib Figure,
so a notebook cell that calls it never fails where widgets cannot be shown.
``interactive=True`` / ``False`` forces either mode.
"""
import io
import os
from html import escape

import ipywidgets as widgets
from matplotlib.patches import Rectangle

from course import graphs
from course.drawing import draw, fmt, new_figure
from course.graphs import backward_order
from course.i18n import t


def widgets_available():
    """True inside a Jupyter kernel that is not being autograded by nbgrader."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def _use_widgets(interactive):
    return widgets_available() if interactive is None else interactive


class LiveFigure(widgets.VBox):
    """Controls in a row above the Figure that ``paint()`` draws, drawn again when a watched control changes.

    ``controls`` maps names to the controls, ``figure`` is the Figure on display, ``redraw()`` paints anew.
    """

    def __init__(self, controls, paint, watched=()):
        image = widgets.Image(format="png")
        super().__init__([widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                          image])
        self.controls, self.paint, self.image = controls, paint, image
        for name in watched:
            controls[name].observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, *_):
        self.figure = self.paint()
        png = io.BytesIO()
        self.figure.savefig(png, format="png", dpi=100)
        self.image.value = png.getvalue()


def _sliders(specs):
    """IntSliders (FloatSliders if any number is a float) from {name: (value, low, high, step)}."""
    sliders = {}
    for name, spec in specs.items():
        kind = widgets.IntSlider if all(isinstance(v, int) for v in spec) else widgets.FloatSlider
        sliders[name] = kind(value=spec[0], min=spec[1], max=spec[2], step=spec[3], description=name,
                             style={"description_width": "initial"}, layout=widgets.Layout(width="250px"))
    return sliders


def _values(sliders):
    return {name: s.value for name, s in sliders.items()}


# ------------------------------------------------------------------------------ the shopping explorer

SHOPPING = {  # the inputs of graphs.apple_orange: (value, low, high, step)
    "apple": (100, 10, 300, 10), "apple_num": (2, 0, 10, 1),
    "orange": (150, 10, 300, 10), "orange_num": (3, 0, 10, 1), "tax": (1.1, 1.0, 1.5, 0.05),
}


def _shopping_figure(**values):
    g = graphs.apple_orange(**values)
    return draw(g, backward=True, title=t("price = {price}", price=fmt(g.forward()['price'])))


def apple_orange_explorer(interactive=None):
    """Sliders for the shopping graph's five inputs; forward values and gradients redraw as they move."""
    if not _use_widgets(interactive):
        return _shopping_figure(**{name: spec[0] for name, spec in SHOPPING.items()})
    sliders = _sliders(SHOPPING)
    return LiveFigure(sliders, lambda: _shopping_figure(**_values(sliders)), watched=sliders)


# ------------------------------------------------------------------------------ the backward stepper

def rules():
    """What each kind of node does to the gradient it receives, in words (in the edition's language)."""
    return {
        "+": t("an add node passes it on unchanged to both inputs"),
        "+c": t("adding a constant passes it on unchanged"),
        "×": t("a multiply node sends each input the gradient times the other input"),
        "×c": t("multiplying by a constant multiplies the gradient by that constant"),
        "exp": t("exp multiplies it by its own output exp(x)"),
        "1/x": t("1/x multiplies it by −1/x², that is −(output)²"),
        "x²": t("x² multiplies it by 2x"),
        "sigmoid": t("sigmoid multiplies it by y(1 − y), y being its output"),
        "relu": t("ReLU passes it on where its input was positive and stops it elsewhere"),
    }


def _caption(graph, order, step):
    if step == 0:
        return t("Start: the gradient {grad} arrives at the output <b>{output}</b>. "
                 "Press <b>Step</b> to send it back one node at a time.",
                 grad=fmt(graph.grads[graph.output]), output=escape(graph.output))
    name = order[step - 1]
    node = graph.nodes[name]
    sent = ", ".join(t("{grad} to {source}", grad=fmt(graph.edge_grads[name, k]), source=escape(source))
                     for k, source in enumerate(node.inputs))
    rule = rules().get(node.op) or t("the gradient is multiplied by the local derivative of {op}", op=node.op)
    end = t(" The backward pass is complete.") if step == len(order) else ""
    return t("Step {step}/{steps}: <b>{name}</b> ({label}) received {grad}; {rule}: it sends {sent}.{end}",
             step=step, steps=len(order), name=escape(name), label=escape(node.label),
             grad=fmt(graph.grads[name]), rule=rule, sent=sent, end=end)


def backward_stepper(graph=None, interactive=None):
    """Walk the backward pass (역전파) of ``graph`` (default: the shopping graph) one node at a time.

    Step highlights the next node of :func:`course.graphs.backward_order` and writes the gradients it
    sends back; Reset starts over.
    Without widgets: the whole backward pass, titled with the visiting order.
    """
    graph = graph or graphs.apple_orange()
    graph.backward()
    order = backward_order(graph)
    if not _use_widgets(interactive):
        return draw(graph, backward=True, title=t("backward order: {order}", order=" → ".join(order)))
    controls = {"step": widgets.Button(description=t("Step")), "reset": widgets.Button(description=t("Reset")),
                "caption": widgets.HTML(layout=widgets.Layout(width="100%"))}
    step = 0      # how many nodes have sent their gradients back

    def paint():
        controls["step"].disabled = step == len(order)
        controls["caption"].value = _caption(graph, order, step)
        return draw(graph, backward=True, steps=step, highlight=order[step - 1] if step else None)

    def go_to(new_step):
        nonlocal step
        step = new_step
        live.redraw()

    live = LiveFigure(controls, paint)
    controls["step"].on_click(lambda _: go_to(min(step + 1, len(order))))
    controls["reset"].on_click(lambda _: go_to(0))
    return live


# ------------------------------------------------------------------------------ shapes in Affine

DIM_COLORS = {"N": "#1f77b4", "D": "#e69138", "M": "#38761d"}
FILLS = {"X": "#cfe2f3", "W": "#fce5cd", "Y": "#d9ead3", "b": "#d9ead3"}
CELL = 0.2          # inches per matrix entry; every length below is in entries
FORMULAS = 10.5     # room for the formulas on the left
JOINT = 2.4         # room between two matrices for "·" or "=" and the next matrix's row letter
SLOT = 3.0          # the least width a matrix takes, so that its name and shape fit under it
# Each row: the formula, then the matrices (name, row dimension, column dimension) and what joins them.
EQUATIONS = [
    ("Y = X·W + b", [("X", "N", "D"), "·", ("W", "D", "M"), "=", ("Y", "N", "M")]),
    ("dX = dY·Wᵀ", [("dY", "N", "M"), "·", ("Wᵀ", "M", "D"), "=", ("dX", "N", "D")]),
    ("dW = Xᵀ·dY", [("Xᵀ", "D", "N"), "·", ("dY", "N", "M"), "=", ("dW", "D", "M")]),
    ("db = dY.sum(axis=0)", [("dY", "N", "M"), "→", ("db", None, "M")]),
]


def affine_figure(N=2, D=3, M=4):
    """Matrix shapes in Affine's forward and backward passes, one square per entry.

    The coloured letters name each side's size: a product needs equal inner sizes, and each gradient
    comes out with the shape of its variable, which is why the transposes sit where they do.
    """
    sizes = {"N": N, "D": D, "M": M, None: 1}
    matrices = [[p for p in parts if isinstance(p, tuple)] for _, parts in EQUATIONS]
    heights = [max(sizes[rows] for _, rows, _ in row) + 2.4 for row in matrices]
    widths = [sum(max(sizes[cols], SLOT) for _, _, cols in row) + JOINT * (len(row) - 1) for row in matrices]
    total_w = max(FORMULAS + max(widths) + 0.5, 34)
    total_h = 1.6 + sum(heights) + 1.4
    fig = new_figure((CELL * total_w, CELL * total_h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, total_w)
    ax.set_ylim(-total_h, 0)
    ax.axis("off")
    ax.text(0.3, -0.4, t("Shapes in Affine: batch N = {N}, inputs D = {D}, outputs M = {M}", N=N, D=D, M=M),
            fontsize=11, va="top")
    top = -1.6
    for (formula, parts), height in zip(EQUATIONS, heights):
        middle = top - height / 2 + 0.2
        ax.text(0.3, middle, formula, fontsize=10, va="center")
        x = FORMULAS
        for part in parts:
            if isinstance(part, tuple):
                x = _matrix(ax, x, middle, *part, sizes)
            else:
                ax.text(x + 0.75, middle, part, fontsize=13, ha="center", va="center")
                x += JOINT
        top -= height
    ax.text(0.3, top - 0.3, t("Each gradient has the shape of its variable; the transposes make the inner sizes meet."),
            fontsize=9, va="top", style="italic")
    return fig


def _matrix(ax, x, middle, name, rows, cols, sizes):
    """A rows × cols block of squares in a slot starting at x; returns the slot's right end."""
    n_rows, n_cols = sizes[rows], sizes[cols]
    end = x + max(n_cols, SLOT)
    x += (max(n_cols, SLOT) - n_cols) / 2
    y_top = middle + n_rows / 2
    y_bottom = y_top - n_rows
    ax.add_patch(Rectangle((x, y_bottom), n_cols, n_rows, facecolor=FILLS[name.strip("dᵀ")], edgecolor="grey",
                           lw=0.6))
    ax.hlines([y_bottom + i for i in range(1, n_rows)], x, x + n_cols, color="grey", lw=0.6)
    ax.vlines([x + j for j in range(1, n_cols)], y_bottom, y_top, color="grey", lw=0.6)
    if rows:
        ax.text(x - 0.25, middle, rows, color=DIM_COLORS[rows], fontsize=9, ha="right", va="center",
                weight="bold")
    ax.text(x + n_cols / 2, y_top + 0.15, cols, color=DIM_COLORS[cols], fontsize=9, ha="center",
            va="bottom", weight="bold")
    shape = f"({n_rows}, {n_cols})" if rows else f"({n_cols},)"
    ax.text(x + n_cols / 2, y_bottom - 0.25, f"{name} {shape}", fontsize=9, ha="center", va="top")
    return end


def affine_shapes(N=2, D=3, M=4, interactive=None):
    """Sliders for N, D and M over :func:`affine_figure`."""
    if not _use_widgets(interactive):
        return affine_figure(N, D, M)
    sliders = _sliders({name: (value, 1, 6, 1) for name, value in (("N", N), ("D", D), ("M", M))})
    return LiveFigure(sliders, lambda: affine_figure(**_values(sliders)), watched=sliders)
