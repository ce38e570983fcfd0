"""Training-free video back-ends v1-v9 and score normalisation."""
