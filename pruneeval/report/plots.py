"""PNG figures (matplotlib, Agg; figures are built without pyplot's global state)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from .tables import AVERAGE, dataset_name, method_name  # noqa: E402

MARKERS = "osD^vP*XhH"


def plain(text: object) -> str:
    """Run-supplied text for a matplotlib label: one line, no mathtext."""
    return " ".join(str(text).split()).replace("$", r"\$")


def _style(methods: list[str]) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab10"]
    return {m: (cmap(i % 10), MARKERS[i % len(MARKERS)]) for i, m in enumerate(methods)}


def _grid(n: int, w: float = 4.6, h: float = 3.8) -> tuple[Figure, list]:
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(w * ncols, h * nrows + 0.9), dpi=110)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    return fig, axes


def plot_pareto(block: dict, path: Path) -> Path:
    """Accuracy against mean tokens per method, one panel per dataset and the average, the
    Pareto front (shorter and more accurate is better) drawn and ringed."""
    cols = [*block["datasets"], AVERAGE]
    methods = [r["method"] for r in block["rows"]]
    style = _style(methods)
    fig, axes = _grid(len(cols))
    for ax, col in zip(axes, cols):
        pts = []
        for r in block["rows"]:
            c = r["average"] if col == AVERAGE else r["cells"][col]
            if math.isnan(c["acc"]) or math.isnan(c["length"]):
                continue
            color, marker = style[r["method"]]
            x, y = c["length"], 100 * c["acc"]
            on = r["pareto"][col]
            ax.scatter([x], [y], s=90 if on else 60, color=color, marker=marker, zorder=3,
                       edgecolors="black" if on else "none", linewidths=1.6, label=plain(method_name(r["method"])))
            ax.annotate(plain(method_name(r["method"])), (x, y), textcoords="offset points", xytext=(6, 5),
                        fontsize=8.5)
            if on:
                pts.append((x, y))
        pts.sort()
        if len(pts) > 1:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ls="--", color="0.45", lw=1.2, zorder=2,
                    label="Pareto front")
        ax.set_title(plain(dataset_name(col)), fontsize=11)
        ax.set_xlabel("Mean generated tokens")
        ax.set_ylabel("Accuracy (%)")
        ax.grid(alpha=0.3)
        ax.margins(x=0.18, y=0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    if "Pareto front" not in labels:
        from matplotlib.lines import Line2D
        handles.append(Line2D([], [], ls="--", color="0.45"))
        labels.append("Pareto front")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False, fontsize=9)
    fig.suptitle(f"{plain(block['model'])}: accuracy vs length (ringed: Pareto front)", fontsize=12)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    fig.savefig(path)
    return path


def plot_gen_time(board: dict, path: Path) -> Path:
    """Wall-clock generation time per method, one panel per model, bars stacked by dataset
    (the paper's Fig. 3)."""
    blocks = [b for b in board["models"] if any(not math.isnan(g["total_s"]) for g in b["gen_time"])]
    if not blocks:
        return None
    fig, axes = _grid(len(blocks), w=5.2, h=4.0)
    cmap = matplotlib.colormaps["Set2"]
    for ax, block in zip(axes, blocks):
        gts = block["gen_time"]
        peak = max((g["total_s"] for g in gts if not math.isnan(g["total_s"])), default=0)
        unit, div = ("min", 60.0) if peak >= 120 else ("s", 1.0)
        names = [plain(method_name(g["method"])) for g in gts]
        bottom = [0.0] * len(gts)
        for i, ds in enumerate(block["datasets"]):
            vals = [0.0 if math.isnan(g["by_dataset"][ds]) else g["by_dataset"][ds] / div for g in gts]
            ax.bar(names, vals, bottom=bottom, color=cmap(i % 8), label=plain(dataset_name(ds)), edgecolor="white")
            bottom = [b + v for b, v in zip(bottom, vals)]
        for x, top in enumerate(bottom):
            ax.annotate(f"{top:.1f}", (x, top), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=9)
        ax.set_ylabel(f"Generation time ({unit})")
        ax.set_title(plain(block["model"]), fontsize=11)
        ax.tick_params(axis="x", labelrotation=20)
        ax.margins(y=0.12)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="dataset", title_fontsize=8)
    fig.suptitle("Wall-clock generation time per method", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path)
    return path
