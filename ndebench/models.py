"""Model architectures as data. Backends build their networks from these specs.

A model is a set of named parts (``ModelSpec.parts``): e.g. ``vector_field`` for a neural ODE
on the state, plus ``encoder``/``head`` for classifiers, ``decoder`` for latent ODEs, ``drift``
and ``diffusion`` for SDEs. ``ModelSpec.kind`` tells the backend how the parts are wired:

- ``"node_trajectory"``: ``vector_field`` maps z (and t) to dz/dt; the prediction is the
  solution at the batch's times (regression of trajectories);
- ``"node_classifier"``: ``encoder`` -> ODE block (``vector_field``) -> ``head`` -> logits;
- ``"latent_ode"``: ``encoder`` reads an irregular, masked series -> (mu, log sigma^2) of z0,
  ``vector_field`` evolves z, ``decoder`` maps z(t_i) to observations;
- ``"sde_classifier"``: ``encoder`` -> SDE block (``drift``, ``diffusion``) -> ``head``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "softplus", "gelu", "identity")


@dataclass(frozen=True)
class Dense:
    """y = act(W [x, t] + b). ``time_input`` appends t to the input (in_features excludes it)."""

    in_features: int
    out_features: int
    activation: str = "identity"
    bias: bool = True
    time_input: bool = False

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not one of {ACTIVATIONS}")


@dataclass(frozen=True)
class MLP:
    layers: tuple[Dense, ...]

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
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self.layers[-1].out_features


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    parts: dict[str, MLP] = field(default_factory=dict)
    state_dim: int = 0
