"""`SampleQuality`: FD/KD (FID/KID with the reference graph) and class coverage during training,
and the best checkpoint."""

import inspect
import json
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf.errors import check_positive_int, invalid
from gan_tf.files import atomic_write_text
from gan_tf.gan import (call_sampler, check_sampling_options, class_labels, latent_dim_of,
                        latent_distribution_of, num_classes_of, numpy_latents)
from gan_tf.messages import get_logger
from gan_tf.callbacks.checkpoint_folders import check_checkpoint_list, save_checkpoint

_logger = get_logger(__name__)


def generation_batch(image_shape):
    """Samples per generator call while scoring: 500 for 28x28x1 digits, fewer for larger
    images, so the generator's activations stay about the same size (at 64x48 RGB the
    residual G's 500-sample batch took ~2 GB); at least 32."""
    pixels = int(np.prod([d for d in image_shape if d is not None][-3:]))
    return max(32, min(500, 500 * 28 * 28 // pixels))


# A foreign generator's largest activation, over a batch, is kept near this many bytes.
ACTIVATION_BUDGET = 64 * 2 ** 20


def largest_activation(model):
    """The most floats one sample occupies in any layer output of `model` (its sub-models
    included), or None when Keras does not know the layers' output shapes (a subclassed
    model)."""
    largest = None
    for layer in getattr(model, "layers", None) or ():
        inner = largest_activation(layer) if getattr(layer, "layers", None) else None
        try:
            outputs = tf.nest.flatten(layer.output)
        except (AttributeError, ValueError):
            outputs = []
        sizes = [inner or 0] + [int(np.prod(o.shape[1:])) for o in outputs
                                if all(d is not None for d in o.shape[1:])]
        if max(sizes):
            largest = max(largest or 0, max(sizes))
    return largest


def foreign_generation_batch(generator):
    """Samples per call of another project's generator while scoring: its largest layer
    output over a batch about `ACTIVATION_BUDGET` bytes (keras-io's 64x64 DCGAN, whose last
    transposed convolution makes 64x64x512 floats a sample: 7), at most 500; 32 when its
    shapes are unknown."""
    largest = largest_activation(generator)
    if not largest:
        return 32
    return max(1, min(500, ACTIVATION_BUDGET // (4 * largest)))


class SampleQuality(keras.callbacks.Callback):
    """Scores samples every N epochs, keeps the best checkpoint by FD, warns on collapse.

    Every `every_n_epochs` epochs and after the last epoch it draws `num_samples` samples
    (always from the same seed, so epochs are compared on the same latents), computes their
    Frechet distance and KID to `real["features"]` (and, when the extractor is a classifier
    of the dataset's classes, class coverage) and adds them to the epoch's logs as `fd`, `kid`,
    `class_coverage` (and `requested_class_accuracy` for a conditional GAN), so `MetricsLog`,
    TensorBoard and `History` record them. Put it before those callbacks in the list. The keys
    stay `fd` and `kid` whatever the judge; what they are called (the extractor's
    `metric_names`: "FID"/"KID" only for the reference Inception graph, "FD (classifier
    features)" and the like otherwise) is in its log lines and in `best.json`.

    It warns, naming the epoch, when FD rises past `degradation` x its best, or when the
    samples cover `coverage_drop` or more classes fewer than the most they covered at an
    earlier evaluation (mode collapse; a drop of one class is common noise early on). With
    `best_checkpoint_dir` it saves the objects of `items` (default:
    `model.checkpoint_items()`) whenever FD reaches a new best, with `best.json`.

    **Which generator, and how it is called.** A `gan_tf.GAN` is sampled with its
    `generate` (the EMA generator when it keeps one). Any other model: `generator` (default
    `model.generator`, else the model) is called on latents drawn once from `seed`, as
    `generator(latents)`, or `generator([latents, labels])` when it has `num_classes`; a
    generator with another convention (e.g. one-hot labels concatenated to the latents) is
    called through `sample_fn(latents, labels)`. Its images, in `value_range`, are mapped
    to the [-1, 1] the extractor and `real` features expect. Samples are drawn and their
    features extracted `batch_size` at a time, so memory stays that of one batch whatever
    `num_samples`.

    Put it in `ResumableCheckpoint(callbacks=[...])` so a resumed run keeps its best score
    and coverage (`get_state` / `set_state`); without that, `best.json` in
    `best_checkpoint_dir` is the fallback.

    Example:
    ```python
    judge = gan_tf.features.DomainClassifier.for_dataset(digits)
    real = gan_tf.features.real_features(judge, digits)
    quality = SampleQuality(judge, real, every_n_epochs=5, best_checkpoint_dir="/tmp/best")
    gan.fit(dataset, epochs=50, callbacks=[quality, MetricsLog("/tmp/metrics.jsonl")])

    # A foreign conditional generator with sigmoid outputs and one-hot labels in its input:
    quality = SampleQuality(judge, real, value_range=(0, 1), latent_dim=128, num_classes=10,
                            sample_fn=lambda z, y: model.generator(
                                tf.concat([z, tf.one_hot(y, 10)], axis=-1)))
    ```

    Args:
        extractor: a `gan_tf.features.Extractor`.
        real: dict with "features" (and optionally "labels") of real images, e.g. from
            `gan_tf.features.real_features`.
        every_n_epochs: how often to score. Defaults to 5.
        num_samples: samples per evaluation. Defaults to 1000.
        seed: seed of the samples. Defaults to 0.
        best_checkpoint_dir: where to keep the best checkpoint by FD (None: do not keep).
        items: objects to checkpoint. Defaults to `model.checkpoint_items()`.
        degradation: FD above this multiple of its best triggers a warning. Defaults to 1.5.
        coverage_drop: classes lost, against the most covered so far, that trigger a
            mode-collapse warning. Defaults to 2.
        generator: the model to sample (not a `gan_tf.GAN`'s). Defaults to
            `model.generator`, else the model being trained.
        sample_fn: `sample_fn(latents, labels) -> images`, for a generator called another
            way; `labels` is None unless `num_classes` is set. Needs `latent_dim`.
        latent_dim: the size of the latents drawn. Defaults to the generator's
            `keras.Input` size.
        num_classes: classes of a conditional generator: samples are drawn for balanced
            labels. Defaults to the generator's (or model's) `num_classes`, else none.
        value_range: the generator's output range, e.g. (0, 1) for a sigmoid. Defaults to
            (-1, 1) (tanh).
        batch_size: samples per generator call and feature extraction. Defaults to 500 for
            gan_tf's 28x28x1 generators and fewer for larger images (`generation_batch`);
            another generator's batches keep its largest layer output near 64 MB
            (`foreign_generation_batch`), or hold 32 samples when its shapes are unknown.

    Scores and warnings go to the `gan_tf.callbacks.sample_quality` logger (see
    `gan_tf.messages`); the warnings are also kept in `warnings`.
    """

    BEST_FILE = "best.json"

    def __init__(self, extractor, real, every_n_epochs=5, num_samples=1000, seed=0,
                 best_checkpoint_dir=None, items=None, degradation=1.5, coverage_drop=2,
                 generator=None, sample_fn=None, latent_dim=None, num_classes=None,
                 value_range=(-1.0, 1.0), batch_size=None):
        super().__init__()
        check_positive_int("every_n_epochs", every_n_epochs)
        check_positive_int("num_samples", num_samples)
        if not degradation > 1:
            raise invalid("degradation", degradation, "a number > 1, e.g. 1.5")
        check_sampling_options(sample_fn, latent_dim, num_classes)
        if batch_size is not None:
            check_positive_int("batch_size", batch_size)
        if (len(value_range) != 2 or not all(isinstance(v, (int, float)) for v in value_range)
                or not value_range[0] < value_range[1]):
            raise invalid("value_range", value_range, "(low, high) with low < high, e.g. (0, 1)")
        self.generator = generator
        self.sample_fn = sample_fn
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.batch_size = batch_size
        self.extractor = extractor
        self.real = real
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.seed = seed
        self.best_checkpoint_dir = best_checkpoint_dir and os.fspath(best_checkpoint_dir)
        self.items = items
        self.degradation = degradation
        check_positive_int("coverage_drop", coverage_drop)
        self.coverage_drop = coverage_drop
        self.most_covered = None  # (classes, epoch): the widest class coverage seen
        self.best = None  # {"epoch", "fd", "class_coverage"}
        self.warnings = []
        self._manager = None
        if self.best_checkpoint_dir:
            path = os.path.join(self.best_checkpoint_dir, self.BEST_FILE)
            if os.path.exists(path):
                try:
                    with open(path, encoding="utf-8") as stream:
                        best = json.load(stream)
                except (OSError, ValueError):
                    best = None
                # Scores from another judge or sample count are not comparable: start over.
                if best and best.get("judge") == self._judge() and best.get(
                        "num_samples") == num_samples:
                    self.best = best
                    if best.get("most_covered"):
                        self.most_covered = tuple(best["most_covered"])
                elif best:
                    _logger.info(f"The best checkpoint in {self.best_checkpoint_dir} was "
                                 f"scored by {best.get('judge')} on {best.get('num_samples')} "
                                 f"samples; now {self._judge()} on {num_samples}: keeping a "
                                 "new best.")

    def _judge(self):
        key = getattr(self.extractor, "key", None)
        return key() if callable(key) else getattr(self.extractor, "name", "extractor")

    def _metric_names(self):
        """What the judge's scores are called ("FID" only for the reference graph)."""
        names = dict(getattr(self.extractor, "metric_names", None) or {})
        names.setdefault("fd", "FD")
        names.setdefault("kid", "KD")
        names["class_coverage"] = "classes covered"
        names["requested_class_accuracy"] = "class asked for, seen"
        return names

    def _foreign(self):
        """True when the model is sampled by calling a generator (not `GAN.generate`)."""
        return (self.sample_fn is not None or self.generator is not None
                or not callable(getattr(self.model, "generate", None)))

    def _resolve_generator(self):
        if self.generator is not None:
            return self.generator
        return getattr(self.model, "generator", None) or self.model

    def _features(self):
        """`(features, probabilities, requested labels)` of this evaluation's samples."""
        if not self._foreign():
            images, requested = self._gan_samples()
            return (*self.extractor.features_and_probabilities(images), requested)
        generator = self._resolve_generator()
        num_classes = self.num_classes or num_classes_of(generator) or num_classes_of(
            self.model)
        requested = class_labels(self.num_samples, num_classes) if num_classes else None
        latent_dim = self.latent_dim or latent_dim_of(generator)
        distribution = ("normal" if self.sample_fn is not None
                        else latent_distribution_of(generator))
        latents = numpy_latents(np.random.default_rng(self.seed),
                                (self.num_samples, latent_dim), distribution)
        batch_size = self.batch_size or foreign_generation_batch(generator)
        low, high = self.value_range
        features, probabilities = [], []
        for start in range(0, self.num_samples, batch_size):
            batch = tf.constant(latents[start:start + batch_size])
            labels = None if requested is None else requested[start:start + batch_size]
            images = np.asarray(call_sampler(generator, self.sample_fn, batch, labels),
                                np.float32)
            if (low, high) != (-1.0, 1.0):
                images = (images - low) * (2.0 / (high - low)) - 1.0
            feature, probability = self.extractor.features_and_probabilities(
                images, batch_size=min(batch_size, self.extractor.batch_size))
            features.append(feature)
            if probability is not None:
                probabilities.append(probability)
        return (np.concatenate(features),
                np.concatenate(probabilities) if probabilities else None, requested)

    def _gan_samples(self):
        """A `gan_tf.GAN`'s samples, from its `generate` (the EMA generator if kept)."""
        generate = self.model.generate
        num_classes = getattr(self.model, "num_classes", None)
        requested = None
        if num_classes:
            requested = class_labels(self.num_samples, num_classes)  # balanced
        options = {"labels": requested} if num_classes else {}
        shape = getattr(getattr(self.model, "generator", None), "output_shape", None)
        if "batch_size" in inspect.signature(generate).parameters:
            if self.batch_size is not None:
                options["batch_size"] = self.batch_size
            elif shape is not None:
                options["batch_size"] = generation_batch(shape)
        images = generate(self.num_samples, seed=self.seed, **options)
        images = np.asarray(images, np.float32)
        low, high = self.value_range
        if (low, high) != (-1.0, 1.0):
            images = (images - low) * (2.0 / (high - low)) - 1.0
        return images, requested

    def get_state(self):
        """What shapes its later results and warnings, JSON-able (for `ResumableCheckpoint`)."""
        return {"best": self.best, "most_covered": self.most_covered,
                "warnings": list(self.warnings)}

    def set_state(self, state):
        """Continues from `state` (from `get_state`), e.g. after a resume."""
        self.best = state["best"] and dict(state["best"])
        self.most_covered = state["most_covered"] and tuple(state["most_covered"])
        if self.best and self.best.get("most_covered"):
            self.best["most_covered"] = tuple(self.best["most_covered"])
        self.warnings = list(state["warnings"])

    def evaluate(self):
        """The current scores: {"fd", "kid", ["class_coverage", "requested_class_accuracy"]}."""
        from gan_tf import metrics

        features, probabilities, requested = self._features()
        labelled = self.real.get("labels") is not None and self.extractor.name == "classifier"
        core = metrics.core_scores(self.real["features"], features,
                                   probabilities if labelled else None,
                                   self.extractor.num_classes, requested, seed=self.seed)
        scores = {"fd": core["fd"], "kid": core["kid"][0]}
        if "class_coverage" in core:
            scores["class_coverage"] = core["class_coverage"]["covered"]
        if "requested_class_accuracy" in core:
            scores["requested_class_accuracy"] = core["requested_class_accuracy"]
        return scores

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        last = (self.params or {}).get("epochs") == epoch
        if epoch % self.every_n_epochs and not last:
            return
        scores = self.evaluate()
        if logs is not None:
            logs.update(scores)
        labels = self._metric_names()
        summary = ", ".join(f"{labels.get(k, k)} {v:.4g}" for k, v in scores.items())
        accuracy = getattr(self.extractor, "accuracy", None)
        judge = self.extractor.name + (f", held-out accuracy {accuracy:.4f}"
                                       if accuracy is not None else "")
        _logger.info(f"Epoch {epoch} sample quality ({self.num_samples} samples; judge: "
                     f"{judge}): {summary}")
        best = self.best
        coverage = scores.get("class_coverage")
        if coverage is not None:
            most = self.most_covered
            if most is not None and coverage <= most[0] - self.coverage_drop:
                self._warn(f"Warning: possible mode collapse at epoch {epoch}: the samples "
                           f"cover {coverage} of {self.extractor.num_classes} classes, against "
                           f"{most[0]} at epoch {most[1]}.")
            if most is None or coverage > most[0]:
                self.most_covered = (coverage, epoch)
        if best is not None and scores["fd"] > self.degradation * best["fd"]:
            self._warn(f"Warning: samples degrading at epoch {epoch}: {labels['fd']} "
                       f"{scores['fd']:.4g} is "
                       f"{scores['fd'] / best['fd']:.1f}x its best ({best['fd']:.4g} at epoch "
                       f"{best['epoch']})."
                       + (f" The best checkpoint is in {self.best_checkpoint_dir}."
                          if self.best_checkpoint_dir else ""))
        if best is None or scores["fd"] < best["fd"]:
            self.best = {"epoch": epoch, **scores, "judge": self._judge(),
                         "metric_names": labels,
                         "judge_accuracy": accuracy, "num_samples": self.num_samples,
                         "most_covered": self.most_covered}
            self._save_best()
        elif self.best.get("most_covered") != self.most_covered:
            self.best["most_covered"] = self.most_covered  # kept for a resumed run
            self._write_best_json()

    def _warn(self, message):
        self.warnings.append(message)
        _logger.warning(message)

    def _save_best(self):
        if not self.best_checkpoint_dir:
            return
        if self._manager is None:
            items = self.items
            if items is None:
                checkpoint_items = getattr(self.model, "checkpoint_items", None)
                items = checkpoint_items() if callable(checkpoint_items) else {
                    "model": self.model}
            os.makedirs(self.best_checkpoint_dir, exist_ok=True)
            check_checkpoint_list(self.best_checkpoint_dir)
            self._manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(**items), self.best_checkpoint_dir, max_to_keep=1,
                checkpoint_name="best")
        save_checkpoint(self._manager, self.best["epoch"], name="best")
        self._write_best_json()

    def _write_best_json(self):
        if self.best_checkpoint_dir:
            atomic_write_text(os.path.join(self.best_checkpoint_dir, self.BEST_FILE),
                              json.dumps(self.best, indent=2) + "\n")
