"""Backprop from the Ground Up: helpers the notebooks and tests import.

Nothing here solves a student task: the package holds numerical gradient checks, the test cells'
checks, drawings of computation graphs, data loading and the instructor's grading command line.
"""
import sys

__version__ = "0.1.0"

# nbformat validates notebooks with jsonschema, which imports rfc3987_syntax, when installed, for the "iri"
# format; that module builds two Earley parsers at import: 1.1 s of CPU in every grading process (the client
# and each Dask worker).  No notebook schema uses that format, so jsonschema is told the module is absent.
# A process that imported jsonschema already (a Jupyter server) keeps what it has.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
