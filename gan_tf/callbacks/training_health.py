"""`TrainingHealth`: a Keras callback that warns when GAN training goes wrong.

It watches two failures that a loss curve does not show, using only loss-independent
signals, and is usable with any Keras GAN-like model:

- the discriminator overpowering the generator (both of its accuracies near 1 for many
  epochs), read from the epoch's `real_accuracy` and `fake_accuracy` logs;
- collapse: the generator's samples for a fixed set of latent vectors losing their diversity
  (many near-copies, or a spread that shrinks), measured within each class for a
  class-conditional generator.

The thresholds were calibrated on real `gan_tf` runs; BUILD_NOTES.md has the numbers.
"""

import logging

import keras
import numpy as np
import tensorflow as tf

from gan_tf import metrics
from gan_tf.errors import UserError, check_non_negative_int, check_positive_int, invalid
from gan_tf.messages import get_logger
from gan_tf.gan import (call_sampler, check_sampling_options, class_labels, latent_dim_of,
                        latent_distribution_of, num_classes_of, numpy_latents)

# Keys added to the epoch's logs.
D_OVERPOWERING = "health_d_overpowering"
COLLAPSE = "health_collapse"
DIVERSITY = "sample_diversity"
DUPLICATES = "sample_duplicates"

_REMEDIES_D = ("lower the discriminator's learning rate (or raise the generator's), augment "
               "what D sees (DiffAugment / ADA), add an R1 or gradient penalty, or use spectral "
               "normalization on D (in gan_tf's GAN.compile: discriminator_optimizer, "
               "augment='ada', r1_penalty=10; spectral_norm=True on its discriminators)")
_REMEDIES_COLLAPSE = ("look at the sample grid; resume from a checkpoint before it started with "
                      "lower learning rates, an R1 or gradient penalty, spectral normalization "
                      "on D, augmentation, or another loss (hinge, or wasserstein with a "
                      "gradient penalty)")


_logger = get_logger(__name__)


