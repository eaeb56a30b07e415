"""The unit contract, checked for every registered unit: construction, device/dtype, state_dict,
regularizers, projection, effective weights and sparsity error, stacked runs, train/eval,
gradcheck, fuzzing inside the documented domain, and torch.compile."""

from __future__ import annotations

import pytest
import torch

import nalm
from nalm.units import ArithmeticUnit, sparsity_distance, sparsity_error

from .helpers import (
    DOMAINS,
    all_finite,
    domain_inputs,
    make,
    moderate_inputs,
    set_params,
    stack_units,
)

UNITS = nalm.available_units()
REGULARIZER_NAMES = {"sparsity", "l1", "inalu", "npu_weight", "npu_gate", "oob"}
# Units whose training-mode forward differs from eval mode (documented); all others must agree.
TRAIN_DIFFERS = {"snmu", "nru", "nmru"}
# Units whose training-mode forward draws random noise.
STOCHASTIC_TRAIN = {"snmu"}
I, O = 3, 2


def test_every_unit_in_the_brief_is_registered():
    expected = {
        "nac", "nac_mul", "nalu", "nau", "nmu", "snmu", "gnalu", "inalu", "npu", "real_npu",
        "naive_npu", "nru", "nmru", "nac_mul_sigma", "nac_mul_nmu", "gated_nau_nmu", "linear",
        "relu", "relu6",
    }
    assert expected <= set(UNITS)
    assert set(DOMAINS) == set(UNITS), "every unit needs a documented fuzz domain in helpers.DOMAINS"


@pytest.mark.parametrize("name", UNITS)
def test_create_sizes_and_repr(name):
    unit = make(name, I, O)
    assert isinstance(unit, ArithmeticUnit)
    assert (unit.in_features, unit.out_features) == (I, O)
    assert f"in_features={I}, out_features={O}" in unit.extra_repr()
    assert unit.extra_repr() in repr(unit)
    with pytest.raises(ValueError):
        nalm.create(name, 0, O)


@pytest.mark.parametrize("name", UNITS)
def test_device_and_dtype_kwargs(name):
    unit = nalm.create(name, I, O, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in unit.parameters())
    x = torch.rand(4, I, dtype=torch.float64) + 0.5
    assert unit.eval()(x).dtype == torch.float64
    meta = nalm.create(name, I, O, device="meta")
    assert all(p.device.type == "meta" for p in meta.parameters())


@pytest.mark.parametrize("name", UNITS)
def test_state_dict_round_trip(name):
    a, b = make(name, I, O, seed=0).eval(), make(name, I, O, seed=1).eval()
    x = torch.rand(8, I) + 0.5
    assert not torch.equal(a(x), b(x))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    assert a.state_dict().keys() == dict(a.named_parameters()).keys()


@pytest.mark.parametrize("name", UNITS)
def test_regularizers_are_named_unscaled_scalars(name):
    unit = make(name, I, O)
    terms = unit.regularizers()
    assert set(terms) <= REGULARIZER_NAMES
    for term in terms.values():
        assert term.shape == () and torch.isfinite(term) and term.requires_grad
        assert term >= 0


@pytest.mark.parametrize("name", UNITS)
def test_project_is_in_place_and_idempotent(name):
    unit = make(name, I, O)
    with torch.no_grad():
        for p in unit.parameters():
            p.mul_(4)  # push parameters out of any projection range
    ids = {n: id(p) for n, p in unit.named_parameters()}
    unit.project_()
    once = {n: p.detach().clone() for n, p in unit.named_parameters()}
    unit.project_()
    for n, p in unit.named_parameters():
        assert id(p) == ids[n] and p.is_leaf and p.grad_fn is None
        torch.testing.assert_close(p.detach(), once[n], rtol=0, atol=0)


@pytest.mark.parametrize("name", UNITS)
def test_effective_weights_and_sparsity_error(name):
    unit = make(name, I, O)
    weights = unit.effective_weights()
    assert weights
    worst = max(sparsity_distance(w).max().item() for w in weights.values())
    for w in weights.values():
        assert w.dim() == 2 and w.shape[0] == O
    error = sparsity_error(unit)
    assert error.shape == () and error.item() == pytest.approx(worst)
    # Inside a container every unit counts.
    other = make(name, O, 1, seed=1)
    both = torch.nn.Sequential(unit, other)
    assert sparsity_error(both).item() == pytest.approx(max(worst, sparsity_error(other).item()))


@pytest.mark.parametrize("name", UNITS)
def test_train_eval_difference_is_documented(name):
    unit = make(name, I, O)
    x = torch.rand(16, I) + 0.5
    if name == "nru":
        set_params(unit, W=[[0.5, -0.3, 0.0], [0.2, 0.7, -0.6]])
    y_train, y_eval = unit.train()(x), unit.eval()(x)
    if name in TRAIN_DIFFERS:
        assert not torch.equal(y_train, y_eval)
    else:
        torch.testing.assert_close(y_train, y_eval, rtol=0, atol=0)


