"""Where scoring runs. ``local`` (the default) streams files through one process."""
