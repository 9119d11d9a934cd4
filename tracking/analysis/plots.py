"""Success / precision / normalized-precision plots as PNG files.

Uses matplotlib's object API with the Agg canvas directly (no pyplot, no global
backend switch), so it works headless and inside worker processes.
Legend entries follow the usual convention ``[score] name``, sorted by score.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

__all__ = ["Curve", "legend_entries", "legend_order", "plot_curves", "success_plot", "precision_plot", "norm_precision_plot"]

_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#000000", "#aec7e8"]
_STYLES = ["-", "--", "-.", ":"]


@dataclass
class Curve:
    name: str
    x: np.ndarray
    y: np.ndarray
    score: float  # shown in the legend (already in display units, e.g. percent)
    y_std: Optional[np.ndarray] = None  # shaded band when several runs are averaged


def legend_order(curves: Seq[Curve]) -> List[int]:
    """Indices of ``curves`` best score first (NaN last, ties keep the input order)."""
    return sorted(range(len(curves)), key=lambda i: (-np.nan_to_num(curves[i].score, nan=-np.inf), i))


def legend_entries(curves: Seq[Curve], score_fmt: str = "[{:.1f}]") -> List[str]:
    """Legend texts in drawing order: ``"[score] name"`` (the usual tracking-paper convention)."""
    return [f"{score_fmt.format(curves[i].score)} {curves[i].name}" for i in legend_order(curves)]


def plot_curves(path: Union[str, Path], curves: Seq[Curve], title: str, xlabel: str, ylabel: str,
                xlim: Optional[Tuple[float, float]] = None, ylim: Tuple[float, float] = (0.0, 1.0),
                legend_loc: str = "lower left", score_fmt: str = "[{:.1f}]") -> Path:
    """Draw ``curves`` (sorted by score, best first) and save a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    labels = legend_entries(curves, score_fmt)
    for rank, i in enumerate(legend_order(curves)):
        c = curves[i]
        color = _COLORS[rank % len(_COLORS)]
        style = _STYLES[(rank // len(_COLORS)) % len(_STYLES)]
        label = labels[rank]
        ax.plot(c.x, c.y, color=color, linestyle=style, linewidth=2.0 if rank == 0 else 1.5, label=label)
        if c.y_std is not None and np.any(c.y_std > 0):
            ax.fill_between(c.x, c.y - c.y_std, c.y + c.y_std, color=color, alpha=0.15, linewidth=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.grid(True, linestyle=":", linewidth=0.6)
    if curves:
        ax.legend(loc=legend_loc, fontsize=8, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    return path


def success_plot(path: Union[str, Path], curves: Seq[Curve], title: str = "Success plot") -> Path:
    """x: overlap threshold; legend score: AUC (percent)."""
    return plot_curves(path, curves, title, "Overlap threshold", "Success rate", xlim=(0.0, 1.0))


def precision_plot(path: Union[str, Path], curves: Seq[Curve], title: str = "Precision plot") -> Path:
    """x: location error threshold (px); legend score: precision at 20 px (percent)."""
    xmax = max((float(np.max(c.x)) for c in curves), default=50.0)
    return plot_curves(path, curves, title, "Location error threshold [pixels]", "Precision",
                       xlim=(0.0, xmax), legend_loc="lower right")


def norm_precision_plot(path: Union[str, Path], curves: Seq[Curve], title: str = "Normalized precision plot") -> Path:
    """x: normalized location error threshold; legend score: normalized precision (percent)."""
    xmax = max((float(np.max(c.x)) for c in curves), default=0.5)
    return plot_curves(path, curves, title, "Normalized location error threshold", "Normalized precision",
                       xlim=(0.0, xmax), legend_loc="lower right")
