"""``python -m tracking.vot ...`` = ``python tracking/vot.py ...``."""
import sys

from tracking.vot.cli import main

sys.exit(main())
