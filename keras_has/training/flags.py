"""Command lines of training scripts: flag types, parsers, the training flags, one-line errors.

Imports no TensorFlow, so `--help` and a bad flag answer at once; a script imports TensorFlow,
Keras and the rest of keras_has after `parse`:

    @flags.cli(PROG)                   # a FlagError ends it: "PROG: error: --flag: ...", exit 2
    def main(argv=None):
        known, parser = flags.recipe_parser(__doc__, PROG, DATASET_DEFAULTS, "...", argv)
        flags.add_dataset_flag(parser, ("builtin",), "--images", type=int, help="...")
        has_flags.add_has_flags(parser, "image", default="32")
        flags.add_training_flags(parser, {"epochs": 20})
        args = flags.parse(parser, argv)   # warns about given flags that --dataset does not use
        flags.check_batch_size(args, args.images, "images")   # what is cheap: FlagError
        from keras_has import training                         # now TensorFlow
        training.setup(args)
        with flags.flag_errors("--labels", LabelsFileError):  # a reader's specific error
            labels = read_labels(args.labels)

Errors the user can fix are `FlagError`s, printed in one line; anything else is a bug and keeps
its traceback. `keras_has.training.runner` does all of this for a declarative `Recipe`.
"""

import argparse
import contextlib
import functools
import math
import os
import sys

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")


SCHEDULES = ("exponential", "cosine", "step", "constant")


OPTIMIZERS = ("sgd", "adam")


PRECISIONS = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


# Flags that say where and how a run executes, not what it computes: not part of its identity.
RUNTIME_FLAGS = frozenset({"out", "overwrite", "strategy", "deterministic", "keep_checkpoints"})


DEFAULTS = {
    "epochs": 30,
    "batch_size": 64,
    "lr": 0.01,
    "lr_end": 1e-4,
    "lr_schedule": "exponential",
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "strategy": "auto",
    "mixed_precision": "off",
    "xla": False,
    "out": "runs/run",
    "seed": 0,
    "deterministic": False,
    "keep_checkpoints": 2,
    "overwrite": False,
}


