"""The Hide-and-Seek flags of training scripts, checked by the layer's own rules. No TensorFlow
at import; `check_has_flags` makes a layer (after `keras_has.training.setup`)."""

import argparse
from typing import NamedTuple

from keras_has.training.flags import FlagError, flag_errors


class HasFlag(NamedTuple):
    """The HaS size flag of a HideAndSeek mode: its name, unit, the flag that bounds it, what
    draws one size, and what a fraction is of."""

    name: str
    unit: str
    bound: str
    per: str
    of: str


HAS_FLAGS = {
    "image": HasFlag("--has", "pixels", "--crop", "image", "side"),
    "temporal": HasFlag("--segment", "steps", "--num-steps", "video", "length"),
}


def _sizes(text):
    """HaS sizes as written: comma-separated numbers (ints stay ints)."""
    values = []
    for item in text.split(","):
        try:
            values.append(int(item))
        except ValueError:
            try:
                values.append(float(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{item!r} is not a number; expected sizes such as 32 or 0,16,32"
                ) from None
    return values


def _sizes_text(text):
    _sizes(text)
    return text


def add_has_flags(parser, mode, default, hide_prob=0.5):
    """Adds the HaS size flag of `mode` (`HAS_FLAGS`: --has for images, --segment for
    sequences) and --hide-prob."""
    flag = HAS_FLAGS[mode]
    parser.add_argument(
        flag.name,
        type=_sizes_text,
        default=default,
        help=f"Hide-and-Seek cell sizes, comma-separated to draw one per {flag.per}: "
        f"{flag.unit} (an int, up to {flag.bound}), a fraction in (0, 1) of the {flag.of}, or 0 "
        "(no hiding for that draw).",
    )
    parser.add_argument(
        "--hide-prob",
        type=float,
        default=hide_prob,
        help="Probability of hiding each cell, in [0, 1].",
    )


def check_has_flags(args, mode, limit):
    """The HaS flags of `mode` by HideAndSeek's own rules, and sizes in pixels (steps) up to
    `limit`, the value of the bounding flag (None: no bound). Returns the sizes (a list).

    Makes a HideAndSeek layer (a TensorFlow op): call after `keras_has.training.setup`.
    """
    from keras_has import HideAndSeek
    from keras_has.layers.cells import parse_cell_sizes

    flag = HAS_FLAGS[mode]
    sizes = _sizes(getattr(args, flag.name[2:]))
    # The layer's checks raise ValueError naming the value; they check nothing else here.
    with flag_errors(flag.name, ValueError):
        cells = parse_cell_sizes(sizes, None, mode)
    too_large = [
        c.value for c in cells if c.kind == "pixels" and limit is not None and c.value > limit
    ]
    if too_large:
        raise FlagError(
            flag.name,
            f"{too_large[0]} {flag.unit} is larger than {flag.bound} {limit}; use sizes up to "
            f"{limit}, fractions in (0, 1) or 0",
        )
    with flag_errors("--hide-prob", ValueError):  # the sizes are valid: only hide_prob can fail
        HideAndSeek(patch_size=sizes, hide_prob=args.hide_prob, mode=mode)
    return sizes
