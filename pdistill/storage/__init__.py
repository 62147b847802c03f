"""What a run keeps on disk: config.json (``run_config``), the resumable state
(``checkpoints``) and the parameter trajectory (``trajectory``), the last two through Orbax
managers made in one place (``orbax_io``)."""
