r"""Training throughput: gan_tf's `fit` against a plain `@tf.function` two-tape loop.

    python benchmarks/throughput.py [--architectures=dcgan,mlp] [--rounds=5] [--steps=40]

In one process, on the same random images in memory, the same networks (gan_tf's DCGAN and
the design note's MLP) and the same batch, it times in alternating rounds:

- `tutorial_loop`: the loop of the TensorFlow DCGAN tutorial as users copy it: a
  `@tf.function` step with two tapes around one generator pass (D and G updated from the
  same forward pass), iterated in Python over `from_tensor_slices(...).shuffle().batch()`.
- `plain_alternating_loop`: the same style, but computing what gan_tf computes (a D update
  on a real and a fake batch, then a G update with fresh latents).
- `same_work_loop`: that loop, also computing what gan_tf's step logs every step (the mean
  losses, D's accuracy on real and fake images, and the global norm of each player's
  gradients, which is how gan_tf stops on a NaN gradient in its own step): the reference
  for gan_tf's `fit`, the same work without Keras around it.
- `gan_tf_fit`: `GAN.fit` on `gan_tf.data.make_dataset`, default settings.
- `gan_tf_fit_bf16`: the same with `--precision=mixed_bfloat16` (opt-in; changes arithmetic).
- `gan_tf_fit_simultaneous`: `GAN.fit` with `--update=simultaneous` (opt-in): the tutorial's
  computation, one generator pass for both updates.
- `gan_tf_fit_simultaneous_bf16`: both opt-ins.

Each round of a `fit` mode is a new `make_dataset` + `fit` call, as a user calling `fit` per
chunk makes; a per-call cost shows up there. After the rounds, every mode also runs one long
call of `--long_steps` steps (`long_*`): a cost inside the step shows up there, and for the
`fit` modes a timing callback splits the call into the time of its batches and the time
around them (`long_outside_batches_seconds`: set-up before the first batch and tear-down after
the last). Rounds report each round's seconds, so a cap or an outlier cannot hide in a median.

Prints one JSON line: images/s (median over rounds, after a warm-up round), ratios, model
FLOP/s and MFU against a float32 2048^3 matmul measured in the same process, and the peak
resident memory of the process. Numbers, not a timed test.
"""

import json
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("architectures", ["dcgan", "mlp"], "networks to time")
flags.DEFINE_integer("batch_size", 64, "images per step")
flags.DEFINE_integer("rounds", 5, "timed rounds per mode (after one warm-up round)")
flags.DEFINE_integer("steps", 40, "training steps per round")
flags.DEFINE_integer("long_steps", 200, "training steps of the one long call per mode (0: none)")
flags.DEFINE_integer("num_images", 5000, "random images held in memory")
flags.DEFINE_list("modes", ["tutorial_loop", "plain_alternating_loop", "same_work_loop",
                            "gan_tf_fit",
                            "gan_tf_fit_bf16", "gan_tf_fit_simultaneous",
                            "gan_tf_fit_simultaneous_bf16"], "modes to time")
flags.DEFINE_integer("inter_op_threads", 1, "TensorFlow inter-op threads for every mode "
                     "(1: what gan_tf.train_lib.train sets; 0: TensorFlow's default)")
FLAGS = flags.FLAGS
LATENT_DIM = 100


def networks_for(architecture, precision="float32"):
    import keras

    from gan_tf import networks

    keras.config.set_dtype_policy(precision)
    try:
        return (networks.make_generator(architecture, LATENT_DIM, (28, 28, 1)),
                networks.make_discriminator(architecture, (28, 28, 1)))
    finally:
        keras.config.set_dtype_policy("float32")


