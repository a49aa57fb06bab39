"""`ImputeConfig`: every option of `python -m gan_tf.impute`, its default and validation.

TensorFlow-free, so the command refuses bad flags in a fraction of a second.
"""

import dataclasses
import json
import os
from typing import Optional

from gan_tf.errors import (UserError, check_choice, check_fraction, check_non_negative,
                           check_positive_int, check_seed, invalid)
from gan_tf.imputation.masks import MECHANISMS, check_rate

TABLE_METHODS = ("gan", "mean", "knn", "mice", "forest")
METHODS = TABLE_METHODS + ("auto",)
IMAGE_MASKS = ("pixels", "square")
MAX_IMPUTATIONS = 100
MAX_ITERATIONS = 1_000_000
# Fields that may change when a run directory is reused (they do not change the trained GAN).
RESUMABLE_CHANGES = frozenset({"output", "run_dir", "num_imputations", "overwrite", "compare",
                               "repeats", "hide_rate", "mechanism", "target", "method",
                               "compare_methods"})


def _field(default, help):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class ImputeConfig:
    """The options of one `impute` command (see each field's help)."""

    data: str = _field("", "A table with missing values (CSV or Parquet): empty cells, NA, "
                       "NaN and null are missing.")
    dataset: str = _field("", "Images to inpaint instead of a table: 'embedded_mnist', "
                          "'folder:PATH' or 'array:PATH' (read through gan_tf.data).")
    output: str = _field("", "Where to write the filled table (.csv), or for images the "
                         "folder of the grid and arrays. Never overwritten unless --overwrite.")
    run_dir: str = _field("", "The GAN's run directory (config, checkpoints, metrics.jsonl, "
                          "exported imputer); rerun to resume. Default: OUTPUT's name + '_run'.")
    method: str = _field("gan", "How to fill: gan (GAIN), mean (mean/mode), knn, mice, "
                         "forest (random-forest iterative), or auto (the best of a --compare).")
    num_imputations: int = _field(1, "Completed tables to draw (multiple imputation); with "
                                  "more than 1, OUTPUT_1.csv .. OUTPUT_M.csv and "
                                  "OUTPUT_spread.csv (the spread of each filled cell).")
    seed: int = _field(0, "Seed of the training draws, the fills and the hidden entries.")
    iterations: int = _field(10000, "GAN training steps (the paper's 10,000); above 1,000 "
                                    "rounded up to whole 1,000-step checkpoints")
    batch_size: int = _field(128, "Rows per GAN training step.")
    hint_rate: float = _field(0.9, "Share of the observed positions revealed to the "
                              "discriminator.")
    alpha: float = _field(100.0, "Weight of the GAN's error on observed entries.")
    learning_rate: float = _field(1e-3, "Adam's learning rate for both GAN players (the "
                                  "paper's 1e-3).")
    hidden_units: Optional[int] = _field(None, "Width of the GAN's hidden layers (default: "
                                         "the table's encoded width).")
    drop_rate: float = _field(0.0, "Not in the paper: the share of observed entries also "
                              "hidden from the GAN in each step and scored, so it learns to "
                              "fill (0: GAIN as published). Images with --mask=square: the "
                              "share of images given a square hole like the real ones.")
    column_kinds: str = _field("", "Kinds the table's columns must have, e.g. "
                               "'age=integer,zip=categorical'.")
    overwrite: bool = _field(False, "Replace an existing OUTPUT.")
    compare: bool = _field(False, "Hide a further share of the observed entries, fill them "
                           "with every method and report which fills best.")
    hide_rate: float = _field(0.2, "With --compare: the share of observed entries hidden.")
    mechanism: str = _field("mcar", "With --compare: how the hidden entries fall: mcar "
                            "(at random), mar (driven by other columns), mnar (by their value).")
    repeats: int = _field(3, "With --compare: repeats, each with its own hidden entries.")
    compare_methods: str = _field("mean,knn,mice,forest,gan", "With --compare: the methods "
                                  "to compare, separated by commas.")
    target: str = _field("", "With --compare: a column to predict on each filled table "
                         "(a classifier tested on the rows with no holes).")
    mask: str = _field("square", "Images: the holes to fill: square (a 40% square at a "
                       "random place) or pixels (random pixels).")
    missing_rate: float = _field(0.25, "Images with --mask=pixels: the share of pixels hidden.")
    max_examples: int = _field(5000, "Images: at most this many images (the first ones).")

    def __post_init__(self):
        if bool(self.data) == bool(self.dataset):
            raise UserError("Give exactly one of --data=PATH (a table) or --dataset=... "
                            f"(images). Received: data={self.data!r}, "
                            f"dataset={self.dataset!r}.")
        if not self.output and not self.compare:
            raise invalid("output", self.output, "a path for the filled data, e.g. "
                          "--output=filled.csv (or --compare alone to compare the methods)")
        check_choice("method", self.method, METHODS)
        check_positive_int("num_imputations", self.num_imputations)
        if self.num_imputations > MAX_IMPUTATIONS:
            raise invalid("num_imputations", self.num_imputations,
                          f"at most {MAX_IMPUTATIONS}, e.g. 5 or 20")
        check_seed(self.seed)
        check_positive_int("iterations", self.iterations)
        if self.iterations > MAX_ITERATIONS:
            raise invalid("iterations", self.iterations, f"at most {MAX_ITERATIONS}, e.g. 10000")
        check_positive_int("batch_size", self.batch_size)
        check_fraction("hint_rate", self.hint_rate, "0.9")
        check_non_negative("alpha", self.alpha)
        check_fraction("learning_rate", self.learning_rate, "0.001", low_open=True)
        check_fraction("drop_rate", self.drop_rate, "0 or 0.2", high_open=True)
        if self.hidden_units is not None:
            check_positive_int("hidden_units", self.hidden_units)
        check_rate(self.hide_rate, "hide_rate")
        check_choice("mechanism", self.mechanism, MECHANISMS)
        check_positive_int("repeats", self.repeats)
        methods = self.methods_to_compare()
        if not methods or any(m not in TABLE_METHODS for m in methods) or len(set(methods)) != len(
                methods):
            raise invalid("compare_methods", self.compare_methods, "distinct methods among "
                          + ", ".join(TABLE_METHODS) + " separated by commas, e.g. mean,mice,gan")
        check_choice("mask", self.mask, IMAGE_MASKS)
        check_rate(self.missing_rate, "missing_rate")
        check_positive_int("max_examples", self.max_examples)
        if self.dataset and (self.compare or self.method != "gan" or self.target
                             or self.num_imputations != 1):
            raise UserError("Images are filled by the GAN alone: --compare, --method, "
                            "--target and --num_imputations are for tables (--data).")
        if self.num_imputations > 1 and self.method != "gan":
            raise UserError(f"--num_imputations={self.num_imputations} draws several fills "
                            f"from the GAN, but --method={self.method} gives one fill"
                            + (" whenever the comparison picks a classical imputer"
                               if self.method == "auto" else "")
                            + ". Use --method=gan, or --num_imputations=1.")
        for name in ("data", "output", "run_dir"):
            value = getattr(self, name)
            if value:
                setattr(self, name, os.path.abspath(os.path.expanduser(value)))
        if self.output and not self.dataset and not self.output.lower().endswith(".csv"):
            raise invalid("output", self.output, "a .csv path, e.g. filled.csv")
        if not self.run_dir and self.output:
            self.run_dir = os.path.splitext(self.output)[0] + "_run"

    def methods_to_compare(self):
        """`--compare_methods` as a tuple of names."""
        return tuple(m.strip() for m in self.compare_methods.split(",") if m.strip())

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def differences(self, other):
        """Fields (other than `RESUMABLE_CHANGES`) whose values differ: {name: (self, other)}."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {name: (mine[name], theirs.get(name)) for name in mine
                if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)}
