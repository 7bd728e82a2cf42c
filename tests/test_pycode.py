"""Reading a cell's code without running it (course/pycode.py), which the static scan relies on."""
import ast

import pytest

from course import pycode

MISMATCH = SystemError("AST constructor recursion depth mismatch (before=57, after=31)")


def _parse_failing(monkeypatch, errors):
    """ast.parse raising ``errors`` in turn, then parsing for real."""
    real, calls = ast.parse, []

    def parse(code):
        calls.append(code)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return real(code)
    monkeypatch.setattr(pycode.ast, "parse", parse)
    return calls


def test_cpythons_passing_depth_mismatch_is_parsed_again(monkeypatch):
    calls = _parse_failing(monkeypatch, [MISMATCH])
    assert pycode.names_bound("from numpy import x\ny = 1") == {"x", "y"}
    assert len(calls) == 2


def test_other_system_errors_and_a_lasting_mismatch_are_raised(monkeypatch):
    _parse_failing(monkeypatch, [SystemError("something else")])
    with pytest.raises(SystemError, match="something else"):
        pycode.parse("y = 1")
    _parse_failing(monkeypatch, [MISMATCH] * pycode.PARSE_TRIES)
    with pytest.raises(SystemError, match="mismatch"):
        pycode.parse("y = 1")


def test_magics_are_blanked_and_non_python_is_none():
    assert pycode.names_bound("%timeit f()\nz = 2") == {"z"}
    assert pycode.parse("def broken(:") is None
