"""Benchmarks, run as scripts (``python bench/<name>.py --help``). They may reuse the tests' helpers
(tests/helpers/); the tests never import from here."""
