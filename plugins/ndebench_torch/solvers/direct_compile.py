"""A function of tensors compiled by inductor and called without dynamo, for calls without
gradient.

``torch.compile`` calls a compiled function through dynamo's frame evaluation: every call
checks its guards (every input's shape, stride, dtype and device, and the closure's modules
and parameters) before the generated code runs. In the checkpointed adjoint's compiled spiral
training step (batch 64) that wrapper's own time was about 96 us per call (``cProfile``), and
a prototype of this module called the fused step VJP in 352-361 us against 427-461 us
through ``torch.compile``, values bit for bit the same. Where no
gradient is taken (prediction, the ``checkpointed`` adjoint's forward solve and its fused step
VJPs) nothing of dynamo's is needed: the function is traced once per input signature by
``make_fx`` (ATen operations on fake tensors: no data touched) and the graph handed to
inductor (``torch._inductor.compile``: the same code generation and the same FX graph cache as
``torch.compile``'s), and later calls go straight to the generated code.

The guards become one key per call: each input's shape, stride, dtype, device and
``requires_grad`` (inductor
generates code for the traced strides; with ``size_asserts`` off nothing else checks them).
Everything else the function reads is fixed when it is made: its constants (tableau,
tolerances) and the structure of the module it evaluates; the module's parameters are inputs.
Inputs must not require gradient (the graph has no backward): a call with one that does is a
``ValueError``, not a silently wrong gradient. One tensor may be passed at several positions
(the graph reads its inputs, it writes none): the function is traced on distinct copies.

``backend="aot_eager"`` (tests): the traced graph runs as is, without code generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.fx.experimental.proxy_tensor import make_fx


class DirectCompiled:
    """``fn(*tensors) -> tuple of tensors``, compiled per input signature, called directly."""

    def __init__(
        self,
        fn: Callable[..., Sequence[torch.Tensor]],
        backend: str = "inductor",
        options: dict[str, Any] | None = None,
    ) -> None:
        self.fn = fn
        self.backend = backend
        self.options = options
        self._compiled: dict[tuple[Any, ...], Callable[..., Sequence[torch.Tensor]]] = {}

    def __call__(self, *inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        key = tuple((x.shape, x.stride(), x.dtype, x.device, x.requires_grad) for x in inputs)
        compiled = self._compiled.get(key)
        if compiled is None:
            if any(x.requires_grad for x in inputs):
                raise ValueError("DirectCompiled: an input requires grad; this graph has none")
            compiled = self._compiled[key] = self._compile(inputs)
        return compiled(*inputs)

    def _compile(self, inputs: Sequence[torch.Tensor]) -> Callable[..., Sequence[torch.Tensor]]:
        # traced on copies: make_fx gives one tensor passed twice one placeholder, and the
        # graph would read that position for both in every later call (same strides)
        examples = [
            torch.empty_strided(x.size(), x.stride(), dtype=x.dtype, device=x.device).copy_(x)
            for x in inputs
        ]
        with torch.no_grad():
            graph = make_fx(self.fn, tracing_mode="fake")(*examples)
        if self.backend != "inductor":
            return graph  # type: ignore[no-any-return]
        from torch._inductor import compile as inductor_compile

        return inductor_compile(graph, examples, options=self.options)  # type: ignore[no-any-return]
