"""``python -m tracking.votkit ...`` = ``python tracking/vot.py ...``."""
import sys

from tracking.votkit.cli import main

sys.exit(main())
