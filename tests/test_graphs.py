"""course.graphs and course.drawing: the book's numbers, gradients against numerical ones, the layout and the drawing."""
import functools
import itertools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course import drawing, graphs  # noqa: E402
from course.gradcheck import numerical_gradient, relative_error  # noqa: E402
from course.drawing import draw, fmt, layout  # noqa: E402
from course.graphs import OPS, Graph, backward_order  # noqa: E402

PREBUILT = [graphs.apple, graphs.apple_orange, graphs.drinks_quiz, graphs.chain_rule, graphs.sigmoid_graph,
            graphs.add_node, graphs.mul_node]


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------- the book's numbers

def test_apple():
    g = graphs.apple()
    assert g.forward()["price"] == approx(220)
    grads = g.backward()
    assert (grads["apple"], grads["apple_num"], grads["tax"]) == (approx(2.2), approx(110), approx(200))


def test_apple_orange():
    g = graphs.apple_orange()
    assert g.forward()["price"] == approx(715)
    grads = g.backward()
    expected = {"apple_num": 110, "apple": 2.2, "orange": 3.3, "orange_num": 165, "tax": 650}
    assert {name: grads[name] for name in expected} == {name: approx(v) for name, v in expected.items()}
    assert grads["all_price"] == approx(1.1) and grads["price"] == 1.0


def test_drinks_quiz():
    g = graphs.drinks_quiz()
    assert g.forward()["total"] == approx(48000)
    grads = g.backward()
    assert grads["members"] == approx(4800)           # one more member costs one member's drinks
    assert grads["water_num"] == approx(15000)        # one more bottle each costs 10 × 1500
    assert grads["juice"] == approx(10)


def test_chain_rule():
    g = graphs.chain_rule()
    assert g.forward()["z"] == approx(9)
    assert g.backward() == {"x": approx(6), "y": approx(6), "t": approx(6), "z": 1.0}


def test_sigmoid_graph_matches_y_times_one_minus_y():
    for x in (-2.0, 0.0, 1.0, 3.5):
        g = graphs.sigmoid_graph(x=x)
        y = 1 / (1 + math.exp(-x))
        assert g.forward()["y"] == approx(y)
        assert g.backward()["x"] == approx(y * (1 - y))
    assert [g.nodes[n].op for n in reversed(backward_order(g))] == ["×c", "exp", "+c", "1/x"]


def test_single_nodes_pass_dout_back():
    assert graphs.add_node(x=2, y=3, dout=1.3).backward() == {"x": approx(1.3), "y": approx(1.3), "z": approx(1.3)}
    grads = graphs.mul_node(x=2, y=3, dout=1.3).backward()
    assert (grads["x"], grads["y"]) == (approx(3.9), approx(2.6))          # the inputs swap


def test_prebuilt_graphs_take_keyword_values():
    g = graphs.apple_orange(apple=120, apple_num=4, orange=50, orange_num=1, tax=1.2)
    assert g.forward()["price"] == approx((120 * 4 + 50) * 1.2)
    assert g.backward()["tax"] == approx(530)
    assert graphs.chain_rule(x=-1.0, y=0.5).backward()["x"] == approx(-1.0)


def test_changing_an_input_value():
    g = graphs.apple()
    g.values["apple_num"] = 3
    assert g.forward()["price"] == approx(330)


# ---------------------------------------------------------------------------------- backward pass rules

def test_fan_out_gradients_add_up():
    g = Graph("fan-out")
    x, y = g.input("x", 2.0), g.input("y", 5.0)
    g.node("z", "+", g.node("xy", "×", x, y), x)              # z = x*y + x: x feeds two nodes
    assert g.backward()["x"] == approx(5 + 1)
    g = Graph("square by multiplying")
    t = g.input("t", 3.0)
    g.node("z", "×", t, t)                                     # the same node twice into one node
    assert g.backward()["t"] == approx(6)


def test_backward_twice_gives_the_same_gradients():
    g = graphs.apple_orange()
    assert g.backward() == g.backward()


def test_backward_with_another_output_and_dout():
    g = graphs.apple_orange()
    grads = g.backward(output="apple_price", dout=2.0)
    assert (grads["apple"], grads["apple_num"]) == (approx(4), approx(200))
    assert grads["orange"] == grads["tax"] == grads["price"] == 0.0     # every node has a gradient


