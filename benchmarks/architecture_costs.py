r"""What each architecture costs per image: parameters, FLOPs and peak memory, and step time.

    python benchmarks/architecture_costs.py [--architectures=resnet,dcgan] \
        [--sizes=32,64,128,256] [--filters=64] [--memory_batch=4] \
        [--time_sizes=32,64] [--time_filters=16] [--time_batch=64]

For each architecture and square colour image size (gan_tf's networks at width `--filters`,
the default of `--dcgan_filters`, and `--latent_dim` 100), in a fresh process each:

- parameters of G and D;
- FLOPs per image of G's and D's forward pass and of forward + backward (D's backward to
  its weights and its input, as the generator's step needs), counted by TensorFlow's
  profiler on the training-mode graph at batch 1 (multiply-adds count 2; spectral
  normalization's power iteration and batch normalization included);
- peak memory: the process's peak resident set after one `GAN.fit` step (both players'
  updates, graph tracing included) at batch `--memory_batch`, and the memory of one more image
  in a step: the difference between the peaks' growth over that step at batch 2B and at
  batch B (B = `--memory_batch`, each in its own process), divided by B.

With `--time_sizes`, it also times training steps (`GAN.fit` on random images at batch
`--time_batch`, width `--time_filters`, float32 and mixed_bfloat16): seconds per step, the
mean over one call of `--time_steps` steps after a warm-up call. Prints a Markdown table
and one JSON line. Numbers, not a timed test; on a shared CPU say so beside them.
"""

import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("architectures", ["resnet", "dcgan"], "architectures to measure")
flags.DEFINE_list("sizes", ["32", "64", "128", "256"], "square image sizes (3 channels)")
flags.DEFINE_integer("filters", 64, "width (--dcgan_filters)")
flags.DEFINE_integer("latent_dim", 100, "size of z")
flags.DEFINE_integer("memory_batch", 4, "batch of the step whose peak memory is measured "
                                        "(0: no memory measurement)")
flags.DEFINE_list("time_sizes", [], "sizes at which to time training steps (e.g. 32,64)")
flags.DEFINE_integer("time_filters", 16, "width of the timed networks")
flags.DEFINE_integer("time_batch", 64, "batch of the timed steps")
flags.DEFINE_integer("time_steps", 5, "timed steps (after a warm-up call)")
flags.DEFINE_string("child", None, "internal: measure one JSON job in this process")
FLAGS = flags.FLAGS


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _flops(function, *specs):
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def _networks(architecture, size, filters, latent_dim, precision="float32"):
    import keras

    from gan_tf import networks

    keras.config.set_dtype_policy(precision)
    try:
        return (networks.make_generator(architecture, latent_dim, (size, size, 3), filters),
                networks.make_discriminator(architecture, (size, size, 3), filters))
    finally:
        keras.config.set_dtype_policy("float32")


def _gan(generator, discriminator):
    from gan_tf.gan import GAN

    gan = GAN(generator, discriminator, seed=0)
    gan.compile(loss="hinge")
    return gan


