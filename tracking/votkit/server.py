"""TraX server: run any registered SOTLab tracker under the VOT toolkit.

The VOT toolkit starts this module as a separate process (protocol
``traxpython`` in ``trackers.ini``, written by ``tracking/vot.py workspace``)
and talks to it over the TraX protocol (``trax`` module of vot-trax 4.x).

Design points (each one fixes a known integration failure of other frameworks):

* the ``trax.server.Server`` 4.x signature is used (``metadata=``,
  ``multiobject=``); pytracking's wrapper still passes ``customMetadata=``;
* the network is built ONCE per process (``TrackerCls.build_network``) and the
  tracker object is re-initialised on every TraX ``initialize`` request, so the
  reset-based (supervised) experiments do not reload weights after each failure;
* no ``vot`` key is put in the handshake metadata: the toolkit would then
  restart the process on every re-initialisation;
* any exception (building the network, initialising, tracking, a non-finite
  box) ends the session with a TraX ``quit`` carrying the reason, so the toolkit
  reports ``Server terminated the session: ...`` instead of hanging; the full
  traceback goes to the tracker log the toolkit writes under ``logs/``;
* rectangle and polygon regions are accepted; a polygon is turned into an
  axis-aligned box (``minmax``: min/max of the vertices, what libtrax gives a
  rectangle-only tracker; ``area``/``pysot``: area-preserving boxes, see
  ``tracking.evaluation.datasets.vot.polygon_to_box``);
* the tracker's ``score`` is reported as the per-frame ``confidence`` property.

Nothing here imports the toolkit package ``vot`` (only ``trax``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["polygon_to_box", "import_tracker", "TrackerSession", "serve", "main", "POLYGON_INIT_MODES"]

#: polygon -> box conversions of :func:`tracking.evaluation.datasets.vot.polygon_to_box`
POLYGON_INIT_MODES = ("minmax", "area", "pysot")


def polygon_to_box(points: Any, mode: str = "minmax") -> np.ndarray:
    """Axis-aligned ``[x, y, w, h]`` for one polygon given as ``(N, 2)`` vertices, with the
    dataset loaders' conventions (``minmax``: tight box, what libtrax gives a rectangle-only
    tracker; ``area``: area-preserving; ``pysot``: pysot's area-preserving box with ``+1``)."""
    from tracking.evaluation.datasets.vot import polygon_to_box as _poly2box

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.all(np.isfinite(pts)):
        raise ValueError(f"polygon needs >= 3 finite vertices, got {pts.tolist()}")
    return _poly2box(pts.reshape(1, -1), mode)[0]


def _resolve_device(device: str, tracker_cls: Any = None) -> str:
    """``auto`` -> cuda when available; a tracker that neither declares a network nor
    imported torch gets cpu without importing torch (process start-up time)."""
    if device != "auto":
        return device
    if not getattr(tracker_cls, "uses_network", False) and "torch" not in sys.modules:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def import_tracker(tracker: str, plugins: Sequence[str] = ()) -> None:
    """Import the ``plugins`` modules and the tracker's own package ``tracking.tracker.<name>``.

    A registered name needs no discovery of every other plugin, so e.g. the NCC server
    starts without importing torch (the toolkit starts one process per sequence).  A
    tracker registered elsewhere is still found by the registry's full discovery.
    """
    import importlib

    for mod in plugins:  # trackers that live outside the SOTLab packages
        importlib.import_module(mod)
    pkg = f"tracking.tracker.{tracker}"
    try:
        importlib.import_module(pkg)
    except ModuleNotFoundError as e:
        if e.name is None or not pkg.startswith(e.name):
            raise  # the tracker's package exists but one of its imports is missing