class TrainingHealth(keras.callbacks.Callback):
    """Warns (and logs) when D overpowers G for a sustained period or the samples collapse.

    **D overpowering.** After each epoch it reads `real_accuracy` and `fake_accuracy`, the
    fractions of real and generated images the discriminator classifies correctly (every
    `gan_tf` loss logs them, at that loss's decision threshold, so the rule does not depend
    on the loss). An epoch where both are at least `overpowering_accuracy` is one where D
    separates real from generated almost perfectly, and G learns little from it. Logged as
    `health_d_overpowering` (0 or 1) every epoch. Models that log no such accuracies, and
    Wasserstein critics (whose outputs have no real/fake threshold), skip this check; one
    note says so.

    **Collapse.** Every `every_n_epochs` epochs it generates images from `num_samples` fixed
    latent vectors (drawn once from `seed`, so epochs are compared on the same latents) and
    measures them with the root-mean-square pixel distance between images:

    - `sample_duplicates`: the fraction of samples that have a near-copy, another sample
      closer than `duplicate_distance` x the reference spread (collapse onto a few images);
    - `sample_diversity`: the samples' spread (mean pairwise distance) over the reference
      spread (all samples shrinking towards one image).

    The reference spread is the mean pairwise distance of `real_images` when they are given,
    which makes "near-copy" mean the same on any dataset; for `sample_diversity` it is capped
    by the best spread the samples have had in this run, since samples that never had the
    real data's spread have not *lost* it. Without real images both use that best spread. A
    class-conditional generator (one with `num_classes`, taking `[latents, labels]`) is
    measured within each class, on balanced fixed labels and, with `real_labels`, against
    each class's real images: across classes, a conditional generator that ignores its
    latents still looks diverse. The worst class's value of each is logged. An evaluation shows
    collapse when `sample_duplicates >= max_duplicates` or `sample_diversity <
    min_diversity`. Logged as `health_collapse` (0 or 1) every epoch, with the two statistics
    at each evaluation.

    **When it warns.** A problem starts when it shows in most (`patience // 2 + 1`) of the
    last `patience` judged epochs (D) or evaluations (collapse): a collapsing generator hops
    between modes and looks fine at some evaluations in between. Then one warning names the
    epochs, the numbers and what to try; it is not repeated while the problem lasts. The
    problem ends, with a note, after `patience` judged epochs or evaluations in a row without
    it. Nothing is judged in the first `warmup_epochs` epochs, where D often wins for a few
    hundred steps and the first samples are alike (the statistics are still logged).

    Put it before `MetricsLog`, `TensorBoard` and the like in the callback list, so the keys
    it adds reach them. Its judgement (the patience windows, the best spread, the events)
    carries on across `fit` calls that continue a run and starts over when a `fit` starts
    at an earlier epoch than it has seen; pass it to `ResumableCheckpoint(callbacks=[...])`
    so a resumed run continues it too (`get_state` / `set_state`). It measures the generator being trained (`model.generator`), not an
    averaged (EMA) copy: an average lags the game by about `1 / (1 - decay)` steps, and early
    on its blend of initial and trained weights gives blurry, alike samples.

    Example:
    ```python
    digits = gan_tf.data.load_images()  # uint8 pixels and labels
    some = gan_tf.data.subset_indices(digits.labels, len(digits), 500)  # 50 of each class
    health = TrainingHealth(real_images=digits.images[some], real_labels=digits.labels[some])
    gan.fit(dataset, epochs=50, callbacks=[health, MetricsLog("/tmp/run/metrics.jsonl")])
    health.warnings  # the warnings it gave (also printed to stderr)
    ```

    Args:
        generator: the model that maps latents (or `[latents, labels]`) to images. Defaults
            to `model.generator`, else the model being trained.
        real_images: optional training images, as uint8 pixels or floats in the generator's
            `value_range`, e.g. a few hundred. Up to `num_samples` of them (per class: as
            many as the class has samples) set the reference spread. Without them
            `sample_diversity` compares with the run's best spread, which a generator whose
            first, noisy samples are more spread out than the data may fall below on its way
            to good samples: pass real images when there are any.
        real_labels: the class of each of `real_images`; with a conditional generator each
            class is then compared with its own real images.
        every_n_epochs: measure the samples every N epochs. Defaults to 1.
        num_samples: fixed latent vectors (balanced over classes when conditional, at least
            2 per class). Defaults to 256.
        seed: seed of the latent vectors and of the choice of real images. Defaults to 0.
        patience: judged epochs (D) or evaluations (collapse) that start a problem when most
            of them show it, and end it when none of them in a row does. Defaults to 5.
        warmup_epochs: epochs at the start of training that are not judged. Defaults to 5.
        overpowering_accuracy: both D accuracies at or above this in an epoch count as D
            overpowering G. Defaults to 0.95.
        max_duplicates: `sample_duplicates` at or above this counts as collapse.
            Defaults to 0.5.
        min_diversity: `sample_diversity` below this counts as collapse (0: off).
            Defaults to 0.5.
        duplicate_distance: samples closer than this x the reference spread are near-copies.
            Defaults to 0.1.
        value_range: the generator's output range. Defaults to (-1, 1) (tanh).
        latent_dim: the generator's input size. Defaults to the size of its `keras.Input`.
        sample_fn: `sample_fn(latents, labels) -> images`, for a generator called another
            way (e.g. one-hot labels concatenated to the latents); `labels` is None unless
            `num_classes` is set or the generator has one. Needs `latent_dim`.
        num_classes: classes of a conditional generator called through `sample_fn`:
            diversity is then measured within each class. Defaults to the generator's
            `num_classes`, else none.

    Warnings and notes go to the `gan_tf.callbacks.training_health` logger (see
    `gan_tf.messages`); every event is also kept in `events`.
    """

    def __init__(self, generator=None, real_images=None, real_labels=None, every_n_epochs=1,
                 num_samples=256, seed=0, patience=5, warmup_epochs=5,
                 overpowering_accuracy=0.95, max_duplicates=0.5, min_diversity=0.5,
                 duplicate_distance=0.1, value_range=(-1.0, 1.0), latent_dim=None,
                 sample_fn=None, num_classes=None):
        super().__init__()
        check_sampling_options(sample_fn, latent_dim, num_classes)
        check_positive_int("every_n_epochs", every_n_epochs)
        check_positive_int("num_samples", num_samples)
        if num_samples < 2:
            raise invalid("num_samples", num_samples, "at least 2 (256 by default)")
        check_positive_int("patience", patience)
        check_non_negative_int("warmup_epochs", warmup_epochs, "an integer >= 0")
        if not _is_number(overpowering_accuracy) or not 0.5 < overpowering_accuracy <= 1:
            raise invalid("overpowering_accuracy", overpowering_accuracy,
                          "a number in (0.5, 1], e.g. 0.95")
        if not _is_number(max_duplicates) or not 0 < max_duplicates <= 1:
            raise invalid("max_duplicates", max_duplicates, "a fraction in (0, 1], e.g. 0.5")
        if not _is_number(min_diversity) or not 0 <= min_diversity < 1:
            raise invalid("min_diversity", min_diversity,
                          "a number in [0, 1) (0 turns the rule off), e.g. 0.5")
        if not _is_number(duplicate_distance) or not 0 < duplicate_distance < 1:
            raise invalid("duplicate_distance", duplicate_distance,
                          "a number in (0, 1), e.g. 0.1")
        if (len(value_range) != 2 or not all(_is_number(v) for v in value_range)
                or not value_range[0] < value_range[1]):
            raise invalid("value_range", value_range, "(low, high) with low < high")
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.real_images = None
        self.real_labels = None
        if real_images is not None:
            self.real_images = self._check_real_images(real_images)
        if real_labels is not None:
            if self.real_images is None:
                raise invalid("real_labels", "labels without real_images",
                              "real_images with them, or no real_labels")
            labels = np.asarray(real_labels)
            if (labels.shape != (len(self.real_images),)
                    or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
                raise invalid("real_labels", f"array of shape {labels.shape} and dtype "
                              f"{labels.dtype}", f"{len(self.real_images)} class indices >= 0, "
                              "one per real image")
            self.real_labels = labels.astype(np.int64)
        self.generator = generator
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.seed = seed
        self.patience = patience
        self.warmup_epochs = warmup_epochs
        self.overpowering_accuracy = float(overpowering_accuracy)
        self.max_duplicates = float(max_duplicates)
        self.min_diversity = float(min_diversity)
        self.duplicate_distance = float(duplicate_distance)
        self.latent_dim = latent_dim
        self.sample_fn = sample_fn
        self.num_classes = num_classes
        self.events = []  # {"epoch", "check", "event": "start" | "end", "message"}
        self._reset()

    def _check_real_images(self, real_images):
        """`real_images` as an array, checked; kept as given (converted when chosen)."""
        images = np.asarray(real_images)
        if images.ndim < 2 or len(images) < 2:
            raise invalid("real_images", f"array of shape {images.shape}",
                          "at least 2 images, e.g. an array (N, height, width, channels)")
        if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
            raise invalid("real_images", f"array of dtype {images.dtype}",
                          "uint8 pixels or floats in the generator's value_range")
        return images

    def _as_float(self, images):
        """Real images as float32 in `value_range` (uint8 pixels are mapped to it)."""
        if images.dtype == np.uint8:
            low, high = self.value_range
            return images.astype(np.float32) / 255.0 * (high - low) + low
        return images.astype(np.float32)

    def _reset(self):
        self._latents = None
        self._labels = None
        self._reference = None  # per group: the real images' spread, or None
        self._reset_judgement()

    def _reset_judgement(self):
        """Forgets what the run so far has shown (a new run starts)."""
        self._best_spread = None  # per group: the largest spread seen in this run
        self._accuracy_note = False
        self._d_state = _Streak(self.patience)
        self._collapse_state = _Streak(self.patience)
        self._last_epoch = None  # the last epoch judged (from 1)

    def get_state(self):
        """What shapes its later results, as a JSON-able dict (for `ResumableCheckpoint`)."""
        return {"last_epoch": self._last_epoch, "best_spread": self._best_spread,
                "accuracy_note": self._accuracy_note, "d_overpowering": self._d_state.state(),
                "collapse": self._collapse_state.state(), "events": list(self.events)}

    def set_state(self, state):
        """Continues from `state` (from `get_state`), e.g. after a resume."""
        self._last_epoch = state["last_epoch"]
        self._best_spread = state["best_spread"] and list(state["best_spread"])
        self._accuracy_note = state["accuracy_note"]
        self._d_state = _Streak(self.patience, state["d_overpowering"])
        self._collapse_state = _Streak(self.patience, state["collapse"])
        self.events = [dict(event) for event in state["events"]]

    @property
    def warnings(self):
        """The warnings given so far (the messages of the events that started a problem)."""
        return [event["message"] for event in self.events if event["event"] == "start"]

    # --- Keras hooks -------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._latents = None  # the generator may be another one than at the last fit
        self._prepare()

    def on_epoch_begin(self, epoch, logs=None):
        if self._last_epoch is not None and epoch < self._last_epoch:
            self._reset_judgement()  # a run from an earlier epoch: a new run
            self._prepare()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        epoch += 1
        self._last_epoch = epoch
        judged = epoch > self.warmup_epochs
        self._check_discriminator(epoch, logs, judged)
        if epoch % self.every_n_epochs == 0:
            statistics = self.measure()
            logs[DIVERSITY] = statistics["diversity"]
            logs[DUPLICATES] = statistics["duplicates"]
            if judged:
                self._judge_collapse(epoch, statistics)
        logs[COLLAPSE] = float(self._collapse_state.active)

    # --- D overpowering ----------------------------------------------------------------

    def _check_discriminator(self, epoch, logs, judged):
        real, fake = logs.get("real_accuracy"), logs.get("fake_accuracy")
        reason = None
        if real is None or fake is None:
            reason = "the logs have no real_accuracy and fake_accuracy"
        elif getattr(self.model, "loss_name", None) == "wasserstein":
            # A critic's outputs have no decision threshold: WGAN-GP runs log real 100% and
            # generated 0% "correct" while they train well (measured), so accuracy says
            # nothing about who is winning.
            reason = "a Wasserstein critic's outputs have no real/fake threshold"
        if reason:
            if not self._accuracy_note:
                self._accuracy_note = True
                _logger.info(f"TrainingHealth: {reason}; the D-overpowering check is off.")
            return
        real, fake = _scalar(real), _scalar(fake)
        if judged:
            bad = min(real, fake) >= self.overpowering_accuracy
            state = self._d_state
            change = state.update(bad, epoch, (real, fake))
            if change == "start":
                count, seen = state.count()
                lowest = min(min(value) for value in state.bad_values())
                self._event(epoch, "d_overpowering", "start", (
                    f"Warning: the discriminator is overpowering the generator (since epoch "
                    f"{state.start}): at epoch {epoch} it classifies {real:.1%} of real and "
                    f"{fake:.1%} of generated images correctly, and both were >= "
                    f"{self.overpowering_accuracy:.0%} in {count} of the last {seen} epochs "
                    f"(lowest {lowest:.1%}), so the generator gets little signal from it. "
                    f"Try: {_REMEDIES_D}."))
            elif change == "end":
                self._event(epoch, "d_overpowering", "end", (
                    f"Note: the discriminator no longer overpowers the generator (it did since "
                    f"epoch {state.start}): for {self.patience} epochs in a row one of its "
                    f"accuracies was below {self.overpowering_accuracy:.0%}; at epoch {epoch} "
                    f"real {real:.1%}, generated {fake:.1%}."))
        logs[D_OVERPOWERING] = float(self._d_state.active)

    # --- Collapse ----------------------------------------------------------------------

    def _resolve_generator(self):
        if self.generator is not None:
            return self.generator
        return getattr(self.model, "generator", None) or self.model

    def _prepare(self):
        """Draws the fixed latents (and labels) and measures the real images' spreads."""
        generator = self._resolve_generator()
        num_classes = self.num_classes or num_classes_of(generator)
        if num_classes and self.num_samples < 2 * num_classes:
            raise invalid("num_samples", self.num_samples,
                          f"at least 2 per class of this conditional generator "
                          f"({2 * num_classes} for {num_classes} classes)")
        latent_dim = latent_dim_of(generator, self.latent_dim)
        rng = np.random.default_rng(self.seed)
        self._latents = numpy_latents(rng, (self.num_samples, latent_dim),
                                      "normal" if self.sample_fn is not None
                                      else latent_distribution_of(generator))
        self._labels = class_labels(self.num_samples, num_classes) if num_classes else None
        groups = self._groups()
        if self._best_spread is None or len(self._best_spread) != len(groups):
            self._best_spread = [0.0] * len(groups)
        self._reference = [None] * len(groups)
        if self.real_images is None:
            return
        real = self.real_images
        if self.real_labels is not None and num_classes:
            if self.real_labels.max() >= num_classes:
                raise invalid("real_labels", f"labels up to {self.real_labels.max()}",
                              f"class indices in [0, {num_classes}), the generator's classes")
        whole = _spread_of(self._as_float(_choose(real, self.num_samples, rng)))
        for index, (name, members) in enumerate(groups):
            if name is None or self.real_labels is None:
                self._reference[index] = whole
                continue
            in_class = real[self.real_labels == name]
            # A class with fewer than 2 real images has no spread: use all the real images'.
            self._reference[index] = (
                _spread_of(self._as_float(_choose(in_class, len(members), rng)))
                if len(in_class) >= 2 else whole)

    def _groups(self):
        """[(class or None, sample indices)]: one group per class, or one of all samples."""
        if self._labels is None:
            return [(None, np.arange(self.num_samples))]
        return [(int(c), np.flatnonzero(self._labels == c)) for c in np.unique(self._labels)]

    def samples(self):
        """The generator's current images for the fixed latents (and labels), as numpy."""
        if self._latents is None:
            self._prepare()
        generator = self._resolve_generator()
        images = []
        for start in range(0, self.num_samples, 64):
            latents = tf.constant(self._latents[start:start + 64])
            labels = None if self._labels is None else self._labels[start:start + 64]
            batch = call_sampler(generator, self.sample_fn, latents, labels)
            images.append(np.asarray(batch, np.float32))
        return np.concatenate(images)

    def measure(self, images=None):
        """Diversity statistics of `images` (default: the current samples of the fixed latents).

        `images` are `num_samples` images in the order of the fixed latents (and labels).
        Updates the best spread of this run. Returns a dict with `diversity` and `duplicates`
        (the worst group's), and `groups`: for each group (a class, or None for all samples)
        its `count`, `spread`, `reference`, `best_spread`, `diversity`, `duplicates` and
        `threshold`.
        """
        if self._latents is None:
            self._prepare()
        images = self.samples() if images is None else np.asarray(images, np.float32)
        if self.real_images is not None and images.shape[1:] != self.real_images.shape[1:]:
            raise UserError(
                f"TrainingHealth: the generator makes images of shape {images.shape[1:]} but "
                f"real_images have shape {self.real_images.shape[1:]}. Pass real images of "
                "the generator's size.")
        floor = 1e-3 * (self.value_range[1] - self.value_range[0])
        groups = []
        for index, (name, members) in enumerate(self._groups()):
            distances = metrics.pixel_distances(images[members])
            spread = metrics.mean_pairwise_distance(distances)
            self._best_spread[index] = max(self._best_spread[index], spread)
            best, real = self._best_spread[index], self._reference[index]
            # The spread is judged against the best it has had (capped by the real data's),
            # near-copies against the real data's spread (else the best).
            yardstick = best if real is None else min(best, real)
            diversity = spread / yardstick if yardstick > floor else 0.0
            threshold = max(self.duplicate_distance * (best if real is None else real), floor)
            duplicates = metrics.near_copy_fraction(distances, threshold)
            groups.append({"class": name, "count": len(members), "spread": spread,
                           "reference": real,
                           "best_spread": best, "diversity": float(diversity),
                           "duplicates": duplicates, "threshold": threshold})
        return {"diversity": min(g["diversity"] for g in groups),
                "duplicates": max(g["duplicates"] for g in groups), "groups": groups}

    def _collapsed_groups(self, statistics):
        return [g for g in statistics["groups"] if g["duplicates"] >= self.max_duplicates
                or g["diversity"] < self.min_diversity]

    def _judge_collapse(self, epoch, statistics):
        collapsed = self._collapsed_groups(statistics)
        state = self._collapse_state
        change = state.update(bool(collapsed), epoch, statistics)
        if change == "start":
            self._event(epoch, "collapse", "start", self._collapse_message(
                epoch, statistics, collapsed))
        elif change == "end":
            self._event(epoch, "collapse", "end", (
                f"Note: the samples are diverse again at epoch {epoch} (collapsed since epoch "
                f"{state.start}): no collapse at {self.patience} evaluations in a row; now "
                f"{DUPLICATES} {statistics['duplicates']:.2f}, {DIVERSITY} "
                f"{statistics['diversity']:.2f}."))

    def _collapse_message(self, epoch, statistics, collapsed):
        state = self._collapse_state
        count, seen = state.count()
        worst = max(collapsed, key=lambda g: (g["duplicates"], -g["diversity"]))
        reference = ("the real images' spread" if worst["reference"] is not None
                     and worst["reference"] <= worst["best_spread"]
                     else "its best spread in this run")
        where, which = "", f"of {self.num_samples} fixed latent vectors"
        if worst["class"] is not None:
            names = ", ".join(str(g["class"]) for g in collapsed)
            where = (f" within {len(collapsed)} of {len(statistics['groups'])} classes "
                     f"({names}; worst: class {worst['class']})")
            which = f"of class {worst['class']}'s {worst['count']} fixed latent vectors"
        return (
            f"Warning: the generator's samples are collapsing{where} (since epoch "
            f"{state.start}; at {count} of the last {seen} evaluations): at epoch {epoch}, "
            f"{which}, {worst['duplicates']:.0%} give a "
            f"near-copy of another sample (RMS distance < {worst['threshold']:.3g}; collapse "
            f"from {self.max_duplicates:.0%}) and their spread is {worst['diversity']:.2f} x "
            f"{reference} (collapse below {self.min_diversity:g}). Try: {_REMEDIES_COLLAPSE}.")

    def _event(self, epoch, check, event, message):
        self.events.append({"epoch": epoch, "check": check, "event": event,
                            "message": message})
        _logger.log(logging.WARNING if event == "start" else logging.INFO, message)


class _Streak:
    """A problem seen in most of the last `patience` observations (`patience // 2 + 1` of
    them): it starts then, and ends after `patience` observations in a row without it.

    A majority rather than a run in a row, because a collapsing generator hops between modes
    and has good evaluations in between (measured: generator learning rate 0.01); the end
    needs a clean run, so a problem does not flicker on and off.
    """

    def __init__(self, patience, state=None):
        self.patience = patience
        self.needed = patience // 2 + 1
        self.active = False
        self.start = None  # the first epoch of the observations that started the problem
        self.window = []  # (epoch, bad, value) of the last `patience` observations
        self._good_run = 0
        if state is not None:
            self.active, self.start = bool(state["active"]), state["start"]
            self.window = [tuple(observation) for observation in state["window"]]
            self._good_run = state["good_run"]

    def state(self):
        """A JSON-able dict that `_Streak(patience, state)` continues from."""
        return {"active": self.active, "start": self.start, "good_run": self._good_run,
                "window": [list(observation) for observation in self.window]}

    def update(self, bad, epoch, value):
        """Records one observation; returns "start", "end" or None."""
        self.window = (self.window + [(epoch, bad, value)])[-self.patience:]
        self._good_run = 0 if bad else self._good_run + 1
        if not self.active and sum(b for _, b, _ in self.window) >= self.needed:
            self.active = True
            self.start = next(e for e, b, _ in self.window if b)
            return "start"
        if self.active and self._good_run >= self.patience:
            self.active = False
            return "end"
        return None

    def bad_values(self):
        """The values of the bad observations in the window."""
        return [v for _, b, v in self.window if b]

    def count(self):
        return sum(b for _, b, _ in self.window), len(self.window)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _scalar(value):
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])


def _choose(images, count, rng):
    """`count` of `images` chosen at random (all of them if there are fewer)."""
    if len(images) <= count:
        return images
    return images[np.sort(rng.choice(len(images), count, replace=False))]


def _spread_of(images):
    """The mean pixel distance between distinct `images` (`metrics.mean_pairwise_distance`)."""
    return metrics.mean_pairwise_distance(metrics.pixel_distances(images))
