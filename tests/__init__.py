"""The test tree is a package so that shared helpers import as ``tests.<module>`` (tests.oracle)."""
