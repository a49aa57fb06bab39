"""`TableConfig`: every setting of a table run, its default (the CTGAN paper's), validation.

`python -m gan_tf.train --dataset=csv:PATH` builds one from its flags (`from_flags`): the
flags the image runs share (`--epochs`, `--batch_size`, `--seed`, `--latent_dim`, learning
rates, Adam's betas, `--gradient_penalty`, `--holdout`, `--output_dir`, checkpoint and
sample intervals) keep their meaning but take the table defaults below unless given; the
table flags (`TABLE_FLAGS`: `--target`, `--column_kinds`, `--pac`, `--transformer_rows`,
`--sample_rows`, `--stream_chunk_rows`) exist for table runs only; `--strategy` is shared. TensorFlow-free.
"""

import dataclasses
import json
import os
import re
from typing import Optional

from gan_tf.errors import (UserError, check_choice, check_non_negative, check_positive_int,
                           check_seed, invalid)
from gan_tf.names import STRATEGIES

TABLE_PREFIXES = ("csv:", "parquet:")  # --dataset=csv:PATH (a .csv, .tsv or .parquet file)
MAX_HOLDOUT = 0.5
KIND = "table"  # config.json's "kind" for a table run


def is_table_dataset(dataset):
    """True for `--dataset=csv:PATH` or `parquet:PATH`."""
    return isinstance(dataset, str) and dataset.startswith(TABLE_PREFIXES)


