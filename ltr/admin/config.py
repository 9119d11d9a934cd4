"""Typed YAML configuration.

One YAML file per tracker variant holds model, training and tracking
parameters.  It is loaded into the tracker's dataclass schema, so that a
misspelt key, a wrong type or a missing value stops the run *before* hours of
training are spent, with an error that names the file, the key path and the
nearest valid key.

Features
--------
* ``extends: default.yaml`` — inherit from another YAML (relative to the file),
  then override only what differs.  Chains are allowed; cycles are an error.
* ``--set a.b.c=value`` overrides (value parsed as YAML, so ``0.4``, ``true``,
  ``[1, 2]`` work).
* Strict conversion: ``int`` is accepted where ``float`` is expected, nothing
  else is coerced.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import enum
import os
import types
import typing
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import yaml

T = TypeVar("T")

__all__ = [
    "ConfigError",
    "load_yaml_tree",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "parse_override",
    "config_dir",
    "find_config",
    "list_configs",
]


class ConfigError(ValueError):
    """Raised for any invalid configuration; the message is meant for users."""


# --------------------------------------------------------------------------- locations

def config_dir() -> Path:
    """Directory holding ``<tracker>/<name>.yaml`` (``SOTLAB_CONFIG_DIR`` overrides)."""
    env = os.environ.get("SOTLAB_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "configs"


def list_configs(tracker: str) -> List[str]:
    d = config_dir() / tracker
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml") if not p.stem.startswith("_"))


def find_config(tracker: str, name: str) -> Path:
    """Resolve ``tracker``/``name`` (or a path to a YAML file) to a file."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    cand = config_dir() / tracker / f"{name}.yaml"
    if cand.is_file():
        return cand
    avail = list_configs(tracker)
    hint = _suggest(name, avail)
    raise ConfigError(
        f"no config '{name}' for tracker '{tracker}' (looked for {cand}).{hint} "
        f"Available: {', '.join(avail) if avail else '(none)'}"
    )


# --------------------------------------------------------------------------- YAML + extends

class _Tree:
    """A merged YAML mapping plus, for every key path, the file that set it."""

    def __init__(self, data: Dict[str, Any], origin: Dict[Tuple[str, ...], str]):
        self.data = data
        self.origin = origin


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _record(origin: Dict[Tuple[str, ...], str], data: Any, prefix: Tuple[str, ...], src: str) -> None:
    origin[prefix] = src
    if isinstance(data, dict):
        for k, v in data.items():
            _record(origin, v, prefix + (str(k),), src)


def _merge(base: Dict[str, Any], over: Dict[str, Any], origin, prefix: Tuple[str, ...], src: str) -> Dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        key = prefix + (str(k),)
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not v.get("_replace_", False):
            out[k] = _merge(out[k], v, origin, key, src)
            origin[key] = src
        else:
            if isinstance(v, dict):
                v = {kk: vv for kk, vv in v.items() if kk != "_replace_"}
            out[k] = copy.deepcopy(v)
            _record(origin, v, key, src)
    return out


def load_yaml_tree(path: Union[str, Path], _stack: Optional[List[Path]] = None) -> _Tree:
    """Load a YAML file, resolving ``extends`` (a file name or a list of them)."""
    path = Path(path).resolve()
    stack = list(_stack or [])
    if path in stack:
        chain = " -> ".join(str(p) for p in stack + [path])
        raise ConfigError(f"{path}: circular 'extends' chain: {chain}")
    stack.append(path)
    raw = _read_yaml(path)
    parents = raw.pop("extends", None)
    data: Dict[str, Any] = {}
    origin: Dict[Tuple[str, ...], str] = {}
    if parents is not None:
        if isinstance(parents, str):
            parents = [parents]
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise ConfigError(f"{path}: 'extends' must be a file name or a list of file names")
        for parent in parents:
            ppath = (path.parent / parent)
            if not ppath.suffix:
                ppath = ppath.with_suffix(".yaml")
            if not ppath.is_file():
                raise ConfigError(f"{path}: 'extends: {parent}' not found (looked for {ppath})")
            sub = load_yaml_tree(ppath, stack)
            data = _merge(data, sub.data, origin, (), "")
            origin.update(sub.origin)
    data = _merge(data, raw, origin, (), str(path))
    return _Tree(data, origin)


# --------------------------------------------------------------------------- overrides

