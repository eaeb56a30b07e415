"""Benchmark suites as data: the TOML format, its typed (frozen) models and the loader.

A suite file describes *what* to run; :mod:`nalm.bench.plan` turns a suite and a profile into cells.
Every invalid value raises :class:`~nalm.errors.ConfigError` naming the file and the field, e.g.
``madsen2020.toml: grid[3].models[1]: unknown model 'NMUU' (defined: NMU, NAU, ...)``.

Format (all keys are checked; unknown keys are errors)::

    name = "madsen2020"              # suite name in the results store
    title = "..."                    # one line
    description = "..."              # free text: protocol, sources, what is comparable
    protocol_iterations = 5000000    # the paper's iterations (a block may override)
    threshold_policy = "madsen_r"    # nalm.metrics policy runs are scored under
    also_score = ["generator"]       # more policies: the same runs scored again, stored under
                                     # suite "<name>@<policy>" (training happens once)
    dtype = "float32"                # or "float64"
    eval_every = 1000
    first_seed = 0                   # optional: seeds first_seed .. first_seed + seeds − 1
    selection = "final"              # optional: score each run's last logged point ("final") or
                                     # its best-validation step ("best"); default: the recipe's
    selection_window = 2000          # optional: "best" searches a run's last N logged points
                                     # (default 5000, Madsen's static-task scripts)

    [recipe]                         # how each cell's TrainRecipe is made
    kind = "default"                 # nalm.training.recipes.default_recipe(output unit, op, setting)
    setting = "madsen2020"           # or "primer2022", "schlor2020", "heim2020"
    batch_size = 128
    # kind = "plain": no regularizers; optimizer = "adam"|"rmsprop"|"sgd"|"rmsprop_tf1",
    #   lr = ... (required)

    [profiles.full]                  # at least one profile; packaged suites have "full" and "quick"
    description = "..."
    seeds = 100                      # seeds 0..seeds-1 (a block may override per profile)
    iterations = 5000000             # optional; default: each block's protocol iterations
    schedules = "scale"              # "scale": schedules shrink with the iterations (default);
                                     # "truncate": the protocol's schedule, stopped early
    grid = ["main", "intro"]         # optional: the blocks this profile runs (default: all)
    only = ["block=main,op=add|sub", "block=intro"]
                                     # optional: cells matching any of these filters (the
                                     # --only syntax, see nalm.bench.filters); --only
                                     # narrows further
    eval_every = 1000                # optional override

    [[profiles.quick.overrides]]     # optional, per cell: the cells matching `only` (a filter in
    only = "model=NAU,op=sub"        # the --only syntax) get these iterations / seeds / schedules
    iterations = 20000               # instead of the block's and the profile's; in file order, a
    schedules = "truncate"           # later match overriding an earlier one key by key; each must
                                     # match a cell of the profile

    [models.NMU]                     # a model (key: letters, digits, _ . + -): a chain of nalm units
    units = ["nau", "nmu"]           # names from nalm.available_units()
    hidden = 2
    options = [{}, {}]               # keyword options per unit (optional)
    recipe_unit = "nmu"              # unit whose default recipe is used (default: the last)
    lr = 0.001                       # optional learning-rate override
    label = "NMU"                    # name in reports (default: the key)
    published = "NMU"                # model name in the published CSV (default: the label)
    regularizers = { npu_weight = { kind = "linear", scale = 1.0, start = 40000, end = 50000 } }
                                     # optional: schedules of the units' named regularizers that
                                     # replace (or add to) the recipe's, in the block's protocol
                                     # steps (scaled like the recipe's); kinds "linear" (λ̂ ramp
                                     # start -> end), "step_exponential" (start, end, factor = 10,
                                     # every = 10000: the NPU's β), "constant" (scale), "off"
                                     # (drop the recipe's)
    network = { z_regularizer = true }
                                     # optional, task sequential_mnist only: the network's settings
                                     # (nalm.training.model.SequentialMnistSpec): accumulator =
                                     # "trained" | "solved" (the reference: an exact NAU/NMU cell),
                                     # initial_state = h0 (default 1 for products, else 0),
                                     # z_regularizer = true (R_z, the regularizer "z")

    [ranges.small]                   # optional named ranges (beside the Primer's nine presets)
    interpolation = [1, 2]           # (lo, hi) or a union [[lo, hi], [lo, hi]]
    extrapolation = [2, 6]
    # distribution = "truncated_normal"   # task inalu_arith: uniform | truncated_normal |
                                     # exponential (then interpolation = [scale], extrapolation = [scale])

    [[grid]]                         # blocks of cells: models × ops × ranges
    name = "main"
    task = "static"                  # static | static_simple | primer | article | npu_simple |
                                     # inalu_arith | recurrent | sequential_mnist |
                                     # npu_large (Heim et al.'s 100 Sobol inputs;
                                     # ops add, mul, div = 1/a, root = √a; input_size only)
    models = ["NMU", "NAU"]
    ops = ["add", "mul"]             # npu_simple: ["all"]
    ranges = ["1_2"]                 # optional (primer: required)
    input_size = 100                 # optional task field (static, primer)
    num_subsets = 1                  # optional (static): 1 for a one-operand op on one input
    seq_length = 10                  # optional (recurrent, sequential_mnist): training sequence length
    extrapolation_length = 100       # optional (recurrent): the scored test sequences' length
    extrapolation_lengths = [1, 10]  # optional (sequential_mnist): the test lengths; ops sum | prod;
                                     # iterations and eval_every count *epochs* for this task
    digits = [1, 2, 3]               # optional (sequential_mnist): the MNIST digits used
    protocol_iterations = 200000     # optional
    iterations = { quick = 50000 }   # optional per-profile iterations
    seeds = { quick = 20 }           # optional per-profile seeds
    batch_size = 100                 # optional
    published = { source = "madsen2020", task = "static-100", table = "appendix-all" }
                                     # task may map each range name to its published task
    threshold_policy = { NRU = "gold_nru" }
                                     # optional: this block's policy instead of the suite's, one
                                     # name or one per model (models not named keep the suite's)

pydantic (and, through the task presets and the unit registry, torch) is imported here, so this
module is loaded only by the benchmark, never by ``import nalm``.
"""

