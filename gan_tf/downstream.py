"""Does a run's generated data help a classifier, more than ordinary augmentation does?

`downstream_report(run_dir)` answers it on the run's own data. The run must have been
trained with `--holdout` (a class-balanced test split that nothing in the run saw) and
`--conditional` (so its samples come with labels). It trains the same classifier, from
the same seeds and for the same number of steps, in five arms:

1. `real`: the real images the GAN trained on;
2. `real_augmented`: the same with ordinary augmentation (Keras preprocessing layers:
   translation, rotation, zoom, contrast; horizontal flips only when validation prefers
   them), its strength chosen on a validation split carved from the real training images;
3. `real_generated`: real and generated images, `generated_fraction` of each batch
   generated;
4. `real_augmented_generated`: the same, augmented as in arm 2;
5. `generated`: generated images only (the Classification Accuracy Score of Ravuri and
   Vinyals, 2019).

It tests each on the held-out split and reports each arm's mean and standard deviation,
the paired gain of arm 4 over arm 2 with its 95% interval, and one verdict line. The
interval is a paired bootstrap over the test images and the seeds together
(`stats.paired_bootstrap`), so it holds the test split's own sampling error: with every seed
scoring alike it is still as wide as a few test images make it, not zero.

The validation split (which chooses the augmentation, and which `split="validation"`
tests on instead of the held-out images, to choose options without touching the test
split) is made of real images the GAN never trained on when there are some (the images
`--max_examples` left out, as many per class as the test split has); otherwise it is a
fifth of the GAN's training images, the report says `validation_seen_by_gan`, and the
arms with generated images score optimistically on it.
"""

import dataclasses
import json
import os
import time

import numpy as np

from gan_tf import progress, stats
from gan_tf.errors import UserError, check_choice, check_positive_int, invalid
from gan_tf.files import check_report_folder
from gan_tf.messages import get_logger

_logger = get_logger(__name__)

ARMS = ("real", "real_augmented", "real_generated", "real_augmented_generated", "generated")
TITLES = {"real": "real", "real_augmented": "real + augmentation",
          "real_generated": "real + generated",
          "real_augmented_generated": "real + augmentation + generated",
          "generated": "generated only"}
# Ordinary augmentation strengths: (translation, rotation in turns, zoom, contrast).
AUGMENTATIONS = {"light": (0.05, 0.02, 0.05, 0.1),
                 "medium": (0.1, 0.04, 0.1, 0.2),
                 "strong": (0.15, 0.08, 0.15, 0.3)}
FLIP = "+flip"  # e.g. "medium+flip": also random horizontal flips
AUTO = "auto"  # choose among AUGMENTATIONS, with and without flips, on validation
SAMPLE_FILTERS = ("confident", "none")
SPLITS = ("test", "validation")
VALIDATION_FRACTION = 0.2
MIN_TEST_PER_CLASS = 5
MIN_TRAIN_PER_CLASS = 2  # one to validate on, one to train on
BATCH_SIZE = 64
REPORT_FILE = "report.json"
PLOT_FILE = "downstream.png"
FOLDER = "downstream"
MAX_FILTER_ROUNDS = 10  # draws of num_generated samples the filter may look through


