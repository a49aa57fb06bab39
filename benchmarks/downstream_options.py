r"""Which downstream options make generated data earn a gain? Chosen on validation only.

    python benchmarks/downstream_options.py --run_dir=RUN --variants=base,steps3000,...

For a run trained with `--holdout` and `--conditional` (e.g. one that
`benchmarks/downstream.py` made), trains arm 2 (real + ordinary augmentation) and arm 4
(real + augmentation + generated) of `gan_tf.downstream` on the **validation** split (real
images the GAN never saw; never the held-out test split) for each variant below, with the
same classifier seeds, and prints the paired gain of arm 4 over arm 2 with its 95%
interval. Arm 2 is trained once per (steps, seed) and shared by the variants. Not a timed
test; one JSON line per variant, and a table at the end.

Variants (each changes one thing from `base`, the report's defaults):
  base           the defaults: 5,000 generated, half of each batch, confident filter p>=0.9
  steps3000      3,000 classifier steps in both arms (instead of --steps, 1,000)
  fraction25 / fraction75   a quarter / three quarters of each batch generated
  nofilter       every sample kept
  conf50 / conf99           filter threshold 0.5 / 0.99
  many20000      20,000 generated images
  soft           generated images labelled with a soft target: half the requested class,
                 half the probabilities of the judge (the filter's classifier of real +
                 augmentation)
  augreal        only the real images are augmented; generated ones are used as drawn
  best           the run's best checkpoint instead of the latest
  drs            discriminator rejection sampling (Azadi et al., 2019) instead of the
                 confident filter: the run's discriminator scores each sample with its
                 requested class; F = D - D_max - log(1 - exp(D - D_max - 1e-6)), gamma =
                 the 80th percentile of F, a sample kept with probability sigmoid(F - gamma)
                 (D_max over 20,000 burn-in samples), until each class has its quota
  dtop           the half of twice as many samples that the discriminator scores highest,
                 per class (no confident filter)
  trunc50 / trunc75 / wide125   latents scaled by 0.5 / 0.75 (truncation: typical samples)
                 or 1.25 (more varied ones), then the confident filter
  newreal        not generated at all: real images that neither the GAN, the validation
                 nor the test split holds, as many as the generated ones (up to what is
                 left), labelled truly: what new data could add at best
  newreal3000    the same, with 3,000 classifier steps in both arms
"""

import dataclasses
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("run_dir", None, "a run trained with --holdout and --conditional")
flags.DEFINE_list("variants", ["base"], "variants to compare (see the module doc)")
flags.DEFINE_integer("seeds", 5, "classifier seeds per arm")
flags.DEFINE_integer("steps", 1000, "classifier steps of every variant that sets none")
flags.DEFINE_string("augmentation", "medium",
                    "ordinary augmentation (as chosen on validation)")
flags.DEFINE_string("output", None, "JSON lines file to append results to")
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Variant:
    """One change from the report's defaults: `options` are `downstream.Options` fields;
    the rest are what the report has no option for."""

    options: dict = dataclasses.field(default_factory=dict)
    soft: float = None  # share of the requested class in a soft target; None: one-hot
    augment_generated: bool = True
    select: str = None  # "drs" or "dtop": chosen by the discriminator, not the filter;
    # "real": new real images instead of generated ones (what new data could give at best)
    latent_scale: float = 1.0  # latents times this: < 1 truncates, > 1 widens


VARIANTS = {
    "base": Variant(),
    "steps3000": Variant({"steps": 3000}),
    "fraction25": Variant({"generated_fraction": 0.25}),
    "fraction75": Variant({"generated_fraction": 0.75}),
    "nofilter": Variant({"sample_filter": "none"}),
    "conf50": Variant({"min_confidence": 0.5}),
    "conf99": Variant({"min_confidence": 0.99}),
    "many20000": Variant({"num_generated": 20000}),
    "soft": Variant(soft=0.5),
    "augreal": Variant(augment_generated=False),
    "best": Variant({"checkpoint": "best"}),
    "drs": Variant(select="drs"),
    "dtop": Variant(select="dtop"),
    "trunc50": Variant(latent_scale=0.5),
    "trunc75": Variant(latent_scale=0.75),
    "wide125": Variant(latent_scale=1.25),
    "newreal": Variant(select="real"),
    "newreal3000": Variant({"steps": 3000}, select="real"),
}