# Over 450 lines: about 65 are the format's reference above, kept beside the models it describes.

from __future__ import annotations

import math
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from nalm.errors import ConfigError
from nalm.policies import THRESHOLD_POLICIES
from nalm.tasks.heim2020 import LARGE_OPS
from nalm.tasks.inalu_data import INALU_OPS, normalize_distribution
from nalm.tasks.ops import ARTICLE_OPS, OPS, PRIMER_OPS, RECURRENT_OPS
from nalm.tasks.presets import PRIMER_RANGES
from nalm.tasks.ranges import normalize_range
from nalm.units import available_units, create

from .filters import parse_filter

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TASK_KINDS = ("static", "static_simple", "primer", "article", "npu_simple", "inalu_arith", "npu_large", "recurrent",
              "sequential_mnist")
PROFILE_SCHEDULES = ("scale", "truncate")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MODEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")


def _positive_finite(v: float) -> float:
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError("must be positive and finite")
    return v


def _model_key(v: str) -> str:
    if not _MODEL_KEY.match(v):
        raise ValueError(f"invalid model key {v!r} (letters, digits, _ . + -; use label for other text)")
    return v


def _slug(v: str) -> str:
    if not _SLUG.match(v):
        raise ValueError(f"invalid name {v!r} (letters, digits, _ . -; no spaces or slashes)")
    return v


PosInt = Annotated[StrictInt, Field(ge=1)]
PosFloat = Annotated[StrictInt | StrictFloat, AfterValidator(_positive_finite)]
Ratio = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1)]
Number = StrictInt | StrictFloat
ModelKey = Annotated[StrictStr, AfterValidator(_model_key)]
Slug = Annotated[StrictStr, AfterValidator(_slug)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecipeDef(_Frozen):
    kind: Literal["default", "plain"]
    setting: Literal["madsen2020", "primer2022", "schlor2020", "heim2020"] | None = None
    optimizer: Literal["adam", "rmsprop", "sgd", "rmsprop_tf1"] = "adam"
    lr: PosFloat | None = None
    batch_size: PosInt = 128


class ProfileOverride(_Frozen):
    """Per-cell settings of a profile: the cells matching ``only`` get the keys that are set."""

    only: StrictStr
    iterations: PosInt | None = None
    seeds: PosInt | None = None
    schedules: Literal["scale", "truncate"] | None = None

    def settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("iterations", "seeds", "schedules") if getattr(self, k) is not None}


