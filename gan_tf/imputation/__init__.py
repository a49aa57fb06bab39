"""Missing values: the GAN imputer (GAIN), classical imputers, masks and their comparison.

One module per job: `gain` (the Keras models and objective), `masks` (MCAR/MAR/MNAR holes),
`tabular` (a table to GAIN's [0, 1] matrix and back, kinds kept), `classical` (mean/mode,
KNN, MICE, random-forest iterative), `compare` (which fill is best on a user's table),
`fill` (a table filled by the chosen method, one or several draws), `config`
(`ImputeConfig`, TensorFlow-free), `training` (the run directory, checkpoints and export behind
`python -m gan_tf.impute`), `images` (inpainting) and `impute_lib` (the command's work).
"""