@dataclasses.dataclass
class Options:
    """What a downstream report does; every field has a sensible default.

    num_generated: generated images (balanced over classes) in the arms that use them.
    generated_fraction: share of generated images in each batch of arms 3 and 4.
    sample_filter: "confident" keeps samples that a classifier trained on the real
        training images reads as their requested class with probability >=
        `min_confidence`; "none" keeps every sample.
    seeds: classifier seeds per arm (the same seeds in every arm, so arms are paired).
    steps: classifier training steps (batches of 64) in every arm.
    augmentation: "auto" (chosen on validation) or a strength of `AUGMENTATIONS`,
        optionally with "+flip".
    validation_seeds: seeds per candidate when choosing the augmentation.
    classifier: a `.keras` classifier to use instead of the small CNN (its architecture is
        trained from scratch in every arm).
    checkpoint: the run's "latest" or "best" checkpoint.
    seed: seed of the generated samples.
    split: "test" (the held-out split) or "validation" (to choose options).
    """

    num_generated: int = 5000
    generated_fraction: float = 0.5
    sample_filter: str = "confident"
    min_confidence: float = 0.9
    seeds: int = 5
    steps: int = 1000
    augmentation: str = AUTO
    validation_seeds: int = 2
    classifier: str = None
    checkpoint: str = "latest"
    seed: int = 0
    split: str = "test"

    def validate(self):
        for name in ("num_generated", "seeds", "steps", "validation_seeds"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.generated_fraction, (int, float)) or not (
                0 < self.generated_fraction < 1):
            raise invalid("generated_fraction", self.generated_fraction,
                          "a fraction between 0 and 1 (of each batch), e.g. 0.5")
        check_choice("sample_filter", self.sample_filter, SAMPLE_FILTERS)
        if not isinstance(self.min_confidence, (int, float)) or not (
                0 < self.min_confidence < 1):
            raise invalid("min_confidence", self.min_confidence,
                          "a probability between 0 and 1, e.g. 0.9")
        check_choice("split", self.split, SPLITS)
        check_choice("checkpoint", self.checkpoint, ("latest", "best"))
        if self.augmentation != AUTO:
            strength = self.augmentation[:-len(FLIP)] if self.augmentation.endswith(
                FLIP) else self.augmentation
            if strength not in AUGMENTATIONS:
                raise invalid("augmentation", self.augmentation,
                              f"{AUTO} (chosen on validation) or one of "
                              f"{', '.join(AUGMENTATIONS)}, optionally with {FLIP}")


def verdict(gain):
    """One plain line from the paired gain (`stats.paired_bootstrap`) of arm 4 over arm 2
    (accuracies)."""
    mean, low, high = gain["mean"], gain["ci_low"], gain["ci_high"]
    interval = f"(95% CI {100 * low:+.1f} to {100 * high:+.1f})"
    if low > 0:
        return (f"generated data adds {100 * mean:+.1f} points over ordinary augmentation "
                f"{interval}")
    if high < 0:
        return (f"generated data does not help here: it costs {100 * -mean:.1f} points "
                f"against ordinary augmentation {interval}; use ordinary augmentation")
    return (f"generated data does not help here: {100 * mean:+.1f} points over ordinary "
            f"augmentation {interval}, within the noise; use ordinary augmentation")


def check_run(run_dir):
    """`(config, holdout record)` of a run a downstream report can use; UserError if not."""
    from gan_tf import runs

    config, dataset = runs.read_run_config(run_dir)
    if not dataset.get("num_classes"):
        raise UserError(f"{run_dir} was trained on unlabelled data ({dataset['name']}): a "
                        "downstream report trains a classifier, which needs labels. Train "
                        "on a labelled dataset (folder:PATH with one sub-folder per class, "
                        "or a .npz with labels).")
    if not config.holdout:
        raise UserError(f"{run_dir} was trained without --holdout, so every real image may "
                        "have been seen by the GAN and none is left to test on. Train with "
                        "--holdout=0.2 (a fifth of each class kept for testing) and "
                        "--conditional.")
    if not config.conditional:
        raise UserError(f"{run_dir} was trained without --conditional, so its samples have "
                        "no labels to train a classifier with. Train with --conditional "
                        "(and --holdout) on the same data.")
    return config, runs.read_holdout(run_dir)