class LinearRampDef(_Frozen):
    """``scale · clamp((t − start) / (end − start), 0, 1)`` (Madsen's ramp)."""

    kind: Literal["linear"]
    scale: Annotated[StrictInt | StrictFloat, Field(ge=0, allow_inf_nan=False)]
    start: Annotated[StrictInt, Field(ge=0)]
    end: PosInt


class StepExponentialDef(_Frozen):
    """The NPU's β: ``start``, ×``factor`` every ``every`` steps, at most ``end``."""

    kind: Literal["step_exponential"]
    start: PosFloat
    end: PosFloat
    factor: PosFloat = 10.0
    every: PosInt = 10_000


class ConstantDef(_Frozen):
    """The same scale at every step (sequential MNIST's R_z weight)."""

    kind: Literal["constant"]
    scale: Annotated[StrictInt | StrictFloat, Field(ge=0, allow_inf_nan=False)]


class OffDef(_Frozen):
    """No schedule: the recipe's regularizer of this name is dropped."""

    kind: Literal["off"]


RegularizerDef = Annotated[LinearRampDef | StepExponentialDef | ConstantDef | OffDef, Field(discriminator="kind")]


class ProfileDef(_Frozen):
    description: StrictStr = ""
    seeds: PosInt
    iterations: PosInt | None = None
    schedules: Literal["scale", "truncate"] = "scale"
    grid: tuple[Slug, ...] | None = None
    only: tuple[StrictStr, ...] | None = None
    eval_every: PosInt | None = None
    overrides: tuple[ProfileOverride, ...] = ()


class NetworkDef(_Frozen):
    """The sequential MNIST network's settings (:class:`nalm.training.model.SequentialMnistSpec`)."""

    accumulator: Literal["trained", "solved"] = "trained"
    initial_state: Annotated[Number, Field(allow_inf_nan=False)] | None = None
    z_regularizer: StrictBool = False


class ModelDef(_Frozen):
    units: tuple[StrictStr, ...] = Field(min_length=1)
    hidden: PosInt = 2
    options: tuple[dict[str, Any], ...] = ()
    recipe_unit: StrictStr | None = None
    lr: PosFloat | None = None
    label: StrictStr | None = None
    published: StrictStr | None = None
    regularizers: dict[Slug, RegularizerDef] = Field(default_factory=dict)
    network: NetworkDef | None = None  # task sequential_mnist only

    def display(self, key: str) -> str:
        return self.label or key


class RangeDef(_Frozen):
    interpolation: list[Any]
    extrapolation: list[Any]
    # task inalu_arith only: how values are drawn; "exponential" ranges are [scale]
    distribution: Literal["uniform", "truncated_normal", "exponential"] | None = None


class PublishedDef(_Frozen):
    source: StrictStr
    task: StrictStr | dict[Slug, StrictStr]  # one task, or one per range name
    table: StrictStr | None = None

    def task_for(self, range_name: str | None) -> str | None:
        """The published task of a cell's range (None: this range has none)."""
        if isinstance(self.task, str):
            return self.task
        return self.task.get(range_name) if range_name is not None else None


class GridBlock(_Frozen):
    name: Slug
    task: Literal["static", "static_simple", "primer", "article", "npu_simple", "inalu_arith", "npu_large", "recurrent",
                  "sequential_mnist"]
    models: tuple[ModelKey, ...] = Field(min_length=1)
    ops: tuple[StrictStr, ...] = Field(min_length=1)
    ranges: tuple[Slug, ...] = ()
    input_size: PosInt | None = None
    subset_ratio: Ratio | None = None
    overlap_ratio: Ratio | None = None
    num_subsets: PosInt | None = None
    seq_length: PosInt | None = None
    extrapolation_length: PosInt | None = None
    extrapolation_lengths: tuple[PosInt, ...] | None = None
    digits: tuple[Annotated[StrictInt, Field(ge=0, le=9)], ...] | None = None
    protocol_iterations: PosInt | None = None
    iterations: dict[Slug, PosInt] = Field(default_factory=dict)
    seeds: dict[Slug, PosInt] = Field(default_factory=dict)
    batch_size: PosInt | None = None
    published: PublishedDef | None = None
    allow_zero_denominator: StrictBool = False
    threshold_policy: StrictStr | dict[ModelKey, StrictStr] | None = None

    def own_policy(self, model_key: str) -> str | None:
        """The policy this block sets for ``model_key`` (None: the suite's)."""
        if isinstance(self.threshold_policy, dict):
            return self.threshold_policy.get(model_key)
        return self.threshold_policy


