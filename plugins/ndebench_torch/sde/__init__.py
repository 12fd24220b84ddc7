"""ndebench's own batched adaptive stochastic Runge-Kutta solvers (Rößler's SRI family, Itô,
diagonal noise), their Brownian path and the counted SDE field."""