@progress.showing
def downstream_report(run_dir, options=None, output_dir=None):
    """Trains and tests the five arms; writes report.json and downstream.png.

    Args:
        run_dir: a run trained with `--holdout` and `--conditional`.
        options: `Options` (defaults when None).
        output_dir: where to write (default `RUN/evaluation/downstream`, or
            `RUN/evaluation/downstream_validation` with `split="validation"`).

    Returns:
        `(report, output_dir)`.

    Raises:
        UserError: the run or the options cannot give a report (nothing is written).
    """
    from gan_tf import runs, samplers

    options = options or Options()
    options.validate()
    started = time.perf_counter()
    splits = prepared_splits(run_dir, options.split)
    output_dir = output_dir or os.path.join(
        runs.evaluation_dir(run_dir, options.checkpoint),
        FOLDER + ("" if options.split == "test" else "_validation"))
    output_dir = os.path.abspath(output_dir)
    existing = os.path.dirname(output_dir)
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK):
        raise UserError(f"Cannot write the report to {output_dir}: {existing} is not "
                        "writable. Pass --output=DIR, a folder you can write to.")
    check_report_folder(output_dir, (REPORT_FILE, PLOT_FILE))  # before minutes of work
    classifier = classifier_factory(options.classifier, splits.image_shape,
                                    splits.num_classes)
    sampler = samplers.load_sampler(run_dir, options.checkpoint)
    trainer = Trainer(classifier, options.steps, splits.test_x, splits.test_y)

    _logger.info(f"Downstream report of {run_dir}: {len(splits.train_y)} real training "
                 f"images, {len(splits.test_y)} {options.split} images, "
                 f"{splits.num_classes} classes; "
                 f"{options.seeds} seeds x {len(ARMS)} arms, {options.steps} steps each.")
    augmentation, candidates = _choose_augmentation(options, trainer, splits.fit_x,
                                                    splits.fit_y, splits.val_x, splits.val_y)
    generated_x, generated_y, filtering = generated_images(
        sampler, options, trainer, splits.train_x, splits.train_y, augmentation,
        splits.num_classes)
    arms, predictions = _train_arms(trainer, options, augmentation,
                                    (splits.train_x, splits.train_y),
                                    (generated_x, generated_y))
    gain = stats.paired_bootstrap(stats.accuracy, splits.test_y,
                                  predictions["real_augmented_generated"],
                                  predictions["real_augmented"], seed=options.seed)
    report = {
        "run_dir": os.path.abspath(run_dir), "dataset": splits.dataset,
        "classes": splits.class_names,
        "split": options.split, "real_train_images": int(len(splits.train_y)),
        "test_images": int(len(splits.test_y)), "validation_images": int(len(splits.val_y)),
        "validation_seen_by_gan": splits.validation_seen_by_gan,
        "classifier": options.classifier or "small CNN (gan_tf.downstream.small_cnn)",
        "steps": options.steps, "batch_size": BATCH_SIZE, "seeds": list(range(options.seeds)),
        "checkpoint": options.checkpoint,
        "generated": {"images": int(len(generated_y)),
                      "fraction_of_each_batch": options.generated_fraction,
                      "sample_seed": options.seed, **filtering},
        "augmentation": {"chosen": augmentation, "validation_accuracy": candidates},
        "arms": arms, "gain_over_augmentation": gain, "verdict": verdict(gain),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _write(report, output_dir)
    return report, output_dir


@dataclasses.dataclass
class Splits:
    """A run's real images for a downstream report, float32 in [-1, 1], labels int.

    train_x, train_y: what the arms train on (the GAN's training images; with
        `split="validation"`, the fit part below).
    test_x, test_y: what the arms are tested on (the held-out split; with
        `split="validation"`, the validation images).
    fit_x, fit_y, val_x, val_y: what the augmentation is chosen on.
    validation_indices: the unseen validation images' indices in the run's dataset; None
        when no unseen images were left and the validation images are a fifth of the GAN's
        training images (`validation_seen_by_gan`).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    fit_x: np.ndarray
    fit_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    validation_indices: np.ndarray
    num_classes: int
    class_names: list
    image_shape: tuple
    dataset: str

    @property
    def validation_seen_by_gan(self):
        """The GAN trained on the validation images: arms with generated images score
        optimistically on them."""
        return self.validation_indices is None


def prepared_splits(run_dir, split="test"):
    """The `Splits` of a run that a downstream report can use; UserError if it cannot.

    The validation images are real images the GAN never trained on (those
    `--max_examples` left out, as many per class as the test split has) when there are
    some, otherwise a fifth of its training images. `split="validation"` trains on the fit
    part and tests on the validation images, so options can be chosen without the test
    split.
    """
    from gan_tf import runs

    check_choice("split", split, SPLITS)
    config, holdout = check_run(run_dir)
    run_data = runs.load_run_data(config, download=False)
    if [int(i) for i in run_data.held_out] != holdout["held_out"]:
        raise UserError(f"The held-out split recorded in {run_dir} differs from the one its "
                        "dataset gives now: the data changed since training, so the test "
                        "images may have been trained on. Restore the dataset.")
    data = run_data.everything
    _check_fits_in_memory(data, run_data.trained)
    names = list(data.class_names or [str(c) for c in range(data.num_classes)])
    train_x = real_pixels(data.images[run_data.trained])
    train_y = data.labels[run_data.trained]
    test_x = real_pixels(data.images[run_data.held_out])
    test_y = data.labels[run_data.held_out]
    _check_counts(train_y, test_y, names, data.num_classes)
    unseen = _unseen_validation(run_data, np.bincount(test_y, minlength=data.num_classes),
                                config.seed)
    if unseen is not None:
        fit_x, fit_y = train_x, train_y
        val_x, val_y = real_pixels(data.images[unseen]), data.labels[unseen]
    else:
        fit_idx, val_idx = _validation_split(train_y, config.seed)
        fit_x, fit_y, val_x, val_y = (train_x[fit_idx], train_y[fit_idx], train_x[val_idx],
                                      train_y[val_idx])
    if split == "validation":
        train_x, train_y, test_x, test_y = fit_x, fit_y, val_x, val_y
        if unseen is None:
            _logger.warning("Warning: the GAN trained on every real training image, so the "
                            "validation images were carved from images it has seen: the "
                            "arms with generated images score optimistically here. Compare "
                            "options with each other, not with the real-only arms.")
    return Splits(train_x, train_y, test_x, test_y, fit_x, fit_y, val_x, val_y,
                  validation_indices=unseen, num_classes=data.num_classes,
                  class_names=names, image_shape=tuple(data.image_shape), dataset=data.name)


def summary_lines(report):
    """The report as printable lines: each arm, then the verdict."""
    lines = [f"{report['split'].capitalize()} accuracy on {report['test_images']} "
             f"{'held-out' if report['split'] == 'test' else 'validation'} images "
             f"({len(report['seeds'])} seeds, {report['steps']} steps each):"]
    for arm in ARMS:
        result = report["arms"][arm]
        lines.append(f"  {TITLES[arm]:<34} {100 * result['mean']:6.2f} "
                     f"+- {100 * result['std']:.2f}")
    how = (f"chosen on {report['validation_images']} validation images"
           if report["augmentation"]["validation_accuracy"] else "as asked")
    lines.append(f"Augmentation: {report['augmentation']['chosen']} ({how}). Generated: "
                 f"{report['generated']['images']} images, "
                 f"{100 * report['generated']['fraction_of_each_batch']:.0f}% of each batch "
                 f"(filter: {report['generated']['filter']}).")
    lines.append("Verdict: " + report["verdict"] + ".")
    return lines


# --- The pieces ------------------------------------------------------------------------


def small_cnn(image_shape, num_classes):
    """The default classifier: a small CNN sized to the images (logits out)."""
    import keras

    layers = [keras.Input(tuple(image_shape))]
    size, filters = min(image_shape[:2]), 32
    while size >= 8 and filters <= 128:
        layers += [keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
                   keras.layers.MaxPooling2D()]
        size, filters = size // 2, filters * 2
    layers += [keras.layers.Flatten(), keras.layers.Dropout(0.3),
               keras.layers.Dense(num_classes)]
    return keras.Sequential(layers)


def augmentation_layers(name, seed=0):
    """The Keras preprocessing layers of augmentation `name` (e.g. "medium+flip").

    Images are in [-1, 1]; pixels moved in from outside repeat the nearest edge.
    """
    import keras

    flip = name.endswith(FLIP)
    translation, rotation, zoom, contrast = AUGMENTATIONS[name[:-len(FLIP)] if flip else name]
    layers = [keras.layers.RandomTranslation(translation, translation, fill_mode="nearest",
                                             seed=seed),
              keras.layers.RandomRotation(rotation, fill_mode="nearest", seed=seed + 1),
              keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seed + 2),
              keras.layers.RandomContrast(contrast, value_range=(-1.0, 1.0), seed=seed + 3)]
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 4))
    return keras.Sequential(layers)


def real_pixels(pixels):
    """uint8 pixels as the float32 images in [-1, 1] that the classifiers take."""
    return (np.asarray(pixels, np.float32) / 127.5 - 1.0).astype(np.float32)


def _check_fits_in_memory(data, trained):
    """Refuses a streamed dataset whose training images would not fit in memory as float32:
    the report's classifiers train on them in memory (it is meant for small labelled data)."""
    from gan_tf import data as data_lib

    if not data_lib.is_streamed(data):
        return
    needed = 4 * len(data) * int(np.prod(data.image_shape))
    if needed > data_lib.memory_budget():
        raise UserError(
            f"--downstream trains its classifiers in memory, but {data.name} is streamed from "
            f"disk and its {len(data):,} images take {needed / 2**30:.1f} GiB as float32 "
            f"({len(trained):,} trained on). It is meant for small labelled datasets: train a "
            "run with --max_examples (e.g. 5000) and --holdout, and report on that.")


def _check_counts(train_y, test_y, names, num_classes):
    """UserError when a class has too few held-out or training images for a report."""
    for labels, minimum, what, needed_for, fix in (
            (test_y, MIN_TEST_PER_CLASS, "held-out images", "a test accuracy",
             "a larger --holdout (or more images in those classes)"),
            (train_y, MIN_TRAIN_PER_CLASS, "training images", "choosing the augmentation",
             "a smaller --holdout or a larger --max_examples")):
        counts = np.bincount(labels, minlength=num_classes)
        few = [f"{names[c]} ({counts[c]})" for c in range(num_classes) if counts[c] < minimum]
        if few:
            raise UserError(f"Too few {what} in {len(few)} class(es): {', '.join(few[:10])}; "
                            f"{needed_for} needs at least {minimum} per class. Train again "
                            f"with {fix}.")


def _unseen_validation(run_data, per_class, seed):
    """Indices of real images neither trained on nor held out, as many per class as the
    test split has (`per_class`); None unless every class has `MIN_TEST_PER_CLASS`."""
    data = run_data.everything
    used = np.union1d(run_data.trained, run_data.held_out)
    unused = np.setdiff1d(np.arange(len(data)), used)
    rng = np.random.default_rng([seed, 15485863])
    chosen = []
    for label, wanted in enumerate(per_class):
        members = unused[data.labels[unused] == label]
        if len(members) < MIN_TEST_PER_CLASS:
            return None
        chosen.extend(rng.permutation(members)[:wanted])
    return np.sort(np.array(chosen, np.int64))


def _validation_split(labels, seed):
    """`(fit, validation)` indices: `VALIDATION_FRACTION` of each class, at least one."""
    from gan_tf.data import stratified_split

    return stratified_split(labels, len(labels), VALIDATION_FRACTION, [seed, 104729],
                            at_least=1)


def classifier_factory(path, image_shape, num_classes):
    """A function `seed -> compiled fresh classifier`: the small CNN or the user's model."""
    import keras

    from_logits = True
    template = None
    if path:
        from gan_tf import model_files

        template = model_files.load_keras_generator(path)
        shape = tuple(template.input_shape[1:])
        outputs = template.output_shape
        if shape != tuple(image_shape) or outputs[-1] != num_classes:
            raise UserError(f"--classifier={path} takes {shape} images and gives "
                            f"{outputs[-1]} outputs, but the run's data are "
                            f"{tuple(image_shape)} images of {num_classes} classes. Pass a "
                            "classifier built for them.")
        activation = getattr(template.layers[-1], "activation", None)
        from_logits = getattr(activation, "__name__", "") != "softmax"

    def make(seed):
        """A fresh compiled classifier; `make.from_logits` says what its outputs are."""
        keras.utils.set_random_seed(seed)
        model = (keras.models.clone_model(template) if template is not None
                 else small_cnn(image_shape, num_classes))
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                      metrics=["accuracy"])
        return model

    make.from_logits = from_logits
    return make