@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("training", [True, False])
def test_forward_does_not_mutate_input(name, training):
    unit = make(name, I, O).train(training)
    x = torch.rand(8, I) * 4 - 2
    before = x.clone()
    unit(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("training", [True, False])
def test_stacked_runs_equal_separate_runs(name, training):
    if training and name in STOCHASTIC_TRAIN:
        pytest.skip("noise is drawn per call; covered in eval mode and in test_snmu")
    units = [make(name, I, O, seed=s) for s in range(3)]
    stacked = stack_units(units)
    for p, u in zip(stacked.parameters(), units[0].parameters()):
        assert p.shape == (3, *u.shape)
    gen = torch.Generator().manual_seed(0)
    x = moderate_inputs((3, 5, I), gen=gen, dtype=torch.float32)
    for m in (stacked, *units):
        m.train(training)
    expected = torch.stack([u(x[s]) for s, u in enumerate(units)])
    torch.testing.assert_close(stacked(x), expected, rtol=1e-6, atol=1e-6)

    separate = [u.regularizers() for u in units]
    for key, value in stacked.regularizers().items():
        assert value.shape == (3,)
        torch.testing.assert_close(value, torch.stack([r[key] for r in separate]))
    torch.testing.assert_close(sparsity_error(stacked), torch.stack([sparsity_error(u) for u in units]))

    with torch.no_grad():
        for m in (stacked, *units):
            for p in m.parameters():
                p.mul_(4)
    for m in (stacked, *units):
        m.project_()
    for (n, p) in stacked.named_parameters():
        torch.testing.assert_close(p.detach(), torch.stack([u.get_parameter(n).detach() for u in units]))


def _gradcheck_unit(name: str) -> ArithmeticUnit:
    unit = make(name, I, O, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    if name == "nru":
        # tanh(1000·W)² has enormous curvature near W = 0; keep |W| away from it.
        magnitude = 0.2 + 0.7 * torch.rand(O, I, generator=gen, dtype=torch.float64)
        set_params(unit, W=magnitude * torch.tensor([[1, -1, 1], [-1, 1, -1]]))
    if name in {"npu", "real_npu"}:
        set_params(unit, g=0.2 + 0.6 * torch.rand(I, generator=gen, dtype=torch.float64))
    if name in {"npu", "naive_npu"}:
        set_params(unit, W_im=torch.rand(O, I, generator=gen, dtype=torch.float64) - 0.5)
    return unit


@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_float64(name, training):
    unit = _gradcheck_unit(name).train(training)
    names = [n for n, _ in unit.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in unit.parameters())
    x = moderate_inputs((4, I), gen=torch.Generator().manual_seed(2)).requires_grad_()

    def f(x, *ps):
        with torch.random.fork_rng():
            torch.manual_seed(0)  # sNMU's training noise must be the same at every evaluation
            return torch.func.functional_call(unit, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


FUZZ_TRIALS = 40
FUZZ_BATCH = 16
fuzz_counts: dict[str, int] = {}


def _fuzz_parameters(unit: ArithmeticUnit, trial: int, gen: torch.Generator) -> None:
    """Parameters inside the unit's range: its own init, raw values in [−1, 1], or the discrete
    values {−1, 0, 1} — then projected as a training step would."""
    torch.manual_seed(trial)
    unit.reset_parameters()
    with torch.no_grad():
        for p in unit.parameters():
            if trial % 3 == 1:
                p.copy_(torch.rand(p.shape, generator=gen) * 2 - 1)
            elif trial % 3 == 2:
                p.copy_(torch.randint(-1, 2, p.shape, generator=gen).to(p.dtype))
    unit.project_()


@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fuzz_outputs_and_gradients_finite(name, dtype):
    domain = DOMAINS[name]
    huge, tiny = (domain.huge32, domain.tiny32) if dtype == torch.float32 else (1e30, 1e-30)
    unit = nalm.create(name, I, O, dtype=dtype)
    gen = torch.Generator().manual_seed(1234)
    tried = 0
    for trial in range(FUZZ_TRIALS):
        _fuzz_parameters(unit, trial, gen)
        for training in (True, False):
            unit.train(training)
            zero = domain.zero_train if training else domain.zero_eval
            x = domain_inputs((FUZZ_BATCH, I), zero=zero, huge=huge, tiny=tiny, gen=gen, dtype=dtype)
            x.requires_grad_()
            y = unit(x)
            unit.zero_grad(set_to_none=True)
            y.sum().backward()
            grads = [x.grad, *(p.grad for p in unit.parameters())]
            assert all_finite([y]), (trial, training, x, y)
            assert all_finite(grads), (trial, training, x, grads)
            tried += FUZZ_BATCH
    fuzz_counts[f"{name}/{dtype}"] = tried
    print(f"fuzz {name} {dtype}: {tried} inputs (huge={huge:g}, tiny={tiny:g})")
    assert tried == FUZZ_TRIALS * 2 * FUZZ_BATCH


@pytest.mark.parametrize("name", ["nau", "nmu", "snmu", "nru", "nmru", "nac_mul_nmu"])
def test_the_reference_codes_oob_spelling_is_an_alias(name: str) -> None:
    """``"regualized"`` (the reference code's typo) builds the same unit as ``"regularized"``."""
    torch.manual_seed(0)
    typo = nalm.create(name, 3, 2, oob_mode="regualized")
    torch.manual_seed(0)
    right = nalm.create(name, 3, 2, oob_mode="regularized")
    assert typo.oob_mode == right.oob_mode == "regularized"
    assert set(typo.regularizers()) == set(right.regularizers()) == {"oob", "sparsity"}
    for a, b in zip(typo.parameters(), right.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="oob_mode"):
        nalm.create(name, 3, 2, oob_mode="regularised")
