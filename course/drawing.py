"""Drawings of computation graphs the way chapter 5 of the book draws them.

Operations in circles, inputs as plain labels on the left, forward values above the edges and gradients below
them; the :class:`course.graphs.Graph` being drawn is the model, computed elsewhere.
"""
import math

import matplotlib.pyplot as plt

from course import figure_cache
from course.graphs import backward_order, topological

# Layout is in columns and rows; sizes that decide readability (circles, gaps, fonts) are in points,
# so the drawing stays clean whatever the figure's size.
INCH_PER_COLUMN = 1.7
INCH_PER_ROW = 0.72
MAX_WIDTH = 9.5      # inches
RADIUS = 13          # points
FONT = 11
LABEL_AT = 0.45      # where along an edge its numbers are written (converging edges are apart there)
FORK_LABEL_AT = 0.55 # ... on the edges of a value that feeds several nodes (they are apart near their ends)
CONST_ROOM = 0.4     # rows that a constant hanging under a node adds to what a track must keep clear of
GRAD_COLOR = "#d62728"
HIGHLIGHT, HIGHLIGHT_EDGE = "#ffd966", "#b45f06"


def fmt(v):
    """A compact number: float noise rounded away (715.0000000000001 -> 715), at most 4 significant digits."""
    v = float(f"{v:.10g}")
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        text = str(int(v))
    elif abs(v) >= 1000:
        text = f"{v:.1f}"
    else:
        text = f"{v:.4g}"
    return text.replace("-", "\u2212")      # a typographic minus sign


def layout(graph):
    """Positions (column, y) of every node, computed from the graph alone; the output is rightmost.

    Columns come from :func:`_columns`.  Vertically the graph is spread like a tree drawn from the output:
    inputs take consecutive rows in the order the output reaches them, and an op node sits at the mean
    height of its inputs.  The edges' paths are :func:`routes`.
    """
    users = {name: {node for node, _ in edges} for name, edges in _uses(graph).items()}
    column = _columns(graph, users)
    ends = [n for n in graph.nodes if not users[n]]
    rows, next_row = {}, 0
    for name in topological(graph, ends):
        node = graph.nodes[name]
        if node.is_input:
            rows[name], next_row = next_row, next_row + 1
        else:
            rows[name] = sum(rows[i] for i in node.inputs) / len(node.inputs)
    _separate(graph, rows, column)
    top = max(rows.values())
    return {name: (float(column[name]), float(top - rows[name])) for name in graph.nodes}


def _uses(graph):
    """name -> the edges (node, input position) that carry its value to other nodes."""
    uses = {name: [] for name in graph.nodes}
    for node in graph.nodes.values():
        for k, source in enumerate(node.inputs):
            uses[source].append((node.name, k))
    return uses


def _columns(graph, users):
    """Each node's column: an op node one column right of its latest input, an input one column left of its
    first user (so a late input such as a tax rate sits next to where it is used).

    An op node used only far to the right (r = w², added to the very last node) is first pushed next to its
    user, so that it does not hold its inputs back at the far left; then every op node moves back left as
    far as its inputs allow, and sits next to them.
    """
    ops = [n for n in graph.nodes.values() if not n.is_input]
    column = {name: 0 for name in graph.nodes}
    for node in ops:                                    # as early as possible: the output's column
        column[node.name] = 1 + max(column[i] for i in node.inputs)
    for node in reversed(ops):                          # as late as possible, except nodes nobody uses
        if users[node.name]:
            column[node.name] = min(column[u] for u in users[node.name]) - 1
    for name, node in graph.nodes.items():              # inputs next to their first user
        if node.is_input and users[name]:
            column[name] = min(column[u] for u in users[name]) - 1
    for node in ops:                                    # op nodes next to their inputs
        column[node.name] = 1 + max(column[i] for i in node.inputs)
    return column


