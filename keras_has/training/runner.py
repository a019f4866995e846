"""The declarative recipe runner: a task states what is its own; one runner does the rest.

A recipe subclasses `Recipe`, says which data sets it has (and their defaults), its flags, how to
load data, build a model, make an epoch of training data, evaluate and draw:

    class Tiny(Recipe):
        prog = "python tiny.py"
        datasets = {"builtin": {"train": {"epochs": 3, "out": "runs/tiny"}}}
        metrics = [Metric("accuracy", "Top-1 accuracy")]

        def load(self, args): ...                     # -> an object with .num_train
        def build(self, args, data): ...              # -> a keras.Model (softmax outputs)
        def make_epoch(self, args, data, run, mean, seed): ...   # -> a batched tf.data.Dataset
        def evaluate(self, args, model, data, mean): ...         # -> {metric key: value}

    main = Tiny().main          # main(argv=None) -> {variant: results}

`main` does, in this order:
1. Flags, before TensorFlow is imported: --dataset (whose defaults choose the others'), the
   recipe's (`add_flags`), the HaS flags of `has_mode` (--has or --segment, --hide-prob),
   --variants and the training flags; then `check(args)`. A user's mistake (`FlagError`) is
   one line "prog: error: --flag: ..." and exit status 2.
2. `training.setup` (strategy, seeds, precision), the HaS flags by the layer's own rules (sizes
   up to `has_limit(args)`), `validate(args)`, then `load(args)`, the batch size against the
   training set, and the fill mean, computed once per data set and kept in --out/fill_mean.json
   under `mean_key(args)`.
3. Each variant of --variants (`variants`: the baseline, HaS, others a task needs) in its run
   folder --out/<name in lower case>, resumed or loaded when it is there: its identity is the
   flags without the runtime flags, the `evaluation_flags`, other variants' own flags, and
   the HaS flags when the variant does not hide (so a finished run is evaluated again with
   another threshold without training). Then `evaluate`, and its results.json.
4. The results table (each `Metric` in its unit), --out/results.json (every variant, the fill
   mean) and the `figure`. With TensorBoard installed and a `cam_batch`, each variant's
   logs/cams holds the CAMs of that batch after every epoch.

A task that trains each variant in several steps (pre-train a classifier, then fine-tune it as a
segmentation network) lists them in `stages`: each `Stage` trains in the variant's run folder's
subfolder of its name, with `build_stage` (given the models of the stages before), its own
training flags (`stage_flags`), examples (`train_size`) and loss (`compile_args`); HaS applies
in the stages that say so. A stage's identity leaves out the flags of the stages after it, so
changing the fine-tuning resumes from the pre-trained classifier. `evaluate` and `figure` then
get {stage name: model} for each variant.
"""

import argparse
import os
from typing import Any, ClassVar, NamedTuple

from keras_has.training import flags, has_flags
from keras_has.training.tables import Metric, metric_table


class Variant(NamedTuple):
    """A model a recipe trains: its name (the table's column; the run folder is the name in
    lower case), whether it trains with the HaS flags, and the dests of flags that only it
    uses (part of its identity alone)."""

    name: str
    hides: bool = False
    flags: tuple = ()


class Stage(NamedTuple):
    """One step of a variant's training (see the module docstring): its name (the subfolder),
    whether the variant's HaS applies in it, the dests of flags that only it uses, and the
    flag of its batch size when `stage_flags` changes it (None: --batch-size)."""

    name: str
    hides: bool = True
    flags: tuple = ()
    batch_flag: Any = None


class Run(NamedTuple):
    """One variant's training: the variant, its HaS sizes (None: no hiding), its folder; for a
    `Stage`, the stage and {stage name: model} of the stages before it."""

    variant: Variant
    patch_sizes: Any
    out: str
    stage: Any = None
    previous: Any = None


