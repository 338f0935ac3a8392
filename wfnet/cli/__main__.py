"""``python -m wfnet.cli``: the same command line as the ``wfnet`` script."""

import sys

from . import main

sys.exit(main())
