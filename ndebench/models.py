"""Model architectures as data. Backends build their networks from these specs.

A model is a set of named parts (``ModelSpec.parts``), each a :class:`Chain` of layers, and
``ModelSpec.kind`` says how the parts are wired. Every backend implements each kind once:

- ``"node_trajectory"``: ``vector_field`` maps z (and t) to dz/dt; the prediction is the
  solution at the batch's times, shape (T, B, D) (regression of trajectories);
- ``"node_classifier"``: ``encoder`` (inputs -> z0, shape (B, D)) -> ODE block
  (``vector_field`` on the flat state over ``batch.times[0]..batch.times[-1]``) -> ``head``
  (z(t1) -> logits (B, K)). Only the ODE block's parameters are the solver's parameters;
  the encoder and head sit outside it (their gradients never enter an adjoint's state);
- ``"latent_ode"``: ``encoder`` reads an irregular, masked series -> (mu, log sigma^2) of z0,
  ``vector_field`` evolves z, ``decoder`` maps z(t_i) to observations;
- ``"sde_classifier"``: ``encoder`` -> SDE block (``drift``, diagonal ``diffusion``; Itô) ->
  ``head``; at prediction the logits are averaged over ``n_samples`` trajectories (the batch
  replicated, one joint solve); without a ``diffusion`` part the block is the drift's ODE;
- ``"sde_trajectory"``: the SDE block (``drift``, diagonal ``diffusion``; Itô) from z0 =
  inputs; the prediction is one sampled path per sample at the batch's times, (T, B, D);
- ``"classifier"``: ``encoder`` -> ``head`` with *no* differential-equation block: the block
  is the identity (z(t1) = z0, NFE 0). The DE-off reference of a classification task
  (:mod:`ndebench.tasks.classification`): the same encoder and head trained on the same budget.

The ODE state is always a flat (B, D) array, so every solver, adjoint and regularizer sees the
same shape whatever the network: a convolutional field starts with :class:`Reshape` to
(C, H, W) and ends with :class:`Flatten`.

Layers (all frozen dataclasses, parameters named ``"<part>.<layer index>.<name>"``, see
:mod:`ndebench.init`):

- :class:`Dense` ``act(W [x, t] + b)``; :class:`Conv2d` ``act(conv(W, [x, t]) + b)`` where
  ``time_input`` appends t as one more constant input channel (the "concat with time" of the
  papers' time-dependent layers);
- :class:`BatchNorm` (batch statistics, see its docstring), :class:`GroupNorm`;
- :class:`Flatten`, :class:`Reshape`, :class:`Activation`;
- :class:`Concat`: channel concatenation of branches (an empty branch is the identity);
- :class:`GRUCell`: one GRU update ``h' = GRU(x, h)`` with PyTorch's gate equations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "softplus", "gelu", "identity")


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not one of {ACTIVATIONS}")


@dataclass(frozen=True)
class Dense:
    """y = act(W [x, t] + b). ``time_input`` appends t to the input (in_features excludes it)."""

    in_features: int
    out_features: int
    activation: str = "identity"
    bias: bool = True
    time_input: bool = False

    def __post_init__(self) -> None:
        _check_activation(self.activation)


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution on (B, C, H, W), stride 1, zero padding ``padding`` (default "same" for
    odd kernels); ``time_input`` appends a constant channel holding t (in_channels excludes
    it). Weight shape (out, in [+1], k, k), PyTorch's layout."""

    in_channels: int
    out_channels: int
    kernel_size: int = 3
    padding: int = 1
    activation: str = "identity"
    bias: bool = True
    time_input: bool = False

    def __post_init__(self) -> None:
        _check_activation(self.activation)


@dataclass(frozen=True)
class BatchNorm:
    """Normalization per channel (axis 1) with the statistics of the batch it is applied to,
    in training *and* in prediction, then ``weight * x + bias`` and ``activation``.

    Inside an ODE vector field a batch norm is evaluated at every stage of every step; running
    statistics would be updated once per function evaluation (so their value would depend on
    the solver's NFE) and differ between backends. Batch statistics make the field a pure
    function of (t, z, weights) on both backends, at the price of predictions depending on the
    test batch (the whole test set here, fixed per task)."""

    num_features: int
    eps: float = 1e-5
    activation: str = "identity"

    def __post_init__(self) -> None:
        _check_activation(self.activation)


