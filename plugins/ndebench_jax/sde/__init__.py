"""diffrax's SDE solvers on Itô SDEs with diagonal noise (VirtualBrownianTree paths)."""