def _domain(op, rng):
    """Random inputs away from where the op is undefined or has a kink (so ±h stays on one side)."""
    values = list(rng.uniform(-2, 2, size=graphs.arity(op)))
    if op in ("log", "1/x", "/"):
        values[-1] = rng.uniform(0.5, 3)
    if op == "max" and abs(values[0] - values[1]) < 0.1:
        values[1] += 0.5
    if op == "relu" and abs(values[0]) < 0.1:
        values[0] = 0.7
    return values


@pytest.mark.parametrize("op", list(OPS))
def test_every_op_against_a_numerical_gradient(op):
    rng = np.random.default_rng(sum(map(ord, op)))
    for _ in range(5):
        g = Graph(op, dout=rng.uniform(0.5, 2))
        names = [g.input(f"in{k}", v) for k, v in enumerate(_domain(op, rng))]
        g.node("out", op, *names, const=rng.uniform(-2, 2) if op.endswith("c") else None)
        analytic = np.array([g.backward()[n] for n in names])
        point = np.array([g.values[n] for n in names])

        def f(p):
            g.values.update(zip(names, p))
            return g.dout * g.forward()["out"]
        assert relative_error(numerical_gradient(f, point), analytic) < 1e-7, op


def random_graph(seed, size=12, ops=("+", "×", "-", "x²", "neg", "sigmoid", "×c", "+c")):
    """A random DAG whose nodes often feed several later nodes; values stay small."""
    rng = np.random.default_rng(seed)
    g = Graph(f"random {seed}")
    names = [g.input(f"x{k}", rng.uniform(-1, 1)) for k in range(3)]
    for k in range(size):
        op = str(rng.choice(ops))
        inputs = [names[i] for i in rng.choice(len(names), size=graphs.arity(op))]
        names.append(g.node(f"n{k}", op, *inputs, const=0.5 if op.endswith("c") else None))
    g.node("out", "+", names[-1], names[-2])
    return g


ALL_GRAPHS = PREBUILT + [functools.partial(random_graph, seed) for seed in range(5)]


@pytest.mark.parametrize("seed", range(5))
def test_random_graphs_against_numerical_gradients(seed):
    g = random_graph(seed)
    inputs = [n for n, node in g.nodes.items() if node.is_input]
    grads = g.backward()
    point = np.array([g.values[n] for n in inputs])

    def f(p):
        g.values.update(zip(inputs, p))
        return g.forward()["out"]
    assert relative_error(numerical_gradient(f, point), [grads[n] for n in inputs]) < 1e-7


def test_bad_graphs_are_refused_with_a_reason():
    g = Graph("bad")
    x = g.input("x", 1.0)
    for call, words in [(lambda: g.node("y", "sqrt", x), "unknown op"),
                        (lambda: g.node("y", "×", x), "takes 2 input"),
                        (lambda: g.node("y", "×c", x), "needs const"),
                        (lambda: g.node("y", "+", x, "z"), "unknown node"),
                        (lambda: g.input("x", 2.0), "already exists")]:
        with pytest.raises(ValueError, match=words):
            call()


# ---------------------------------------------------------------------------------- backward order

def assert_reverse_topological(g, order):
    ops = {n for n in g.nodes if not g.nodes[n].is_input}
    assert len(order) == len(set(order)) and set(order) <= ops
    where = {name: k for k, name in enumerate(order)}
    for name in order:
        for source in g.nodes[name].inputs:
            if not g.nodes[source].is_input:
                assert where[source] > where[name], f"{source} must come after its user {name}"


def reached_from(g, output):
    reached, todo = set(), [output]
    while todo:
        name = todo.pop()
        reached.add(name)
        todo.extend(g.nodes[name].inputs)
    return {n for n in reached if not g.nodes[n].is_input}


@pytest.mark.parametrize("build", ALL_GRAPHS)
def test_backward_order_is_reverse_topological(build):
    g = build()
    order = backward_order(g)
    assert order[0] == g.output
    assert_reverse_topological(g, order)
    assert set(order) == reached_from(g, g.output)


def test_backward_order_is_the_books_for_the_shopping_graph():
    assert backward_order(graphs.apple_orange()) == ["price", "all_price", "orange_price", "apple_price"]


def test_deep_graph_needs_no_recursion():
    g = Graph("deep")
    name = g.input("x", 0.5)
    for k in range(5000):
        name = g.node(f"n{k}", "+c", name, const=0.0)
    assert len(backward_order(g)) == 5000
    assert g.backward()["x"] == 1.0


# ---------------------------------------------------------------------------------- layout and drawing

