"""What the grading found out about a submission besides its score: typed, never text parsed back.

A :class:`Note` says one kind of thing that happened (a cell timed out, a test's tools were changed, the
code reaches into IPython), with the particulars and the cells it happened in.  The executing kernel, the
static scan, the structure check and the cluster write them; tables, CSV files and the report read ``kind``
and print ``str(note)``.
"""
from dataclasses import dataclass

# Kinds a grading step reports.  A note of kind TAMPERING is a flag (for review); FATAL kinds explain why a
# notebook could not be graded.
TAMPERING = "tampering"
TIMED_OUT = "timed out"
NOT_INTERRUPTIBLE = "not interruptible"
NOTEBOOK_TIME_LIMIT = "notebook time limit"
KERNEL_DIED = "kernel died"
OUTPUT_CUT = "output cut"
OUT_OF_MEMORY = "out of memory"
CELLS_CHANGED = "cells changed"
GRADED_AGAIN = "graded again"
SCAN_FAILED = "scan failed"
FATAL = (KERNEL_DIED, NOTEBOOK_TIME_LIMIT, NOT_INTERRUPTIBLE)


@dataclass(frozen=True)
class Note:
    kind: str          # one short phrase, the same for every submission it happens to ("timed out")
    detail: str = ""   # what happened here, for the instructor
    cells: tuple = ()  # the cells it happened in, as messages name them ("cell test_mul_layer_random")

    def __str__(self):
        where = f" ({listed(self.cells)})" if self.cells else ""
        return f"{self.kind}: {self.detail}{where}" if self.detail else f"{self.kind}{where}"

    @property
    def fatal(self):
        return self.kind in FATAL

    @classmethod
    def from_dict(cls, data):
        """A note read back from JSON (grading_status.json)."""
        return cls(data["kind"], data.get("detail", ""), tuple(data.get("cells", ())))


def merged(notes):
    """One note per kind and detail, naming every cell it happened in, in the order first seen."""
    cells = {}
    for note in notes:
        cells.setdefault((note.kind, note.detail), []).extend(note.cells)
    return [Note(kind, detail, tuple(dict.fromkeys(where))) for (kind, detail), where in cells.items()]


def kinds(notes):
    """The kinds of ``notes``, each once ("timed out, output cut"), for a table cell."""
    return ", ".join(dict.fromkeys(n.kind for n in notes))


def listed(items, n=4):
    """At most ``n`` items named, then how many more."""
    items = list(dict.fromkeys(items))
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