class Trainer:
    """Trains a fresh classifier on a mix of image sets and tests it."""

    def __init__(self, make_classifier, steps, test_x, test_y):
        self.make_classifier = make_classifier
        self.steps = steps
        self.test_x, self.test_y = test_x, test_y

    def fit(self, sets, weights, seed, augmentation=None):
        """The classifier after `steps` batches drawn from `sets` with `weights`."""
        import tensorflow as tf

        # The classifier first: it sets the global seeds, which tf.data's shuffles and
        # sampling combine with their own, so each fit is a function of `seed` alone.
        model = self.make_classifier(seed)
        streams = [tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
                   .shuffle(len(y), seed=seed + i, reshuffle_each_iteration=True).repeat()
                   for i, (x, y) in enumerate(sets)]
        dataset = streams[0] if len(streams) == 1 else tf.data.Dataset.sample_from_datasets(
            streams, weights=list(weights), seed=seed)
        dataset = dataset.batch(BATCH_SIZE)
        if augmentation:
            layers = augmentation_layers(augmentation, seed=1000 * seed + 17)
            # One call at a time: the layers draw from one random state, so parallel
            # calls would take its draws in a racing order and no two reports would agree.
            dataset = dataset.map(lambda x, y: (layers(x, training=True), y))
        model.fit(dataset.prefetch(2), steps_per_epoch=self.steps, epochs=1, verbose=0,
                  shuffle=False)
        return model

    def probabilities(self, model, images):
        """The classifier's class probabilities for `images`."""
        outputs = _outputs(model, images).astype(np.float64)
        return _softmax(outputs) if self.make_classifier.from_logits else outputs

    def predictions(self, model, x=None):
        """The classifier's predicted classes for `x` (default: the test images)."""
        return np.argmax(_outputs(model, self.test_x if x is None else x), axis=-1)

    def accuracy(self, model, x=None, y=None):
        x, y = (self.test_x, self.test_y) if x is None else (x, y)
        return float(np.mean(self.predictions(model, x) == y))


