"""VOT toolkit integration: TraX server (``server``), workspace generator
(``workspace``), reader of the toolkit's results (``analysis``) and the
``sotlab-vot`` CLI (``cli``; script ``tracking/vot.py``).

Importing this package is cheap and never imports the toolkit package ``vot``.
"""
from __future__ import annotations

from typing import List, Optional

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``sotlab-vot`` (also reachable as ``tracking.vot:main``)."""
    from .cli import main as _main

    return _main(argv)
