"""NCC: a non-learned reference tracker (normalized cross-correlation template matching).

It exists so the runner -> results -> analysis path can be tested end to end
without any network, and as a sanity baseline on new benchmarks.
"""
from .config import NCCConfig, NCCTrackConfig
from .tracker import NCCTracker

__all__ = ["NCCConfig", "NCCTrackConfig", "NCCTracker"]