class TrackerSession:
    """A registered tracker + config with its network built once.

    ``initialize`` can be called any number of times (VOT re-initialisations);
    each call re-initialises the same tracker object, which keeps the network.
    """

    def __init__(self, tracker: str, config: str, overrides: Sequence[str] = (), device: str = "auto",
                 plugins: Sequence[str] = (), threads: Optional[int] = None):
        from ltr.admin.experiment import load_tracker_config
        from ltr.admin.registry import TRACKERS

        import_tracker(tracker, plugins)
        self.name = tracker
        self.config_name = config
        self.cfg, self.config_path = load_tracker_config(tracker, config, overrides)
        self.tracker_cls = TRACKERS.get(tracker)
        self.device = _resolve_device(device, self.tracker_cls)
        if threads and "torch" in sys.modules:  # a tracker without torch does not pay for importing it
            sys.modules["torch"].set_num_threads(int(threads))
        self.image = ""  # last image read (for error messages)
        t0 = time.perf_counter()
        self.net = self.tracker_cls.build_network(self.cfg, self.device)
        self.build_seconds = time.perf_counter() - t0
        self.tracker = self.tracker_cls(self.cfg, self.net, self.device)
        self.frame = -1  # frame index since the last initialisation (for error messages)

    def _read(self, path: str) -> np.ndarray:
        from ltr.utils.image import imread_rgb

        self.image = path
        return imread_rgb(path)

    def initialize(self, image_path: str, box: np.ndarray) -> Tuple[np.ndarray, float]:
        box = np.asarray(box, dtype=np.float64).reshape(4)
        if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"invalid initial box {box.tolist()} for {image_path}")
        self.frame = 0
        self.tracker.initialize(self._read(image_path), box.copy())
        return box, 1.0

    def track(self, image_path: str) -> Tuple[np.ndarray, Optional[float]]:
        if self.frame < 0:
            raise RuntimeError("frame request before any initialize request")
        self.frame += 1
        out = self.tracker.track(self._read(image_path))
        box = np.asarray(out["box"], dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not np.all(np.isfinite(box)):
            raise ValueError(f"tracker returned an invalid box {box.tolist()} for {image_path}")
        score = out.get("score")
        score = float(score) if score is not None and np.isfinite(score) else None
        return box, score


def _region_to_box(region: Any, polygon_init: str) -> np.ndarray:
    from trax.region import Region

    if region.type == Region.RECTANGLE:
        return np.array(region.bounds(), dtype=np.float64)
    if region.type == Region.POLYGON:
        return polygon_to_box(np.array(list(region), dtype=np.float64), polygon_init)
    raise ValueError(f"unsupported initialisation region type '{region.type}' (rectangle or polygon expected)")


def _reply(server: Any, box: np.ndarray, score: Optional[float]) -> None:
    from trax.region import Rectangle

    props = {"confidence": score} if score is not None else {}
    server.status([(Rectangle.create(*[float(v) for v in box]), props)])


def serve(tracker: str, config: str, overrides: Sequence[str] = (), device: str = "auto",
          polygon_init: Optional[str] = None, threads: Optional[int] = None, plugins: Sequence[str] = (),
          log: bool = False) -> int:
    """Run the TraX loop until the client quits; returns the process exit code."""
    import trax
    from trax.image import Image
    from trax.region import Region
    from trax.server import Server

    label = f"{tracker}:{config}"
    session: Optional[TrackerSession] = None
    setup_error: Optional[str] = None
    try:
        session = TrackerSession(tracker, config, overrides, device, plugins, threads)
        if polygon_init is None:
            polygon_init = getattr(getattr(session.cfg, "track", None), "vot_polygon_init", None) or "minmax"
        polygon_to_box(np.array([[0, 0], [1, 0], [1, 1], [0, 1]]), polygon_init)  # validates the mode
        print(f"sotlab-vot: {label} on {session.device}, network built in {session.build_seconds:.2f} s "
              f"(config {session.config_path})", file=sys.stderr, flush=True)
    except Exception as e:  # reported to the toolkit below, after the handshake
        traceback.print_exc()
        setup_error = f"SOTLab tracker '{label}' could not be set up: {type(e).__name__}: {e}"

    server = Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH], ["color"],
                    tracker_name=f"sotlab:{label}", tracker_description="SOTLab tracker",
                    tracker_family="sotlab", metadata={"sotlab.tracker": tracker, "sotlab.config": config},
                    log=log, multiobject=False)
    if setup_error is not None:
        print(setup_error, file=sys.stderr, flush=True)
        server.quit(reason=setup_error)
        return 1
    assert session is not None
    try:
        while True:
            req = server.wait()
            if req.type == trax.TraxStatus.QUIT:
                server.quit()
                return 0
            image_path = req.image["color"].path()
            if req.type == trax.TraxStatus.INITIALIZE:
                if not req.objects or len(req.objects) != 1:
                    raise ValueError(f"single-object tracker got {len(req.objects or [])} objects to initialise")
                box, score = session.initialize(image_path, _region_to_box(req.objects[0][0], polygon_init))
            elif req.type == trax.TraxStatus.FRAME:
                box, score = session.track(image_path)
            else:  # pragma: no cover - wait() raises on errors
                raise RuntimeError(f"unexpected TraX request '{req.type}'")
            _reply(server, box, score)
    except Exception as e:
        traceback.print_exc()
        where = f"frame {session.frame} after init ({os.path.basename(session.image)})" if session.image else "start"
        reason = f"SOTLab tracker '{label}' failed at {where}: {type(e).__name__}: {e}"
        print(reason, file=sys.stderr, flush=True)
        try:
            server.quit(reason=reason)
        except Exception:  # the client may already be gone
            pass
        return 1


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tracking.votkit.server",
                                 description="TraX server for a SOTLab tracker (started by the VOT toolkit)")
    ap.add_argument("tracker", help="registered tracker name")
    ap.add_argument("config", help="config name (configs/<tracker>/<name>.yaml) or a YAML path")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, repeatable")
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1 ...")
    ap.add_argument("--polygon-init", choices=POLYGON_INIT_MODES, default=None,
                    help="polygon -> box conversion (default: track.vot_polygon_init of the config, else minmax)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                    help="module to import before looking up the tracker (trackers outside SOTLab)")
    ap.add_argument("--trax-log", action="store_true", help="print the TraX protocol log")
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args.tracker, args.config, args.overrides, args.device, args.polygon_init, args.threads,
                 args.plugins, args.trax_log)


if __name__ == "__main__":
    sys.exit(main())
