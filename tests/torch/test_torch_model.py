"""The model's modules as functions of given parameters (what torch.func differentiates)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.model import ChainModule, functional  # noqa: E402

from ndebench import models as m  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64


def conv_chain() -> ChainModule:
    """Every parametrized layer kind a field uses, nested Concat branches included."""
    branch = m.Chain((m.Conv2d(3, 2, time_input=True), m.GroupNorm(1, 2, activation="tanh")))
    chain = m.Chain(
        (
            m.Conv2d(2, 3, activation="relu", time_input=True),
            m.Concat((branch, m.Chain())),
            m.BatchNorm(5, activation="softplus"),
            m.Conv2d(5, 2, bias=False),
        )
    )
    torch.manual_seed(0)
    module = ChainModule(chain).to(F64)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return module


def test_functional_chain_is_forward_with_the_given_parameters():
    module = conv_chain()
    names = [n for n, _ in module.named_parameters()]
    assert any(".branches." in n for n in names)
    params = {n: p.detach() for n, p in module.named_parameters()}
    x, t = torch.randn(4, 2, 5, 5, dtype=F64), torch.tensor(0.3, dtype=F64)
    with torch.no_grad():
        ref = module(x, t)
        assert torch.equal(functional(module)(params)(x, t), ref)
        # other tensors in their place: another output (the cached closures are not used)
        doubled = {n: 2 * p for n, p in params.items()}
        assert not torch.allclose(functional(module)(doubled)(x, t), ref)


@pytest.mark.parametrize("kind", ["chain", "other_module"])
def test_functional_vjp_equals_autograd(kind):
    """torch.func.vjp through the function of the parameters gives autograd's gradients of
    the module (the model's own module, and any other through functional_call)."""
    module = conv_chain() if kind == "chain" else torch.nn.Conv2d(2, 3, 3, dtype=F64)
    names = [n for n, _ in module.named_parameters()]
    x = torch.randn(4, 2, 5, 5, dtype=F64, requires_grad=True)
    t = torch.tensor(0.3, dtype=F64) if kind == "chain" else None
    out = module(x, t) if t is not None else module(x)
    cot = torch.randn_like(out)
    ref = torch.autograd.grad(out, [x, *module.parameters()], cot)
    of = functional(module)

    def fn(x: torch.Tensor, ps: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return of(dict(zip(names, ps, strict=True)))(x, t)

    _, vjp = torch.func.vjp(fn, x.detach(), tuple(p.detach() for p in module.parameters()))
    gx, gps = vjp(cot)
    for a, b in zip((gx, *gps), ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
