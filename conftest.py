"""Root pytest configuration: doctests of the package run with the tests; hypothesis runs derandomised.

Property tests draw the same examples on every run (CI included): set
``HYPOTHESIS_PROFILE=explore`` for fresh random examples locally.
"""

import os

from hypothesis import settings

collect_ignore = ["qkdsym/__main__.py"]

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
