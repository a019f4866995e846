"""Runnable recipes: `python -m keras_has.recipes.<name> --help`."""
