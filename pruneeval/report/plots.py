"""PNG figures (matplotlib, Agg; figures are built without pyplot's global state)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from .board import AVERAGE, Board, ModelBlock  # noqa: E402
from .tables import dataset_name, method_name  # noqa: E402

MARKERS = "osD^vP*XhH"
MAX_ANNOTATED = 12  # a Pareto plot with more methods names only those on the front beside their points


def plain(text: object) -> str:
    """Run-supplied text for a matplotlib label: one line, no mathtext."""
    return " ".join(str(text).split()).replace("$", r"\$")


def _style(methods: list[str]) -> dict[str, tuple]:
    """A colour and marker per method, no pair repeated for the first 100 methods."""
    cmap = matplotlib.colormaps["tab10"]
    return {m: (cmap(i % 10), MARKERS[(i % 10 + i // 10) % len(MARKERS)]) for i, m in enumerate(methods)}


def _grid(n: int, w: float = 4.6, h: float = 3.8) -> tuple[Figure, list]:
    ncols = 2 if n == 4 else min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(w * ncols, h * nrows + 0.9), dpi=110)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    return fig, axes


def pareto_columns(block: ModelBlock) -> list[str]:
    """The panels of a Pareto figure: each dataset, then the average over them (not with a single
    dataset, where it would repeat that dataset's panel)."""
    return [*block.datasets, AVERAGE] if len(block.datasets) > 1 else list(block.datasets)


def pareto_figure(block: ModelBlock) -> Figure:
    """Accuracy against mean tokens per method, one panel per dataset and one for the average over
    the datasets (the leaderboard's average columns: per method, the mean of its datasets'
    accuracy and length); the Pareto front (shorter and more accurate is better) ringed, and drawn
    as a line where it has two points or more."""
    cols = pareto_columns(block)
    methods = [r.method for r in block.rows]
    style = _style(methods)
    fig, axes = _grid(len(cols))
    drew_front = False
    for ax, col in zip(axes, cols):
        pts = []
        for i, r in enumerate(block.rows):
            c = r.cell(col)
            if math.isnan(c.acc) or math.isnan(c.length):
                continue
            color, marker = style[r.method]
            x, y = c.length, 100 * c.acc
            on = r.pareto[col]
            ax.scatter([x], [y], s=90 if on else 60, color=color, marker=marker, zorder=3,
                       edgecolors="black" if on else "none", linewidths=1.6, label=r.method)
            if on or len(block.rows) <= MAX_ANNOTATED:  # many points: the legend names them, the front is named
                ax.annotate(plain(method_name(r.method)), (x, y), textcoords="offset points",
                            xytext=(6, 5) if i % 2 == 0 else (6, -13), fontsize=8.5)  # alternate: fewer overlaps
            if on:
                pts.append((x, y))
        pts.sort()
        if len(pts) > 1:
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", ls="--", color="0.45", lw=1.2,
                    zorder=2)
            drew_front = True
        title = f"Average of {len(block.datasets)} datasets" if col == AVERAGE else dataset_name(col)
        ax.set_title(plain(title), fontsize=11)
        ax.set_xlabel("Mean generated tokens")
        ax.set_ylabel("Accuracy (%)")
        ax.grid(alpha=0.3)
        ax.margins(x=0.18, y=0.15)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls="", marker=style[m][1], color=style[m][0], markersize=8) for m in methods]
    handles += [Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor="black", markersize=9,
                       markeredgewidth=1.6)]
    labels = [plain(method_name(m)) for m in methods] + ["on the Pareto front"]
    if drew_front:
        handles.append(Line2D([], [], ls="--", color="0.45"))
        labels.append("Pareto front")
    width, height = fig.get_size_inches()
    ncol = max(2, min(len(labels), int(width / 1.7)))  # as many entries a row as the figure's width holds
    rows = math.ceil(len(labels) / ncol)
    fig.set_size_inches(width, height + 0.25 * rows)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=9)
    fig.suptitle(f"{plain(block.model)}: accuracy vs length (ringed: Pareto front)", fontsize=12)
    fig.tight_layout(rect=(0, (0.1 + 0.25 * rows) / (height + 0.25 * rows), 1, 0.95))
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """``fig`` as a PNG at ``path``, written atomically."""
    import io

    from ..records import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())
    return path


