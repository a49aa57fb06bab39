"""Streamed against in-memory image folders: memory, time to the first step, images/s.

    python benchmarks/streaming.py [--counts=5000,50000,200000] [--size=32] [--steps=60]
        [--folders=/tmp/gan_tf_stream_bench] [--caches=memory,stream]

For each folder size (colour-shape PNGs from benchmarks/colour_shapes.py, written once and
kept under --folders) and each --data_cache mode, a fresh process:
1. loads the folder (`gan_tf.data.load_images`: headers in parallel, then the pixels into
   memory, or nothing more when streaming);
2. builds the default conditional DCGAN for the images and runs `fit` for --steps steps
   of 64 through `make_dataset` (the training run's pipeline), timing each step;
3. iterates the same pipeline alone (no training) for --input_batches batches.
It prints, per run: seconds to load, seconds from process start to the end of the first
training step, training images/s (steps 6 to the end), input-only images/s, and the
process's peak resident memory up to the end of training. One JSON line per run, then a table.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(args):
    started = time.perf_counter()
    import keras
    import numpy as np

    from gan_tf import data as data_lib
    from gan_tf import runs
    from gan_tf.config import TrainConfig

    imported = time.perf_counter()
    config = TrainConfig(dataset=f"folder:{args.folder}", data_cache=args.cache,
                         batch_size=64, conditional=True)
    data = data_lib.load_images(config.dataset, cache=config.data_cache)
    loaded = time.perf_counter()
    gan = runs.build_gan(config, data.image_shape, data.num_classes)
    epochs = 2 + (max(args.steps, args.input_batches) + 1) * 64 // len(data)
    dataset, _ = data_lib.make_dataset(data, 64, seed=0, start_epoch=0, end_epoch=epochs)
    ends = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    gan.fit(dataset, epochs=1, steps_per_epoch=args.steps, callbacks=[Timer()], verbose=0)
    steady = (len(ends) - 6) * 64 / (ends[-1] - ends[5])
    fit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dataset, _ = data_lib.make_dataset(data, 64, seed=0, start_epoch=1, end_epoch=1 + epochs)
    iterator = iter(dataset)
    next(iterator)
    input_started = time.perf_counter()
    for _ in range(args.input_batches):
        next(iterator)
    input_rate = args.input_batches * 64 / (time.perf_counter() - input_started)
    print(json.dumps({
        "count": len(data), "cache": args.cache, "streamed": data_lib.is_streamed(data),
        "image_shape": list(data.image_shape),
        "import_s": round(imported - started, 2), "load_s": round(loaded - imported, 2),
        "first_step_s": round(ends[0] - started, 2),
        "train_images_per_s": round(steady), "input_images_per_s": round(input_rate),
        "peak_rss_mb": round(fit_rss),  # through training (the input-only pass makes a
        # second in-memory copy of the pixels in TensorFlow, which a training run does not)
        "decoded_mb": round(int(np.prod(data.images.shape)) / 2**20),
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="5000,50000,200000")
    parser.add_argument("--size", default="32")
    parser.add_argument("--caches", default="memory,stream")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--input_batches", type=int, default=200)
    parser.add_argument("--folders", default="/tmp/gan_tf_stream_bench")
    parser.add_argument("--folder", help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.folder:
        return _child(args)
    sys.path.insert(0, HERE)
    import colour_shapes

    size = colour_shapes.parse_size(args.size)
    results = []
    for count in [int(c) for c in args.counts.split(",")]:
        folder = os.path.join(args.folders, f"shapes_{count}_{size[0]}x{size[1]}")
        if not os.path.isdir(folder):
            started = time.perf_counter()
            colour_shapes.write_folder(folder + ".partial", count, size)
            os.rename(folder + ".partial", folder)
            print(f"wrote {count} PNGs in {time.perf_counter() - started:.0f} s: {folder}",
                  flush=True)
        for cache in args.caches.split(","):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            process = subprocess.run(
                [sys.executable, __file__, f"--folder={folder}", f"--cache={cache}",
                 f"--steps={args.steps}", f"--input_batches={args.input_batches}"],
                capture_output=True, text=True, env=env)
            lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
            if process.returncode or not lines:
                print(process.stdout[-2000:], process.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"the {cache} run of {count} images failed")
            results.append(json.loads(lines[-1]))
            print(lines[-1], flush=True)
    print("\n| images | --data_cache | load s | first step s | train img/s | input img/s "
          "| peak RSS MB | decoded MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['count']:,} | {r['cache']} | {r['load_s']} | {r['first_step_s']} | "
              f"{r['train_images_per_s']:,} | {r['input_images_per_s']:,} | "
              f"{r['peak_rss_mb']:,} | {r['decoded_mb']:,} |")


if __name__ == "__main__":
    main()
