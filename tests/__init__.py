"""The test suite, importable from the repository root (pytest's pythonpath), so helpers are shared as ``tests.support``."""
