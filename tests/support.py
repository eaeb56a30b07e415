"""What several test packages share: running the `nalm` CLI in this process.

Importable as ``tests.support`` (pytest's ``pythonpath`` puts the repository root on ``sys.path``).
"""

from __future__ import annotations

from typing import Any


def run_in_process(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``nalm ARGS`` in this process (no interpreter start-up): exit code, stdout, stderr."""
    from nalm.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def stored_models(db: Any, *, at: str = "selected") -> tuple[list[Any], Any, Any, Any, list[Any]]:
    """A one-cell results database read back: its runs, the cell's summary, its task and model spec
    rebuilt from the stored config, and each run's network holding its stored parameters ``at`` the
    selected step or the ``"final"`` one."""
    import torch

    from nalm.bench.build import spec_from_config, task_from_config
    from nalm.report import summarize
    from nalm.store import ResultsStore

    with ResultsStore(db, readonly=True) as store:
        runs = store.runs()
        params = [store.parameters(r.id) for r in runs]
        (cell,) = summarize(runs)
    task = task_from_config(runs[0].config)
    spec = spec_from_config(runs[0].config, task)
    models = []
    for r, p in zip(runs, params):
        model = spec.build(r.result.seed)
        values = p.final if at == "final" else p.selected
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(torch.from_numpy(values[name]))
        models.append(model)
    return runs, cell, task, spec, models
