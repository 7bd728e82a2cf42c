"""Backprop from the Ground Up: helpers the notebooks and tests import.

Nothing here solves a student task: the package holds numerical gradient checks, the test cells'
checks, drawings of computation graphs, data loading and the instructor's grading command line.
"""
__version__ = "0.1.0"
