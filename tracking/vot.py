#!/usr/bin/env python
"""VOT toolkit integration CLI (``sotlab-vot``).

    python tracking/vot.py workspace DIR --trackers ncc:default siamcar:vot2018 [--stack vot2018|vot2020|STACK.yaml]
    python tracking/vot.py analyze DIR [--trackers ID ...] [--experiment baseline]
    python tracking/vot.py server TRACKER CONFIG        (what the toolkit starts; see trackers.ini)

The integration code lives in ``tracking/votkit/`` (not ``tracking/vot/``), so that
running this file — which puts ``tracking/`` first on ``sys.path`` — never shadows
the toolkit package ``vot``; toolkit commands run as subprocesses.
"""
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    from tracking.votkit.cli import main as _main

    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
