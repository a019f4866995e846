"""Training with Hide-and-Seek the way the recipes do: flags, strategies, optimizers, run files,
callbacks, the resumable training loop, and the declarative recipe runner.

- `flags`, `has_flags`: command lines (no TensorFlow at import): flag types, the training and
  HaS flags, one-line `FlagError`s (`flags.cli`).
- `strategies`: `setup(args)` (call first), `make_strategy`, `is_chief`.
- `optimizers`: `LRSchedule`, `make_optimizer` (decoupled weight decay, kernels only).
- `run_files`: atomic writes, a run's identity (config.json), results.json, the fill mean.
- `callbacks`: the kill-proof backup, epoch checkpoints, the CSV log, CAM pictures.
- `loop`: `train(build_model, train_data, args)`, resuming or loading the run in --out.
- `runner`: `Recipe`, `Variant`, `Metric`: a task states its data, model, epoch data,
  evaluation and figure; `Recipe.main` does the rest (docs/training.md).

Names are imported on first use, so a script's flags parse before TensorFlow starts.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=[
        "callbacks",
        "flags",
        "has_flags",
        "loop",
        "optimizers",
        "run_files",
        "runner",
        "strategies",
        "tables",
        "workarounds",
    ],
    submod_attrs={
        "flags": ["FlagError", "cli", "add_training_flags"],
        "has_flags": ["add_has_flags", "check_has_flags"],
        "strategies": ["setup", "make_strategy", "is_chief"],
        "optimizers": ["LRSchedule", "make_optimizer"],
        "run_files": ["run_config", "read_json", "write_json", "write_results", "stored_mean"],
        "loop": ["train"],
        "tables": ["Metric", "metric_table"],
        "runner": ["Recipe", "Run", "Variant"],
    },
)