class Suite(_Frozen):
    """A validated suite (see the module docstring for the format). ``source`` is the file it came from."""

    name: Slug
    title: StrictStr = ""
    description: StrictStr = ""
    protocol_iterations: PosInt
    threshold_policy: StrictStr
    also_score: tuple[StrictStr, ...] = ()
    dtype: Literal["float32", "float64"] = "float32"
    eval_every: PosInt = 1000
    recipe: RecipeDef
    profiles: dict[Slug, ProfileDef] = Field(min_length=1)
    models: dict[ModelKey, ModelDef] = Field(min_length=1)
    ranges: dict[Slug, RangeDef] = Field(default_factory=dict)
    grid: tuple[GridBlock, ...] = Field(min_length=1)
    # seeds first_seed .. first_seed + n − 1 (the iNALU scripts ran seeds 100-109)
    first_seed: Annotated[StrictInt, Field(ge=0)] = 0
    # the point each run is scored at: "best" (Madsen's selected step) or "final" (the last logged
    # one); unset: the recipe's (schlor2020: final, every other: best)
    selection: Literal["best", "final"] | None = None
    selection_window: PosInt | None = None
    source: StrictStr = ""

    def block(self, name: str) -> GridBlock:
        for b in self.grid:
            if b.name == name:
                return b
        raise KeyError(name)

    def policies(
        self, primary: str | None = None, block: GridBlock | None = None, model_key: str | None = None
    ) -> tuple[str, ...]:
        """The primary threshold policy first, then the extra ones (no repeats). With ``block`` (and
        ``model_key``), the block's own policy for that model stands in for the suite's."""
        own = (block.own_policy(model_key or "") if block is not None else None) or self.threshold_policy
        first = primary or own
        return tuple(dict.fromkeys((first, own, *self.also_score)))


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------


def format_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("grid", 3, "models", 1)`` → ``grid[3].models[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _pydantic_message(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors(include_url=False)[0]
    # pydantic inserts union-member tags and "function-after[...]" steps into locations
    loc = tuple(
        p for p in err["loc"]
        if not (isinstance(p, str) and (p.startswith("function-") or p in {"int", "float", "str", "bool"}
                                        or p.startswith("constrained-") or "[" in p))
    )
    kind = err["type"]
    if kind == "extra_forbidden":
        return format_loc(loc), "unknown key"
    if kind == "missing":
        return format_loc(loc), "required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) or len(repr(value)) < 60 else type(value).__name__
    return format_loc(loc), f"{msg} (got {shown})"


class SuiteError(ConfigError):
    """An invalid suite file: the message names the file and the field."""


def suite_error(source: str, field: str, message: str) -> SuiteError:
    return SuiteError(f"{source}: {field}: {message}")


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------


def packaged_suites() -> list[str]:
    """Names of the suites shipped in ``nalm/bench/suites``."""
    folder = resources.files("nalm.bench").joinpath("suites")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str) -> tuple[str, str]:
    """``(display name, text)`` of a packaged suite name or a TOML file path."""
    looks_like_path = name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path
    if not looks_like_path:
        if name_or_path in packaged_suites():
            res = resources.files("nalm.bench").joinpath("suites", f"{name_or_path}.toml")
            return f"{name_or_path}.toml", res.read_text(encoding="utf-8")
        if not Path(name_or_path).is_file():
            raise ConfigError(
                f"SUITE: unknown suite {name_or_path!r}; packaged suites: "
                f"{', '.join(packaged_suites())} (or give the path of a .toml file)"
            )
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"SUITE: no such suite file {name_or_path!r}")
    try:
        return path.name, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read suite file: {exc}") from None


