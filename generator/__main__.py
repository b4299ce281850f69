"""`python -m generator --customers N --out DIR ...`."""

import sys

from generator.cli import main

sys.exit(main())
