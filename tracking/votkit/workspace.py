"""Write a ready-to-run VOT toolkit workspace for SOTLab trackers.

``python tracking/vot.py workspace DIR --trackers ncc:default siamcar:vot2018``
writes::

    DIR/config.yaml      registry: [./trackers.ini], stack: stack.yaml, sequences: sequences
    DIR/trackers.ini     one [tracker_config] section per tracker, protocol traxpython, running
                         tracking.votkit.server with this interpreter (absolute path) and repo on `paths`
    DIR/stack.yaml       offline stack (no ``dataset:`` key, so the toolkit never downloads)
    DIR/sequences/       list.txt + <seq>/{sequence, groundtruth.txt, anchor.value, color/%08d.jpg}
    DIR/results/

after which ``vot evaluate|analysis|report --workspace DIR <ids>`` run with no edits.
Tested with vot-toolkit 0.7.4 + vot-trax 4.0.2 + attributee 0.1.9 (0.8/0.9 crash on
supervised and multistart experiments).

This module never imports the toolkit package ``vot`` (see ``tracking/vot.py``).
"""
from __future__ import annotations

import copy
import math
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np
import yaml

__all__ = [
    "WorkspaceError",
    "TrackerSpec",
    "DEFAULT_TIMEOUT",
    "STACKS",
    "parse_tracker_arg",
    "config_timeout",
    "resolve_tracker",
    "stack_definition",
    "server_command",
    "trackers_ini",
    "default_anchors",
    "convert_sequence",
    "vot_folder_sequences",
    "load_sequences",
    "write_workspace",
]

#: the toolkit's own default (seconds) when a config sets no ``vot_timeout``
DEFAULT_TIMEOUT = 30
#: VOT2020's anchors are roughly this many frames apart
DEFAULT_ANCHOR_SPACING = 50

_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
#: marks a sequences/ folder this module wrote (only such a folder is ever deleted by --force)
_MARKER = ".sotlab-workspace"


class WorkspaceError(ValueError):
    """Bad workspace request; the message names the offending argument/file."""


# --------------------------------------------------------------------------- stacks
# Experiment definitions of the toolkit's built-in stacks vot2018/shortterm.yaml and
# vot2020/shortterm.yaml (vot-toolkit 0.7.4), without their ``dataset:`` URL.
_AR_2018 = {"type": "supervised_average_ar", "sensitivity": 30}
_EAO_2018 = {"type": "supervised_eao_score", "low": 100, "high": 356}
_MS_ANALYSES = [
    {"type": "multistart_eao_score", "name": "eaoscore", "low": 115, "high": 755},
    {"type": "multistart_eao_curve", "name": "eaocurve", "high": 755},
    {"type": "multistart_average_ar", "name": "ar"},
]
STACKS: Dict[str, Dict[str, Any]] = {
    "vot2018": {
        "title": "VOT-ST2018 (offline, SOTLab)",
        "url": "http://www.votchallenge.net/vot2018/",
        "experiments": {
            "baseline": {"type": "supervised", "repetitions": 15, "skip_initialize": 5,
                         "analyses": [_AR_2018, _EAO_2018, {"type": "supervised_eao_curve"}]},
            "realtime": {"type": "supervised", "realtime": {"grace": 3}, "repetitions": 1, "skip_initialize": 5,
                         "analyses": [_AR_2018, _EAO_2018, {"type": "supervised_eao_curve"}]},
            "unsupervised": {"type": "unsupervised", "repetitions": 1,
                             "analyses": [{"type": "average_accuracy"}]},
        },
    },
    "vot2020": {
        "title": "VOT-ST2020 (offline, SOTLab)",
        "url": "http://www.votchallenge.net/vot2020/",
        "experiments": {
            "baseline": {"type": "multistart", "analyses": _MS_ANALYSES},
            "realtime": {"type": "multistart", "realtime": {"grace": 3}, "analyses": _MS_ANALYSES},
            "unsupervised": {"type": "unsupervised", "repetitions": 1,
                             "analyses": [{"type": "average_accuracy", "name": "accuracy", "burnin": 1}]},
        },
    },
}


