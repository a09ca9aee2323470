def running_mean(values):
    """Return the list of running means of values: the i-th item is the mean of values[: i + 1]."""
