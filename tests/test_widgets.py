"""course.widgets: a static Figure where widgets cannot be shown, live widgets where they can."""
import types

import IPython
import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course import drawing, graphs, widgets

# Settle pyplot's backend now: the fake kernel below must not be where pyplot looks for a display hook.
plt.switch_backend("Agg")

FRONT_ENDS = [widgets.apple_orange_explorer, widgets.backward_stepper, widgets.affine_shapes]


def texts(fig, gid=None):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)
            if t.get_text() and (gid is None or t.get_gid() == gid)]


def highlighted(fig):
    return [line.get_gid().removeprefix("node:") for line in fig.axes[0].lines
            if matplotlib.colors.to_hex(line.get_markerfacecolor()) == drawing.HIGHLIGHT]


@pytest.fixture
def kernel(monkeypatch):
    """Pretend to run inside a Jupyter kernel."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))


def test_no_widgets_outside_a_kernel(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not widgets.widgets_available()


def test_widgets_in_a_kernel_but_not_when_nbgrader_grades(kernel, monkeypatch):
    assert widgets.widgets_available()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not widgets.widgets_available()


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_fallback_is_a_static_figure(front_end, kernel, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert isinstance(front_end(), Figure)
    assert isinstance(front_end(interactive=False), Figure)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_widget_mode_in_a_kernel(front_end, kernel):
    live = front_end()
    assert isinstance(live, widgets.LiveFigure) and isinstance(live.figure, Figure)
    assert bytes(live.image.value).startswith(b"\x89PNG")


def test_fallback_figures_show_the_defaults():
    assert {"715", "650", "2.2"} <= set(texts(widgets.apple_orange_explorer(interactive=False)))
    fig = widgets.backward_stepper(graphs.sigmoid_graph(), interactive=False)
    assert "backward order: y → 1+exp(−x) → exp(−x) → −x" == fig.axes[0].get_title()
    assert "X (2, 3)" in texts(widgets.affine_shapes(interactive=False))


def test_explorer_redraws_when_a_slider_moves():
    live = widgets.apple_orange_explorer(interactive=True)
    assert set(live.controls) == {"apple", "apple_num", "orange", "orange_num", "tax"}
    before = bytes(live.image.value)
    live.controls["apple_num"].value = 4
    assert live.figure.axes[0].get_title() == "price = 935"                 # (4·100 + 3·150)·1.1
    assert {"4", "850", "935"} <= set(texts(live.figure, "value"))
    assert "850" in texts(live.figure, "grad")                               # dtax = 400 + 450
    assert bytes(live.image.value) != before
    live.controls["tax"].value = 1.2
    assert live.figure.axes[0].get_title() == "price = 1020"


def test_stepper_walks_the_backward_pass():
    g = graphs.apple_orange()
    order = graphs.backward_order(g)
    live = widgets.backward_stepper(g, interactive=True)
    step, reset = live.controls["step"], live.controls["reset"]
    assert highlighted(live.figure) == [] and texts(live.figure, "grad") == ["1"]
    assert "Start" in live.controls["caption"].value
    seen = []
    for k, name in enumerate(order, start=1):
        step.click()
        assert highlighted(live.figure) == [name]
        assert f"Step {k}/{len(order)}" in live.controls["caption"].value
        seen.append(len(texts(live.figure, "grad")))
    assert seen == [3, 5, 7, 9]                        # each node sends one gradient per input
    assert step.disabled and "complete" in live.controls["caption"].value
    step.click()                                       # nothing left to do: stays at the end
    assert highlighted(live.figure) == [order[-1]]
    reset.click()
    assert highlighted(live.figure) == [] and not step.disabled


def test_stepper_caption_names_the_rule():
    live = widgets.backward_stepper(graphs.apple(), interactive=True)
    live.controls["step"].click()
    caption = live.controls["caption"].value
    assert "price" in caption and "other input" in caption and "220" not in caption
    assert "1.1 to apple_price" in caption and "200 to tax" in caption


def test_affine_shapes_follow_the_sliders():
    live = widgets.affine_shapes(N=2, D=3, M=4, interactive=True)
    assert {"X (2, 3)", "W (3, 4)", "dX (2, 3)", "Wᵀ (4, 3)", "Xᵀ (3, 2)", "dW (3, 4)", "db (4,)"} <= set(
        texts(live.figure))
    live.controls["N"].value = 5
    assert {"X (5, 3)", "dY (5, 4)", "Xᵀ (3, 5)", "Y (5, 4)"} <= set(texts(live.figure))
    live.controls["M"].value = 1
    assert {"db (1,)", "dW (3, 1)"} <= set(texts(live.figure))