def parse_suite(text: str, source: str = "<suite>") -> Suite:
    """Validate suite TOML text; errors name ``source`` and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{source}: invalid TOML: {exc}") from None
    if "source" in data:
        raise suite_error(source, "source", "unknown key")
    try:
        suite = Suite.model_validate({**data, "source": source})
    except ValidationError as exc:
        field, message = _pydantic_message(exc)
        raise suite_error(source, field, message) from None
    check_references(suite)
    return suite


def load_suite(name_or_path: str) -> Suite:
    """A packaged suite by name (``madsen2020``) or a suite file by path, validated."""
    source, text = _read(name_or_path)
    return parse_suite(text, source)


# --------------------------------------------------------------------------------------------------
# cross-references and domain checks (units, policies, ops, ranges, profiles)
# --------------------------------------------------------------------------------------------------


def _ops_for(kind: str) -> tuple[str, ...]:
    if kind in ("static", "static_simple"):
        return OPS
    if kind == "recurrent":
        return RECURRENT_OPS
    if kind == "primer":
        return PRIMER_OPS
    if kind == "article":
        return ARTICLE_OPS
    if kind == "inalu_arith":
        return INALU_OPS
    if kind == "npu_large":
        return LARGE_OPS
    if kind == "sequential_mnist":
        return ("sum", "prod")
    return ("all",)


def _check_regularizers(src: str, name: str, m: ModelDef) -> None:
    """A model's regularizer schedules: names its units have, and well-formed schedules."""
    known: set[str] = set()
    if m.network is not None and m.network.z_regularizer:
        known.add("z")  # R_z of the sequential MNIST network around its cell
    options = m.options or tuple({} for _ in m.units)
    for unit, opts in zip(m.units, options):
        try:
            # a unit names its regularizers whatever its sizes; 2 -> 1 builds every registered one
            known |= set(create(unit, 2, 1, **opts).regularizers())
        except (TypeError, ValueError, RuntimeError):
            return  # bad options: reported where the model is built (plan), with the unit's message
    for reg, d in m.regularizers.items():
        field = f"models.{name}.regularizers.{reg}"
        if reg not in known:
            hint = "; R_z of the sequential MNIST network: network = { z_regularizer = true }" if reg == "z" else ""
            raise suite_error(src, field, f"no unit of the model has a regularizer {reg!r} "
                              f"(theirs: {', '.join(sorted(known)) or 'none'}){hint}")
        if isinstance(d, LinearRampDef) and d.end <= d.start:
            raise suite_error(src, f"{field}.end", f"must be greater than start ({d.start}), got {d.end}")
        if isinstance(d, StepExponentialDef) and (d.start > d.end or d.factor <= 1):
            raise suite_error(src, field, "needs start <= end and factor > 1")