def _discriminator_selected(run_dir, options, select, num_classes):
    """`(images, labels, facts)`: samples chosen by the run's discriminator (`select`:
    "drs" or "dtop"), balanced over classes, `options.num_generated` in all."""
    import numpy as np
    import tensorflow as tf

    from gan_tf import runs
    from gan_tf.generate_lib import label_plan

    gan, _, _ = runs.load_run(run_dir, options.checkpoint)

    def draw(count, seed):
        labels = label_plan(count, range(num_classes))
        images = gan.generate(count, seed=seed, labels=labels)
        logits = np.concatenate([
            np.asarray(gan._discriminate(tf.constant(images[i:i + 500]),
                                         tf.constant(labels[i:i + 500], tf.int32)),
                       np.float64).reshape(-1)
            for i in range(0, count, 500)])
        return images, labels, logits

    quota = np.bincount(label_plan(options.num_generated, range(num_classes)),
                        minlength=num_classes)
    if select == "dtop":
        images, labels, logits = draw(2 * options.num_generated, options.seed)
        keep = np.concatenate([
            np.flatnonzero(labels == c)[np.argsort(-logits[labels == c])[:quota[c]]]
            for c in range(num_classes)])
        return images[keep], labels[keep], {"filter": "discriminator top half"}
    _, _, burn = draw(20000, options.seed + 1000)
    d_max = burn.max()

    def score(logits):
        return logits - d_max - np.log1p(-np.exp(np.minimum(logits - d_max, 0.0) - 1e-6))

    gamma = np.percentile(score(burn), 80)
    rng = np.random.default_rng(options.seed)
    kept_x, kept_y, have, drawn = [], [], np.zeros(num_classes, np.int64), 0
    for round_number in range(50):
        if (have >= quota).all():
            break
        images, labels, logits = draw(options.num_generated, options.seed + round_number)
        drawn += len(labels)
        accept = rng.random(len(labels)) < 1 / (1 + np.exp(-(score(logits) - gamma)))
        for c in range(num_classes):
            chosen = np.flatnonzero(accept & (labels == c))[:max(0, quota[c] - have[c])]
            kept_x.append(images[chosen])
            kept_y.append(labels[chosen])
            have[c] += len(chosen)
    return (np.concatenate(kept_x), np.concatenate(kept_y),
            {"filter": "drs", "samples_drawn": drawn,
             "acceptance": round(int(have.sum()) / drawn, 4)})


class _ScaledLatents:
    """A sampler whose latents are scaled by `scale` (the truncation trick when < 1)."""

    def __init__(self, sampler, scale):
        self.sampler, self.scale = sampler, scale

    def generate(self, num_images, seed=0, labels=None):
        from gan_tf.gan import sample_latents

        latents = sample_latents(num_images, self.sampler.latent_dim, seed,
                                 self.sampler.latent_distribution)
        return self.sampler.images_for(self.scale * latents.numpy(), labels)


def _new_real(run_dir, splits, count):
    """`(images, labels, facts)`: up to `count` real images, balanced over classes, that
    neither the GAN, the held-out split nor the validation split holds."""
    import numpy as np

    from gan_tf import downstream, runs

    config, _ = runs.read_run_config(run_dir)
    run_data = runs.load_run_data(config, download=False)
    data = run_data.everything
    used = np.concatenate([run_data.trained, run_data.held_out, splits.validation_indices])
    spare = np.setdiff1d(np.arange(len(data)), used)
    per_class = min(count // splits.num_classes,
                    *np.bincount(data.labels[spare], minlength=splits.num_classes))
    rng = np.random.default_rng(0)
    chosen = np.sort(np.concatenate([
        rng.permutation(spare[data.labels[spare] == c])[:per_class]
        for c in range(splits.num_classes)]))
    return (downstream.real_pixels(data.images[chosen]), data.labels[chosen].astype(np.int32),
            {"filter": "new real images", "per_class": int(per_class)})


class _SoftTrainer:
    """`downstream.Trainer`, with one-hot or soft targets and optional augmentation of the
    first set only (the real images)."""

    def __init__(self, trainer, num_classes):
        self.trainer, self.num_classes = trainer, num_classes

    def fit(self, sets, weights, seed, augmentation, augment_all=True):
        import keras
        import numpy as np
        import tensorflow as tf

        from gan_tf import downstream

        model = self.trainer.make_classifier(seed)  # first: it sets the global seeds
        streams = []
        for i, (x, y) in enumerate(sets):
            y = np.asarray(y)
            targets = (np.eye(self.num_classes, dtype=np.float32)[y] if y.ndim == 1
                       else y.astype(np.float32))
            flags_ = np.full(len(x), 1.0 if (augment_all or i == 0) else 0.0, np.float32)
            streams.append(tf.data.Dataset.from_tensor_slices((x, targets, flags_))
                           .shuffle(len(x), seed=seed + i, reshuffle_each_iteration=True)
                           .repeat())
        dataset = tf.data.Dataset.sample_from_datasets(streams, weights=list(weights),
                                                       seed=seed)
        dataset = dataset.batch(downstream.BATCH_SIZE)
        layers = downstream.augmentation_layers(augmentation, seed=1000 * seed + 17)

        def augment(x, y, flag):
            moved = layers(x, training=True)
            keep = tf.reshape(flag, (-1, 1, 1, 1))
            return keep * moved + (1 - keep) * x, y

        dataset = dataset.map(augment)
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.CategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(dataset.prefetch(2), steps_per_epoch=self.trainer.steps, epochs=1,
                  verbose=0, shuffle=False)
        return model