def forward_flops(model):
    """2 x multiply-adds of one image through `model`'s Dense and convolution layers."""
    import keras

    macs = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Dense):
            macs += layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            height, width = layer.input.shape[1:3]
            macs += height * width * int(tf_prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
            macs += height * width * int(tf_prod(layer.kernel.shape))
    return 2 * macs


def tf_prod(shape):
    result = 1
    for dim in shape:
        result *= int(dim)
    return result


def step_flops(generator_flops, discriminator_flops, simultaneous):
    """Training FLOPs per image of a step (a backward pass ~ 2 forward passes).

    Alternating (gan_tf): D step = G fwd + D fwd/bwd on real and fake; G step = G fwd/bwd
    + D fwd and its input gradient. Simultaneous (tutorial): one G fwd/bwd, D fwd/bwd on
    real and fake, one D input gradient.
    """
    if simultaneous:
        return 3 * generator_flops + 7 * discriminator_flops
    return 4 * generator_flops + 8 * discriminator_flops


def plain_loop(architecture, images, batch_size, kind):
    """A train function and a dataset written the way the TF DCGAN tutorial writes them.

    `kind`: "tutorial" (one generator pass for both updates), "alternating" (gan_tf's
    updates) or "same_work" (gan_tf's updates and the values its step logs)."""
    import keras
    import tensorflow as tf

    generator, discriminator = networks_for(architecture)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    discriminator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def discriminator_loss(real_output, fake_output):
        return (cross_entropy(tf.ones_like(real_output), real_output)
                + cross_entropy(tf.zeros_like(fake_output), fake_output))

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    @tf.function
    def tutorial_step(batch):
        noise = tf.random.normal([tf.shape(batch)[0], LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = generator(noise, training=True)
            real_output = discriminator(batch, training=True)
            fake_output = discriminator(generated, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        generator_optimizer.apply_gradients(zip(
            gen_tape.gradient(gen_loss, generator.trainable_variables),
            generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(
            disc_tape.gradient(disc_loss, discriminator.trainable_variables),
            discriminator.trainable_variables))

    @tf.function
    def alternating_step(batch):
        size = tf.shape(batch)[0]
        with tf.GradientTape() as tape:
            generated = generator(tf.random.normal([size, LATENT_DIM]), training=True)
            disc_loss = discriminator_loss(discriminator(batch, training=True),
                                           discriminator(generated, training=True))
        discriminator_optimizer.apply_gradients(zip(
            tape.gradient(disc_loss, discriminator.trainable_variables),
            discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            generated = generator(tf.random.normal([size, LATENT_DIM]), training=True)
            gen_loss = generator_loss(discriminator(generated, training=True))
        generator_optimizer.apply_gradients(zip(
            tape.gradient(gen_loss, generator.trainable_variables),
            generator.trainable_variables))

    trackers = {name: keras.metrics.Mean(name=name) for name in (
        "d_loss", "g_loss", "real_accuracy", "fake_accuracy", "d_grad_norm", "g_grad_norm")}

    @tf.function
    def same_work_step(batch):
        """alternating_step plus what gan_tf's step logs: loss means, D's accuracies and the
        global norms of both players' gradients (its NaN check)."""
        size = tf.shape(batch)[0]
        with tf.GradientTape() as tape:
            generated = generator(tf.random.normal([size, LATENT_DIM]), training=True)
            real_output = discriminator(batch, training=True)
            fake_output = discriminator(generated, training=True)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients = tape.gradient(disc_loss, discriminator.trainable_variables)
        trackers["d_grad_norm"].update_state(tf.linalg.global_norm(gradients))
        discriminator_optimizer.apply_gradients(zip(gradients,
                                                    discriminator.trainable_variables))
        trackers["d_loss"].update_state(disc_loss)
        with tf.GradientTape() as tape:
            generated = generator(tf.random.normal([size, LATENT_DIM]), training=True)
            gen_loss = generator_loss(discriminator(generated, training=True))
        gradients = tape.gradient(gen_loss, generator.trainable_variables)
        trackers["g_grad_norm"].update_state(tf.linalg.global_norm(gradients))
        generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        trackers["g_loss"].update_state(gen_loss)
        trackers["real_accuracy"].update_state(tf.cast(real_output > 0, tf.float32))
        trackers["fake_accuracy"].update_state(tf.cast(fake_output <= 0, tf.float32))
        return {name: tracker.result() for name, tracker in trackers.items()}

    step = {"tutorial": tutorial_step, "alternating": alternating_step,
            "same_work": same_work_step}[kind]
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(batch_size)
    iterator = iter(dataset.repeat())

    def run(steps, timer=None):
        del timer  # the loop has nothing around its steps to time
        for _ in range(steps):
            step(next(iterator))
        return steps

    return run, (generator, discriminator)


def step_timer():
    """A Keras callback recording when `fit` starts, its first batch starts and its last ends."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.first_batch_begin = self.last_batch_end = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.first_batch_begin is None:
                self.first_batch_begin = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch_end = time.perf_counter()

    return StepTimer()


def gan_tf_fit(architecture, pixels, batch_size, precision, update="alternating"):
    from gan_tf import data as data_lib
    from gan_tf.gan import GAN

    generator, discriminator = networks_for(architecture, precision)
    gan = GAN(generator, discriminator)
    gan.compile(update=update)
    source = data_lib.ImageData("random", pixels)
    epoch = [0]

    def run(steps, timer=None):
        # An epoch of the in-memory data has len(pixels) // batch_size batches: a long call
        # spans as many epochs as it needs, of equal steps. Returns the steps it ran.
        epochs = -(-steps // (len(pixels) // batch_size))
        dataset, _ = data_lib.make_dataset(source, batch_size, seed=0, start_epoch=epoch[0],
                                           end_epoch=epoch[0] + epochs)
        gan.fit(dataset, epochs=epoch[0] + epochs, initial_epoch=epoch[0],
                steps_per_epoch=steps // epochs, verbose=0, shuffle=False,
                callbacks=[timer] if timer else None)
        epoch[0] += epochs
        return steps // epochs * epochs

    return run, (generator, discriminator)


def matmul_flops_per_second(size=2048, repeats=5):
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    tf.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tf.matmul(a, b).numpy()
        times.append(time.perf_counter() - started)
    return 2 * size ** 3 / min(times)


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from gan_tf import hardware

    if FLAGS.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op_threads)

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (FLAGS.num_images, 28, 28, 1), dtype=np.uint8)
    images = pixels.astype(np.float32) / 127.5 - 1.0
    peak_matmul = matmul_flops_per_second()
    report = {"inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
              "batch_size": FLAGS.batch_size, "steps_per_round": FLAGS.steps,
              "rounds": FLAGS.rounds, "matmul_gflops": round(peak_matmul / 1e9, 1),
              "architectures": {}}
    for architecture in FLAGS.architectures:
        runners = {}
        for mode in FLAGS.modes:
            if mode == "tutorial_loop":
                runners[mode] = plain_loop(architecture, images, FLAGS.batch_size, "tutorial")
            elif mode == "plain_alternating_loop":
                runners[mode] = plain_loop(architecture, images, FLAGS.batch_size,
                                           "alternating")
            elif mode == "same_work_loop":
                runners[mode] = plain_loop(architecture, images, FLAGS.batch_size, "same_work")
            elif mode == "gan_tf_fit":
                runners[mode] = gan_tf_fit(architecture, pixels, FLAGS.batch_size, "float32")
            elif mode == "gan_tf_fit_bf16":
                runners[mode] = gan_tf_fit(architecture, pixels, FLAGS.batch_size,
                                           "mixed_bfloat16")
            elif mode.startswith("gan_tf_fit_simultaneous"):
                runners[mode] = gan_tf_fit(architecture, pixels, FLAGS.batch_size,
                                           "mixed_bfloat16" if mode.endswith("bf16") else
                                           "float32", update="simultaneous")
        for run, _ in runners.values():
            run(FLAGS.steps)  # warm-up: tracing and the first steps
        seconds = {mode: [] for mode in runners}
        for _ in range(FLAGS.rounds):
            for mode, (run, _) in runners.items():
                started = time.perf_counter()
                run(FLAGS.steps)
                seconds[mode].append(time.perf_counter() - started)
        long_runs = {}
        for mode, (run, _) in runners.items() if FLAGS.long_steps else ():
            timer = step_timer()
            started = time.perf_counter()
            steps = run(FLAGS.long_steps, timer)
            wall = time.perf_counter() - started
            long_runs[mode] = {"long_seconds": round(wall, 3), "long_steps": steps}
            if timer.last_batch_end is not None:
                long_runs[mode]["long_outside_batches_seconds"] = round(
                    wall - (timer.last_batch_end - timer.first_batch_begin), 3)
        generator, discriminator = next(iter(runners.values()))[1]
        g_flops, d_flops = forward_flops(generator), forward_flops(discriminator)
        results = {}
        for mode, times in seconds.items():
            per_image = step_flops(g_flops, d_flops,
                                   mode == "tutorial_loop" or "simultaneous" in mode)
            per_second = FLAGS.steps * FLAGS.batch_size / statistics.median(times)
            results[mode] = {"images_per_second": round(per_second, 1),
                             "model_gflops": round(per_second * per_image / 1e9, 2),
                             "mfu": round(per_second * per_image / peak_matmul, 4),
                             "round_seconds": [round(t, 3) for t in times]}
            if mode in long_runs:
                long_rate = (long_runs[mode]["long_steps"] * FLAGS.batch_size
                             / long_runs[mode]["long_seconds"])
                results[mode].update(long_runs[mode], long_images_per_second=round(long_rate, 1),
                                     long_mfu=round(long_rate * per_image / peak_matmul, 4))
        for reference in ("same_work_loop", "plain_alternating_loop", "tutorial_loop"):
            if reference not in results:
                continue
            base = results[reference]
            for result in results.values():
                result[f"vs_{reference}"] = round(
                    result["images_per_second"] / base["images_per_second"], 2)
                # Round by round (the same round of each mode ran back to back).
                result[f"vs_{reference}_by_round"] = [
                    round(theirs / ours, 2) for ours, theirs in zip(
                        result["round_seconds"], base["round_seconds"])]
                if "long_images_per_second" in result and "long_images_per_second" in base:
                    result[f"long_vs_{reference}"] = round(
                        result["long_images_per_second"] / base["long_images_per_second"], 2)
        report["architectures"][architecture] = {
            "generator_forward_mflops": round(g_flops / 1e6, 2),
            "discriminator_forward_mflops": round(d_flops / 1e6, 2), "modes": results}
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["cpu"] = hardware.describe_cpu()  # the figures mean little without it
    print(json.dumps(report))


if __name__ == "__main__":
    app.run(main)
