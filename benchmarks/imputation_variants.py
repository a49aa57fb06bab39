r"""Exploring GAN-imputer changes on one table's validation mask (not the reported seeds).

    python benchmarks/imputation_variants.py --table=breast --variants=drop0.2+wide,paper \
        [--mask_seed=1000]

`--table` is breast, spam or letter (spam and letter read from ../shared/data); the mask
hides 20% of the entries (MCAR) with `--mask_seed` (1000 by default: the validation mask of
`benchmarks/imputation.py --validate`, never a reported seed). A variant joins parts with
"+": `paper` (GAIN as published), `dropR` (`drop_rate` R), `wide` (hidden layers twice the
table's width), `wK` (K times), `emaM` (an exponential moving average of G's weights,
momentum M, used for the fill), `decay` (cosine learning-rate decay to 1%), `itN` (N steps),
`ensK` (K imputers of other seeds, their fills averaged), `alphaA` (MSE weight), `skip` (a
linear path from G's input to its output, added before the sigmoid), `bN` (batch N). Prints
one JSON line per variant: RMSE on the hidden entries (min-max scale) and seconds.
BUILD_NOTES.md ("What was tried") and docs/imputation_benchmark.json hold what it found.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from absl import app, flags  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

from gan_tf.imputation import gain, masks  # noqa: E402
from gan_tf.imputation.tabular import TableCodec  # noqa: E402
from gan_tf.imputation.training import build_imputer, schedule  # noqa: E402
from gan_tf.tables.schema import infer_schema  # noqa: E402

flags.DEFINE_enum("table", "breast", ["breast", "spam", "letter"], "the table")
flags.DEFINE_list("variants", ["paper", "drop0.2+wide"], "variants, each parts joined by +")
flags.DEFINE_integer("mask_seed", 1000, "seed of the 20% MCAR mask (1000: the validation mask)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    name, seed = FLAGS.table, FLAGS.mask_seed
    if name == "breast":
        frame = load_breast_cancer(as_frame=True).data.astype("float64")
    else:
        frame = pd.read_csv(os.path.join(REPO, "..", "shared", "data", f"{name}.csv")).astype("float64")
    schema = infer_schema(frame, kinds={c: "continuous" for c in frame.columns})
    codec = TableCodec(schema)
    codes = codec.to_codes(frame)
    observed = codec.observed(frame)
    hidden = masks.hide(codes, observed, 0.2, "mcar", seed=seed)
    holed = frame.mask(hidden)
    values, mask = codec.to_matrix(holed)
    truth = codes[hidden]

    def run(v):
        opts = dict(drop_rate=0.0, hidden_units=None, ema=None, iters=10000, lr=1e-3, decay=False, ens=1, batch=128, alpha=100.0, skip=False)
        for part in v.split("+"):
            if part.startswith("drop"): opts["drop_rate"] = float(part[4:])
            elif part == "wide": opts["hidden_units"] = 2 * frame.shape[1]
            elif part.startswith("ema"): opts["ema"] = float(part[3:])
            elif part.startswith("it"): opts["iters"] = int(part[2:])
            elif part == "decay": opts["decay"] = True
            elif part.startswith("ens"): opts["ens"] = int(part[3:])
            elif part.startswith("b"): opts["batch"] = int(part[1:])
            elif part.startswith("alpha"): opts["alpha"] = float(part[5:])
            elif part == "skip": opts["skip"] = True
            elif part.startswith("w"): opts["hidden_units"] = int(part[1:]) * frame.shape[1]
            elif part == "paper": pass
        start = time.perf_counter()
        preds = []
        for k in range(opts["ens"]):
            s = seed + 17 * k
            imp = build_imputer(values.shape[1:], s, 0.9, opts["alpha"], opts["hidden_units"], opts["drop_rate"])
            if opts["skip"]:
                n = values.shape[1]; width = opts["hidden_units"] or n
                vi = keras.Input((n,)); mi = keras.Input((n,))
                x = keras.layers.Concatenate()([vi, mi])
                h = keras.layers.Dense(width, activation="relu", kernel_initializer=keras.initializers.HeNormal(s*16))(x)
                h = keras.layers.Dense(width, activation="relu", kernel_initializer=keras.initializers.HeNormal(s*16+1))(h)
                o = keras.layers.Add()([keras.layers.Dense(n, kernel_initializer=keras.initializers.HeNormal(s*16+2))(h), keras.layers.Dense(n, kernel_initializer="zeros")(x)])
                o = keras.layers.Activation("sigmoid")(o)
                imp.generator = keras.Model([vi, mi], o)
            lr = opts["lr"]
            if opts["decay"]:
                lr = keras.optimizers.schedules.CosineDecay(1e-3, opts["iters"], alpha=0.01)
            gopt = keras.optimizers.Adam(lr, use_ema=opts["ema"] is not None, ema_momentum=opts["ema"] or 0.99)
            imp.compile(generator_optimizer=gopt, discriminator_optimizer=keras.optimizers.Adam(lr))
            steps, epochs = schedule(opts["iters"])
            ds = gain.training_dataset(values, mask, opts["batch"], s, 0, epochs * steps)
            imp.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False)
            if opts["ema"] is not None:
                gopt.finalize_variable_values(imp.generator.trainable_variables)
            preds.append(imp.impute(values, mask, seed=s))
        filled = np.mean(preds, axis=0)
        rmse = float(np.sqrt(np.mean((filled[hidden] - truth) ** 2)))
        return rmse, time.perf_counter() - start

    for v in FLAGS.variants:
        r, t = run(v)
        print(json.dumps({"table": name, "seed": seed, "variant": v, "rmse": round(r, 5), "seconds": round(t, 1)}), flush=True)


if __name__ == "__main__":
    app.run(main)