class Recipe:
    """A task for the runner (see the module docstring). Override what the task needs."""

    prog = None  # the command, e.g. "python -m keras_has.recipes.wsol"
    doc = ""  # --help's description (the first paragraph)
    # name -> defaults: {"train": training-flag defaults, "variants": names trained by
    # default, "has": the HaS sizes' default, and anything `add_flags` reads}.
    datasets: ClassVar[dict] = {"builtin": {}}
    dataset_help = "the data set."
    also = ()  # more flags read before the others' defaults (e.g. "--model")
    has_mode = "image"  # HideAndSeek mode of the HaS flags: "image" or "temporal"
    has_default = "32"
    variants = (Variant("Baseline"), Variant("HaS", hides=True))
    evaluation_flags = ()  # dests that change only evaluation: not part of a run's identity
    metrics = ()  # `Metric`s (or (key, label) pairs: percentages) of the results table
    examples = "training examples"  # what `load(...).num_train` counts
    loss = None  # Keras loss; None: sparse categorical cross-entropy on probabilities
    train_metrics = ("accuracy",)
    stages = ()  # `Stage`s of each variant's training; () trains one model in the run folder

    # -- what a task states ---------------------------------------------------------------

    def add_flags(self, parser, defaults, known):
        """Adds the recipe's own flags; `defaults`: the --dataset's, `known`: --dataset and
        the `also` flags as given."""

    def training_defaults(self, known):
        """The training flags' defaults for the flags `known` so far."""
        return self.datasets[known.dataset].get("train", {})

    def check(self, args):
        """Cheap checks of the parsed flags (no TensorFlow): raise `flags.FlagError`."""

    def has_limit(self, args):
        """The largest HaS size in pixels (steps): the value of the bounding flag (--crop,
        --num-steps) if the recipe has it, else None (the layer's own rules only)."""
        return getattr(args, has_flags.HAS_FLAGS[self.has_mode].bound[2:].replace("-", "_"), None)

    def validate(self, args):
        """Checks that need the library (after `setup`, before any data): FlagError."""

    def load(self, args):
        """The data: any object with `num_train` (training examples)."""
        raise NotImplementedError

    def mean_key(self, args):
        """What the fill mean depends on (a JSON dict): it is computed again when this changes."""
        return {"dataset": args.dataset}

    def compute_mean(self, args, data):
        """The training set's mean: the fill of hidden cells (an array)."""
        raise NotImplementedError

    def describe_mean(self, mean, data):
        """The line printed about the fill."""
        return f"fill: training-set mean of shape {tuple(mean.shape)}"

    def build(self, args, data):
        """A new model, called inside the strategy's scope after seeding with --seed."""
        raise NotImplementedError

    def make_epoch(self, args, data, run, mean, seed):
        """One epoch of training data (batched with --batch-size): `run.patch_sizes` (None: no
        hiding) and `run.variant` say what to apply; `seed` (--seed and the epoch) its order."""
        raise NotImplementedError

    def evaluate(self, args, model, data, mean):
        """{metric key: value} of a trained model ({stage name: model} with `stages`)."""
        raise NotImplementedError

    def training_stages(self, args):
        """The `Stage`s of each variant under these flags (default `stages`)."""
        return self.stages

    def build_stage(self, args, data, run):
        """A new model of `run.stage` (`run.previous`: the models of the stages before it)."""
        return self.build(args, data)

    def stage_flags(self, args, stage):
        """{training flag dest: value} that `stage` uses instead of the flags' (e.g. epochs)."""
        return {}

    def train_size(self, args, data, run):
        """The training examples of `run` (its stage's), which set the steps per epoch."""
        return data.num_train

    def compile_args(self, args, run):
        """(loss, metrics) of `run`'s training (its stage's)."""
        return self.loss, self.train_metrics

    def table_metrics(self, args):
        """The rows of the results table (default `metrics`); may depend on the flags."""
        return self.metrics

    def figure(self, args, models, data):
        """Draws the trained `models` {variant name: model}; returns the file's path or None."""

    def cam_batch(self, args, data):
        """(inputs, class ids (B,), uint8 pixels (B, H, W, 3) or None) whose CAMs TensorBoard
        shows after every epoch, or None (no CAM pictures)."""

    # -- what the runner does -------------------------------------------------------------

    def make_parser(self, argv=None):
        """The full parser: --dataset in `argv` (and the `also` flags) choose the defaults."""
        known, parser = flags.recipe_parser(
            self.doc, self.prog, self.datasets, self.dataset_help, argv, also=self.also
        )
        defaults = self.datasets[known.dataset]
        self.add_flags(parser, defaults, known)
        has_flags.add_has_flags(parser, self.has_mode, defaults.get("has", self.has_default))
        names = [v.name for v in self.variants]
        chosen = defaults.get("variants", names)
        parser.add_argument(
            "--variants",
            type=_variants_type(names),
            default=",".join(chosen),
            help=f"Models to train and compare, comma-separated, of {', '.join(names)}.",
        )
        flags.add_training_flags(parser, self.training_defaults(known))
        return parser

    def parse_args(self, argv=None):
        """The parsed flags, checked by `check` (FlagError); imports no TensorFlow."""
        args = flags.parse(self.make_parser(argv), argv)
        self.check(args)
        return args

    def main(self, argv=None):
        """Runs the recipe (see the module docstring); returns {variant: results}."""
        return flags.cli(self.prog)(self._main)(argv)

    def console(self):
        """Entry point of a console script: exit status 0 when results were made."""
        return 0 if self.main() else 1

    def _main(self, argv):
        args = self.parse_args(argv)
        from keras_has.training import run_files, strategies

        strategies.setup(args)
        sizes = has_flags.check_has_flags(args, self.has_mode, self.has_limit(args))
        self.validate(args)
        data = self.load(args)
        self._check_batch_sizes(args, data)
        key = {**self.mean_key(args), "recipe": self.prog}
        path = os.path.join(args.out, "fill_mean.json")
        mean = run_files.stored_mean(path, key, lambda: self.compute_mean(args, data))
        print(self.describe_mean(mean, data), flush=True)
        models, results = {}, {}
        cam_batch = self._cam_batch(args, data)  # one fixed batch for every variant's pictures
        for variant in (v for v in self.variants if v.name in args.variants.split(",")):
            run = Run(
                variant,
                sizes if variant.hides else None,
                os.path.join(args.out, variant.name.lower()),
            )
            models[variant.name] = self._train(args, run, data, mean, cam_batch)
            results[variant.name] = self.evaluate(args, models[variant.name], data, mean)
            run_files.write_results(run.out, results[variant.name])
        print(metric_table(results, self.table_metrics(args)), flush=True)
        if strategies.is_chief():
            summary = {"models": list(results), "fill_mean": mean, **results}
            written = run_files.write_results(args.out, summary)
            picture = self.figure(args, models, data)
            print(f"wrote {picture} and {written}" if picture else f"wrote {written}")
        return results

    def _check_batch_sizes(self, args, data):
        """FlagError unless each stage's (or the one) training set fills one of its batches."""
        for stage in self.training_stages(args) or (None,):
            if stage is None or stage.batch_flag is None:
                count = data.num_train if stage is None else self._size(args, data, stage)
                flags.check_batch_size(args, count, self.examples)
                continue
            batch, count = (
                self.stage_flags(args, stage)["batch_size"],
                self._size(args, data, stage),
            )
            if batch > count:
                raise flags.FlagError(
                    stage.batch_flag,
                    f"{batch} is larger than the {count} training examples of {stage.name}: an "
                    f"epoch would have no batch; use at most {count}",
                )

    def _size(self, args, data, stage):
        return self.train_size(args, data, Run(None, None, "", stage))

    def identity(self, args, run):
        """The run's identity (config.json): the flags that change what `run` trains."""
        from keras_has.training import run_files

        own = set(run.variant.flags)
        others = {f for v in self.variants for f in v.flags} - own
        later = set()
        if run.stage is not None:
            stages = self.training_stages(args)
            after = stages[[s.name for s in stages].index(run.stage.name) + 1 :]
            later = {f for s in after for f in s.flags}
        ignore = self._ignored() | others | later | self._has_dests(run)
        config = run_files.run_config(args, ignore=ignore)
        if run.patch_sizes is not None:
            config["patch_sizes"] = run.patch_sizes
        if run.stage is not None:
            config.update(stage=run.stage.name, **self.stage_flags(args, run.stage))
        return config

    def _ignored(self):
        return set(self.evaluation_flags) | {"variants"}

    def _has_dests(self, run):
        if run.variant.hides:
            return set()
        return {has_flags.HAS_FLAGS[self.has_mode].name[2:], "hide_prob"}

    def _cam_batch(self, args, data):
        """The recipe's `cam_batch` where pictures are written (the chief, with TensorBoard)."""
        from keras_has.training import loop, strategies

        if loop.tensorboard_installed() and strategies.is_chief():
            return self.cam_batch(args, data)
        return None

    def _train(self, args, run, data, mean, cam_batch):
        """The variant's trained model ({stage name: model} with `stages`)."""
        if not self.training_stages(args):
            return self._fit(args, run, data, mean, cam_batch)
        models = {}
        for stage in self.training_stages(args):
            staged = run._replace(
                patch_sizes=run.patch_sizes if stage.hides else None,
                out=os.path.join(run.out, stage.name),
                stage=stage,
                previous=dict(models),
            )
            models[stage.name] = self._fit(args, staged, data, mean, None)
        return models

    def _fit(self, args, run, data, mean, cam_batch):
        from keras_has.training import loop
        from keras_has.training.callbacks import CAMImages

        callbacks = []
        if cam_batch is not None:
            callbacks.append(CAMImages(os.path.join(run.out, "logs"), *cam_batch))
        overrides = self.stage_flags(args, run.stage) if run.stage is not None else {}
        run_args = argparse.Namespace(**{**vars(args), **overrides, "out": run.out})
        loss, metrics = self.compile_args(args, run)
        model, _ = loop.train(
            lambda: self.build_stage(args, data, run),
            lambda epoch: self.make_epoch(run_args, data, run, mean, args.seed * 1000 + epoch),
            run_args,
            steps_per_epoch=self.train_size(args, data, run) // run_args.batch_size,
            loss=loss,
            metrics=metrics,
            callbacks=callbacks,
            config=self.identity(args, run),
            ignored=self._ignored(),
            verbose=0,
        )
        return model


def _variants_type(names):
    """An argparse type: comma-separated variant names (any case), in `names`' order."""
    by_lower = {n.lower(): n for n in names}

    def parse(text):
        given = [t.strip().lower() for t in text.split(",") if t.strip()]
        unknown = [t for t in given if t not in by_lower]
        if unknown or not given:
            raise argparse.ArgumentTypeError(
                f"expected names of {', '.join(names)} separated by commas, got {text!r}"
            )
        return ",".join(n for n in names if n.lower() in given)

    parse.__name__ = "variant names"
    return parse


__all__ = ["Metric", "Recipe", "Run", "Stage", "Variant"]
