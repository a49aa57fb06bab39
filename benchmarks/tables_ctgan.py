r"""Fits CTGAN or TVAE (the `ctgan` package) on a CSV and writes synthetic rows as CSV.

Run by `benchmarks/tables_benchmark.py` with the Python of a separate environment that has
`ctgan` (PyTorch, Business Source License): gan_tf never imports it.

    /work/ctgan-venv/bin/python benchmarks/tables_ctgan.py --train=train.csv \
        --discrete=a,b --model=ctgan --epochs=300 --num_rows=5000 --seed=0 \
        --output=synthetic.csv

Prints one JSON line: {"model", "epochs", "fit_seconds" (wall clock), "fit_cpu_seconds" (of
every thread of the process: what a shared machine does not distort), "sample_seconds",
"rows", "torch_threads"}.
"""

import argparse
import json
import random
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="CSV of the training rows")
    parser.add_argument("--discrete", default="", help="comma-separated discrete columns")
    parser.add_argument("--model", choices=("ctgan", "tvae"), required=True)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=500)
    parser.add_argument("--num_rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, help="CSV of the synthetic rows")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import torch
    from ctgan import CTGAN, TVAE

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    train = pd.read_csv(args.train)
    discrete = [name for name in args.discrete.split(",") if name]
    for name in discrete:  # CTGAN takes discrete columns as they are; strings are safest
        train[name] = train[name].astype(object).where(train[name].notna(), None).astype(str)
    model = (CTGAN(epochs=args.epochs, batch_size=args.batch_size) if args.model == "ctgan"
             else TVAE(epochs=args.epochs, batch_size=args.batch_size))
    model.set_random_state(args.seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(train, discrete_columns=discrete)
    fit_seconds = time.perf_counter() - started
    fit_cpu_seconds = time.process_time() - cpu_started
    started = time.perf_counter()
    rows = model.sample(args.num_rows)
    sample_seconds = time.perf_counter() - started
    rows.to_csv(args.output, index=False)
    print(json.dumps({"model": args.model, "epochs": args.epochs,
                      "fit_seconds": round(fit_seconds, 2),
                      "fit_cpu_seconds": round(fit_cpu_seconds, 2),
                      "sample_seconds": round(sample_seconds, 2), "rows": len(rows),
                      "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
