"""What a hidden test hands the grader: the student's results as plain data, one record per test cell.

A hidden test only exercises the student's code (see :mod:`course.checks.exercises`); the grader judges
the record in its own process (:mod:`course.judge`, out of the student's reach).  Everything the student's
code returns is converted at once to float64 numbers, encoded losslessly (``float.hex``, so NaN, inf and -0.0
survive JSON) with its shape; containers keep their structure, anything else is recorded by its type's name
only.  Nothing in the record is trusted: the judge rebuilds every input itself and validates the record's
form while decoding it.

The record leaves the kernel as ONE display output of type :data:`MIME`, emitted through a replaceable
sink (:func:`capture` collects it in-process), marked ``complete`` only when the exercise ran to its end.
"""
import json
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from course.i18n import t

MIME = "application/vnd.backprop.record+json"
VERSION = 1
MAX_NUMBERS = 10_000   # numbers kept per value: a bigger array is recorded by its shape only
MAX_ITEMS = 64         # items kept per tuple, list or dict
MAX_DEPTH = 4          # nesting of containers (a list that contains itself stops here)
MAX_ENTRIES = 1_000    # entries per record
MAX_TEXT = 300         # characters of an exception message or a fact

# Our own references: student code in the same process may replace numpy's functions.
_array = np.array
_hex = float.hex


class RecordError(ValueError):
    """A record that is not of the form this module writes (forged, cut or of another version)."""


@dataclass(frozen=True)
class Opaque:
    """A value that was not numbers: only its type's name was recorded."""
    type_name: str

    def __repr__(self):
        return self.type_name


@dataclass(frozen=True)
class Raised:
    """What a call of the student's code raised instead of returning."""
    type_name: str
    message: str


class _Stopped(Exception):
    """The student's code raised: the rest of this case cannot run (the record says what was raised)."""


def _text(value, limit=MAX_TEXT):
    text = value if type(value) is str else _type_name(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _type_name(value):
    name = type.__dict__["__name__"].__get__(type(value))  # a metaclass cannot lie about it
    return name[:80]


def encode(value, depth=0):
    """``value`` as JSON-ready plain data; student objects are converted here, once."""
    try:
        return _encode(value, depth)
    except Exception:  # a container whose iteration raises, an object whose __class__ does
        return {"t": "opaque", "type": _type_name(value)}


def _encode(value, depth):
    if value is None:
        return {"t": "none"}
    if type(value) is bool:
        return {"t": "bool", "value": value}
    if isinstance(value, (tuple, list, dict)) and depth < MAX_DEPTH:
        items = list(value.items()) if isinstance(value, dict) else list(value)
        kept = items[:MAX_ITEMS]
        if isinstance(value, dict):
            data = [[k if type(k) is str else _text(repr(k) if type(k) in (int, float) else _type_name(k)),
                     encode(v, depth + 1)] for k, v in kept]
        else:
            data = [encode(v, depth + 1) for v in kept]
        kind = "dict" if isinstance(value, dict) else "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "items": data, "length": len(items)}
    if isinstance(value, (str, bytes)):
        return {"t": "opaque", "type": _type_name(value)}
    try:
        arr = _array(value, dtype=float, copy=True)
    except Exception:  # not numbers: a layer object, a string, a complex number
        return {"t": "opaque", "type": _type_name(value)}
    if arr.size > MAX_NUMBERS:
        return {"t": "opaque", "type": t("an array of shape {shape} (too large to record)", shape=arr.shape)}
    return {"t": "array", "shape": list(arr.shape), "hex": [_hex(v) for v in arr.ravel().tolist()]}


def decode(data, depth=0):
    """The value :func:`encode` recorded: float64 arrays (0-d for a number), tuples, lists, dicts, None,
    :class:`Opaque`.  Raises :class:`RecordError` for anything else."""
    if not isinstance(data, dict) or depth > MAX_DEPTH + 1:
        raise RecordError("not an encoded value")
    kind = data.get("t")
    if kind == "none":
        return None
    if kind == "bool" and type(data.get("value")) is bool:
        return data["value"]
    if kind == "opaque" and isinstance(data.get("type"), str):
        return Opaque(data["type"][:200])
    if kind == "array":
        shape, numbers = data.get("shape"), data.get("hex")
        if (not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape)
                or not isinstance(numbers, list) or len(numbers) > MAX_NUMBERS
                or int(np.prod(shape, dtype=np.int64)) != len(numbers)):
            raise RecordError("an array whose shape does not match its numbers")
        try:
            flat = [float.fromhex(h) for h in numbers]
        except (TypeError, ValueError):
            raise RecordError("an array with something other than numbers") from None
        return np.array(flat, dtype=float).reshape(shape)
    if kind in ("tuple", "list", "dict") and isinstance(data.get("items"), list):
        if kind == "dict":
            if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in data["items"]):
                raise RecordError("a dict whose items are not (name, value) pairs")
            return {k: decode(v, depth + 1) for k, v in data["items"]}
        items = [decode(v, depth + 1) for v in data["items"]]
        return tuple(items) if kind == "tuple" else items
    raise RecordError(f"an encoded value of unknown kind {str(kind)[:40]!r}")


