"""``python -m app.cli``: the same as the ``rnncast`` command."""

import sys

from app.cli import main

sys.exit(main())