def _field(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass
class TableConfig:
    """A table run: the data, CTGAN's settings (Xu et al. 2019) and the run's outputs."""

    dataset: str = _field("", "csv:PATH (a .csv, .tsv or .parquet table with a header row)")
    target: Optional[str] = _field(None, "the label column: the run is conditioned on it, "
                                         "downstream models predict it")
    column_kinds: Optional[str] = _field(None, "overrides of the inferred kinds, e.g. "
                                               "'age=integer,zip=categorical' (continuous, "
                                               "integer, categorical, boolean)")
    holdout: float = _field(0.2, "fraction of rows held out (stratified by a categorical "
                                 "target), never trained on, for evaluation")
    epochs: int = _field(300, "passes over the training rows (the paper's 300)")
    batch_size: int = _field(500, "rows per step, a multiple of --pac (the paper's 500)")
    latent_dim: int = _field(128, "size of z (the paper's 128)")
    generator_learning_rate: float = _field(2e-4, "Adam's learning rate for G")
    discriminator_learning_rate: float = _field(2e-4, "Adam's learning rate for the critic")
    beta_1: float = _field(0.5, "Adam's beta_1")
    beta_2: float = _field(0.9, "Adam's beta_2")
    gradient_penalty: float = _field(10.0, "WGAN-GP weight")
    pac: int = _field(10, "rows per pack judged together by the critic (PacGAN)")
    transformer_rows: int = _field(10_000, "rows sampled to fit the Gaussian mixtures of "
                                           "mode-specific normalisation")
    seed: int = _field(0, "seeds the split, the mixtures, the weights and every draw")
    output_dir: Optional[str] = _field(None, "run directory (default runs/DATASET-ctgan)")
    sample_rows: int = _field(100, "fixed-latent rows written to samples/ each epoch")
    sample_every_n_epochs: int = _field(1, "write the sample rows every N epochs")
    checkpoint_every_n_epochs: int = _field(1, "save a checkpoint every N epochs")
    checkpoint_every_n_steps: int = _field(0, "also every N steps inside an epoch (0: off)")
    keep_checkpoints: int = _field(3, "how many recent checkpoints to keep")
    stream_chunk_rows: int = _field(0, "read the table N rows at a time and train from its "
                                       "transformed rows on disk (a table larger than memory;"
                                       " 0: read it whole)")
    strategy: str = _field("auto", "auto | default | mirrored | multi_worker (the cluster in "
                                   "TF_CONFIG; every worker runs the same command) | tpu: "
                                   "the global batch is split over the replicas")

    def __post_init__(self):
        for prefix in TABLE_PREFIXES:
            if isinstance(self.dataset, str) and self.dataset.startswith(prefix):
                path = self.dataset[len(prefix):].strip()
                if path:
                    self.dataset = "csv:" + os.path.abspath(os.path.expanduser(path))
        self.validate()

    @property
    def path(self):
        """The table's file."""
        return self.dataset[len("csv:"):]

    def validate(self):
        if not is_table_dataset(self.dataset) or not self.dataset.split(":", 1)[1].strip():
            raise invalid("dataset", self.dataset, "'csv:PATH' with the path of a .csv, .tsv "
                          "or .parquet table")
        for name in ("epochs", "batch_size", "latent_dim", "pac", "transformer_rows",
                     "sample_rows", "sample_every_n_epochs", "checkpoint_every_n_epochs",
                     "keep_checkpoints"):
            check_positive_int(name, getattr(self, name))
        if self.stream_chunk_rows != 0:
            check_positive_int("stream_chunk_rows", self.stream_chunk_rows)
        if self.checkpoint_every_n_steps != 0:
            check_positive_int("checkpoint_every_n_steps", self.checkpoint_every_n_steps)
        check_seed(self.seed)
        if self.batch_size % self.pac:
            raise invalid("batch_size", self.batch_size,
                          f"a multiple of --pac={self.pac}, e.g. {self.pac * 50}")
        if not (isinstance(self.holdout, (int, float)) and 0 <= self.holdout <= MAX_HOLDOUT):
            raise invalid("holdout", self.holdout, f"a fraction in [0, {MAX_HOLDOUT}], e.g. 0.2")
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise invalid(name, value, "a positive number, e.g. 2e-4")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise invalid(name, value, "a number in [0, 1)")
        check_non_negative("gradient_penalty", self.gradient_penalty)
        check_choice("strategy", self.strategy, STRATEGIES)
        if self.column_kinds:
            from gan_tf.tables.schema import parse_column_kinds

            parse_column_kinds(self.column_kinds)

    def kinds(self):
        """`--column_kinds` as `{column: kind}`."""
        from gan_tf.tables.schema import parse_column_kinds

        return parse_column_kinds(self.column_kinds)

    def resolved_output_dir(self):
        if self.output_dir:
            return os.path.abspath(os.path.expanduser(self.output_dir))
        stem = os.path.splitext(os.path.basename(self.path))[0]
        slug = re.sub(r"[^A-Za-z0-9_.]+", "_", stem).strip("_") or "table"
        return os.path.abspath(os.path.join("runs", f"{slug}-ctgan"))

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"Unknown TableConfig fields: {unknown}. Expected only: "
                            f"{sorted(known)}.")
        return cls(**values)

    def differences(self, other):
        """Fields that define the run and differ: `{name: (self, other)}`."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {name: (mine[name], theirs.get(name)) for name in mine
                if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)}

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


RESUMABLE_CHANGES = frozenset({"epochs", "output_dir", "sample_every_n_epochs",
                               "checkpoint_every_n_epochs", "checkpoint_every_n_steps",
                               "keep_checkpoints", "strategy"})
# Flags only table runs have (the train CLI defines them beside TrainConfig's).
TABLE_FLAGS = ("target", "column_kinds", "pac", "transformer_rows", "sample_rows",
               "stream_chunk_rows")


def define_table_flags(flag_values=None):
    """Defines `TABLE_FLAGS` on absl's flags (the train CLI's table flags), as key flags of
    this module (`flags.adopt_module_key_flags(gan_tf.tables.config)` lists them in a
    command's `--help`)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    for field in dataclasses.fields(TableConfig):
        if field.name not in TABLE_FLAGS:
            continue
        define = flags.DEFINE_integer if field.type in (int, "int") else flags.DEFINE_string
        define(field.name, field.default, "table runs (--dataset=csv:PATH): "
               + field.metadata["help"], flag_values=flag_values)


def refuse_table_flags(flag_values=None):
    """Raises UserError when a table-only flag (`TABLE_FLAGS`) was given to an image run,
    rather than ignoring it."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    given = [name for name in TABLE_FLAGS if name in flag_values and flag_values[name].present]
    if given:
        raise UserError(f"Invalid combination: --{given[0]} with --dataset="
                        f"{flag_values['dataset'].value}: it is a setting of table runs "
                        "(--dataset=csv:PATH), which an image run does not have. Drop it, or "
                        "pass a table.")


def from_flags(flag_values=None):
    """A `TableConfig` from the parsed train flags: each field from its flag when the flag
    was given (table flags always), else the table default."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    values = {}
    for field in dataclasses.fields(TableConfig):
        if field.name not in flag_values:
            continue
        flag = flag_values[field.name]
        if flag.present or field.name in TABLE_FLAGS:
            values[field.name] = flag.value
    image_only = sorted(name for name in _IMAGE_ONLY_FLAGS
                        if name in flag_values and flag_values[name].present)
    if image_only:
        raise UserError(f"Invalid combination: --{image_only[0]} with --dataset="
                        f"{flag_values['dataset'].value}: it is not a setting of table runs. A "
                        "table run takes " + ", ".join(
                            f"--{f.name}" for f in dataclasses.fields(TableConfig)) + ".")
    return TableConfig(**values)


# Train flags that mean nothing for a table (refused rather than silently ignored).
_IMAGE_ONLY_FLAGS = ("architecture", "image_size", "max_examples", "data_cache", "data_dir",
                     "conditional", "augment", "dcgan_filters", "attention_resolution",
                     "extractor", "inception_weights", "inception_sha256", "ema_decay",
                     "latent_distribution", "spectral_norm", "mode_seeking", "r1_penalty",
                     "ada_target", "ada_ramp_images", "precision", "update", "optimizer",
                     "generator_optimizer", "discriminator_optimizer", "loss",
                     "discriminator_steps", "eval_every_n_epochs", "eval_num_samples",
                     "tensorboard", "generator_activation", "discriminator_activation",
                     "negative_slope", "rho", "momentum", "download")