class Recorder:
    """The entries of one hidden test's record, in the order its exercise made them."""

    def __init__(self, test):
        self.test = test
        self.entries = []
        self.dropped = 0

    def _add(self, entry):
        if len(self.entries) < MAX_ENTRIES:
            self.entries.append(entry)
        else:
            self.dropped += 1

    def call(self, key, fn, *args, keep=True, **kwargs):
        """Call the student's ``fn``; record what it returned (``keep=False``: only that it returned).

        Returns the value itself, for the exercise to go on with (a layer object, say).  If ``fn`` raises,
        the record says what, and the case stops (see :meth:`case`).
        """
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:  # the student's code may raise anything
            self._add({"key": key, "raised": _type_name(exc), "message": _text(_safe_str(exc))})
            raise _Stopped from None
        self._add({"key": key, "value": encode(value)} if keep else {"key": key, "done": True})
        return value

    def value(self, key, value):
        """Record a value the exercise holds (an input array after the student's code had it)."""
        self._add({"key": key, "value": encode(value)})

    def fact(self, key, fact):
        """Record an observation the exercise made: True/False, a whole number or a short text."""
        plain = fact if type(fact) in (bool, int) else repr(fact) if type(fact) is float else _text(fact)
        self._add({"key": key, "fact": plain})

    @contextmanager
    def case(self):
        """One case of the exercise: a raise in the student's code skips the rest of this case only."""
        try:
            yield
        except _Stopped:
            pass

    def data(self, complete, stopped=""):
        return {"version": VERSION, "test": self.test, "complete": complete, "stopped": stopped,
                "entries": self.entries, "dropped": self.dropped}


def _safe_str(exc):
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ raises
        return _type_name(exc)


@contextmanager
def recording(test):
    """``with recording("test_mul_layer_random") as r: ...`` exercises, then emits the record.

    Warnings are silenced meanwhile: nbgrader scores a test cell that wrote to stderr as 0, and a warning
    from correct code (an overflow in exp) must not cost the points its values earn.
    """
    r = Recorder(test)
    complete, stopped = False, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield r
        complete = True
    except BaseException as exc:  # an interrupt (the cell's time limit) or a fault in the exercise
        stopped = _type_name(exc)
        raise
    finally:
        _emit(r.data(complete, stopped))


def _emit(data):
    summary = t("record of {test}: {n} results, judged by the grader", test=data["test"], n=len(data["entries"]))
    _sink({MIME: json.loads(json.dumps(data)), "text/plain": summary})


def _display(bundle):
    from IPython.display import publish_display_data
    publish_display_data(bundle)


_sink = _display


def set_sink(sink):
    """Send records to ``sink(bundle)`` instead of the notebook's outputs; returns the previous sink."""
    global _sink
    previous, _sink = _sink, sink
    return previous


@contextmanager
def capture():
    """Collect the records emitted meanwhile, as display bundles in a list (the in-process runner's sink)."""
    bundles = []
    previous = set_sink(bundles.append)
    try:
        yield bundles
    finally:
        set_sink(previous)


@dataclass(frozen=True)
class Record:
    """A decoded record: the judge's view of what one hidden test recorded."""
    test: str
    complete: bool
    stopped: str
    entries: dict  # key -> the decoded value, a Raised, or a fact; "done" entries map to True

    @classmethod
    def from_data(cls, data):
        """Decode the data of one record output; raises :class:`RecordError` if it is not well formed."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise RecordError("not JSON") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise RecordError("not a record of this version")
        test, complete, entries = data.get("test"), data.get("complete"), data.get("entries")
        if not isinstance(test, str) or type(complete) is not bool or not isinstance(entries, list):
            raise RecordError("a record without its test, state or entries")
        decoded = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or entry["key"] in decoded:
                raise RecordError("an entry without a key of its own")
            decoded[entry["key"]] = _entry(entry)
        return cls(test, complete, _text(str(data.get("stopped", ""))), decoded)


def _entry(entry):
    if "value" in entry:
        return decode(entry["value"])
    if "raised" in entry:
        return Raised(_text(str(entry["raised"]), 80), _text(str(entry.get("message", ""))))
    if entry.get("done") is True:
        return True
    if "fact" in entry and type(entry["fact"]) in (bool, int, str):
        return entry["fact"]
    raise RecordError("an entry that records nothing")