def stack_definition(stack: Union[str, Path], experiments: Optional[Seq[str]] = None) -> Dict[str, Any]:
    """The stack as a dict: a built-in name (``vot2018``, ``vot2020``) or a YAML file.

    A ``dataset:`` key of a custom stack is dropped (with a warning) so that the
    toolkit never tries to download; ``experiments`` keeps only the named ones.
    """
    key = str(stack)
    if key in STACKS:
        data = copy.deepcopy(STACKS[key])
    else:
        path = Path(key).expanduser()
        if not path.is_file():
            raise WorkspaceError(f"--stack: '{key}' is neither a built-in stack ({', '.join(STACKS)}) nor a YAML file")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise WorkspaceError(f"{path}: invalid YAML: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("experiments"), dict) or not data["experiments"]:
            raise WorkspaceError(f"{path}: a stack needs a non-empty 'experiments' mapping")
        if data.pop("dataset", None) is not None:
            warnings.warn(f"{path}: dropped the 'dataset' key (the workspace provides the sequences; "
                          "nothing is downloaded)", stacklevel=2)
        for name, exp in data["experiments"].items():
            if not isinstance(exp, dict) or "type" not in exp:
                raise WorkspaceError(f"{path}: experiment '{name}' needs a 'type' "
                                     "(supervised, unsupervised, multistart)")
    if experiments:
        missing = [e for e in experiments if e not in data["experiments"]]
        if missing:
            raise WorkspaceError(f"--experiments: {', '.join(missing)} not in stack '{key}' "
                                 f"(has {', '.join(data['experiments'])})")
        data["experiments"] = {k: v for k, v in data["experiments"].items() if k in experiments}
    return data


def _needs_anchors(stack: Dict[str, Any]) -> bool:
    return any(e.get("type") == "multistart" for e in stack["experiments"].values())


# --------------------------------------------------------------------------- trackers

@dataclass
class TrackerSpec:
    """One ``trackers.ini`` section: which SOTLab tracker/config the TraX server runs."""

    tracker: str
    config: str  # config name or absolute YAML path
    identifier: str
    timeout: int = DEFAULT_TIMEOUT
    label: str = ""
    overrides: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.identifier or _ID_BAD.search(self.identifier):
            raise WorkspaceError(f"tracker id '{self.identifier}' must match [a-zA-Z0-9_-]+ (VOT toolkit rule)")
        if not self.label:
            self.label = f"{self.tracker}:{Path(self.config).stem if self._is_path else self.config}"

    @property
    def _is_path(self) -> bool:
        return self.config.endswith((".yaml", ".yml"))


def parse_tracker_arg(arg: str) -> Tuple[str, str, Optional[str]]:
    """``tracker[:config][=id]`` -> (tracker, config, id or None); config defaults to ``default``."""
    ident = None
    if "=" in arg:
        arg, ident = arg.rsplit("=", 1)
    tracker, _, config = arg.partition(":")
    if not tracker:
        raise WorkspaceError(f"--trackers: '{arg}' should be TRACKER:CONFIG (e.g. siamcar:vot2018)")
    return tracker, config or "default", ident


def config_timeout(cfg: Any) -> Optional[float]:
    """``track.vot_timeout`` if the tracker's track section has one, else the root ``vot_timeout``."""
    for holder in (getattr(cfg, "track", None), cfg):
        value = getattr(holder, "vot_timeout", None) if holder is not None else None
        if value is not None:
            value = float(value)
            if not value > 0:
                raise WorkspaceError(f"vot_timeout must be > 0 seconds, got {value}")
            return value
    return None


def resolve_tracker(arg: str, overrides: Seq[str] = (), timeout: Optional[float] = None,
                    plugins: Seq[str] = ()) -> TrackerSpec:
    """Validate ``tracker:config`` now (unknown names and bad configs fail here, not
    inside the toolkit) and read the TraX timeout from the config."""
    from ltr.admin.experiment import load_tracker_config

    from .server import import_tracker

    tracker, config, ident = parse_tracker_arg(arg)
    import_tracker(tracker, plugins)
    cfg, path = load_tracker_config(tracker, config, overrides)
    if config.endswith((".yaml", ".yml")):
        config = str(Path(path).resolve())  # the toolkit runs the server in a temporary cwd
    if timeout is None:
        timeout = config_timeout(cfg)
    timeout_s = int(math.ceil(timeout)) if timeout is not None else DEFAULT_TIMEOUT  # toolkit wants integer s >= 1
    if ident is None:
        ident = _ID_BAD.sub("-", f"{tracker}_{Path(config).stem}")
    return TrackerSpec(tracker, config, ident, max(1, timeout_s), overrides=list(overrides))


def server_command(spec: TrackerSpec, device: str = "auto", threads: Optional[int] = None,
                   polygon_init: Optional[str] = None, plugins: Seq[str] = ()) -> str:
    """The Python statement ``traxpython`` runs (``python -c "<paths>; <statement>"``)."""
    argv: List[str] = [spec.tracker, spec.config, "--device", device]
    for o in spec.overrides:
        argv += ["--set", o]
    if threads:
        argv += ["--threads", str(int(threads))]
    if polygon_init:
        argv += ["--polygon-init", polygon_init]
    for p in plugins:
        argv += ["--plugin", p]
    return f"from tracking.votkit.server import main; raise SystemExit(main({argv!r}))"


def _ini_value(value: str) -> str:
    if "\n" in value:
        raise WorkspaceError(f"trackers.ini value must be one line: {value!r}")
    return value.replace("%", "%%")  # configparser interpolation


def trackers_ini(specs: Seq[TrackerSpec], python: Optional[str] = None, paths: Seq[Union[str, Path]] = (),
                 device: str = "auto", threads: Optional[int] = None, polygon_init: Optional[str] = None,
                 plugins: Seq[str] = ()) -> str:
    """Text of ``trackers.ini``; ``paths`` get the SOTLab repo root prepended."""
    from ltr.admin.settings import repo_root

    python = str(Path(python or sys.executable).absolute())
    all_paths = [str(Path(p).resolve()) for p in [repo_root(), *paths]]
    bindir = str(Path(python).parent)
    seen = set()
    lines = ["; written by `python tracking/vot.py workspace` (SOTLab); one section per tracker:config",
             "; timeout: seconds the toolkit waits for a TraX reply (vot_timeout of the tracker config)", ""]
    for s in specs:
        if s.identifier in seen:
            raise WorkspaceError(f"duplicate tracker id '{s.identifier}' (use TRACKER:CONFIG=ID to rename)")
        seen.add(s.identifier)
        lines += [
            f"[{s.identifier}]",
            f"label = {_ini_value(s.label)}",
            "protocol = traxpython",
            f"python = {_ini_value(python)}",
            f"command = {_ini_value(server_command(s, device, threads, polygon_init, plugins))}",
            f"paths = {_ini_value(os.pathsep.join(all_paths))}",
            f"env_PATH = {_ini_value(bindir + os.pathsep + '${PATH}')}",
            f"timeout = {int(s.timeout)}",
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- sequences

def default_anchors(valid: np.ndarray, spacing: int = DEFAULT_ANCHOR_SPACING) -> np.ndarray:
    """VOT2020-style anchors (``anchor.value``): 1 = run forward, -1 = backward, 0 = none.

    Anchors sit every ``spacing`` frames (moved to the next frame with a valid box);
    each runs in the direction with the longer remaining part of the sequence, so
    frame 0 is always a forward anchor.
    """
    valid = np.asarray(valid, dtype=bool)
    n = len(valid)
    out = np.zeros(n, dtype=np.int64)
    if spacing < 1:
        raise WorkspaceError(f"anchor spacing must be >= 1, got {spacing}")
    for start in range(0, n, spacing):
        idx = np.flatnonzero(valid[start:min(n, start + spacing)])
        if len(idx) == 0:
            continue
        i = start + int(idx[0])
        out[i] = 1 if (n - i) >= (i + 1) else -1
    return out


def _fmt(v: float) -> str:
    return np.format_float_positional(float(v), precision=6, trim="-")


def _gt_lines(gt: np.ndarray) -> List[str]:
    """Rows of ``groundtruth.txt``; a row with a NaN (unknown/absent) becomes ``0``,
    the toolkit's special 'unknown' region."""
    lines = []
    for row in np.asarray(gt, dtype=np.float64):
        lines.append("0" if not np.all(np.isfinite(row)) else ",".join(_fmt(v) for v in row))
    return lines


def _link_or_copy(src: Path, dst: Path, copy_frames: bool) -> None:
    if not copy_frames:
        try:
            os.symlink(src, dst)
            return
        except OSError:
            pass  # e.g. no symlink permission: fall back to copying
    shutil.copyfile(src, dst)


def convert_sequence(seq: Any, dest: Path, copy_frames: bool = False,
                     anchor_spacing: int = DEFAULT_ANCHOR_SPACING, fps: Optional[int] = None) -> str:
    """Write one SOTLab :class:`~tracking.evaluation.data.Sequence` in the toolkit's
    default format under ``dest/<name>``; returns the directory name used."""
    from ltr.utils.image import imread_rgb

    where = f"{getattr(seq, 'dataset', '?')}/{seq.name}"
    if not getattr(seq, "gt_public", True):
        raise WorkspaceError(f"{where}: only the first box is public; VOT evaluation needs the full ground truth")
    start = int(getattr(seq, "init_frame", 0) or 0)
    frames = [Path(f) for f in seq.frames[start:]]
    polygons = getattr(seq, "polygons", None)
    gt = np.asarray(polygons if polygons is not None else seq.ground_truth, dtype=np.float64)[start:]
    if len(gt) != len(frames):
        raise WorkspaceError(f"{where}: {len(frames)} frames but {len(gt)} ground-truth rows")
    exts = {f.suffix.lower() for f in frames}
    if len(exts) != 1:
        raise WorkspaceError(f"{where}: frames mix file types {sorted(exts)}; the VOT channel needs one pattern")
    ext = frames[0].suffix
    name = _ID_BAD.sub("_", seq.name)
    sdir = dest / name
    cdir = sdir / "color"
    if sdir.exists():
        shutil.rmtree(sdir)
    cdir.mkdir(parents=True)
    for i, f in enumerate(frames, start=1):
        if not f.is_file():
            raise WorkspaceError(f"{where}: frame file not found: {f}")
        _link_or_copy(f.resolve(), cdir / f"{i:08d}{ext}", copy_frames)
    h, w = imread_rgb(frames[0]).shape[:2]
    rows = _gt_lines(gt)
    (sdir / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    boxes = np.asarray(seq.ground_truth, dtype=np.float64)[start:]
    valid = np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    if not valid[0]:
        raise WorkspaceError(f"{where}: the first frame has no valid box {boxes[0].tolist()}")
    if not valid.all():
        warnings.warn(f"{where}: {int((~valid).sum())} frames without a box are written as unknown ('0'); "
                      "supervised (reset-based) experiments count them as failures", stacklevel=2)
    anchors = default_anchors(valid, anchor_spacing)
    (sdir / "anchor.value").write_text("".join(f"{int(a)}\n" for a in anchors))
    if fps is None:
        fps = int(getattr(seq, "attributes", {}).get("fps", 30) or 30)
    meta = [f"channels.color=color/%08d{ext}", f"fps={int(fps)}", "format=default", f"name={name}",
            f"width={w}", f"height={h}", f"length={len(frames)}"]
    (sdir / "sequence").write_text("\n".join(meta) + "\n")
    return name


def _is_vot_sequence_dir(d: Path) -> bool:
    return (d / "sequence").is_file() or (d / "groundtruth.txt").is_file()


def vot_folder_sequences(path: Path) -> List[Path]:
    """Sequence directories of a local VOT dataset folder (``list.txt`` + default or
    legacy sequences), e.g. one downloaded earlier by the toolkit."""
    lst = path / "list.txt"
    if not lst.is_file():
        raise WorkspaceError(f"--dataset {path}: no list.txt (expected a VOT dataset folder: "
                             "list.txt + <seq>/{sequence|groundtruth.txt})")
    names = [n.strip() for n in lst.read_text().splitlines() if n.strip()]
    dirs = [Path(n) if os.path.isabs(n) else path / n for n in names]
    bad = [str(d) for d in dirs if not _is_vot_sequence_dir(d)]
    if bad:
        raise WorkspaceError(f"--dataset {path}: not VOT sequence folders (no 'sequence' or 'groundtruth.txt'): "
                             f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    return [d.resolve() for d in dirs]


def _select(items: List[Any], names: List[str], selection: Union[None, int, str, Seq[str]], what: str) -> List[Any]:
    if selection is None:
        return items
    if isinstance(selection, int) or (isinstance(selection, str) and selection.isdigit()):
        n = int(selection)
        if n < 1:
            raise WorkspaceError(f"--sequences must be >= 1, got {n}")
        return items[:n]
    wanted = selection.split(",") if isinstance(selection, str) else list(selection)
    missing = [w for w in wanted if w not in names]
    if missing:
        raise WorkspaceError(f"--sequences: {', '.join(missing)} not in {what}")
    return [items[names.index(w)] for w in wanted]


def _vot_dataset_root(dataset: Any) -> Optional[Path]:
    """The folder to reference in place: a path, or the root of a VOT dataset name
    (``vot2018`` ...; its ground truth, polygons included, is then used exactly as stored)."""
    if not isinstance(dataset, (str, Path)):
        return None
    p = Path(str(dataset)).expanduser()
    if p.is_dir():
        return p
    if isinstance(dataset, Path) or os.sep in str(dataset):
        raise WorkspaceError(f"--dataset: folder {p} does not exist")
    from ltr.admin.registry import EVAL_DATASETS

    if dataset in EVAL_DATASETS and EVAL_DATASETS.meta(dataset).get("results_format") == "vot":
        from ltr.admin.settings import get_settings

        return get_settings().dataset_dir(dataset)
    return None


def load_sequences(dataset: str) -> Any:
    """A SOTLab SequenceList from an EVAL_DATASETS name (``synthetic`` = synthetic test split)."""
    from ltr.admin.registry import EVAL_DATASETS

    return EVAL_DATASETS.get(dataset)()


# --------------------------------------------------------------------------- workspace

def write_workspace(directory: Union[str, Path], specs: Seq[TrackerSpec], stack: Union[str, Path] = "vot2018",
                    dataset: Any = "synthetic", sequences: Union[None, int, str, Seq[str]] = None,
                    experiments: Optional[Seq[str]] = None, python: Optional[str] = None,
                    paths: Seq[Union[str, Path]] = (), device: str = "auto", threads: Optional[int] = None,
                    polygon_init: Optional[str] = None, plugins: Seq[str] = (), copy_frames: bool = False,
                    anchor_spacing: int = DEFAULT_ANCHOR_SPACING, force: bool = False) -> Path:
    """Write ``config.yaml``, ``trackers.ini``, ``stack.yaml`` and ``sequences/``.

    ``dataset``: a SequenceList (or any list of SOTLab sequences; polygons are written as
    polygons), an EVAL_DATASETS name (VOT datasets such as ``vot2018`` are referenced in
    place from their ``datasets.<name>`` folder), or the path of a local VOT folder
    (referenced in place, not copied).
    An existing workspace is refused unless ``force`` (results/ is then kept).
    """
    ws = Path(directory).expanduser().resolve()
    if (ws / "config.yaml").exists() and not force:
        raise WorkspaceError(f"{ws} already holds a workspace (config.yaml); pass --force to rewrite it "
                             "(results/ is kept)")
    if not specs:
        raise WorkspaceError("no trackers given (--trackers TRACKER:CONFIG ...)")
    stack_data = stack_definition(stack, experiments)
    ws.mkdir(parents=True, exist_ok=True)
    seq_dir = ws / "sequences"
    if seq_dir.exists():
        if not (seq_dir / _MARKER).is_file():  # e.g. a dataset the toolkit downloaded there: never delete it
            raise WorkspaceError(f"{seq_dir} exists and was not written by SOTLab; pass it as --dataset {seq_dir} "
                                 "and choose another workspace directory")
        shutil.rmtree(seq_dir)
    seq_dir.mkdir()
    (seq_dir / _MARKER).write_text("written by `python tracking/vot.py workspace`; rewritten by --force\n")
    (ws / "results").mkdir(exist_ok=True)

    vot_root = _vot_dataset_root(dataset)
    if vot_root is not None:
        dirs = vot_folder_sequences(vot_root)
        dirs = _select(dirs, [d.name for d in dirs], sequences, str(dataset))
        entries = [str(d) for d in dirs]  # absolute entries: the toolkit reads them in place
        if _needs_anchors(stack_data):
            no_anchor = [d.name for d in dirs if not (d / "anchor.value").is_file()]
            if no_anchor:
                warnings.warn(f"multistart experiments need anchor.value; missing in {', '.join(no_anchor[:5])}",
                              stacklevel=2)
    else:
        seqs = load_sequences(str(dataset)) if isinstance(dataset, (str, Path)) else list(dataset)
        seqs = _select(list(seqs), [s.name for s in seqs], sequences, f"dataset '{dataset}'"
                       if isinstance(dataset, (str, Path)) else "the given sequences")
        if not seqs:
            raise WorkspaceError(f"dataset '{dataset}' has no sequences")
        entries = [convert_sequence(s, seq_dir, copy_frames, anchor_spacing) for s in seqs]
        if len(set(entries)) != len(entries):
            raise WorkspaceError("two sequences map to the same folder name")
    (seq_dir / "list.txt").write_text("\n".join(entries) + "\n")

    (ws / "stack.yaml").write_text(yaml.safe_dump(stack_data, sort_keys=False))
    (ws / "trackers.ini").write_text(trackers_ini(specs, python, paths, device, threads, polygon_init, plugins))
    config = {"registry": ["./trackers.ini"], "stack": "stack.yaml", "sequences": "sequences"}
    (ws / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return ws