def _measure(job):
    """One architecture and size: parameters, FLOPs, memory (or step times)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from gan_tf.errors import UserError

    size, latent_dim = job["size"], job["latent_dim"]
    if job["kind"] == "time":
        result = {}
        for precision in ("float32", "mixed_bfloat16"):
            generator, discriminator = _networks(job["architecture"], size, job["filters"],
                                                 latent_dim, precision)
            gan = _gan(generator, discriminator)
            images = np.random.default_rng(0).uniform(
                -1, 1, (job["batch"], size, size, 3)).astype("float32")
            # No autotuning: deleting an autotuned iterator waits for the autotuner's next
            # wake-up, which would add up to the whole call to a timed `fit` (BUILD_NOTES,
            # "The training pipeline is not autotuned"). Steps are timed between batch ends, inside one
            # call, after a warm-up call.
            options = tf.data.Options()
            options.autotune.enabled = False
            dataset = tf.data.Dataset.from_tensors(images).repeat().with_options(options)
            gan.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # tracing, warm-up
            ends = []
            timer = keras.callbacks.LambdaCallback(
                on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
            gan.fit(dataset, steps_per_epoch=job["steps"] + 1, initial_epoch=1, epochs=2,
                    verbose=0, callbacks=[timer])
            seconds = (ends[-1] - ends[0]) / (len(ends) - 1)
            result[precision] = {"seconds_per_step": round(seconds, 3),
                                 "images_per_second": round(job["batch"] / seconds, 1)}
        return result
    try:
        generator, discriminator = _networks(job["architecture"], size, job["filters"],
                                             latent_dim)
    except UserError as error:
        return {"refused": str(error)}
    if job["kind"] == "memory":
        return _step_memory(generator, discriminator, size, job["memory_batch"])

    def generator_pass(z):
        with tf.GradientTape() as tape:
            images = generator(z, training=True)
        return tape.gradient(images, generator.trainable_variables)

    def discriminator_pass(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = discriminator(x, training=True)
        return tape.gradient(logits, [x] + discriminator.trainable_variables)

    image_spec = tf.TensorSpec([1, size, size, 3])
    result = {
        "g_params": generator.count_params(), "d_params": discriminator.count_params(),
        "g_forward_gflops": _flops(lambda z: generator(z, training=True),
                                   tf.TensorSpec([1, latent_dim])) / 1e9,
        "d_forward_gflops": _flops(lambda x: discriminator(x, training=True), image_spec) / 1e9,
        "g_forward_backward_gflops": _flops(generator_pass,
                                            tf.TensorSpec([1, latent_dim])) / 1e9,
        "d_forward_backward_gflops": _flops(discriminator_pass, image_spec) / 1e9,
    }
    if job["memory_batch"]:
        result.update(_step_memory(generator, discriminator, size, job["memory_batch"]))
    return result


def _step_memory(generator, discriminator, size, batch):
    """Peak resident memory of one training step at `batch`, and its growth over the step."""
    import numpy as np

    gan = _gan(generator, discriminator)
    images = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    before = _peak_rss_mb()
    started = time.perf_counter()
    gan.fit(images, batch_size=batch, epochs=1, verbose=0)
    return {"memory_step_seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(_peak_rss_mb()), "step_growth_mb": _peak_rss_mb() - before}


def _run_child(job):
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), f"--child={json.dumps(job)}"],
        capture_output=True, text=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode or not lines:
        return {"failed": completed.stderr.strip().splitlines()[-1:]}
    return json.loads(lines[-1][len("RESULT "):])


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(_measure(json.loads(FLAGS.child))), flush=True)
        return
    from gan_tf import hardware

    costs, timings = {}, {}
    for architecture in FLAGS.architectures:
        for size in (int(s) for s in FLAGS.sizes):
            job = dict(kind="costs", architecture=architecture, size=size,
                       filters=FLAGS.filters, latent_dim=FLAGS.latent_dim,
                       memory_batch=FLAGS.memory_batch)
            cost = costs[f"{architecture}_{size}"] = _run_child(job)
            if FLAGS.memory_batch and "step_growth_mb" in cost:
                double = _run_child(dict(job, kind="memory", memory_batch=2 * FLAGS.memory_batch))
                if "step_growth_mb" in double:
                    cost["mb_per_image"] = round(
                        (double["step_growth_mb"] - cost["step_growth_mb"]) / FLAGS.memory_batch)
                    cost["peak_rss_mb_double_batch"] = double["peak_rss_mb"]
        for size in (int(s) for s in FLAGS.time_sizes):
            timings[f"{architecture}_{size}"] = _run_child(dict(
                kind="time", architecture=architecture, size=size, filters=FLAGS.time_filters,
                latent_dim=FLAGS.latent_dim, batch=FLAGS.time_batch, steps=FLAGS.time_steps))
    print(f"| network | size | G params | D params | G fwd / fwd+bwd GFLOP | "
          f"D fwd / fwd+bwd GFLOP | peak RSS MB, step at batch {FLAGS.memory_batch} | "
          "MB per image in a step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, cost in costs.items():
        architecture, size = name.rsplit("_", 1)
        if "g_params" not in cost:
            print(f"| {architecture} | {size} | {cost} | | | | | |")
            continue
        print(f"| {architecture} | {size} | {cost['g_params'] / 1e6:.2f} M | "
              f"{cost['d_params'] / 1e6:.2f} M | {cost['g_forward_gflops']:.3g} / "
              f"{cost['g_forward_backward_gflops']:.3g} | {cost['d_forward_gflops']:.3g} / "
              f"{cost['d_forward_backward_gflops']:.3g} | "
              f"{cost.get('peak_rss_mb', '-')} | {cost.get('mb_per_image', '-')} |")
    print(json.dumps({"filters": FLAGS.filters, "latent_dim": FLAGS.latent_dim,
                      "memory_batch": FLAGS.memory_batch, "costs": costs,
                      "time_filters": FLAGS.time_filters, "time_batch": FLAGS.time_batch,
                      "timings": timings, "cpu": hardware.describe_cpu()}))


if __name__ == "__main__":
    app.run(main)
