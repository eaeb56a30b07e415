#!/usr/bin/env bash
# Regenerate the figures of docs/benchmarks.md from a small real run of the quick profiles:
#   madsen2020 quick, block intro (NAC*, NALU, NMU on the 4-input x task; 3 cells x 25 seeds x 20,000 iterations)
#   primer2022 quick, op mul      (NMU and NALU on x over the nine range pairs; 18 cells x 10 seeds x 10,000)
# then `nalm report` on each, and copy the chosen PNGs to docs/img/ under fixed names.
#
# Self-contained and idempotent: results go to a temporary directory that is removed afterwards, and
# each run overwrites the same files in docs/img/. About 5 minutes on a 2-core CPU.
#
#   bash docs/make_figures.sh            # uses the `nalm` on PATH
#   NALM="python3 -m nalm.cli.main" bash docs/make_figures.sh
set -euo pipefail

cd "$(dirname "$0")/.."
NALM=${NALM:-nalm}
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}   # small batches: one numba thread avoids stalls
export MPLBACKEND=Agg

work=$(mktemp -d "${TMPDIR:-/tmp}/nalm-figures.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=docs/img
mkdir -p "$out"

echo "== madsen2020 quick, block intro" >&2
$NALM bench madsen2020 --profile quick --only block=intro --db "$work/madsen.db" --no-progress
$NALM report --db "$work/madsen.db" --out "$work/rep-madsen"

echo "== primer2022 quick, op mul (NMU, NALU over nine ranges)" >&2
# --group-runs trains each model's nine range cells as one batch: 4x faster on the CPU; success
# counts and solved-at medians are the same as cell by cell (values agree to rounding).
$NALM bench primer2022 --profile quick --only op=mul --group-runs 100 --db "$work/primer.db" --no-progress
$NALM report --db "$work/primer.db" --out "$work/rep-primer"

# copy the first file matching a pattern (the first page of a multi-page figure) to docs/img/NAME
pick() {  # pick REPORT_DIR GLOB NAME
    local src
    src=$(find "$1" -maxdepth 1 -name "$2" | sort | head -n 1)
    if [ -z "$src" ]; then
        echo "make_figures: no figure matching $2 in $1; the report wrote:" >&2
        ls "$1" >&2
        exit 1
    fi
    cp "$src" "$out/$3"
    echo "$out/$3  <-  $(basename "$src")" >&2
}

pick "$work/rep-madsen" 'madsen2020-learning-curves*.png' madsen2020-intro-learning-curves.png
pick "$work/rep-madsen" 'madsen2020-extrapolation-mse*.png' madsen2020-intro-extrapolation-mse.png
pick "$work/rep-primer" 'primer2022-success-heatmap*.png' primer2022-mul-success-heatmap.png
pick "$work/rep-primer" 'primer2022-extrapolation-mse*.png' primer2022-mul-extrapolation-mse.png

# Keep the committed PNGs small: a 256-colour palette is lossless enough for line plots and heatmaps.
python3 - "$out" <<'EOF'
import sys
from pathlib import Path

try:
    from PIL import Image
except ImportError:  # matplotlib depends on Pillow, so this is rare; keep the full-colour files
    sys.exit(0)
for name in ("madsen2020-intro-learning-curves.png", "madsen2020-intro-extrapolation-mse.png",
             "primer2022-mul-success-heatmap.png", "primer2022-mul-extrapolation-mse.png"):
    path = Path(sys.argv[1]) / name
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1024} KiB", file=sys.stderr)
EOF