def main(argv):
    del argv
    import numpy as np

    from gan_tf import downstream, samplers, stats

    splits = downstream.prepared_splits(FLAGS.run_dir, "test")
    if splits.validation_seen_by_gan:
        raise SystemExit("This run has no unseen real images to validate on (train it with "
                         "--max_examples below the dataset's size).")
    # Train on everything the GAN trained on; test on the real images it never saw.
    train_x, train_y = splits.train_x, splits.train_y
    val_x, val_y, num_classes = splits.val_x, splits.val_y, splits.num_classes
    make = downstream.classifier_factory(None, splits.image_shape, num_classes)
    print(f"{len(train_y)} training images, {len(val_y)} validation images "
          f"(unseen by the GAN); augmentation {FLAGS.augmentation}", flush=True)
    baselines, results = {}, []
    for name in FLAGS.variants:
        variant = VARIANTS[name]
        options = downstream.Options(**{"augmentation": FLAGS.augmentation,
                                        "seeds": FLAGS.seeds, "steps": FLAGS.steps,
                                        **variant.options})
        trainer = downstream.Trainer(make, options.steps, val_x, val_y)
        started = time.perf_counter()
        if variant.select == "real":
            gen_x, gen_y, facts = _new_real(FLAGS.run_dir, splits, options.num_generated)
        elif variant.select:
            gen_x, gen_y, facts = _discriminator_selected(FLAGS.run_dir, options,
                                                          variant.select, num_classes)
        else:
            sampler = samplers.load_sampler(FLAGS.run_dir, options.checkpoint)
            if variant.latent_scale != 1.0:
                sampler = _ScaledLatents(sampler, variant.latent_scale)
            gen_x, gen_y, facts = downstream.generated_images(
                sampler, options, trainer, train_x, train_y, FLAGS.augmentation,
                num_classes)
        targets = gen_y
        if variant.soft is not None:
            judge = trainer.fit([(train_x, train_y)], [1.0], seed=0,
                                augmentation=FLAGS.augmentation)
            probabilities = trainer.probabilities(judge, gen_x)
            targets = (variant.soft * np.eye(num_classes)[gen_y]
                       + (1 - variant.soft) * probabilities)
        soft_trainer = _SoftTrainer(trainer, num_classes)
        if options.steps not in baselines:
            baselines[options.steps] = [
                trainer.accuracy(trainer.fit([(train_x, train_y)], [1.0], seed,
                                             FLAGS.augmentation))
                for seed in range(options.seeds)]
        fraction = options.generated_fraction
        with_generated = [
            trainer.accuracy(soft_trainer.fit([(train_x, train_y), (gen_x, targets)],
                                              [1 - fraction, fraction], seed,
                                              FLAGS.augmentation,
                                              variant.augment_generated))
            for seed in range(options.seeds)]
        gain = stats.paired_difference(with_generated, baselines[options.steps])
        result = {"run_dir": FLAGS.run_dir, "variant": name, "split": "validation",
                  "validation_images": int(len(val_y)), "steps": options.steps,
                  "real_augmented": baselines[options.steps],
                  "real_augmented_generated": with_generated,
                  "gain": {k: gain[k] for k in ("mean", "ci_low", "ci_high")},
                  "generated": facts, "seconds": round(time.perf_counter() - started, 1)}
        results.append(result)
        print(json.dumps(result), flush=True)
        if FLAGS.output:
            with open(FLAGS.output, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(result) + "\n")
    print("\nvariant      arm 2 mean  arm 4 mean  gain (95% CI)")
    for result in results:
        gain = result["gain"]
        print(f"{result['variant']:<12} {100 * np.mean(result['real_augmented']):9.2f}  "
              f"{100 * np.mean(result['real_augmented_generated']):9.2f}  "
              f"{100 * gain['mean']:+.2f} ({100 * gain['ci_low']:+.2f} to "
              f"{100 * gain['ci_high']:+.2f})")


if __name__ == "__main__":
    flags.mark_flag_as_required("run_dir")
    app.run(main)
