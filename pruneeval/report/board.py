"""The leaderboard as typed values: a Board holds one ModelBlock per base model (the paper's
Table 2 layout), each with a Row per method and a Cell per dataset and for the average.

``Board.to_json`` is the layout of leaderboard.json (NaN still in it: ``jsonsafe.jsonable``
turns it into null when written)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

AVERAGE = "average"  # the column of means over a model's datasets


@dataclass
class Cell:
    """Accuracy (a fraction), mean length (tokens) and AES of one method on one dataset (or
    the average); ``source`` is the task directory the numbers came from, where known."""
    acc: float
    length: float
    aes: float
    source: str | None = None

    def to_json(self) -> dict:
        out = {"acc": self.acc, "length": self.length, "aes": self.aes}
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass
class Row:
    """One method of a model's table: a cell per dataset, the average, and per column (the
    datasets and AVERAGE) whether it is on the Pareto front and whether it has the best AES."""
    method: str
    cells: dict[str, Cell]
    average: Cell
    pareto: dict[str, bool] = field(default_factory=dict)
    best_aes: dict[str, bool] = field(default_factory=dict)

    def cell(self, column: str) -> Cell:
        """The cell of a dataset, or the average for AVERAGE."""
        return self.average if column == AVERAGE else self.cells[column]

    def to_json(self) -> dict:
        return {"method": self.method, "cells": {ds: c.to_json() for ds, c in self.cells.items()},
                "average": self.average.to_json(), "pareto": dict(self.pareto), "best_aes": dict(self.best_aes)}


@dataclass
class GenTime:
    """Wall-clock generation seconds of one method per dataset and in total (over the datasets
    known; ``complete`` when every dataset is)."""
    method: str
    by_dataset: dict[str, float]
    total_s: float
    complete: bool


@dataclass
class ModelBlock:
    """One base model's Table 2: its datasets in column order, a row and a generation time per method."""
    model: str
    datasets: list[str]
    rows: list[Row]
    gen_time: list[GenTime]

    def to_json(self) -> dict:
        return {"model": self.model, "datasets": list(self.datasets), "rows": [r.to_json() for r in self.rows],
                "gen_time": [asdict(g) for g in self.gen_time]}


@dataclass
class AesSettings:
    """The AES variant and weights every cell was scored with, and their description in words."""
    variant: str
    alpha: float
    beta: float
    gamma: float
    description: str


@dataclass
class Interval:
    """Paired bootstrap interval of (method - baseline) accuracy and mean length on one model
    and dataset (the fields of ``metrics.bootstrap_diff``)."""
    model: str
    method: str
    dataset: str
    n_problems: int
    n_boot: int
    seed: int
    level: float
    acc_diff: float
    acc_lo: float
    acc_hi: float
    len_diff: float
    len_lo: float
    len_hi: float


@dataclass
class Board:
    """A whole leaderboard: the baseline every AES is measured against, the AES settings, a block
    per model, warnings, and, for a report of eval directories, the task directories read, the
    bootstrap intervals and the files written (names relative to the report's directory)."""
    baseline: str
    aes: AesSettings
    models: list[ModelBlock]
    warnings: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"baseline": self.baseline, "aes": asdict(self.aes), "models": [b.to_json() for b in self.models],
                "warnings": list(self.warnings), "sources": list(self.sources),
                "intervals": [asdict(c) for c in self.intervals], "files": list(self.files)}
