"""Score calibration (linear, on a transformed cosine, PAV) and greedy fusion."""
