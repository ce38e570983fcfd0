"""ROCCH-EER, normalised DCF, Cllr and result reports."""
