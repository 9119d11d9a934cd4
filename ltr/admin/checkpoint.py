"""Checkpoints: atomic, self-describing, loadable with ``weights_only=True``.

A checkpoint is a dict of plain tensors and Python values:

``net``          state dict of the bare network (no ``module.`` prefix)
``config``       the full resolved experiment config (``config_to_dict``)
``tracker``      tracker name (``TRACKERS``), ``config_name`` (YAML name)
``epoch``        completed epochs (global, across stages); ``iteration``: iterations
                 done inside the next epoch (0 at an epoch boundary)
``stage``        index of the stage the next iteration belongs to
``optimizer``, ``scaler``, ``scheduler``, ``rng`` (torch/cuda/numpy/python states),
``stats``        e.g. bad-sample count, ``world_size``, ``format``, ``sotlab``

Files are written to ``<name>.tmp`` and renamed, so a crash (even ``kill -9``)
never leaves a truncated checkpoint behind.
"""
from __future__ import annotations

import os
import pickle
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_name",
    "list_checkpoints",
    "latest_checkpoint",
    "prune_checkpoints",
    "get_rng_state",
    "set_rng_state",
    "resolve_weights_path",
    "load_network_weights",
    "build_network_from_checkpoint",
    "export_checkpoint",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^(?P<net>.+)_ep(?P<ep>\d{4})(?:_it(?P<it>\d{7}))?\.pth$")


class CheckpointError(RuntimeError):
    pass


# --------------------------------------------------------------------------- save / load

def save_checkpoint(path: Union[str, Path], state: Dict[str, Any]) -> Path:
    """Write ``state`` atomically (tmp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename durable
        fd = os.open(str(path.parent), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def load_checkpoint(path: Union[str, Path], map_location: Any = "cpu") -> Dict[str, Any]:
    """Load with ``torch.load(weights_only=True)``; a file that needs pickled code is rejected clearly."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: this checkpoint needs pickled Python code (objects, classes or functions), which SOTLab "
            f"refuses to execute (torch.load(weights_only=True)). It was probably written by pytracking/pysot "
            f"or with a full model object. Convert it once in a trusted environment to a plain state dict, e.g. "
            f"torch.save({{'net': torch.load(p, weights_only=False)['net'].state_dict()}}, out). Details: {e}"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated or not a torch file?): {e}") from None
    return ckpt


def checkpoint_name(net_type: str, epoch: int, iteration: int = 0) -> str:
    """``<net>_ep0003.pth`` at an epoch boundary, ``<net>_ep0003_it0000120.pth`` mid-epoch
    (epoch = completed epochs)."""
    if iteration:
        return f"{net_type}_ep{epoch:04d}_it{iteration:07d}.pth"
    return f"{net_type}_ep{epoch:04d}.pth"


