"""Regularizers: step observers (ERNODE/SRNODE, biased local sampling) or owners of the
training solve (local fresh step, STEER times, TayNODE/RNODE augmented states) giving R."""
