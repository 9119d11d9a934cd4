"""Name registries for trackers, networks, actors and datasets.

Components register themselves with a decorator in their own module; the
CLIs look them up by name.  ``discover()`` imports every module of the plugin
packages (``ltr.models``, ``ltr.actors``, ``ltr.dataset``, ``tracking.tracker``,
``tracking.evaluation.datasets``) plus any installed package that declares the
``sotlab.plugins`` entry point, so adding a tracker means adding files — never
editing a core module.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, TypeVar

T = TypeVar("T")

__all__ = [
    "Registry",
    "RegistryError",
    "TRACKERS",
    "NETWORKS",
    "ACTORS",
    "EVAL_DATASETS",
    "TRAIN_DATASETS",
    "discover",
]


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else ""


@dataclass
class Entry(Generic[T]):
    name: str
    obj: T
    meta: Dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A mapping ``name -> object`` with helpful lookup errors."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry[T]] = {}

    def register(self, name: Optional[str] = None, *, override: bool = False, **meta: Any) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            key = name or getattr(obj, "__name__", None)
            if not key:
                raise ValueError(f"{self.kind}: cannot infer a name for {obj!r}")
            if key in self._entries and not override:
                old = self._entries[key].obj
                same = getattr(old, "__qualname__", None) == getattr(obj, "__qualname__", None) and \
                    getattr(old, "__module__", None) == getattr(obj, "__module__", None)
                if not same:
                    raise ValueError(f"{self.kind} '{key}' is already registered by {old!r}")
            self._entries[key] = Entry(key, obj, dict(meta))
            return obj

        return deco

    def add(self, name: str, obj: T, **meta: Any) -> T:
        return self.register(name, **meta)(obj)

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:  # a name already registered needs no plugin discovery (fast subprocesses)
            discover()
        if name not in self._entries:
            names = sorted(self._entries)
            m = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            hint = f" Did you mean '{m[0]}'?" if m else ""
            raise RegistryError(
                f"unknown {self.kind} '{name}'.{hint} Registered: {', '.join(names) if names else '(none)'}"
            )
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def meta(self, name: str) -> Dict[str, Any]:
        return self.entry(name).meta

    def names(self) -> List[str]:
        discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: tracker name -> tracker class; meta: ``config`` (root dataclass of its YAML files),
#: ``network`` (NETWORKS name), ``actor`` (ACTORS name, optional).
TRACKERS: Registry[Any] = Registry("tracker")
#: network name -> builder ``fn(model_cfg) -> nn.Module``
NETWORKS: Registry[Any] = Registry("network")
#: actor name -> actor class (forward + loss for training)
ACTORS: Registry[Any] = Registry("actor")
#: evaluation dataset name (``otb``, ``got10k``, ``synthetic`` ...) -> ``fn(**kw) -> SequenceList``
EVAL_DATASETS: Registry[Any] = Registry("evaluation dataset")
#: training dataset name -> dataset class
TRAIN_DATASETS: Registry[Any] = Registry("training dataset")

PLUGIN_PACKAGES = [
    "ltr.models",
    "ltr.actors",
    "ltr.dataset",
    "tracking.tracker",
    "tracking.evaluation.datasets",
]

_discovered = False
_discovering = False


def _import_tree(pkg_name: str) -> None:
    try:
        pkg = importlib.import_module(pkg_name)
    except ModuleNotFoundError as e:
        if e.name == pkg_name:
            return
        raise
    path = getattr(pkg, "__path__", None)
    if not path:
        return
    for info in pkgutil.walk_packages(path, prefix=pkg_name + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        importlib.import_module(info.name)


def discover(force: bool = False) -> None:
    """Import all plugin modules once, so that their registrations run."""
    global _discovered, _discovering
    if (_discovered and not force) or _discovering:
        return
    _discovering = True
    try:
        for p in PLUGIN_PACKAGES:
            _import_tree(p)
        try:
            from importlib.metadata import entry_points

            for ep in entry_points(group="sotlab.plugins"):
                try:
                    ep.load()
                except Exception:  # a broken third-party plugin must not break SOTLab
                    print(f"sotlab: failed to load plugin {ep.name}:\n{traceback.format_exc()}", file=sys.stderr)
        except Exception:
            pass
        _discovered = True
    finally:
        _discovering = False