@dataclass(frozen=True)
class GroupNorm:
    """Normalization over groups of channels per sample (stateless), then affine and act."""

    num_groups: int
    num_channels: int
    eps: float = 1e-5
    activation: str = "identity"

    def __post_init__(self) -> None:
        _check_activation(self.activation)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: {self.num_channels} channels in {self.num_groups} groups")


@dataclass(frozen=True)
class Flatten:
    """(B, ...) -> (B, prod(...))."""


@dataclass(frozen=True)
class Reshape:
    """(B, D) -> (B, *shape)."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class Activation:
    name: str

    def __post_init__(self) -> None:
        _check_activation(self.name)


@dataclass(frozen=True)
class GRUCell:
    """PyTorch's ``nn.GRUCell``: r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h. Parameters
    ``weight_ih`` (3H, in), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,), gates in
    the order r, z, n."""

    input_size: int
    hidden_size: int


@dataclass(frozen=True)
class Concat:
    """Concatenation along axis 1 (channels or features) of the outputs of ``branches`` applied
    to the same input; an empty branch passes the input through."""

    branches: tuple[Chain, ...]


Layer = Dense | Conv2d | BatchNorm | GroupNorm | Flatten | Reshape | Activation | GRUCell | Concat


@dataclass(frozen=True)
class Chain:
    """Layers applied in order; the time t reaches every layer with ``time_input``."""

    layers: tuple[Layer, ...] = ()

    @property
    def time_input(self) -> bool:
        return any(getattr(layer, "time_input", False) for layer in self.layers)


@dataclass(frozen=True)
class MLP(Chain):
    """A chain of :class:`Dense` layers."""

    @classmethod
    def of(
        cls,
        sizes: tuple[int, ...] | list[int],
        activation: str = "tanh",
        final_activation: str = "identity",
        time_input: bool = False,
    ) -> MLP:
        n = len(sizes) - 1
        return cls(
            tuple(
                Dense(
                    sizes[i],
                    sizes[i + 1],
                    activation if i < n - 1 else final_activation,
                    time_input=time_input,
                )
                for i in range(n)
            )
        )

    @property
    def in_features(self) -> int:
        first = self.layers[0]
        assert isinstance(first, Dense)
        return first.in_features

    @property
    def out_features(self) -> int:
        last = self.layers[-1]
        assert isinstance(last, Dense)
        return last.out_features


#: the model kinds and the parts each needs (others are an error)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required parts, optional parts)
    "node_trajectory": (("vector_field",), ()),
    "node_classifier": (("vector_field", "head"), ("encoder",)),
    "latent_ode": (("encoder", "vector_field", "decoder"), ()),
    # no diffusion part: zero diffusion (the SDE block is the drift's ODE)
    "sde_classifier": (("drift", "head"), ("encoder", "diffusion")),
    "sde_trajectory": (("drift", "diffusion"), ()),
    # no differential-equation block: the identity in its place
    "classifier": (("head",), ("encoder",)),
}

#: the parts that form the differential-equation block of each kind: the only parameters a
#: solver or adjoint ever sees
BLOCK_PARTS: dict[str, tuple[str, ...]] = {
    "node_trajectory": ("vector_field",),
    "node_classifier": ("vector_field",),
    "latent_ode": ("vector_field",),
    "sde_classifier": ("drift", "diffusion"),
    "sde_trajectory": ("drift", "diffusion"),
    "classifier": (),
}

#: the kinds whose block is an SDE (``drift`` and, optionally, ``diffusion``)
SDE_KINDS: frozenset[str] = frozenset({"sde_classifier", "sde_trajectory"})


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    parts: dict[str, Chain] = field(default_factory=dict)
    state_dim: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind {self.kind!r} is not one of {sorted(KINDS)}")
        required, optional = KINDS[self.kind]
        missing = [p for p in required if p not in self.parts]
        extra = [p for p in self.parts if p not in required and p not in optional]
        if missing or extra:
            raise ValueError(
                f"model kind {self.kind!r} needs parts {list(required)} (optional "
                f"{list(optional)}); missing {missing}, unexpected {extra}"
            )

    @property
    def block_parts(self) -> tuple[str, ...]:
        """The parts whose parameters are the differential equation's (see BLOCK_PARTS)."""
        return BLOCK_PARTS[self.kind]
