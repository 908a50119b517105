"""Root pytest configuration: doctests of the package run with the tests."""

collect_ignore = ["qkdsym/__main__.py"]