def parse_override(text: str) -> Tuple[List[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected key.path=value")
    key, val = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set '{text}': empty key")
    try:
        value = yaml.safe_load(val) if val.strip() != "" else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set '{text}': cannot parse value: {e}") from e
    return key.split("."), value


def apply_overrides(tree: _Tree, overrides: Iterable[str]) -> _Tree:
    """Apply ``key.path=value`` strings; keys are validated later against the schema."""
    data = copy.deepcopy(tree.data)
    origin = dict(tree.origin)
    for ov in overrides or []:
        keys, value = parse_override(ov)
        cur = data
        for i, k in enumerate(keys[:-1]):
            nxt = cur.get(k)
            if nxt is None:
                nxt = {}
                cur[k] = nxt
            elif not isinstance(nxt, dict):
                raise ConfigError(f"--set {ov}: '{'.'.join(keys[:i + 1])}' is not a section")
            cur = nxt
        cur[keys[-1]] = value
        _record(origin, value, tuple(keys), f"--set {ov}")
    return _Tree(data, origin)


# --------------------------------------------------------------------------- typed conversion

def _suggest(name: str, options: Sequence[str]) -> str:
    m = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return f" Did you mean '{m[0]}'?" if m else ""


def _where(origin: Mapping[Tuple[str, ...], str], path: Tuple[str, ...], default_file: str) -> str:
    p = path
    while p:
        if p in origin and origin[p]:
            return origin[p]
        p = p[:-1]
    return default_file


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: Tuple[str, ...], origin, default_file: str) -> Any:
    key = ".".join(path) or "<root>"

    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{_where(origin, path, default_file)}: {key}: {msg}")

    if tp is Any:
        return value
    origin_tp = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin_tp in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errs = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, path, origin, default_file)
            except ConfigError as e:
                errs.append(str(e))
        raise fail(f"expected {_type_name(tp)}, got {value!r}")
    if origin_tp is typing.Literal:
        if value in args:
            return value
        hint = _suggest(str(value), [str(a) for a in args])
        raise fail(f"must be one of {list(args)}, got {value!r}.{hint}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail(f"expected a mapping for section {tp.__name__}, got {type(value).__name__}")
        return _build_dataclass(tp, value, path, origin, default_file)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise fail(f"must be one of {[e.value for e in tp]}, got {value!r}") from None
    if origin_tp in (list, List, Sequence) or tp in (list, List):
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise fail(f"expected a list, got {value!r}")
        sub = args[0] if args else Any
        return [_convert(sub, v, path + (str(i),), origin, default_file) for i, v in enumerate(value)]
    if origin_tp is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail(f"expected a list, got {value!r}")
        if args and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, path + (str(i),), origin, default_file) for i, v in enumerate(value))
        if args:
            if len(args) != len(value):
                raise fail(f"expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, path + (str(i),), origin, default_file) for i, (a, v) in enumerate(zip(args, value)))
        return tuple(value)
    if origin_tp in (dict, Dict, Mapping) or tp in (dict, Dict):
        if not isinstance(value, dict):
            raise fail(f"expected a mapping, got {value!r}")
        kt, vt = (args + (Any, Any))[:2] if args else (Any, Any)
        return {str(k): _convert(vt, v, path + (str(k),), origin, default_file) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise fail(f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail(f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:  # YAML 1.1 reads '1e-3' as a string
                return float(value)
            except ValueError:
                pass
        raise fail(f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail(f"expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, str):
            return Path(value)
        raise fail(f"expected a path string, got {value!r}")
    raise fail(f"unsupported type {_type_name(tp)} in schema")


def _build_dataclass(cls: Type[T], data: Dict[str, Any], path: Tuple[str, ...], origin, default_file: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for k in data:
        if k not in fields:
            kp = ".".join(path + (str(k),))
            hint = _suggest(str(k), list(fields))
            raise ConfigError(
                f"{_where(origin, path + (str(k),), default_file)}: unknown key '{kp}' in section "
                f"'{'.'.join(path) or '<root>'}' ({cls.__name__}).{hint} Valid keys: {', '.join(sorted(fields))}"
            )
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], path + (name,), origin, default_file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            kp = ".".join(path + (name,))
            raise ConfigError(f"{default_file}: missing required value '{kp}' ({_type_name(hints[name])})")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{default_file}: {'.'.join(path) or '<root>'}: {e}") from e
    return obj


def config_from_dict(cls: Type[T], data: Mapping[str, Any], source: str = "<dict>") -> T:
    """Build a typed config from a plain mapping (e.g. the copy stored in a checkpoint)."""
    return _build_dataclass(cls, dict(data), (), {}, source)


def config_to_dict(cfg: Any) -> Dict[str, Any]:
    """Plain, YAML/JSON-serialisable dict (tuples become lists, paths strings)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, enum.Enum):
            return v.value
        return v

    return conv(cfg)


def load_config(cls: Type[T], path: Union[str, Path], overrides: Iterable[str] = ()) -> T:
    """Load ``path`` (with ``extends``) plus ``--set`` overrides into ``cls``."""
    tree = load_yaml_tree(path)
    tree = apply_overrides(tree, overrides)
    cfg = _build_dataclass(cls, tree.data, (), tree.origin, str(Path(path).resolve()))
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        try:
            validate()
        except (ValueError, AssertionError) as e:
            raise ConfigError(f"{Path(path).resolve()}: {e}") from e
    return cfg