def homework_like(x=1.0, y=2.0, w=0.75):
    """The homework's graph: L = σ(−max(x, y)·w)·max(x, y) + w², the sigmoid from primitive nodes.

    Its values h and w feed two nodes each, and h and r = w² are used again far to the right.
    """
    g = Graph("homework")
    h = g.node("h", "max", g.input("x", x), g.input("y", y))
    w = g.input("w", w)
    a = g.node("a", "×", h, w)
    s = g.node("s", "1/x", g.node("d", "+c", g.node("e", "exp", g.node("n", "×c", a, const=-1)), const=1))
    g.node("L", "+", g.node("q", "×", s, h), g.node("r", "x²", w))
    return g


def student_grads():
    """The homework graph's gradients as a student might report them: dL/dh misses what comes back via a."""
    g = homework_like()
    return dict(g.backward(), h=0.8176)


def test_fmt_is_compact():
    cases = {715.0000000000001: "715", 3.3000000000000003: "3.3", 2.2: "2.2", 48000.0: "48000", 1.1: "1.1",
             -0.19661193324148185: "−0.1966", -1: "−1", 0.5: "0.5", 1234.56: "1234.6", 220.00000000000003: "220",
             float("inf"): "inf", 1e-5: "1e−05"}
    assert {v: fmt(v) for v in cases} == cases


@pytest.mark.parametrize("build", ALL_GRAPHS)
def test_layout_has_no_overlapping_nodes(build):
    g = build()
    pos = layout(g)
    assert set(pos) == set(g.nodes)
    for (a, (xa, ya)), (b, (xb, yb)) in itertools.combinations(pos.items(), 2):
        assert abs(xa - xb) >= 1 or abs(ya - yb) >= 1, f"{a} and {b} overlap"
    for node in g.nodes.values():
        for source in node.inputs:
            assert pos[source][0] < pos[node.name][0], "edges go left to right"


def users_of(g):
    return {name: [node.name for node in g.nodes.values() if name in node.inputs] for name in g.nodes}


@pytest.mark.parametrize("build", ALL_GRAPHS + [homework_like])
def test_layout_keeps_every_edge_as_short_as_it_can(build):
    """An op node one column right of its latest input; an input one column left of its first user, so that a
    late input (a tax rate, the homework's w) sits next to where it is used, not at the far left."""
    g = build()
    pos, users = layout(g), users_of(g)
    for name, node in g.nodes.items():
        if node.is_input and users[name]:
            assert pos[name][0] == min(pos[u][0] for u in users[name]) - 1, f"{name} is not next to its first user"
        elif not node.is_input:
            assert pos[name][0] == 1 + max(pos[i][0] for i in node.inputs), f"{name} is not next to its inputs"


@pytest.mark.parametrize("build", PREBUILT + [homework_like])
def test_chains_run_straight_and_a_fork_opens_evenly(build):
    """In the course's graphs: a node fed by a value nothing else uses sits level with it (the homework's
    sigmoid, four nodes in a row, is one straight line), and a value feeding two nodes of the next column sits
    midway between them."""
    g = build()
    pos, users = layout(g), users_of(g)
    for name, node in g.nodes.items():
        if len(set(node.inputs)) == 1 and len(users[node.inputs[0]]) == 1:
            assert pos[name][1] == pos[node.inputs[0]][1], f"{node.inputs[0]} → {name} is not level"
        forks = set(users[name])
        if len(forks) == 2 and all(pos[u][0] == pos[name][0] + 1 for u in forks):
            upper, lower = sorted(pos[u][1] for u in forks)
            assert pos[name][1] == approx((upper + lower) / 2), f"{name}'s two edges do not open evenly"


@pytest.mark.parametrize("build", ALL_GRAPHS + [homework_like])
def test_long_edges_run_on_tracks_clear_of_the_nodes_they_pass(build):
    """An edge to the next column is straight; a longer one bends, right after its start and right before its end,
    onto one level track that keeps a row clear of every node of the columns it passes (more below a node whose
    constant hangs under it)."""
    g = build()
    pos = layout(g)
    for (name, k), path in drawing.routes(g, pos).items():
        start, end = pos[g.nodes[name].inputs[k]], pos[name]
        assert path[0] == start and path[-1] == end
        if end[0] - start[0] == 1:
            assert path == [start, end], "short edges are straight"
            continue
        bends = path[1:-1]
        assert {x for x, _ in bends} <= {start[0] + 1, end[0] - 1} and len({y for _, y in bends}) <= 1, path
        track = bends[0][1] if bends else start[1]
        for other, (x, y) in pos.items():
            if start[0] < x < end[0]:
                hangs = drawing.CONST_ROOM if g.nodes[other].const is not None else 0
                clear = 1 - 1e-9  # rows, less float rounding
                assert track >= y + clear or track <= y - clear - hangs, f"the edge into {name} runs by {other}"


