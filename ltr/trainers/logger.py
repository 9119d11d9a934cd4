"""Training log: plain text file, TensorBoard scalars and a tqdm bar (rank 0 only)."""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Dict, Optional

__all__ = ["TrainLogger"]


class TrainLogger:
    """Writes ``<log_dir>/train.log`` and TensorBoard events under ``<log_dir>/tb``.

    Other ranks only print warnings (bad samples) to stderr, prefixed with their rank.
    """

    def __init__(self, log_dir: Optional[Path], rank: int = 0, tensorboard: bool = True, progress: Optional[bool] = None):
        self.rank = rank
        self.main = rank == 0
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._file = None
        self._tb = None
        self.progress = (sys.stderr.isatty() if progress is None else progress) and self.main
        if self.main and self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(self.log_dir / "train.log", "a", buffering=1)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.log_dir / "tb"))
                except Exception as e:  # tensorboard not installed: keep training, say so once
                    warnings.warn(f"TensorBoard logging disabled ({e})")

    def info(self, msg: str, echo: bool = True) -> None:
        if not self.main:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        if self._file is not None:
            self._file.write(line + "\n")
        if echo and not self.progress:
            print(line, flush=True)
        elif echo:
            from tqdm import tqdm

            tqdm.write(line)

    def warning(self, msg: str) -> None:
        if self.main:
            self.info(f"WARNING {msg}")
        else:
            print(f"[rank {self.rank}] WARNING {msg}", file=sys.stderr, flush=True)

    def scalars(self, values: Dict[str, float], step: int) -> None:
        if self._tb is None:
            return
        for k, v in values.items():
            self._tb.add_scalar(k, v, step)

    def bar(self, total: int, initial: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, desc=desc, disable=not self.progress, dynamic_ncols=True, leave=False)

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._file is not None:
            self._file.close()
            self._file = None
