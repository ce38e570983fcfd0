"""Linear logistic-regression calibration and greedy fusion."""