def test_the_homework_graph_needs_its_long_edges():
    """The homework's h and r = w² are used far to the right: the test above has long edges to check."""
    g = homework_like()
    pos = layout(g)
    assert [name for name, k in drawing.routes(g, pos) if pos[name][0] - pos[g.nodes[name].inputs[k]][0] > 1] \
        == ["q", "L"]


def test_a_value_feeding_several_nodes_shows_its_gradient_once():
    g = homework_like()
    fig = draw(g, backward=True)
    grads = g.backward()
    assert sorted(t.get_text() for t in texts(fig, "total")) == sorted([fmt(grads["h"]), fmt(grads["w"])])
    assert grads["h"] == approx(g.edge_grads["a", 0] + g.edge_grads["q", 1])      # the branches add up
    assert fmt(g.edge_grads["q", 1]) in {t.get_text() for t in texts(fig, "grad")}
    order = backward_order(g)
    fig = draw(g, backward=True, steps=order.index("a"))        # a has not sent h its share yet
    assert [t.get_text() for t in texts(fig, "total")] == []


def test_draw_with_given_gradients():
    g = homework_like()
    given = student_grads()
    fig = draw(g, grads=given)
    values = {t.get_text() for t in texts(fig, "value")}
    assert values == {fmt(v) for v in g.forward().values()}
    grads = sorted(t.get_text() for t in texts(fig, "grad"))
    # under an edge its input's gradient; none under the edges of h and w, which feed two nodes each
    assert grads == sorted(fmt(given[n]) for n in ("x", "y", "a", "n", "e", "d", "s", "q", "r", "L"))
    assert sorted(t.get_text() for t in texts(fig, "total")) == sorted([fmt(given["h"]), fmt(given["w"])])
    fig = draw(graphs.chain_rule(), grads={"x": 6, "t": 6})           # missing names show nothing
    assert sorted(t.get_text() for t in texts(fig, "grad")) == ["6", "6"]


def texts(fig, gid=None):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() and (gid is None or t.get_gid() == gid)]


def test_draw_shows_forward_values_and_gradients():
    fig = draw(graphs.apple_orange(), backward=True, title="shopping")
    assert isinstance(fig, Figure)
    values = {t.get_text() for t in texts(fig, "value")}
    grads = [t for t in texts(fig, "grad")]
    assert {"100", "2", "150", "3", "1.1", "200", "450", "650", "715"} <= values
    assert sorted(t.get_text() for t in grads) == sorted(["2.2", "110", "3.3", "165", "1.1", "1.1", "1.1",
                                                           "650", "1"])
    assert all(t.get_color() == drawing.GRAD_COLOR for t in grads)
    assert {"apple", "apple_num", "orange", "orange_num", "tax"} <= {t.get_text() for t in texts(fig)}
    assert fig.axes[0].get_title() == "shopping"
    assert 7 <= fig.get_size_inches()[0] <= 9.5 and 3 <= fig.get_size_inches()[1] <= 4.5


def test_draw_without_backward_has_no_gradients():
    fig = draw(graphs.apple())
    assert texts(fig, "grad") == [] and {"100", "2", "200", "1.1", "220"} <= {t.get_text() for t in texts(fig)}


def node_face(fig, name):
    (marker,) = [a for a in fig.axes[0].lines if a.get_gid() == f"node:{name}"]
    return matplotlib.colors.to_hex(marker.get_markerfacecolor())


def test_highlight_and_partial_backward():
    g = graphs.apple_orange()
    fig = draw(g, backward=True, highlight="all_price", steps=2)
    assert node_face(fig, "all_price") == drawing.HIGHLIGHT and node_face(fig, "price") == "#ffffff"
    # price and all_price have sent their gradients back, the two × nodes not yet
    assert sorted(t.get_text() for t in texts(fig, "grad")) == ["1", "1.1", "1.1", "1.1", "650"]


def test_draw_into_given_axes():
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    assert draw(graphs.chain_rule(), backward=True, ax=ax) is fig
    assert {"9", "6"} <= {t.get_text() for t in texts(fig)}


