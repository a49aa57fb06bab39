"""One call to fill a table's holes by any method: the GAN or a classical imputer.

Every method returns its fills *decoded*: per column, numbers or category strings for every
row (`TableCodec.from_matrix` / `from_codes`), which `TableCodec.fill_frame` writes into the
holes and `compare` scores.
"""

import dataclasses
from typing import Optional

import numpy as np

from gan_tf.imputation import classical


@dataclasses.dataclass(frozen=True)
class GanSettings:
    """How the GAN imputer trains (the paper's settings by default)."""

    iterations: int = 10000
    batch_size: int = 128
    hint_rate: float = 0.9
    alpha: float = 100.0
    hidden_units: Optional[int] = None
    drop_rate: float = 0.0
    learning_rate: float = 1e-3

    @classmethod
    def from_config(cls, config):
        return cls(**{field.name: getattr(config, field.name)
                      for field in dataclasses.fields(cls)})


def fill_decoded(method, codec, frame, seed=0, gan=GanSettings(), run_dir=None, draws=1):
    """`(fills, imputer)`: `draws` decoded fills of `frame`'s holes by `method`.

    Args:
        method: "gan" or one of `classical.METHODS`.
        codec: the table's `TableCodec`.
        frame: the table (a pandas DataFrame of the codec's schema) with its holes.
        seed: seed of the training and of the first draw (draw i uses seed + i).
        gan: `GanSettings` for the GAN.
        run_dir: the GAN's run directory (checkpoints, metrics; resumes), or None.
        draws: fills to draw (only the GAN is stochastic; others give one).

    Returns:
        a list of fills (each a list of per-column decoded values) and the trained
        `GainImputer` (None for the classical methods).
    """
    if method != "gan":
        codes = codec.to_codes(frame)
        filled = classical.fill(method, codes, codec.categorical, seed=seed)
        return [codec.from_codes(filled)], None
    from gan_tf.imputation.training import train_imputer

    values, mask = codec.to_matrix(frame)
    imputer = train_imputer(values, mask, seed=seed, run_dir=run_dir,
                            **dataclasses.asdict(gan))
    fills = [codec.from_matrix(imputer.impute(values, mask, seed=seed + draw))
             for draw in range(draws)]
    return fills, imputer


def spread(codec, frame, fills):
    """The between-imputation spread of each filled cell, as a DataFrame like `frame`.

    Numbers: the standard deviation of the draws (ddof 1), in the column's own units.
    Categories: the share of draws that differ from the most frequent one (0: every draw
    agrees). Empty (NaN) where the table had a value.
    """
    import pandas as pd

    observed = codec.observed(frame)
    columns = {}
    for index, column in enumerate(codec.columns):
        cells = np.full(len(frame), np.nan)
        holes = np.flatnonzero(~observed[:, index])
        if holes.size and len(fills) > 1:
            if column.discrete:
                draws = np.array([[fill[index][row] for row in holes] for fill in fills],
                                 dtype=object)
                for position, row in enumerate(holes):
                    _, counts = np.unique(draws[:, position].astype(str), return_counts=True)
                    cells[row] = 1.0 - counts.max() / len(fills)
            else:
                draws = np.array([np.asarray(fill[index], np.float64)[holes] for fill in fills])
                cells[holes] = draws.std(axis=0, ddof=1)
        elif holes.size:
            cells[holes] = 0.0
        columns[column.name] = cells
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns)