def _choose_augmentation(options, trainer, fit_x, fit_y, val_x, val_y):
    """The augmentation with the best mean validation accuracy, and every candidate's."""
    if options.augmentation != AUTO:
        return options.augmentation, {}
    names = [name + flip for name in AUGMENTATIONS for flip in ("", FLIP)]
    scores = {}
    for number, name in enumerate(names, 1):
        accuracies = [trainer.accuracy(trainer.fit([(fit_x, fit_y)], [1.0], seed, name),
                                       val_x, val_y)
                      for seed in range(options.validation_seeds)]
        scores[name] = float(np.mean(accuracies))
        _logger.info(f"[augmentation {number}/{len(names)}] {name}: validation accuracy "
                     f"{100 * scores[name]:.2f}%")
    chosen = max(names, key=lambda name: scores[name])  # the first of equals: the lighter
    return chosen, scores


def generated_images(sampler, options, trainer, train_x, train_y, augmentation, num_classes):
    """`(images, labels, facts)`: balanced generated images, filtered if asked."""
    from gan_tf.generate_lib import label_plan

    planned = label_plan(options.num_generated, range(num_classes))
    if options.sample_filter == "none":
        images = sampler.generate(options.num_generated, seed=options.seed, labels=planned)
        return images.astype(np.float32), planned, {"filter": "none"}
    quota = np.bincount(planned, minlength=num_classes)
    judge = trainer.fit([(train_x, train_y)], [1.0], seed=0, augmentation=augmentation)
    kept_x, kept_y = [], []
    have = np.zeros(num_classes, np.int64)
    drawn = accepted = 0
    for round_number in range(MAX_FILTER_ROUNDS):
        needed = np.maximum(quota - have, 0)
        if not needed.any():
            break
        classes = np.flatnonzero(needed)
        count = options.num_generated
        labels = label_plan(count, classes)
        images = sampler.generate(count, seed=options.seed + round_number, labels=labels)
        chosen, confident = confident_choice(trainer.probabilities(judge, images), labels,
                                             needed, options.min_confidence)
        drawn += count
        accepted += confident
        kept_x.append(images[chosen])
        kept_y.append(labels[chosen])
        have += np.bincount(labels[chosen], minlength=num_classes)
    _logger.info(f"Sample filter: {100 * accepted / max(1, drawn):.1f}% of {drawn} samples "
                 f"read as their class with p >= {options.min_confidence}; kept "
                 f"{int(have.sum())}.")
    if not have.sum():
        raise UserError("The sample filter kept no generated image: the classifier trained "
                        "on the real images reads none as its requested class. Train the "
                        "GAN longer, or pass --sample_filter=none.")
    short = [int(c) for c in range(num_classes) if have[c] < quota[c]]
    if short:
        _logger.warning(f"Warning: the sample filter kept fewer than asked in classes "
                        f"{short} ({have[short].tolist()} of {quota[short].tolist()}) after "
                        f"{drawn} samples; their generated images repeat more often.")
    images = np.concatenate(kept_x).astype(np.float32)
    labels = np.concatenate(kept_y).astype(np.int32)
    facts = {"filter": "confident", "min_confidence": options.min_confidence,
             "samples_drawn": drawn, "acceptance": round(accepted / max(1, drawn), 4)}
    return images, labels, facts


