"""Optimizers and learning-rate schedules of the training flags."""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import math

import keras

from keras_has.training.flags import SCHEDULES

# Variables without weight decay (as the Caffe models' decay_mult 0): biases, batch-norm scale/shift.
NO_DECAY = r"(^|/)(bias|gamma|beta)(:\d+)?$"


@keras.saving.register_keras_serializable(package="keras_has")
class LRSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """From `lr` at step 0 to `lr_end` at step `total_steps - 1`, then `lr_end`; never rising.

    kind: exponential (lr * (lr_end / lr) ** p, p = step / (total_steps - 1)), cosine
    (lr_end + (lr - lr_end) * (1 + cos(pi p)) / 2), step (n = max(1, round(log10(lr / lr_end)))
    equal drops at the starts of n + 1 equally long stages; with `milestones`, fractions of
    training such as (0.5, 0.75), one equal drop at each: He et al.'s schedule), constant (lr).
    """

    def __init__(self, kind, lr, lr_end, total_steps, milestones=None):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self.kind, self.lr, self.lr_end = kind, float(lr), float(lr_end)
        self.total_steps = int(total_steps)
        self.drops = max(1, round(math.log10(self.lr / self.lr_end))) if lr_end < lr else 1
        self.milestones = None if milestones is None else [float(m) for m in milestones]
        if self.milestones is not None:
            if (
                not self.milestones
                or self.milestones != sorted(set(self.milestones))
                or not (0 < self.milestones[0] and self.milestones[-1] < 1)
            ):
                raise ValueError(f"milestones must increase within (0, 1), got {milestones}")
            self.drops = len(self.milestones)

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        if self.kind == "constant" or self.lr_end >= self.lr:
            return ops.full_like(step, self.lr)
        last = float(max(1, self.total_steps - 1))
        p = ops.clip(step / last, 0.0, 1.0)
        lr, end = self.lr, self.lr_end
        if self.kind == "exponential":
            value = lr * ops.exp(p * math.log(end / lr))
        elif self.kind == "cosine":
            value = end + (lr - end) * 0.5 * (1.0 + ops.cos(math.pi * p))
        else:  # step: stage k of n + 1 has lr * (end / lr) ** (k / n)
            n = self.drops
            if self.milestones is None:
                stage = ops.minimum(ops.floor(step * (n + 1) / self.total_steps), n)
            else:
                starts = [round(m * self.total_steps) for m in self.milestones]
                stage = sum(ops.cast(step >= s, "float32") for s in starts)
            value = lr * ops.exp(stage / n * math.log(end / lr))
        # Exactly --lr at the first step and --lr-end from the last on (no rounding at the ends).
        value = ops.where(step <= 0, lr, value)
        return ops.where(step >= last, end, value)

    def get_config(self):
        return {
            "kind": self.kind,
            "lr": self.lr,
            "lr_end": self.lr_end,
            "total_steps": self.total_steps,
            "milestones": self.milestones,
        }


def make_schedule(args, total_steps):
    """The `--lr-schedule` from `--lr` to `--lr-end` over `total_steps` steps (the step
    schedule's drops at `--lr-milestones` where a recipe has that flag)."""
    milestones = getattr(args, "lr_milestones", None)
    return LRSchedule(args.lr_schedule, args.lr, args.lr_end, total_steps, milestones)


def make_optimizer(args, total_steps):
    """`--optimizer` (SGD with `--momentum`, or Adam), the `--lr-schedule` over `total_steps`,
    and `--weight-decay`.

    The decay is Keras's decoupled one (each step w -= lr * wd * w, before the update), on kernels
    only (not on biases and batch-norm gamma/beta, as the Caffe models' decay_mult 0). It is not
    Caffe's L2 term in the gradient, which momentum amplifies by 1 / (1 - momentum).
    Under mixed_float16, `compile` wraps it in a LossScaleOptimizer.
    """
    schedule, decay = make_schedule(args, total_steps), args.weight_decay or None
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(schedule, weight_decay=decay)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=args.momentum, weight_decay=decay)
    optimizer.exclude_from_weight_decay(var_names=[NO_DECAY])
    return optimizer