def check_references(suite: Suite) -> None:
    """Checks that need more than one field, or nalm's registries. Raises :class:`SuiteError`."""
    src = suite.source
    err = lambda field, msg: suite_error(src, field, msg)  # noqa: E731

    if suite.threshold_policy not in THRESHOLD_POLICIES:
        raise err("threshold_policy", f"unknown policy {suite.threshold_policy!r}; expected one of "
                  f"{', '.join(THRESHOLD_POLICIES)}")
    for i, p in enumerate(suite.also_score):
        if p not in THRESHOLD_POLICIES:
            raise err(f"also_score[{i}]", f"unknown policy {p!r}; expected one of "
                      f"{', '.join(THRESHOLD_POLICIES)}")

    r = suite.recipe
    if r.kind == "default" and r.setting is None:
        raise err("recipe.setting", "required for kind = 'default' (madsen2020, primer2022, schlor2020 or heim2020)")
    if r.kind == "plain" and r.lr is None:
        raise err("recipe.lr", "required for kind = 'plain'")
    if r.kind == "plain" and r.setting is not None:
        raise err("recipe.setting", "only for kind = 'default'")
    if suite.also_score and (suite.selection == "final" or (suite.selection is None and r.setting == "schlor2020")):
        # the extra policies are rescored from the curves by the runner, with the best-step rule
        raise err("also_score", "not supported when runs are scored at their final point (selection)")

    units = available_units()
    for name, m in suite.models.items():
        for i, u in enumerate(m.units):
            if u not in units:
                raise err(f"models.{name}.units[{i}]", f"unknown unit {u!r}; available: {', '.join(units)}")
        if m.options and len(m.options) != len(m.units):
            raise err(f"models.{name}.options",
                      f"needs one table per unit ({len(m.units)}), got {len(m.options)}")
        if m.recipe_unit is not None and m.recipe_unit not in units:
            raise err(f"models.{name}.recipe_unit", f"unknown unit {m.recipe_unit!r}")
        if m.regularizers:
            _check_regularizers(src, name, m)

    for name, rd in suite.ranges.items():
        if name in PRIMER_RANGES:
            raise err(f"ranges.{name}", "a Primer preset has this name; choose another")
        for which in ("interpolation", "extrapolation"):
            try:
                if rd.distribution is None:
                    normalize_range(getattr(rd, which), which)
                else:
                    normalize_distribution([rd.distribution, *getattr(rd, which)], which)
            except ConfigError as exc:
                raise err(f"ranges.{name}.{which}", str(exc).split(": ", 1)[-1]) from None

    block_names: set[str] = set()
    for i, b in enumerate(suite.grid):
        where = f"grid[{i}]"
        if b.name in block_names:
            raise err(f"{where}.name", f"duplicate block name {b.name!r}")
        block_names.add(b.name)
        for j, m in enumerate(b.models):
            if m not in suite.models:
                raise err(f"{where}.models[{j}]",
                          f"unknown model {m!r} (defined: {', '.join(suite.models)})")
        if len(set(b.models)) != len(b.models):
            raise err(f"{where}.models", "lists a model twice")
        allowed = _ops_for(b.task)
        for j, op in enumerate(b.ops):
            if op not in allowed:
                raise err(f"{where}.ops[{j}]",
                          f"unknown operation {op!r} for task {b.task!r}; expected one of {', '.join(allowed)}")
        if len(set(b.ops)) != len(b.ops):
            raise err(f"{where}.ops", "lists an operation twice")
        for j, rn in enumerate(b.ranges):
            if rn not in suite.ranges and rn not in PRIMER_RANGES:
                raise err(f"{where}.ranges[{j}]",
                          f"unknown range {rn!r}; Primer presets: {', '.join(PRIMER_RANGES)}"
                          + (f"; suite ranges: {', '.join(suite.ranges)}" if suite.ranges else ""))
        if len(set(b.ranges)) != len(b.ranges):
            raise err(f"{where}.ranges", "lists a range twice")
        if b.task == "primer" and not b.ranges:
            raise err(f"{where}.ranges", "task 'primer' needs at least one range pair")
        if b.task == "inalu_arith":
            if not b.ranges:
                raise err(f"{where}.ranges", "task 'inalu_arith' needs at least one range pair")
            for j, rn in enumerate(b.ranges):
                if rn not in suite.ranges:
                    raise err(f"{where}.ranges[{j}]", f"task 'inalu_arith' needs a suite range, got {rn!r}")
            for field in ("input_size", "subset_ratio", "overlap_ratio", "num_subsets"):
                if getattr(b, field) is not None:
                    raise err(f"{where}.{field}", "not a setting of task 'inalu_arith' (2 inputs)")
        else:
            for j, rn in enumerate(b.ranges):
                if rn in suite.ranges and suite.ranges[rn].distribution is not None:
                    raise err(f"{where}.ranges[{j}]", f"range {rn!r} has a distribution: task "
                              "'inalu_arith' only")
        if b.task == "npu_large":
            for field in ("ranges", "subset_ratio", "overlap_ratio", "num_subsets"):
                if getattr(b, field) not in (None, ()):
                    raise err(f"{where}.{field}", "not a setting of task 'npu_large' (fixed by the protocol)")
        if b.task not in ("recurrent", "sequential_mnist") and b.seq_length is not None:
            raise err(f"{where}.seq_length", f"not a setting of task {b.task!r} (recurrent, sequential_mnist)")
        if b.task != "recurrent" and b.extrapolation_length is not None:
            raise err(f"{where}.extrapolation_length", f"not a setting of task {b.task!r} (recurrent only; "
                      "sequential_mnist: extrapolation_lengths)")
        if b.task != "sequential_mnist":
            for field in ("extrapolation_lengths", "digits"):
                if getattr(b, field) is not None:
                    raise err(f"{where}.{field}", f"not a setting of task {b.task!r} (sequential_mnist only)")
            for m in b.models:
                if m in suite.models and suite.models[m].network is not None:
                    raise err(f"models.{m}.network", f"a setting of the sequential MNIST network only; "
                              f"block {b.name!r} (task {b.task!r}) uses this model")
        else:
            for field in ("ranges", "input_size", "subset_ratio", "overlap_ratio", "num_subsets"):
                if getattr(b, field) not in (None, ()):
                    raise err(f"{where}.{field}", "not a setting of task 'sequential_mnist'")
            for j, m in enumerate(b.models):
                if len(suite.models[m].units) != 1:
                    raise err(f"{where}.models[{j}]", f"model {m!r}: the sequential MNIST network has one "
                              "unit, its recurrent cell")
        if b.task == "recurrent" and len(b.ranges) > 1:
            raise err(f"{where}.ranges", "task 'recurrent' takes at most one range pair (its "
                      "interpolation range and the range test's range)")
        if b.task in ("static_simple", "article", "npu_simple"):
            for field in ("ranges", "input_size", "subset_ratio", "overlap_ratio", "num_subsets"):
                if getattr(b, field) not in (None, ()):
                    raise err(f"{where}.{field}", f"not a setting of task {b.task!r}")
        if b.task == "primer" and (
            b.subset_ratio is not None or b.overlap_ratio is not None or b.num_subsets is not None
        ):
            field = next(f for f in ("subset_ratio", "overlap_ratio", "num_subsets") if getattr(b, f) is not None)
            raise err(f"{where}.{field}", "fixed by the Primer's input size; set input_size (2, 10, 100)")
        if b.task == "primer" and b.input_size not in (None, 2, 10, 100):
            raise err(f"{where}.input_size", f"the Primer uses 2, 10 or 100 inputs, got {b.input_size}")
        for field in ("iterations", "seeds"):
            for key in getattr(b, field):
                if key not in suite.profiles:
                    raise err(f"{where}.{field}.{key}",
                              f"unknown profile {key!r} (profiles: {', '.join(suite.profiles)})")
        own = b.threshold_policy
        for key, policy in (own.items() if isinstance(own, dict) else [(None, own)] if own else []):
            field = f"{where}.threshold_policy" + (f".{key}" if key is not None else "")
            if key is not None and key not in b.models:
                raise err(field, f"model {key!r} is not in this block (models: {', '.join(b.models)})")
            if policy not in THRESHOLD_POLICIES:
                raise err(field, f"unknown policy {policy!r}; expected one of {', '.join(THRESHOLD_POLICIES)}")
        if b.published is not None and isinstance(b.published.task, dict):
            for key in b.published.task:
                if key not in b.ranges:
                    raise err(f"{where}.published.task.{key}",
                              f"range {key!r} is not in this block (ranges: {', '.join(b.ranges) or 'none'})")

    for pname, p in suite.profiles.items():
        for j, g in enumerate(p.grid or ()):
            if g not in block_names:
                raise err(f"profiles.{pname}.grid[{j}]",
                          f"unknown block {g!r} (blocks: {', '.join(b.name for b in suite.grid)})")
        if p.grid is not None and not p.grid:
            raise err(f"profiles.{pname}.grid", "selects no block")
        if p.only is not None and not p.only:
            raise err(f"profiles.{pname}.only", "selects no cell")
        for j, text in enumerate(p.only or ()):
            try:
                parse_filter(text)
            except ConfigError as exc:
                raise err(f"profiles.{pname}.only[{j}]", str(exc).split(": ", 1)[-1]) from None
        for j, o in enumerate(p.overrides):
            try:
                parse_filter(o.only)
            except ConfigError as exc:
                raise err(f"profiles.{pname}.overrides[{j}].only", str(exc).split(": ", 1)[-1]) from None
            if not o.settings():
                raise err(f"profiles.{pname}.overrides[{j}]", "sets nothing (iterations, seeds or schedules)")

