"""Run the iNALU authors' own script on one experiment-1 cell and compare with their published runs.

    python benchmarks/check_inalu_reference.py --checkout INALU --python TF_PYTHON
        [--model nalui1] [--dist normal] [--params "(-3,3)"] [--ext "(8,10)"] [--op mul]
        [--seeds 100-109] [--jobs 1] [--out DIR]

``INALU`` is a checkout of daschloer/inalu; ``TF_PYTHON`` the interpreter of an environment with
TensorFlow 2, scikit-learn and scipy (``python -m venv tfenv && tfenv/bin/pip install tensorflow-cpu
scikit-learn scipy``); nothing is downloaded here. Each seed runs ``nalu_syn_simple_arith.py`` as
the experiment planner ran it (``-n MODEL -d DIST -p PARAMS -e EXT -se SEED -op OP``; 100 epochs of
1,000 batches, about 70 s on one core) through ``inalu_tf_boot.py`` (TF1 API on TF2; see there), on
one thread. Models by the script's names: ``nalui1`` iNALU (sw), ``nalui2`` iNALU (iw),
``nalu__paperm`` NALU (m), ``nalu__paperv`` NALU (v).

Scored as the authors' ``results.py``: the last line of each run's log, success when its MSE is below
1e-5 (extrapolation and interpolation sets), runs with a NaN last line left out. Printed per seed:
this run's final MSEs and re-initialisations beside the published run's (the repository's
``experiment_runs/exp1/*_results_{ext,int}.csv``), and the success counts. The data, initial weights
and re-initialisations come from the script's ``np.random.seed(seed)`` stream, so a seed here and in
the published table starts from the same numbers; what differs is the code revision (the planner
cloned a private tag, ``exp1``), TensorFlow (1.8, on a GPU there) and the hardware.
"""

from __future__ import annotations

import argparse
import ast
import csv
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BOOT = Path(__file__).with_name("inalu_tf_boot.py")
SCRIPT = "nalu_syn_simple_arith.py"
PUBLISHED = "experiment_runs/exp1/exp1_nalu_minimal_arith_results_{}.csv"
THRESHOLD = 1e-5


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def _last_row(folder: Path, kind: str) -> tuple[float, int]:
    """(final MSE, re-initialisations) from the run's ``*_{kind}.csv`` log (NaN when unreadable)."""
    logs = list(folder.glob(f"*_{kind}.csv"))
    if not logs:
        return math.nan, -1
    lines = logs[0].read_text().strip().splitlines()
    if not lines:
        return math.nan, -1
    fields = lines[-1].split("\t")
    return float(fields[10]), int(fields[11])


def run_seed(args: argparse.Namespace, seed: int, out: Path) -> dict[str, float]:
    folder = out / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = [args.python, str(BOOT), args.checkout, SCRIPT, "-n", args.model, "-d", args.dist,
               "-p", args.params, "-e", args.ext, "-se", str(seed), "-op", args.op, "-o", "run"]
    with open(folder / "stdout.txt", "w") as log:
        done = subprocess.run(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"seed {seed}: the reference script failed; see {folder / 'stdout.txt'}")
    ext, reinits = _last_row(folder, "ext")
    interp, _ = _last_row(folder, "int")
    return {"ext": ext, "int": interp, "reinits": reinits}


def published_runs(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    """The published final rows of this cell, by seed."""
    params, ext = str(ast.literal_eval(args.params)), str(ast.literal_eval(args.ext))
    runs: dict[int, dict[str, float]] = {}
    for kind in ("ext", "int"):
        path = Path(args.checkout) / PUBLISHED.format(kind)
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if (row["nalu"], row["dist"], row["param"], row["extp"], row["op"]) == (
                    args.model, args.dist, params, ext, args.op
                ):
                    entry = runs.setdefault(int(row["seed"]), {})
                    entry[kind] = float(row["loss"])
                    entry["reinits"] = int(row["reinits"])
    return runs


def _solved(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and value < THRESHOLD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", required=True, help="a daschloer/inalu checkout")
    parser.add_argument("--python", default=sys.executable, help="interpreter with TensorFlow 2")
    parser.add_argument("--model", default="nalui1")
    parser.add_argument("--dist", default="normal")
    parser.add_argument("--params", default="(-3,3)")
    parser.add_argument("--ext", default="(8,10)")
    parser.add_argument("--op", default="mul")
    parser.add_argument("--seeds", default="100-109")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (one core each)")
    parser.add_argument("--out", default=None, help="folder for the runs' logs (default: a temporary one)")
    args = parser.parse_args()
    args.checkout = os.path.abspath(args.checkout)
    seeds = _seeds(args.seeds)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            ours = dict(zip(seeds, pool.map(lambda s: run_seed(args, s, out), seeds)))
    published = published_runs(args)
    print(f"{args.model} {args.dist} {args.params} -> {args.ext}, {args.op}: final MSE (re-initialisations)")
    print(f"{'seed':>5} | {'this run: extrap.':>18} {'interp.':>11} | {'published: extrap.':>19} {'interp.':>11}")
    for seed in seeds:
        mine, theirs = ours[seed], published.get(seed, {})
        print(f"{seed:>5} | {mine['ext']:>11.5e} ({mine['reinits']}) {mine['int']:>11.5e} | "
              f"{theirs.get('ext', math.nan):>12.5e} ({theirs.get('reinits', '-')}) "
              f"{theirs.get('int', math.nan):>11.5e}")
    for kind, label in (("ext", "extrapolation"), ("int", "interpolation")):
        mine = sum(_solved(ours[s][kind]) for s in seeds)
        theirs = sum(_solved(published.get(s, {}).get(kind)) for s in seeds)
        print(f"solved ({label}, MSE < {THRESHOLD:g}): this run {mine}/{len(seeds)}, "
              f"published {theirs}/{sum(kind in published.get(s, {}) for s in seeds)}")


if __name__ == "__main__":
    main()