def _separate(graph, rows, column):
    """Push apart nodes of one column that ended up closer than one row (possible with fan-out).

    Two nodes fed by one value from the column before get one and a half rows: their edges leave from one
    point, so only there are they far enough apart for their numbers.
    """
    for c in set(column.values()):
        names = sorted((n for n in rows if column[n] == c), key=rows.get)
        for above, below in zip(names, names[1:]):
            fed_from_before = {i for i in graph.nodes[above].inputs if column[i] == c - 1}
            shared = fed_from_before & set(graph.nodes[below].inputs)
            rows[below] = max(rows[below], rows[above] + (1.5 if shared else 1))


def routes(graph, pos):
    """The path of every edge: (node name, input position) -> the points from the input to the node.

    An edge to the next column is a straight line.  A longer one (a value used again further right) would
    cut through the nodes in between and their numbers, so it bends onto a track of its own: a horizontal
    line above or below everything in the columns it passes (whichever is the shorter way round), one row
    clear of the nodes there, more under a node whose constant hangs below it.
    """
    high, low = {}, {}          # column -> the highest and lowest thing drawn in it so far
    for name, (x, y) in pos.items():
        hangs = CONST_ROOM if graph.nodes[name].const is not None else 0
        high[int(x)] = max(high.get(int(x), y), y)
        low[int(x)] = min(low.get(int(x), y - hangs), y - hangs)
    paths, detours = {}, []
    for node in graph.nodes.values():
        for k, source in enumerate(node.inputs):
            paths[node.name, k] = [pos[source], pos[node.name]]
            if pos[node.name][0] - pos[source][0] > 1:
                detours.append((pos[node.name][0] - pos[source][0], node.name, k))
    for _, name, k in sorted(detours, key=lambda d: d[0]):     # short detours hug the nodes, long ones go round
        (x0, y0), (x1, y1) = paths[name, k]
        passed = range(int(x0) + 1, int(x1))
        tracks = [_track(y0, y1, max((high[c] for c in passed if c in high), default=y0 - 1) + 1, 1),
                  _track(y0, y1, min((low[c] for c in passed if c in low), default=y0 + 1) - 1, -1)]
        y = min(tracks, key=lambda t: abs(t - y0) + abs(t - y1))
        for c in passed:
            high[c], low[c] = max(high.get(c, y), y), min(low.get(c, y), y)
        bends = [(x0 + 1, y)] * (y != y0) + [(x1 - 1, y)] * (y != y1)       # none where the track is level
        paths[name, k] = list(dict.fromkeys([(x0, y0), *bends, (x1, y1)]))   # one bend only, if it spans 2
    return paths


def _track(y0, y1, bound, side):
    """The height of a track beyond ``bound`` (side 1: above it, -1: below it), level with one end if it can."""
    return next((y for y in (y0, y1) if (y - bound) * side >= 0), bound)