def text_corners(t, renderer):
    """The four corners on screen of a text's box, turned with the text (edge labels are rotated)."""
    angle = t.get_rotation()
    t.set_rotation(0)
    box = t.get_window_extent(renderer).shrunk(0.92, 0.85)     # glyph boxes include some empty margin
    t.set_rotation(angle)
    if angle == 0:
        return [(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)]
    ax_ = {"left": box.x0, "center": (box.x0 + box.x1) / 2, "right": box.x1}[t.get_ha()]
    ay_ = {"bottom": box.y0, "center": (box.y0 + box.y1) / 2, "top": box.y1}[t.get_va()]
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(ax_ + c * (x - ax_) - s * (y - ay_), ay_ + s * (x - ax_) + c * (y - ay_))
            for x, y in ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))]


def overlap(p, q):
    """Separating axis test for two convex polygons."""
    for poly in (p, q):
        for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
            nx, ny = y0 - y1, x1 - x0
            a = [nx * x + ny * y for x, y in p]
            b = [nx * x + ny * y for x, y in q]
            if max(a) <= min(b) or max(b) <= min(a):
                return False
    return True


DRAWINGS = {build.__name__: (build, {}) for build in PREBUILT}
DRAWINGS["homework"] = (homework_like, {})
DRAWINGS["homework, forward"] = (homework_like, {"backward": False})
DRAWINGS["homework, given gradients"] = (homework_like, {"grads": student_grads()})


def drawn(name):
    build, options = DRAWINGS[name]
    g = build()
    return g, draw(g, **{"backward": True, "title": "a title", **options})


@pytest.mark.parametrize("name", DRAWINGS)
def test_drawn_texts_do_not_overlap(name):
    _, fig = drawn(name)
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [(t.get_text(), text_corners(t, renderer)) for t in texts(fig)]
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if overlap(box_a, box_b)]
    assert clashes == []
    figure_box = fig.bbox.padded(2)
    assert all(figure_box.contains(x, y) for _, corners in boxes for x, y in corners), "a text is cut off"


def drawn_edges(g, fig):
    """Each edge's visible stretches on screen, (source, node, [segments]): the path of :func:`drawing.routes`
    less the gaps at a circle or an input's name."""
    ax = fig.axes[0]
    pixels = fig.dpi / 72
    pos = layout(g)
    for (name, k), path in drawing.routes(g, pos).items():
        source = g.nodes[name].inputs[k]
        screen = [np.array(p) for p in ax.transData.transform(path)]
        for end, neighbour, gap in ((0, 1, 2 if g.nodes[source].is_input else drawing.RADIUS),
                                    (-1, -2, drawing.RADIUS)):
            u = screen[neighbour] - screen[end]
            screen[end] = screen[end] + u / np.linalg.norm(u) * gap * pixels
        yield source, name, list(zip(screen, screen[1:]))


def distance(point, segment):
    a, b = segment
    t = np.clip(np.dot(point - a, b - a) / np.dot(b - a, b - a), 0, 1)
    return float(np.linalg.norm(point - (a + t * (b - a))))


def circles_and_texts(g, fig):
    """Screen centres of the op nodes' circles, and the corners of every text but the title."""
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    centres = {n: ax.transData.transform(p) for n, p in layout(g).items() if not g.nodes[n].is_input}
    return centres, [(t.get_text(), text_corners(t, renderer)) for t in texts(fig) if t is not ax.title]


@pytest.mark.parametrize("build", ALL_GRAPHS + [homework_like])
def test_edges_pass_clear_of_circles(build):
    g = build()
    fig = draw(g, backward=True)
    centres, _ = circles_and_texts(g, fig)
    radius = drawing.RADIUS * fig.dpi / 72
    for source, node, segments in drawn_edges(g, fig):
        for segment in segments:
            through = [n for n, c in centres.items() if n not in (source, node) and distance(c, segment) < radius]
            assert through == [], f"the edge {source} → {node} passes through {through}"


@pytest.mark.parametrize("name", DRAWINGS)
def test_edges_pass_clear_of_texts(name):
    g, fig = drawn(name)
    _, boxes = circles_and_texts(g, fig)
    for source, node, segments in drawn_edges(g, fig):
        for segment in segments:
            crossed = [text for text, box in boxes if overlap(box, [tuple(p) for p in segment])]
            assert crossed == [], f"the edge {source} → {node} runs through the text(s) {crossed}"
