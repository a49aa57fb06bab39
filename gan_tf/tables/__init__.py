"""Tables: synthetic rows of a mixed-type table (CTGAN's recipe, Xu et al. 2019, in Keras).

`schema` (column names, kinds, categories, ranges, missing rates; reading CSV/Parquet),
`transformer` (mode-specific normalisation, one-hot, missing indicators, and the exact
inverse), `networks` (the residual generator and the packed critic), `model` (the conditional
WGAN-GP `train_step`), `data` and `sampling` (a run's rows in and out). TensorFlow-free at
import: each module imports what it needs.
"""
