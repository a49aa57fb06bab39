r"""Fills missing values: `python -m gan_tf.impute --data=table.csv --output=filled.csv`.

Tables (CSV or Parquet; empty cells, NA, NaN and null are missing): every missing entry is
filled, observed entries are copied untouched, integer columns get whole numbers and
categorical columns one of their categories. The default method is the GAN imputer (GAIN,
Yoon et al. 2018), trained in a run directory (default OUTPUT's name + `_run`: config.json,
schema.json, checkpoints/, metrics.jsonl, the exported imputer/); rerun the same command to
resume it. Other methods: --method=mean|knn|mice|forest.

    python -m gan_tf.impute --data=table.csv --output=filled.csv --num_imputations=5
        writes filled_1.csv .. filled_5.csv and filled_spread.csv (per filled cell: the
        standard deviation of the draws, or for categories the share of draws that differ
        from the most frequent one)
    python -m gan_tf.impute --data=table.csv --compare [--mechanism=mar] [--target=label]
        hides a further share of the observed entries and reports how well each method
        fills them (RMSE, accuracy, 95% intervals, time) and which is best
    python -m gan_tf.impute --data=table.csv --output=filled.csv --method=auto
        compares first, then fills with the best method
    python -m gan_tf.impute --dataset=embedded_mnist --output=inpainted --mask=square
        images: fills masked regions; a PNG grid of masked / filled / true images

Exit codes: 0 success, 1 an error in the data, the run directory or the output, 2 an invalid
flag (nothing is written).
"""

import sys

from absl import flags

from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError
from gan_tf.imputation.config import ImputeConfig


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    try:
        config = cli.config_from_flags(ImputeConfig)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf.callbacks import TrainingPreempted
    from gan_tf.imputation import impute_lib

    try:
        impute_lib.impute(config)
    except TrainingPreempted as stopped:
        return cli.error(stopped, TrainingPreempted.EXIT_CODE)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    return 0


def console_main():
    """`gan-tf-impute`, the console command `pip install` makes: the same as `python -m`."""
    cli.define_config_flags(ImputeConfig)
    flags.adopt_module_key_flags(cli)
    cli.run_console(sys.modules[__name__], main)


if __name__ == "__main__":
    console_main()