def draw(graph, backward=False, highlight=None, title=None, ax=None, steps=None, grads=None):
    """Draw ``graph`` like the book and return the matplotlib Figure.

    backward:  also write the gradients in red: below each edge what its node sends back to that input, and
               next to a value that feeds several nodes the sum of what comes back to it, its gradient.
    highlight: name of a node to draw highlighted (the stepper's current node).
    steps:     with backward, show only what the first ``steps`` nodes of :func:`backward_order` have
               sent back (the stepper); None shows the whole backward pass.
    grads:     a dict name -> gradient to show instead of the graph's own (e.g. a student's backward pass);
               implies backward.  As only a gradient per node is given, an edge shows its input's gradient,
               and a value that feeds several nodes shows its gradient next to it, none on its edges.
               Names missing from the dict show no gradient.
    ax:        draw into this Axes instead of a new Figure (size it about like a new one would be).
    Values (and gradients) are recomputed from the inputs first.
    """
    given = grads is not None
    backward = backward or given
    if backward:
        graph.backward()
    else:
        graph.forward()
    if given:
        done, grads = set(graph.nodes), {name: grads.get(name) for name in graph.nodes}
    else:
        done, grads = set(backward_order(graph)[:steps]) if backward else set(), graph.grads
    pos = layout(graph)
    paths = routes(graph, pos)
    own_figure = ax is None
    if own_figure:
        ax = _new_axes(graph, pos, paths, title)
    else:
        _frame(ax, pos, paths)
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    uses = _uses(graph)
    for node in graph.nodes.values():
        x, y = pos[node.name]
        if node.is_input:
            ax.annotate(node.label, (x, y), xytext=(-4, 0), textcoords="offset points", ha="right",
                        va="center", fontsize=FONT, gid=f"input:{node.name}")
        else:
            _circle(ax, node, (x, y), lit=node.name == highlight)
        for k, source in enumerate(node.inputs):
            fork = len(uses[source]) > 1
            if node.name not in done or (fork and given):
                grad = None
            else:
                grad = grads[source] if given else graph.edge_grads[node.name, k]
            _edge(ax, paths[node.name, k], graph.values[source], grad,
                  gaps=(2 if graph.nodes[source].is_input else RADIUS + 1, RADIUS + 1),
                  at=FORK_LABEL_AT if fork else LABEL_AT)
    for name, edges in uses.items():
        if len(edges) > 1 and all(node in done for node, _ in edges) and grads[name] is not None:
            _total(ax, graph.nodes[name], pos[name], grads[name])
    out = graph.output
    _edge(ax, [pos[out], (pos[out][0] + 0.75, pos[out][1])], graph.values[out],
          grads[out] if backward else None, gaps=(RADIUS + 1, 0))
    if not own_figure:  # a panel of the caller's figure: the caller decides what the whole shows
        return ax.figure
    nodes = [[n.name, n.op, list(n.inputs), n.const, n.label] for n in graph.nodes.values()]
    shown = [[name, k, g] for (name, k), g in graph.edge_grads.items()] if backward and not given else None
    return figure_cache.remember(ax.figure, "draw", nodes, graph.values, grads, shown, sorted(done), backward,
                                 given, highlight, title)


def _circle(ax, node, at, lit):
    """An op node: its symbol in a circle, its name above, its constant (if any) coming in from below."""
    ax.plot(*at, "o", ms=2 * RADIUS, mfc=HIGHLIGHT if lit else "white", zorder=3,
            mec=HIGHLIGHT_EDGE if lit else "black", mew=2.5 if lit else 1.2, gid=f"node:{node.name}")
    ax.text(*at, node.label, ha="center", va="center", zorder=4,
            fontsize=FONT + 2 if len(node.label) <= 2 else FONT - max(0, len(node.label) - 3))
    ax.annotate(node.name, at, xytext=(0, RADIUS + 3), textcoords="offset points", ha="center",
                va="bottom", fontsize=FONT - 3, color="grey", style="italic")
    if node.const is not None:      # as in the book's sigmoid graph
        ax.annotate("", at, xytext=(0, -RADIUS - 24), textcoords="offset points",
                    arrowprops=dict(arrowstyle="-|>", color="black", lw=1.1, shrinkA=0, shrinkB=RADIUS + 1))
        ax.annotate(fmt(node.const), at, xytext=(0, -RADIUS - 26), textcoords="offset points",
                    ha="center", va="top", fontsize=FONT)


def _total(ax, node, at, grad):
    """The gradient of a value that feeds several nodes: under an input's name, above an op node's name
    (under the circle, the edges leave and a constant may come in)."""
    offset, ha, va = ((-4, -8), "right", "top") if node.is_input else ((0, RADIUS + 13), "center", "bottom")
    ax.annotate(fmt(grad), at, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=FONT,
                color=GRAD_COLOR, gid="total")


