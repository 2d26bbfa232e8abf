"""The driver program deploy/spark/submit.sh gives spark-submit: ``rnncast batch``
with the arguments that follow it. (Not app/cli/__main__.py itself: run as a file,
its folder would come first on sys.path and its inspect.py would shadow the stdlib's.)"""

import sys

from app.cli import main

sys.exit(main())