def plot_pareto(block: ModelBlock, path: Path) -> Path:
    """``pareto_figure`` saved as a PNG at ``path``."""
    return save_png(pareto_figure(block), path)


def plot_gen_time(board: Board, path: Path) -> Path | None:
    """Wall-clock generation time per method, one panel per model, bars stacked by dataset
    (the paper's Fig. 3); None, and nothing written, when no model has a generation time."""
    blocks = [b for b in board.models if any(not math.isnan(g.total_s) for g in b.gen_time)]
    if not blocks:
        return None
    fig, axes = _grid(len(blocks), w=5.2, h=4.0)
    cmap = matplotlib.colormaps["Set2"]
    for ax, block in zip(axes, blocks):
        gts = block.gen_time
        peak = max((g.total_s for g in gts if not math.isnan(g.total_s)), default=0)
        unit, div = ("min", 60.0) if peak >= 120 else ("s", 1.0)
        names = [plain(method_name(g.method)) for g in gts]
        bottom = [0.0] * len(gts)
        for i, ds in enumerate(block.datasets):
            vals = [0.0 if math.isnan(g.by_dataset[ds]) else g.by_dataset[ds] / div for g in gts]
            ax.bar(names, vals, bottom=bottom, color=cmap(i % 8), label=plain(dataset_name(ds)), edgecolor="white")
            bottom = [b + v for b, v in zip(bottom, vals)]
        for x, top in enumerate(bottom):
            ax.annotate(f"{top:.1f}", (x, top), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=9)
        ax.set_ylabel(f"Generation time ({unit})")
        ax.set_title(plain(block.model), fontsize=11)
        ax.tick_params(axis="x", labelrotation=20)
        ax.margins(y=0.12)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="dataset", title_fontsize=8)
    fig.suptitle("Wall-clock generation time per method", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_png(fig, path)


def plot_length_accuracy(result: dict, examples: dict, path: Path) -> Path:
    """``length_accuracy_figure`` saved as a PNG at ``path``."""
    return save_png(length_accuracy_figure(result, examples), path)


def length_accuracy_figure(result: dict, examples: dict) -> Figure:
    """The paper's Figure 1 and Table 1 in one figure: top left, accuracy by within-problem
    length interval; top right, the difficulty groups; below, for a handful of problems with
    mixed outcomes, every sample's length and correctness with the interval accuracy drawn over
    (``result["examples"]``, in the order of ``examples``)."""
    import random

    from matplotlib.gridspec import GridSpec

    k = result["n_intervals"]
    n_rows = math.ceil(len(examples) / 3)
    fig = Figure(figsize=(14, 4.2 * (1 + n_rows)), dpi=100)
    gs = GridSpec(1 + n_rows, 3, figure=fig)
    ax = fig.add_subplot(gs[0, :2])
    xs = list(range(1, k + 1))
    width = 0.38
    for off, (name, tab, color) in zip((-width / 2, width / 2), (
            (f"all problems (n={result['table1']['n_problems']})", result["table1"], "tab:blue"),
            (f"mixed-outcome problems (n={result['table1_mixed']['n_problems']})", result["table1_mixed"], "tab:orange"))):
        vals = [100 * a if a == a else 0 for a in tab["accuracy"]]
        bars = ax.bar([x + off for x in xs], vals, width, label=name, color=color)
        for b, v, t in zip(bars, vals, tab["mean_tokens"]):
            ax.annotate(f"{v:.1f}%\n{t:.0f} tok" if t == t else "", (b.get_x() + b.get_width() / 2, v),
                        textcoords="offset points", xytext=(0, 2), ha="center", fontsize=8)
    ax.set_xticks(xs, [f"{i}{' (shortest)' if i == 1 else ' (longest)' if i == k else ''}" for i in xs])
    ax.set_xlabel("Length interval within each problem's samples")
    ax.set_ylabel("Mean accuracy (%)")
    ax.set_ylim(0, 118)
    ax.set_title("Accuracy by length interval (Table 1)", fontsize=11)
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(axis="y", alpha=0.3)

    ax = fig.add_subplot(gs[0, 2])
    groups = result["difficulty"]
    names = [g["group"] for g in groups]
    ax.bar(names, [100 * g["accuracy"] if g["accuracy"] == g["accuracy"] else 0 for g in groups], color="tab:green",
           label="accuracy")
    ax.set_ylabel("Accuracy (%)")
    ax.set_ylim(0, 110)
    ax.set_xlabel("Pass-rate group (problems)")
    tw = ax.twinx()
    tw.plot(names, [g["mean_tokens"] for g in groups], "o-", color="black", label="mean tokens")
    tw.set_ylabel("Mean tokens")
    peak = max((g["mean_tokens"] for g in groups if g["mean_tokens"] == g["mean_tokens"]), default=1)
    tw.set_ylim(0, 1.6 * peak)  # keep the line clear of the legend
    for i, g in enumerate(groups):
        ax.annotate(f"n={g['n_problems']}", (i, 2), ha="center", fontsize=8, color="white")
    ax.set_title("Difficulty split by pass rate (groups overlap)", fontsize=11)
    ax.annotate(textwrap.fill(result["difficulty_note"], 60), (0, 0), xycoords="axes fraction", xytext=(0, -42),
                textcoords="offset points", va="top", fontsize=7.5, color="0.3")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")

    rng = random.Random(0)
    for i, (((bench, pid), samples), example) in enumerate(zip(examples.items(), result["examples"], strict=True)):
        ax = fig.add_subplot(gs[1 + i // 3, i % 3])
        for correct, color, label in ((True, "tab:green", "correct sample"), (False, "tab:red", "wrong sample")):
            pts = [r.n_tokens for r in samples if r.correct == correct]
            ax.scatter(pts, [float(correct) + rng.uniform(-0.05, 0.05) for _ in pts], s=18, alpha=0.6,
                       color=color, label=label)
        intervals = example["intervals"]
        ax.plot([c["mean_tokens"] for c in intervals], [c["accuracy"] for c in intervals], "o-", color="tab:blue",
                lw=2, label=f"accuracy of {k} length intervals")
        rate = sum(r.correct for r in samples) / len(samples)
        ax.set_title(plain(f"{pid} ({bench}): pass {rate:.0%}, K={len(samples)}")[:60], fontsize=9.5)
        ax.set_ylim(-0.15, 1.15)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xlabel("Generated tokens")
        ax.set_ylabel("Correct / interval accuracy")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7.5, loc="center right")
    fig.suptitle(plain(f"{result['model']}: accuracy against length ({result['n_problems']} problems, "
                       f"{result['n_records']} samples)"), fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def plot_sweep(result: dict, path: Path) -> Path:
    """Accuracy against the token budget, one panel per task: a curve per model and way of cutting
    (budget forcing solid, the plain max-tokens cut dashed, one colour per model)."""
    tasks = result["tasks"]
    labels = list(dict.fromkeys(c["label"] for c in result["curves"]))
    style = _style(labels)
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks):
        for c in result["curves"]:
            pts = c["points"].get(task, [])
            if not pts:
                continue
            color, marker = style[c["label"]]
            kind = "budget forcing" if c["kind"] == "budget" else "max-tokens cut"
            ax.plot([p["budget"] for p in pts], [100 * p["accuracy"] for p in pts], color=color, marker=marker,
                    linestyle="-" if c["kind"] == "budget" else "--", label=plain(f"{c['label']}, {kind}"))
        ax.set_xscale("log", base=2)
        budgets = sorted({p["budget"] for c in result["curves"] for p in c["points"].get(task, [])})
        ax.set_xticks(budgets, labels=[str(b) for b in budgets])
        ax.minorticks_off()
        ax.set_title(plain(dataset_name(task.removesuffix("_len"))))
        ax.set_xlabel("token budget (log scale)")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 2), fontsize=8, frameon=False)
    fig.suptitle("Accuracy at each token budget", fontsize=12)
    fig.subplots_adjust(bottom=0.14 + 0.05 * math.ceil(len(names) / 2), wspace=0.3)
    return save_png(fig, path)