def list_checkpoints(directory: Union[str, Path]) -> List[Tuple[int, int, Path]]:
    """``(epoch, iteration, path)`` of the checkpoints in ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _NAME_RE.match(p.name)
        if m:
            out.append((int(m.group("ep")), int(m.group("it") or 0), p))
    return sorted(out)


def latest_checkpoint(directory: Union[str, Path]) -> Optional[Path]:
    cks = list_checkpoints(directory)
    return cks[-1][2] if cks else None


def prune_checkpoints(directory: Union[str, Path], keep_last: int) -> List[Path]:
    """Delete all but the ``keep_last`` most recent checkpoints (0 = keep all). Returns removed paths."""
    if keep_last <= 0:
        return []
    cks = list_checkpoints(directory)
    removed = []
    for _, _, p in cks[:-keep_last]:
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


# --------------------------------------------------------------------------- RNG

def get_rng_state() -> Dict[str, Any]:
    """Global RNG states as tensors / plain values (weights_only-loadable)."""
    np_state = np.random.get_state()
    st: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": _py_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        st["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return st


def set_rng_state(st: Dict[str, Any]) -> None:
    if "torch" in st:
        torch.set_rng_state(st["torch"].cpu().to(torch.uint8))
    if "numpy" in st:
        n = st["numpy"]
        np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), int(n["pos"]), int(n["has_gauss"]),
                             float(n["cached_gaussian"])))
    if "python" in st:
        random.setstate(_plain_to_py_state(st["python"]))
    if "cuda" in st and torch.cuda.is_available():
        states = st["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu().to(torch.uint8) for s in states])


def _py_state_to_plain(s: tuple) -> Dict[str, Any]:
    version, internal, gauss = s
    return {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss}


def _plain_to_py_state(d: Dict[str, Any]) -> tuple:
    return (int(d["version"]), tuple(int(v) for v in d["internal"].tolist()), d["gauss"])


# --------------------------------------------------------------------------- weights for trackers

def resolve_weights_path(spec: Union[str, Path]) -> Path:
    """``workspace:<rel>`` -> under the workspace; ``pretrained:<name>`` -> the settings' ``pretrained.<name>``
    file; relative -> the repo root (then CWD); absolute as is."""
    from ltr.admin.settings import get_settings, repo_root

    s = str(spec)
    if s.startswith("pretrained:"):
        return get_settings().pretrained_path(s[len("pretrained:"):])
    if s.startswith("workspace:"):
        return get_settings().workspace / s[len("workspace:"):]
    p = Path(s).expanduser()
    if p.is_absolute():
        return p
    cand = repo_root() / p
    if cand.exists():
        return cand
    return Path.cwd() / p


def _extract_state_dict(ckpt: Any, path: Path) -> Dict[str, torch.Tensor]:
    if isinstance(ckpt, dict) and isinstance(ckpt.get("net"), dict):
        sd = ckpt["net"]
    elif isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        sd = ckpt["state_dict"]  # pysot/TracKit layout
    elif isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        sd = ckpt
    else:
        raise CheckpointError(f"{path}: no network weights found (expected a 'net' or 'state_dict' entry, or a state dict)")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def load_network_weights(net: torch.nn.Module, weights: Union[str, Path, Dict[str, Any]], strict: bool = True,
                         map_location: Any = "cpu") -> Dict[str, Any]:
    """Load a checkpoint (path, ``workspace:`` spec or loaded dict) into ``net``.

    Returns the checkpoint dict (to read ``config``/``epoch``).  With ``strict``
    a mismatch raises a :class:`CheckpointError` listing missing and unexpected keys.
    """
    if isinstance(weights, dict):
        ckpt, path = weights, Path("<dict>")
    else:
        path = resolve_weights_path(weights)
        ckpt = load_checkpoint(path, map_location=map_location)
    sd = _extract_state_dict(ckpt, path)
    res = net.load_state_dict(sd, strict=False)
    if strict and (res.missing_keys or res.unexpected_keys):
        raise CheckpointError(
            f"{path}: weights do not match the network: {len(res.missing_keys)} missing "
            f"(e.g. {res.missing_keys[:5]}), {len(res.unexpected_keys)} unexpected (e.g. {res.unexpected_keys[:5]})")
    return ckpt if isinstance(ckpt, dict) else {}


def build_network_from_checkpoint(path: Union[str, Path], map_location: Any = "cpu") -> Tuple[torch.nn.Module, Any, Dict[str, Any]]:
    """Rebuild ``(net, config, checkpoint)`` from a training checkpoint alone (tracker + stored config)."""
    from ltr.admin.config import config_from_dict
    from ltr.admin.registry import NETWORKS, TRACKERS

    p = resolve_weights_path(path)
    ckpt = load_checkpoint(p, map_location=map_location)
    if not isinstance(ckpt, dict) or "tracker" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{p}: not a SOTLab training checkpoint (no 'tracker'/'config' entries)")
    meta = TRACKERS.meta(ckpt["tracker"])
    cfg = config_from_dict(meta["config"], ckpt["config"], source=str(p))
    net = NETWORKS.get(meta["network"])(cfg.model)
    load_network_weights(net, ckpt)
    return net, cfg, ckpt


#: entries a tracking checkpoint keeps: enough to rebuild the network from the file alone
_EXPORT_KEYS = ("format", "net", "config", "tracker", "config_name", "net_type", "epoch")


def export_checkpoint(src: Union[str, Path], dst: Union[str, Path], half: bool = False) -> Dict[str, Any]:
    """Slim a training checkpoint for tracking/sharing: network weights + resolved config only.

    Optimizer, scheduler, RNG and sampler state (needed only to resume) are dropped, which makes the file
    2-3x smaller; ``half`` also stores floating-point weights as float16 (loaded back as float32).
    Returns the written dict.  ``dst`` is written atomically.
    """
    p = resolve_weights_path(src)
    ckpt = load_checkpoint(p)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("net"), dict):
        raise CheckpointError(f"{p}: not a SOTLab checkpoint (no 'net' entry); nothing to export")
    out = {k: ckpt[k] for k in _EXPORT_KEYS if k in ckpt}
    if half:
        out["net"] = {k: (v.half() if torch.is_floating_point(v) else v) for k, v in out["net"].items()}
    out["exported_from"] = str(p.name)
    save_checkpoint(dst, out)
    return out