def new_figure(figsize):
    """A Figure that a notebook shows exactly once when it is a cell's value.

    Made through pyplot so that Jupyter's inline backend is set up to show it, then closed so that
    pyplot does not show it a second time at the end of the cell.
    """
    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def _new_axes(graph, pos, paths, title):
    """An Axes whose data-to-inch scale follows INCH_PER_COLUMN / INCH_PER_ROW, with room for the texts."""
    xs, ys = _extent(pos, paths)
    longest = max(len(n.label) for n in graph.nodes.values() if n.is_input)
    left, right = 0.2 + longest * FONT * 0.6 / 72, 0.25       # inches beyond the inputs and the output stub
    per_column = min(INCH_PER_COLUMN, (MAX_WIDTH - left - right) / (max(xs) - min(xs) + 0.75))
    # below: room for the gradients under the lowest edges, more under a constant hanging from a node
    hanging = [pos[name][1] for name, node in graph.nodes.items() if node.const is not None]
    bottom = min([min(ys) - 0.3 / INCH_PER_ROW] + [y - 0.85 / INCH_PER_ROW for y in hanging])
    top = max(ys) + 0.45 / INCH_PER_ROW
    width = left + per_column * (max(xs) - min(xs) + 0.75) + right
    height = INCH_PER_ROW * (top - bottom)
    title_room = 0.35 if title else 0
    fig = new_figure((width, height + title_room))
    ax = fig.add_axes((0, 0, 1, height / (height + title_room)))
    ax.set_xlim(min(xs) - left / per_column, max(xs) + 0.75 + right / per_column)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    return ax


def _frame(ax, pos, paths):
    """Fit a given Axes (e.g. one panel of plt.subplots) around the graph, without ticks or spines."""
    xs, ys = _extent(pos, paths)
    ax.set_xlim(min(xs) - 0.6, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis("off")


def _extent(pos, paths):
    """The x and the y of every node and every bend of an edge."""
    points = list(pos.values()) + [p for path in paths.values() for p in path]
    return [x for x, _ in points], [y for _, y in points]


def _edge(ax, path, value, grad, gaps, at=LABEL_AT):
    """An arrow along ``path`` (shortened by ``gaps`` points at its ends), the forward value written above
    it and the gradient below, both along the arrow's direction on screen: on a straight edge ``at`` of the
    way along, on a bent one halfway along its longest stretch (where the track runs clear of the rest)."""
    if len(path) > 2:
        ax.plot(*zip(*path[:-1]), color="black", lw=1.1, solid_joinstyle="miter")
    ax.annotate("", path[-1], xytext=path[-2], arrowprops=dict(
        arrowstyle="-|>", color="black", lw=1.1, shrinkA=gaps[0] if len(path) == 2 else 0, shrinkB=gaps[1]))
    screen = ax.transData.transform(path)
    k = max(range(len(path) - 1), key=lambda k: math.hypot(*(screen[k + 1] - screen[k])))
    a, b = screen[k], screen[k + 1]
    u = (b - a) / math.hypot(*(b - a))
    points = ax.figure.dpi / 72
    a_edge = a + u * (gaps[0] if k == 0 else 0) * points            # where the line shows
    b_edge = b - u * (gaps[1] if k == len(path) - 2 else 0) * points
    at = ax.transData.inverted().transform(a_edge + (at if len(path) == 2 else 0.5) * (b_edge - a_edge))
    normal = (-u[1], u[0])                  # left of the direction of travel: "above" a rightward edge
    angle = math.degrees(math.atan2(u[1], u[0]))
    for text, side, va, color, gid in ((value, 1, "bottom", "black", "value"), (grad, -1, "top", GRAD_COLOR, "grad")):
        if text is not None:
            ax.annotate(fmt(text), at, xytext=(2 * side * normal[0], 2 * side * normal[1]),
                        textcoords="offset points", ha="center", va=va, fontsize=FONT, color=color,
                        rotation=angle, rotation_mode="anchor", gid=gid)