def confident_choice(probabilities, labels, needed, min_confidence):
    """Which samples the filter keeps: `(indices, number confident)`.

    A sample is confident when its requested class `labels[i]` has probability
    `>= min_confidence`; the first `needed[c]` confident samples of each class c are kept.
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    confident = probabilities[np.arange(len(labels)), labels] >= min_confidence
    kept = [np.flatnonzero(confident & (labels == label))[:needed[label]]
            for label in range(len(needed))]
    return np.sort(np.concatenate(kept)).astype(np.int64), int(confident.sum())


def _outputs(model, images, batch_size=500):
    """The model's outputs, computed in eager batches: `predict` would trace a new function
    for every fresh classifier (and TensorFlow warns about the retracing)."""
    return np.concatenate([np.asarray(model(images[start:start + batch_size], training=False))
                           for start in range(0, len(images), batch_size)])


def _softmax(logits):
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def _train_arms(trainer, options, augmentation, real, generated):
    """`(arms, predictions)`: each arm's test accuracies over the seeds, their mean and
    standard deviation; and each arm's `(seeds, test images)` predicted classes."""
    fraction = options.generated_fraction
    recipes = {"real": ([real], [1.0], None),
               "real_augmented": ([real], [1.0], augmentation),
               "real_generated": ([real, generated], [1 - fraction, fraction], None),
               "real_augmented_generated": ([real, generated], [1 - fraction, fraction],
                                            augmentation),
               "generated": ([generated], [1.0], None)}
    arms, predictions = {}, {}
    total, done = len(ARMS) * options.seeds, 0
    for arm in ARMS:
        sets, weights, augment = recipes[arm]
        each, predicted = [], []
        for seed in range(options.seeds):
            started = time.perf_counter()
            predicted.append(trainer.predictions(trainer.fit(sets, weights, seed, augment)))
            each.append(stats.accuracy(trainer.test_y, predicted[-1]))
            done += 1
            _logger.info(f"[{done}/{total}] {TITLES[arm]}, seed {seed}: accuracy "
                         f"{100 * each[-1]:.2f}% ({time.perf_counter() - started:.1f} s)")
        mean, std = stats.mean_and_std(each)
        arms[arm] = {"title": TITLES[arm], "mean": mean, "std": std, "each": each}
        predictions[arm] = np.stack(predicted)
    return arms, predictions


def _write(report, output_dir):
    """report.json and the bar plot, moved into `output_dir` together."""
    from gan_tf import plots
    from gan_tf.files import replace_report_folder, staging_directory

    with staging_directory(output_dir, "downstream") as staging:
        with open(os.path.join(staging, REPORT_FILE), "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2)
            stream.write("\n")
        plots.plot_downstream(report, os.path.join(staging, PLOT_FILE))
        # An earlier report of this run is replaced whole; a folder of other files is refused.
        replace_report_folder(staging, output_dir, (REPORT_FILE, PLOT_FILE))
