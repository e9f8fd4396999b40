"""Integration tests: a real Kafka broker (see conftest.py).

A package, so that its test modules may share names with those in tests/unit/.
"""
