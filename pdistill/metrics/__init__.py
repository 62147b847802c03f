"""What a run reports: ``log`` (metrics.jsonl + TensorBoard events via ``tensorboard``),
``progress`` (the periodic progress line) and ``plot`` (comparison figures and tables)."""