class FlagError(ValueError):
    """A flag's value that cannot work (the user's to fix): `flag` and what is wrong."""

    def __init__(self, flag, message):
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def cli(prog):
    """Decorates a recipe's `main(argv)`: a FlagError ends it with one line
    `prog: error: --flag: ...` on stderr and exit status 2 (as argparse's errors)."""

    def decorate(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except FlagError as error:
                print(f"{prog}: error: {error}", file=sys.stderr, flush=True)
                sys.exit(2)

        return run

    return decorate


@contextlib.contextmanager
def flag_errors(flag, *errors):
    """An error of the types `errors` raised inside becomes a FlagError of `flag`: for readers
    that raise their own, specific errors about what a flag named (a folder, a file)."""
    try:
        yield
    except errors as error:
        raise FlagError(flag, str(error)) from error


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout; every flag's help says its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: {'none' if action.default is None else '%(default)s'})"


# ---------------------------------------------------------------------------------------------
# Value types


def _number(kind, text):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def positive(kind):
    """An argparse type: a `kind` (int or float) > 0."""

    def parse(text):
        value = _number(kind, text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def non_negative(kind):
    """An argparse type: a `kind` (int or float) >= 0."""

    def parse(text):
        value = _number(kind, text)
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    parse.__name__ = f"non-negative {kind.__name__}"
    return parse


def fraction(text):
    """An argparse type: a float in [0, 1]."""
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def fractions(text):
    """An argparse type: increasing fractions in (0, 1), comma-separated (a list of floats)."""
    try:
        values = [float(t) for t in text.split(",")]
    except ValueError:
        values = []
    if not values or values != sorted(set(values)) or not 0 < values[0] <= values[-1] < 1:
        raise argparse.ArgumentTypeError(
            f"expected increasing fractions in (0, 1) separated by commas, got {text!r}"
        )
    return values


def add_milestones_flag(parser, default):
    """Adds --lr-milestones (the step schedule's drop points), for recipes whose papers
    drop at fixed fractions of training (He et al.: 0.5,0.75)."""
    parser.add_argument(
        "--lr-milestones",
        type=fractions,
        default=default,
        help="--lr-schedule step: drop the rate by equal factors (from --lr to --lr-end) at "
        "these fractions of training, comma-separated.",
    )


def _momentum(text):
    value = non_negative(float)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


# ---------------------------------------------------------------------------------------------
# Parsers


def recipe_parser(doc, prog, datasets, dataset_help, argv=None, also=()):
    """The first stage of a recipe's flags, whose other defaults depend on the data set.

    Returns (known, parser): `known` holds --dataset (default "builtin", one of `datasets`) and
    the `also` flags (default None) as `argv` gives them; `parser` is the recipe's full parser
    (`prog`, e.g. "python -m keras_has.recipes.wsol"; description: `doc`'s first paragraph; every
    default shown), --dataset already added with `dataset_help`.
    """
    first = argparse.ArgumentParser(prog=prog, add_help=False)
    first.add_argument("--dataset", default="builtin", choices=sorted(datasets))
    for flag in also:
        first.add_argument(flag, default=None)
    known, _ = first.parse_known_args(argv)
    parser = argparse.ArgumentParser(
        prog=prog, description=doc.split("\n\n")[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--dataset", default="builtin", choices=sorted(datasets), help=dataset_help)
    return known, parser


def add_dataset_flag(parser, datasets, *names, help, **kwargs):
    """Adds a flag that only `datasets` use: its help says so, and `parse` warns (one line)
    when it is given with another --dataset."""
    action = parser.add_argument(*names, help=f"{', '.join(datasets)}: {help}", **kwargs)
    action.datasets = tuple(datasets)
    return action


_UNSET = object()


def parse(parser, argv=None):
    """`parser.parse_args(argv)`; a flag of `add_dataset_flag` given with a --dataset that
    does not use it gets a one-line warning on stderr (its value is ignored)."""
    args = parser.parse_args(argv)
    only = [a for a in parser._actions if hasattr(a, "datasets")]
    given = parser.parse_args(argv, argparse.Namespace(**{a.dest: _UNSET for a in only}))
    for action in only:
        if getattr(given, action.dest) is not _UNSET and args.dataset not in action.datasets:
            print(
                f"{parser.prog}: warning: {action.option_strings[0]} is for --dataset "
                f"{' or '.join(action.datasets)}, not {args.dataset}; ignored",
                file=sys.stderr,
                flush=True,
            )
    return args


def add_training_flags(parser, defaults=None):
    """Adds the training flags to `parser`, with the recipe's `defaults` (dests as keys).

    `defaults` overrides `DEFAULTS`, e.g. `{"epochs": 30, "batch_size": 64, "lr": 0.01}`; an
    unknown key is an error. Returns the argument group.
    """
    defaults = dict(defaults or {})
    unknown = sorted(set(defaults) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown training defaults {unknown}; known: {sorted(DEFAULTS)}")
    d = {**DEFAULTS, **defaults}
    group = parser.add_argument_group("training (keras_has.training)")
    _add_optimization_flags(group.add_argument, d)
    _add_run_flags(group.add_argument, d)
    return group


def _add_optimization_flags(add, d):
    add("--epochs", type=positive(int), default=d["epochs"], help="Epochs to train.")
    add(
        "--batch-size",
        type=positive(int),
        default=d["batch_size"],
        help="GLOBAL batch size, over all replicas and workers; each replica gets "
        "batch-size / replicas.",
    )
    add("--lr", type=positive(float), default=d["lr"], help="Initial learning rate.")
    add(
        "--lr-end",
        type=positive(float),
        default=d["lr_end"],
        help="Learning rate at the last step (not above --lr; ignored by 'constant').",
    )
    add(
        "--lr-schedule",
        choices=SCHEDULES,
        default=d["lr_schedule"],
        help="How the rate goes from --lr at step 0 to --lr-end at the last step: exponential "
        "(geometric, every step), cosine, step (drops by 10x, or equal factors, at equally "
        "spaced points: round(log10(lr / lr-end)) drops), constant (--lr).",
    )
    add(
        "--optimizer",
        choices=OPTIMIZERS,
        default=d["optimizer"],
        help="sgd (with --momentum; the paper's) or adam (Keras defaults but the rate).",
    )
    add(
        "--momentum",
        type=_momentum,
        default=d["momentum"],
        help="SGD momentum (not used by adam).",
    )
    add(
        "--weight-decay",
        type=non_negative(float),
        default=d["weight_decay"],
        help="Keras's decoupled weight decay (w -= lr * wd * w each step; not L2 in the loss), "
        "on kernels only, not on biases and batch-norm parameters.",
    )


def _add_run_flags(add, d):
    add(
        "--strategy",
        choices=STRATEGIES,
        default=d["strategy"],
        help="tf.distribute strategy. auto: multiworker if TF_CONFIG names several tasks, else "
        "a TPU if one resolves, else mirrored over several GPUs, else default (one device). "
        "mirrored: all GPUs (or all logical CPUs). multiworker: MultiWorkerMirroredStrategy "
        "from TF_CONFIG.",
    )
    add(
        "--mixed-precision",
        choices=tuple(PRECISIONS),
        default=d["mixed_precision"],
        help="Keras mixed-precision policy: off (float32), float16 (mixed_float16, with loss "
        "scaling; slow on CPUs), bfloat16 (mixed_bfloat16).",
    )
    add(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=d["xla"],
        help="Compile the train step with XLA (jit_compile).",
    )
    add(
        "--out",
        default=d["out"],
        help="Run directory: config, backup, checkpoints, logs, final weights, results.",
    )
    add(
        "--seed",
        type=non_negative(int),
        default=d["seed"],
        help="keras.utils.set_random_seed: Python, NumPy, TensorFlow, Keras.",
    )
    add(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=d["deterministic"],
        help="tf.config.experimental.enable_op_determinism(): deterministic kernels where "
        "TensorFlow has them (ops without one then fail), slower. Small models then repeat bit "
        "for bit; the WSOL main job on a CPU still differs from run to run.",
    )
    add(
        "--keep-checkpoints",
        type=non_negative(int),
        default=d["keep_checkpoints"],
        help="Keep the last N epoch checkpoints and the best one: lowest val_loss if the "
        "recipe validates during training, else lowest training loss (the wsol and temporal "
        "recipes do not validate: the built-in data has no validation split). 0 keeps every "
        "epoch's.",
    )
    add(
        "--overwrite",
        action="store_true",
        default=d["overwrite"],
        help="If --out holds a run with different flags, delete its files and start over. A "
        "run with the same flags is always resumed (or loaded, if finished), so this same "
        "command can be started again after a kill.",
    )


def check_flags(args):
    """Raises FlagError if the training flags cannot work together."""
    if args.lr_schedule != "constant" and args.lr_end > args.lr:
        raise FlagError(
            "--lr-end",
            f"{args.lr_end} is above --lr {args.lr}: the schedules only decrease (use "
            "--lr-schedule constant for a fixed rate)",
        )


def check_batch_size(args, count, what):
    """FlagError unless `count` examples (`what`, e.g. "training images") fill one batch."""
    if args.batch_size > count:
        raise FlagError(
            "--batch-size",
            f"{args.batch_size} is larger than the {count} {what}: an epoch would have no "
            f"batch; use at most {count}",
        )


def check_at_least(flag, value, minimum, what):
    """FlagError unless `value` >= `minimum`; `what` says why, with {} for the minimum (e.g.
    "the built-in images are at least {} pixels")."""
    if value < minimum:
        raise FlagError(flag, f"{what.format(minimum)}; got {value}")


def check_path(flag, path, folder=True):
    """FlagError unless `path` is an existing folder (or, `folder=False`, file)."""
    if not (os.path.isdir if folder else os.path.isfile)(path):
        kind = "folder" if folder else "file"
        raise FlagError(flag, f"no {kind} {path}")
