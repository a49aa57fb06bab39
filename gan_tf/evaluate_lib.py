"""How good are a generator's samples? Scores against the real data, and their plots.

`evaluate(sampler, data, ...)` draws samples, computes every metric of `gan_tf.metrics` over
the features of an extractor (`gan_tf.features`) and writes a JSON report with plots.
`gan_tf.features.real_features` computes (and caches, per dataset, split and extractor) the
features of the real images, which both this and the training-time `SampleQuality` callback
compare with (also importable from here).
Every score in a report says how many samples it used.
"""

import datetime
import json
import os

import numpy as np

from gan_tf import features as features_lib
from gan_tf import metrics, names, progress, runs
from gan_tf.errors import check_positive_int
from gan_tf.features import real_features  # noqa: F401 (its public name here too)
from gan_tf.files import atomic_write_text, remove_abandoned

REPORT_FILE = "report.json"
# The report's key of the class-probability score of each extractor: "inception_score" only
# for the reference graph, so no reader takes another network's for the published IS.
SCORE_KEYS = {"inception": "inception_score", "keras_inception": "keras_inception_score",
              "classifier": "classifier_score"}


def score_samples(extractor, real, fake_images, requested_labels=None, training=None,
                  holdout=None, num_classes=None, seed=0):
    """Every metric of fake images against `real` (from `real_features`).

    Args:
        extractor: the `features.Extractor` that made `real`.
        real: dict from `real_features`.
        fake_images: `(N, H, W, C)` in [-1, 1].
        requested_labels: the classes a conditional generator was asked for, or None.
        training: dict like `real` for the images the generator trained on (memorization
            reference). Defaults to `real`.
        holdout: dict like `real` for real images it did not train on. Without them the
            training images are split in halves: samples vs half A against half B vs A.
        num_classes: classes of the dataset (for class coverage). Defaults to the extractor's.
        seed: seed of KID's random subsets.

    Returns:
        A JSON-serializable dict of scores, each with the sample counts it used.
    """
    fake_features, fake_probabilities = extractor.features_and_probabilities(fake_images)
    real_array = real["features"]
    counts = {"num_fake": int(len(fake_features)), "num_real": int(len(real_array))}
    metric_names = extractor.metric_names  # "FID"/"KID"/"IS" only for the reference graph
    labelled = extractor.num_classes is not None and real.get("labels") is not None \
        and extractor.name == "classifier"
    classes = (num_classes or extractor.num_classes) if labelled else None
    core = metrics.core_scores(real_array, fake_features,
                               fake_probabilities if labelled else None, classes,
                               requested_labels, seed=seed)
    kid_mean, kid_std = core["kid"]
    report = {
        "metric_names": metric_names,
        "frechet_distance": {"name": metric_names["fd"], "value": core["fd"], **counts},
        "kid": {"name": metric_names["kid"], "mean": kid_mean, "std": kid_std,
                "num_subsets": metrics.KID_SUBSETS, "subset_size": core["kid_subset_size"],
                **counts},
        "precision_recall": {**metrics.precision_recall(real_array, fake_features, k=3),
                             "k": 3, **counts},
        "density_coverage": {**metrics.density_coverage(real_array, fake_features, k=5),
                             "k": 5, **counts},
    }
    if fake_probabilities is not None:
        score_name = SCORE_KEYS.get(extractor.name, f"{extractor.name}_score")
        splits = 10 if len(fake_probabilities) >= 100 else 1
        mean, std = metrics.inception_score(fake_probabilities, num_splits=splits, seed=seed)
        report[score_name] = {"name": metric_names["is"], "mean": mean, "std": std,
                              "num_splits": splits, "num_fake": counts["num_fake"]}
        if real.get("probabilities") is not None:
            real_splits = 10 if len(real["probabilities"]) >= 100 else 1
            real_mean, _ = metrics.inception_score(real["probabilities"],
                                                   num_splits=real_splits, seed=seed)
            report[score_name]["real_data_value"] = real_mean
    if labelled:
        predicted = core["predicted"]
        coverage = core["class_coverage"]
        coverage["real_histogram"] = metrics.class_histogram(
            real["probabilities"].argmax(-1), classes).tolist() if real.get(
            "probabilities") is not None else None
        coverage["num_fake"] = counts["num_fake"]
        report["class_coverage"] = coverage
        if requested_labels is not None:
            requested = np.asarray(requested_labels)
            report["requested_class_accuracy"] = {
                "value": core["requested_class_accuracy"],
                "per_class": [float((predicted[requested == c] == c).mean())
                              if (requested == c).any() else None for c in range(classes)],
                "num_fake": counts["num_fake"],
            }
    # Memorization: samples' nearest-neighbour distances to the training images, against
    # those of real images the generator never saw.
    training = training or real
    if holdout is not None and len(holdout["features"]) >= 2:
        reference, reference_indices = training["features"], training["indices"]
        held_out = holdout["features"]
        method = "training images vs real images not trained on"
    else:
        order = np.random.default_rng(seed).permutation(len(training["features"]))
        half = len(order) // 2
        reference = training["features"][order[:half]]
        reference_indices = training["indices"][order[:half]]
        held_out = training["features"][order[half:]]
        method = ("half of the training images vs the other half (every real image was "
                  "trained on)")
    if len(reference) >= 2 and len(held_out) >= 2:
        memorization = metrics.memorization_report(fake_features, reference, held_out)
        closest = memorization["closest_fake_indices"]
        _, nearest = metrics.nearest_neighbour_distances(fake_features[closest], reference)
        # The dataset index of the real image nearest to each of the closest samples.
        memorization["nearest_real_indices"] = [int(reference_indices[i]) for i in nearest]
        report["memorization"] = {**memorization, "method": method,
                                  "num_fake": counts["num_fake"],
                                  "num_reference": int(len(reference)),
                                  "num_holdout": int(len(held_out))}
    # The floor to read FD against: as many real images as samples, against the other real
    # images (at most half of them, so the other side keeps enough).
    order = np.random.default_rng(seed).permutation(len(real_array))
    part = min(len(fake_features), len(order) // 2)
    if part >= 2:
        report["frechet_distance"]["real_vs_real_value"] = metrics.frechet_distance(
            real_array[order[part:]], real_array[order[:part]])
        report["frechet_distance"]["real_vs_real_counts"] = [int(part), int(len(order) - part)]
    report["verdicts"] = verdicts(report)
    return report


def verdicts(report):
    """Plain-language readings of a report's scores."""
    lines = []
    coverage = report.get("class_coverage")
    if coverage:
        if coverage["collapsed"]:
            lines.append(f"Mode collapse: the samples cover {coverage['covered']} of "
                         f"{len(coverage['histogram'])} classes.")
        else:
            lines.append(f"All {coverage['covered']} classes appear in the samples.")
    requested = report.get("requested_class_accuracy")
    if requested:
        lines.append(f"The judge sees the class asked for in {requested['value']:.1%} of "
                     "samples (chance: 1 in the number of classes).")
    memorization = report.get("memorization")
    if memorization:
        ratio = memorization["median_ratio"]
        close, expected = memorization["close_fraction"], memorization["expected_close_fraction"]
        copies = memorization["num_copies"]
        if copies or ratio < 0.8 or close > 5 * expected:
            lines.append(
                f"Possible memorization: {copies} samples are copies of training images, "
                f"{close:.1%} sit closer to a training image than all but {expected:.0%} of "
                f"real images do, median distance ratio {ratio:.2f} "
                "(see nearest_neighbours.png).")
        else:
            lines.append(f"No sign of memorization (no copies; {close:.1%} of samples very "
                         f"close to a training image, {expected:.0%} expected; median "
                         f"distance ratio {ratio:.2f}, about 1 or more is normal).")
    pr = report["precision_recall"]
    lines.append(f"Precision {pr['precision']:.2f} (samples that look real), recall "
                 f"{pr['recall']:.2f} (real variety the samples cover).")
    return lines


@progress.showing
def evaluate(sampler, data, output_dir=None, extractor="classifier", num_samples=2000, seed=0,
             cache=None, inception_weights=None, metrics_path=None, training_indices=None,
             inception_sha256=None, training_extractor=None):
    """Scores `sampler`'s samples against `data`; writes `report.json` and plots.

    Args:
        sampler: a `gan_tf.samplers.Sampler` (a run directory or an exported generator).
        data: the real `ImageData` of the generator's dataset (all of it: the judge trains on
            it and the scores compare with up to 10,000 of its images).
        output_dir: where to write report.json and the plots (None: write nothing).
        extractor: "classifier" (offline default), "inception" (the reference FID graph:
            scores named FID/KID/IS) or "keras_inception" (Keras InceptionV3 weights).
        num_samples: samples to draw and score.
        seed: seed of the samples and of KID's subsets.
        cache: cache directory (default `$GAN_TF_CACHE` or ~/.cache/gan_tf).
        inception_weights: extractor="inception": classify_image_graph_def.pb or its .tgz
            (default: in the cache directory); "keras_inception": an InceptionV3 .h5.
        metrics_path: a run's metrics.jsonl: its evaluation scores are plotted over epochs.
        training_indices: which images of `data` the generator trained on (default: all);
            the others are the held-out real images of the memorization check.
        inception_sha256: the SHA-256 to require of the reference graph (default: the one
            gan_tf pins, `gan_tf.names.REFERENCE_INCEPTION_SHA256`).
        training_extractor: the extractor that scored the run during training (its
            metrics.jsonl `fd`/`kid`), which names the curves of scores.png. Defaults to
            `extractor`.

    Returns:
        The report dict.
    """
    check_positive_int("num_samples", num_samples)
    if tuple(sampler.image_shape) != tuple(data.image_shape):
        from gan_tf.errors import UserError

        raise UserError(f"The model makes {tuple(sampler.image_shape)} images but {data.name} "
                        f"holds {tuple(data.image_shape)} images. Pass the dataset (and "
                        "--image_size) the model was trained on.")
    judge = features_lib.get_extractor(extractor, data, cache=cache,
                                       inception_weights=inception_weights,
                                       inception_sha256=inception_sha256)
    real = real_features(judge, data, cache=cache)
    everything = np.arange(len(data))
    trained = everything if training_indices is None else np.asarray(training_indices)
    # Trained on everything: the real features already are (up to 10,000 of) its images.
    training = real if training_indices is None else _part_features(judge, data, trained,
                                                                    cache, "training")
    untouched = np.setdiff1d(everything, trained)
    holdout = _part_features(judge, data, untouched, cache, "holdout") if len(
        untouched) >= 2 else None
    requested = None
    if sampler.num_classes:
        from gan_tf.gan import class_labels

        requested = class_labels(num_samples, sampler.num_classes)  # balanced
    fake = sampler.generate(num_samples, seed=seed, labels=requested)
    report = {
        "model": sampler.description,
        "dataset": {"name": data.name, "num_examples": len(data),
                    "image_shape": list(data.image_shape)},
        "extractor": judge.describe(),
        "seed": seed,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    report["dataset"]["trained_on"] = int(len(trained))
    report.update(score_samples(judge, real, fake, requested_labels=requested,
                                training=training, holdout=holdout,
                                num_classes=data.num_classes, seed=seed))
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        atomic_write_text(os.path.join(output_dir, REPORT_FILE),
                          json.dumps(report, indent=2) + "\n")
        _write_plots(report, fake, data, real, output_dir, metrics_path,
                     class_names=data.class_names,
                     training_names=names.METRIC_NAMES.get(training_extractor or extractor))
    return report


def _part_features(judge, data, indices, cache, split):
    """`real_features` of `data.images[indices]` (cached), with indices into `data`."""
    from gan_tf import data as data_lib

    part = data_lib.take(data, indices)  # a streamed dataset stays streamed
    values = dict(real_features(judge, part, cache=cache, split=split))
    values["indices"] = np.asarray(indices)[values["indices"]]
    return values


def _write_plots(report, fake, data, real, output_dir, metrics_path, class_names=None,
                 training_names=None):
    from gan_tf import images as images_lib
    from gan_tf import plots

    coverage = report.get("class_coverage")
    if coverage:
        plots.plot_class_histogram(coverage["histogram"], coverage.get("real_histogram"),
                                   os.path.join(output_dir, "class_histogram.png"),
                                   class_names=class_names)
    memorization = report.get("memorization")
    if memorization and memorization.get("closest_fake_indices"):
        # Each row: a sample, then the real image nearest to it (in feature space).
        pairs = []
        for fake_index, real_index in zip(memorization["closest_fake_indices"][:8],
                                          memorization["nearest_real_indices"][:8]):
            pairs.append(images_lib.to_uint8(fake[fake_index][None])[0])
            pairs.append(data.images[real_index])
        images_lib.save_png(images_lib.make_grid(np.stack(pairs), len(pairs) // 2),
                            os.path.join(output_dir, "nearest_neighbours.png"))
    if metrics_path and os.path.exists(metrics_path):
        from gan_tf.files import read_jsonl

        records = [r for r in read_jsonl(metrics_path) if r.get("fd") is not None]
        if records:
            plots.plot_scores(records, os.path.join(output_dir, "scores.png"),
                              metric_names=training_names)


def evaluate_model(model, dataset=None, data_dir=None, image_size=None, output_dir=None,
                   extractor="classifier", num_samples=2000, seed=0, cache=None,
                   inception_weights=None, checkpoint="latest", inception_sha256=None):
    """Evaluates a training run directory or an exported generator against its dataset.

    Args:
        model: a run directory (its config names the dataset; the report goes to
            `RUN/evaluation/` by default and plots its score curves), an exported
            generator (its gan_tf.json names the dataset unless `dataset` is given) or a
            generator saved as a `.keras` file (opened safely, see `gan_tf.model_files`;
            pass `dataset`).
        dataset, data_dir, image_size: the real data, as for training. Default: the model's.
        output_dir: where to write report.json and the plots (default for a run:
            `RUN/evaluation`, or `RUN/evaluation_best` for the best checkpoint).
        checkpoint: a run's "latest" or "best" checkpoint.
        Other arguments: as for `evaluate`.

    Returns:
        `(report, output_dir)`.
    """
    from gan_tf import data as data_lib
    from gan_tf import samplers
    from gan_tf.errors import UserError
    from gan_tf.files import check_writable_directory

    sampler = samplers.load_sampler(model, checkpoint)
    path = sampler.description["path"]
    metrics_path = training_extractor = None
    if sampler.description["kind"] == "run":
        config, _ = runs.read_run_config(path)
        training_extractor = config.extractor
        trained = {"dataset": config.dataset, "data_dir": config.data_dir,
                   "image_size": config.image_size, "max_examples": config.max_examples,
                   "holdout": config.holdout, "seed": config.seed,
                   "data_cache": config.data_cache}
        output_dir = output_dir or runs.evaluation_dir(path, checkpoint)
        metrics_path = os.path.join(path, runs.METRICS_FILE)
    else:
        from gan_tf import export_lib

        keys = ("dataset", "data_dir", "image_size", "max_examples", "holdout", "seed")
        if sampler.description["kind"] == "keras":  # a .keras file records no training facts
            trained = dict.fromkeys(keys)
        else:
            metadata = export_lib.read_metadata(path)
            trained = {key: metadata.get(key) for key in keys}
        if not output_dir:
            raise UserError("Pass --output=DIR: where to write the report of an exported "
                            "generator.")
    same_data = dataset is None or dataset == trained["dataset"]
    dataset = dataset or trained["dataset"]
    if not dataset:
        raise UserError(f"{model} does not say which dataset it was trained on. Pass "
                        "--dataset=NAME (as for training).")
    image_size = image_size or (trained["image_size"] if same_data else None)
    data_dir = data_dir or (trained["data_dir"] if same_data else None)
    try:
        check_writable_directory(output_dir)
    except OSError as error:
        raise UserError(f"Cannot write the report to --output={output_dir}: "
                        f"{error.strerror or error}. Pass a folder you can write to.") from None
    if os.path.isdir(path) and os.path.commonpath(
            [os.path.abspath(output_dir), os.path.abspath(path)]) == os.path.abspath(path):
        remove_abandoned(output_dir)  # the run's own folder: what a killed evaluate left
    # The run's own --data_cache: the same images in memory or streamed as in training, so
    # the same domain classifier (its cache key is the pixels, or a streamed folder's files).
    data = data_lib.load_images(dataset, data_dir=data_dir, download=False,
                                image_size=image_size,
                                cache=(trained.get("data_cache") or "auto") if same_data
                                else "auto")
    training_indices = None
    if same_data and (trained["holdout"] or (trained["max_examples"]
                                             and trained["max_examples"] < len(data))):
        training_indices, held_out = data_lib.split_indices(data.labels, len(data),
                                                            trained["holdout"] or 0.0,
                                                            trained["max_examples"],
                                                            trained["seed"] or 0)
        if len(held_out):
            # The held-out test split stays unseen here too: the judge and the real images
            # the samples are compared with are the rest, as during training.
            visible = np.setdiff1d(np.arange(len(data)), held_out)
            data = data_lib.take(data, visible)
            training_indices = np.searchsorted(visible, training_indices)
    report = evaluate(sampler, data, output_dir=output_dir, extractor=extractor,
                      num_samples=num_samples, seed=seed, cache=cache,
                      inception_weights=inception_weights, metrics_path=metrics_path,
                      training_indices=training_indices, inception_sha256=inception_sha256,
                      training_extractor=training_extractor)
    return report, os.path.abspath(output_dir)


def summary_lines(report):
    """The report's scores as printable lines, each with the sample counts it used."""
    fd = report["frechet_distance"]
    extractor = report["extractor"]
    judge = extractor["name"] + (f" (held-out accuracy {extractor['accuracy']:.4f})"
                                 if extractor.get("accuracy") is not None else "")
    if extractor.get("sha256"):
        judge += f" (the reference FID graph, SHA-256 {extractor['sha256']})"
    elif fd["name"] != names.METRIC_NAMES["inception"]["fd"]:
        judge += (" (not the reference FID network: these scores are not comparable with "
                  "published FID/KID/IS)")
    lines = [f"Judge: {judge}",
             f"{fd['name']}: {fd['value']:.4g} ({fd['num_fake']} samples vs {fd['num_real']} "
             "real" + (f"; real vs real, {fd['real_vs_real_counts'][0]} vs "
                       f"{fd['real_vs_real_counts'][1]}: {fd['real_vs_real_value']:.4g}"
                       if "real_vs_real_value" in fd else "") + ")"]
    kid = report["kid"]
    lines.append(f"{kid.get('name', 'KID')}: {kid['mean']:.4g} +- {kid['std']:.2g} "
                 f"({kid['num_subsets']} subsets of {kid['subset_size']})")
    for key in dict.fromkeys(SCORE_KEYS.values()):
        if key in report:
            score = report[key]
            real = (f"; real data {score['real_data_value']:.4g}"
                    if "real_data_value" in score else "")
            name = score.get("name") or key.replace("_", " ").capitalize()
            lines.append(f"{name}: {score['mean']:.4g} +- {score['std']:.2g} "
                         f"({score['num_fake']} samples, {score['num_splits']} splits{real})")
    pr, dc = report["precision_recall"], report["density_coverage"]
    lines.append(f"Precision {pr['precision']:.3f}, recall {pr['recall']:.3f} (k={pr['k']}); "
                 f"density {dc['density']:.3f}, coverage {dc['coverage']:.3f} (k={dc['k']}); "
                 f"{pr['num_fake']} samples vs {pr['num_real']} real")
    coverage = report.get("class_coverage")
    if coverage:
        lines.append(f"Classes covered: {coverage['covered']} of {len(coverage['histogram'])} "
                     f"({coverage['num_fake']} samples): {coverage['histogram']}")
    requested = report.get("requested_class_accuracy")
    if requested:
        lines.append(f"Class asked for, seen: {requested['value']:.1%} "
                     f"({requested['num_fake']} samples)")
    memorization = report.get("memorization")
    if memorization:
        lines.append(f"Memorization: median distance ratio {memorization['median_ratio']:.3f}, "
                     f"{memorization['num_copies']} copies ({memorization['num_fake']} samples "
                     f"vs {memorization['num_reference']} real)")
    return lines + report["verdicts"]
