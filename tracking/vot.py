#!/usr/bin/env python
"""VOT toolkit integration CLI (``sotlab-vot``).

    python tracking/vot.py workspace DIR --trackers ncc:default siamcar:vot2018 [--stack vot2018|vot2020|STACK.yaml]
    python tracking/vot.py analyze DIR [--trackers ID ...] [--experiment baseline]
    python tracking/vot.py server TRACKER CONFIG        (what the toolkit starts; see trackers.ini)

Run as a script, Python puts ``tracking/`` first on ``sys.path``, where the SOTLab
package ``tracking/vot/`` would shadow the toolkit package ``vot``.  The script
therefore swaps that entry for the repository root, and nothing it imports
imports ``vot``: toolkit commands run as subprocesses.
"""
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if sys.path and sys.path[0] and Path(sys.path[0]).resolve() == _HERE:
    sys.path[0] = str(_HERE.parent)
elif str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from tracking.vot.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
