"""Glue between registries and configs: tracker name + config name -> typed config."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Tuple

from .config import ConfigError, find_config, list_configs, load_config
from .registry import TRACKERS

__all__ = ["ExperimentConfig", "load_tracker_config", "describe_trackers"]


@dataclass
class ExperimentConfig:
    """Fields every tracker config has.  Trackers subclass this and add
    ``model``, ``train`` and ``track`` sections with their own dataclasses."""

    description: str = ""
    #: checkpoint used for tracking: relative to the repo root, absolute, or
    #: ``workspace:<rel>`` for a file under the workspace.  None = random init.
    weights: Optional[str] = None
    seed: int = 0
    #: seconds the VOT toolkit waits for one reply of this tracker's TraX server
    #: (``timeout`` in the generated ``trackers.ini``); None = 30 s
    vot_timeout: Optional[float] = None


def load_tracker_config(tracker: str, name: str, overrides: Iterable[str] = ()) -> Tuple[Any, Path]:
    """Return ``(config, path)`` for ``configs/<tracker>/<name>.yaml``."""
    entry = TRACKERS.entry(tracker)
    schema = entry.meta.get("config")
    if schema is None:
        raise ConfigError(f"tracker '{tracker}' registered without a config schema")
    path = find_config(tracker, name)
    return load_config(schema, path, overrides), path


def describe_trackers() -> str:
    """One line per registered tracker with its configs (for ``--help``)."""
    lines = []
    for name in TRACKERS.names():
        cfgs = list_configs(name)
        lines.append(f"  {name:<12} configs: {', '.join(cfgs) if cfgs else '(none)'}")
    return "\n".join(lines) if lines else "  (none registered)"
