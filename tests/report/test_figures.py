"""Every figure the report draws reads on its own: a title, labelled axes (saying which scale), and a
key to every encoding (line styles, colours, markers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nalm.report import write_report

matplotlib = pytest.importorskip("matplotlib")


def _texts(fig: Any) -> dict[str, Any]:
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    legends = list(fig.legends) + [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    return {
        "title": " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in axes]),
        "axes": axes,
        "xlabels": [ax.get_xlabel() for ax in axes],
        "ylabels": [ax.get_ylabel() for ax in axes],
        "legend": " ".join(t.get_text() for lg in legends for t in lg.get_texts()),
        "colorbar": [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"],
    }


@pytest.fixture(scope="module")
def figures(synthetic_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """File name -> what the figure shows, captured as each is saved."""
    from matplotlib.figure import Figure

    seen: dict[str, dict[str, Any]] = {}
    original = Figure.savefig

    def spy(self: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        seen[Path(fname).name] = _texts(self)
        return original(self, fname, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", spy)
    try:
        report = write_report(synthetic_db, tmp_path_factory.mktemp("figs") / "rep")
    finally:
        mp.undo()
    assert sorted(seen) == sorted(f for f in report.files if f.endswith(".png"))
    return seen


def test_every_figure_has_a_title_and_labelled_axes(figures: dict[str, dict[str, Any]]) -> None:
    assert len(figures) == 5  # two suites: MSE strips and curves each; primer2022's heatmap
    for name, f in figures.items():
        assert f["title"].strip(), name
        # heatmap panels name rows/columns at the figure's outer edges only
        assert any(f["xlabels"]) and any(f["ylabels"]), name
        assert f["legend"] or f["colorbar"], name


def test_learning_curve_panels_say_what_every_line_is(figures: dict[str, dict[str, Any]]) -> None:
    curves = {n: f for n, f in figures.items() if "learning-curves" in n}
    assert curves
    for name, f in curves.items():
        assert "Learning curves" in f["title"]
        for ax, x, y in zip(f["axes"], f["xlabels"], f["ylabels"]):
            assert "step" in x and "iteration" in x, name
            assert "MSE" in y and "log" in y and ax.get_yscale() == "log", name
        key = f["legend"]
        for words in ("extrapolation MSE", "interpolation MSE", "dashed", "success threshold", "selected step",
                      "successful", "unsuccessful"):
            assert words in key, (name, words)
    # which run each panel shows, over the panel (diverged runs say so)
    texts = [t.get_text() for f in curves.values() for ax in f["axes"] for t in ax.texts]
    assert any("solved at step" in t and "(the median)" in t for t in texts)
    assert any("not solved, diverged at step 2,500" in t for t in texts)


def test_mse_strips_and_heatmap_have_keys(figures: dict[str, dict[str, Any]]) -> None:
    strips = [f for n, f in figures.items() if "extrapolation-mse" in n]
    for f in strips:
        assert "log scale" in f["xlabels"][0] and "extrapolation MSE" in f["xlabels"][0]
        assert "success threshold" in f["legend"] and "one run" in f["legend"]
    assert any("NaN" in f["legend"] for f in strips)  # the synthetic NMU cell has diverged runs
    (heat,) = [f for n, f in figures.items() if "heatmap" in n]
    assert "input range" in heat["xlabels"] and "model" in heat["ylabels"]
    assert heat["colorbar"] == ["success rate (% of runs)"]
    assert "grey: not run" in heat["title"]
