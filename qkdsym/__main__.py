"""``python -m qkdsym``: the same as the ``qkdsym`` command."""

import sys

from .cli import main

sys.exit(main())
