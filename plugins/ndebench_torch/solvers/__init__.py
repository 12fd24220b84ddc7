"""ndebench's own batched adaptive explicit Runge-Kutta solvers (one loop, tableaus as data)."""
