"""evaluate_lib (scores, cache, report, plots) and the SampleQuality callback."""

import json
import os
import types

import numpy as np
import pytest

from gan_tf import callbacks, evaluate_lib
from gan_tf import data as data_lib
from gan_tf import features


@pytest.fixture(scope="module")
def digits():
    return data_lib.load_embedded_mnist()


@pytest.fixture(scope="module")
def judge(digits):
    """The domain classifier of the embedded digits (trained once per test session)."""
    return features.DomainClassifier.for_dataset(digits)


@pytest.fixture(scope="module")
def _judged_digits(digits, judge, tmp_path_factory):
    return evaluate_lib.real_features(judge, digits, cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def judged_digits(_judged_digits):
    """`real_features(judge, digits)`: computed once per module (its cache is tested with
    PixelExtractor above), a fresh copy for each test."""
    return {key: value.copy() if isinstance(value, np.ndarray) else value
            for key, value in _judged_digits.items()}


class PixelExtractor(features.Extractor):
    """Features = downsampled pixels; counts its calls."""

    name = "pixels"

    def __init__(self):
        self.calls = 0

    def _call(self, batch):
        import tensorflow as tf

        self.calls += 1
        return tf.reshape(tf.nn.avg_pool2d(batch, 4, 4, "VALID"), [tf.shape(batch)[0], -1]), None


class StubSampler:
    """What evaluate() needs from a generate_lib sampler: fixed images, optional classes."""

    def __init__(self, images, num_classes=None):
        self.images = images
        self.num_classes = num_classes
        self.image_shape = images.shape[1:]
        self.description = {"kind": "stub"}
        self.asked = None

    def generate(self, num_images, seed=0, labels=None):
        self.asked = labels
        return self.images[np.arange(num_images) % len(self.images)]


def real_images(digits, count, offset=0):
    """`count` real digits in [-1, 1], from a fixed shuffle (the file is sorted by class)."""
    order = np.random.default_rng(0).permutation(len(digits))[offset:offset + count]
    return np.asarray(data_lib.to_float(digits.images[order]))


def test_real_features_are_cached_per_dataset_and_extractor(digits, tmp_path):
    small = data_lib.subset(digits, 300)
    extractor = PixelExtractor()
    first = evaluate_lib.real_features(extractor, small, cache=tmp_path, max_images=200)
    calls = extractor.calls
    assert first["features"].shape == (200, 49) and first["probabilities"] is None
    assert np.bincount(first["labels"]).tolist() == [20] * 10  # a class-balanced choice
    again = evaluate_lib.real_features(extractor, small, cache=tmp_path, max_images=200)
    assert extractor.calls == calls  # read from the cache
    np.testing.assert_array_equal(again["features"], first["features"])
    np.testing.assert_array_equal(again["indices"], first["indices"])
    other = evaluate_lib.real_features(extractor, data_lib.subset(digits, 301), cache=tmp_path,
                                       max_images=200)
    assert extractor.calls > calls  # another dataset: computed anew
    assert len(os.listdir(tmp_path / "statistics")) == 2
    assert other["features"].shape == (200, 49)


def test_scores_of_real_images_against_themselves_and_of_noise(digits, tmp_path):
    extractor = PixelExtractor()
    real = evaluate_lib.real_features(extractor, digits, cache=tmp_path, max_images=500)
    same = evaluate_lib.score_samples(extractor, real, np.asarray(data_lib.to_float(
        digits.images[real["indices"]])))
    assert same["frechet_distance"]["value"] < 1e-6
    assert same["precision_recall"]["precision"] == 1 and same["precision_recall"]["recall"] == 1
    assert same["frechet_distance"]["num_fake"] == 500 == same["kid"]["num_real"]
    noise = np.random.default_rng(0).uniform(-1, 1, (500, 28, 28, 1)).astype(np.float32)
    noisy = evaluate_lib.score_samples(extractor, real, noise)
    assert noisy["frechet_distance"]["value"] > 100 * max(same["frechet_distance"]["value"],
                                                          1e-3)
    assert noisy["kid"]["mean"] > 10 * abs(same["kid"]["mean"]) + 1e-3
    assert noisy["precision_recall"]["precision"] < 0.05


@pytest.mark.slow
def test_one_constant_image_covers_one_class_and_is_called_collapse(digits, judge,
                                                                    judged_digits):
    real = judged_digits
    one_digit = real_images(digits, 1)  # the same real digit, 1,000 times
    report = evaluate_lib.score_samples(judge, real, np.repeat(one_digit, 1000, axis=0))
    coverage = report["class_coverage"]
    assert coverage["covered"] == 1 and coverage["collapsed"]
    assert sum(coverage["histogram"]) == 1000 and max(coverage["histogram"]) == 1000
    assert any("Mode collapse" in line and "1 of 10" in line for line in report["verdicts"])
    # Real digits, for contrast: every class, no collapse.
    varied = evaluate_lib.score_samples(judge, real, real_images(digits, 1000, offset=0))
    assert varied["class_coverage"]["covered"] == 10 and not varied["class_coverage"]["collapsed"]
    assert judge.accuracy > 0.9


@pytest.mark.slow
def test_copies_of_training_images_are_flagged_as_memorization(digits, judge, judged_digits):
    real = judged_digits
    report = evaluate_lib.score_samples(judge, real, np.asarray(data_lib.to_float(
        digits.images[real["indices"][:1000]])))
    memorization = report["memorization"]
    assert memorization["num_copies"] > 300  # about half the copies are of reference images
    assert memorization["close_fraction"] > 10 * memorization["expected_close_fraction"]


@pytest.mark.slow
def test_evaluate_writes_the_report_and_plots(digits, judge, tmp_path):
    sampler = StubSampler(real_images(digits, 40, offset=100), num_classes=10)
    metrics_path = tmp_path / "metrics.jsonl"
    metrics_path.write_text("".join(json.dumps({"epoch": e, "fd": 10.0 / e, "kid": 0.1 / e,
                                                "class_coverage": 10}) + "\n"
                                    for e in (5, 10)))
    report = evaluate_lib.evaluate(sampler, digits, output_dir=str(tmp_path / "out"),
                                   num_samples=200, metrics_path=str(metrics_path))
    assert sampler.asked.tolist() == (np.arange(200) % 10).tolist()  # balanced classes asked
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["frechet_distance"]["value"] == report["frechet_distance"]["value"]
    assert saved["extractor"]["accuracy"] == judge.accuracy
    for key in ("frechet_distance", "kid", "precision_recall", "density_coverage",
                "classifier_score", "class_coverage", "requested_class_accuracy",
                "memorization"):
        assert saved[key]["num_fake"] == 200, key
    assert 0 <= saved["requested_class_accuracy"]["value"] <= 1
    for name in ("class_histogram.png", "nearest_neighbours.png", "scores.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000, name
    from gan_tf.errors import UserError

    with pytest.raises(UserError, match="makes"):
        evaluate_lib.evaluate(StubSampler(np.zeros((4, 32, 32, 3), np.float32)), digits)


class ScriptedModel:
    """A stand-in for a GAN whose samples are varied digits, then one digit (collapse)."""

    def __init__(self, varied, collapsed):
        self.varied, self.collapsed, self.collapse = varied, collapsed, False

    def generate(self, num_images, seed=0):
        source = self.collapsed if self.collapse else self.varied
        return source[np.arange(num_images) % len(source)]

    def checkpoint_items(self):
        import tensorflow as tf

        if not hasattr(self, "marker"):
            self.marker = tf.Variable(1.0)  # stands for the weights at the time of saving
        return {"marker": self.marker}


@pytest.fixture
def scored(digits, judge, judged_digits, tmp_path, messages):
    """A SampleQuality (every 2 epochs, 300 samples, best checkpoint kept) on a scripted model
    that has scored epoch 2 with varied digits; its messages are in `messages`."""
    real = judged_digits
    model = ScriptedModel(real_images(digits, 500, offset=2000), real_images(digits, 1))
    quality = callbacks.SampleQuality(judge, real, every_n_epochs=2, num_samples=300,
                                      best_checkpoint_dir=tmp_path / "best")
    quality.set_model(model)
    first, second = {}, {}
    quality.on_epoch_end(0, first)  # epoch 1: not an evaluation epoch
    quality.on_epoch_end(1, second)  # epoch 2
    return types.SimpleNamespace(quality=quality, model=model, real=real, messages=messages,
                                 first=first, second=second, best_dir=tmp_path / "best")


def test_sample_quality_scores_every_n_epochs_into_the_logs_and_keeps_the_best(scored):
    assert scored.first == {}
    assert set(scored.second) == {"fd", "kid", "class_coverage"}
    assert scored.second["class_coverage"] == 10
    best = json.loads((scored.best_dir / "best.json").read_text())
    assert best["epoch"] == 2 and best["fd"] == scored.second["fd"]
    assert any(name.startswith("best-2") for name in os.listdir(scored.best_dir))
    assert any("sample quality (300 samples; judge: classifier, held-out accuracy" in m
               for m in scored.messages)


def test_sample_quality_takes_one_lost_class_for_noise_not_collapse(scored, digits):
    not_zero = np.random.default_rng(1).permutation(np.flatnonzero(digits.labels != 0))[:500]
    scored.model.varied = np.asarray(data_lib.to_float(digits.images[not_zero]))
    logs = {}
    scored.quality.on_epoch_end(5, logs)  # epoch 6
    assert logs["class_coverage"] == 9
    assert not any("mode collapse" in w for w in scored.quality.warnings)


def test_sample_quality_warns_on_collapse_and_keeps_the_earlier_best(scored):
    import tensorflow as tf

    scored.model.checkpoint_items()["marker"].assign(5.0)  # the weights move on after epoch 2
    scored.model.collapse = True
    logs = {}
    scored.quality.on_epoch_end(7, logs)  # epoch 8
    assert logs["class_coverage"] == 1
    assert any("mode collapse at epoch 8" in w and "1 of 10" in w and "10 at epoch 2" in w
               for w in scored.quality.warnings)
    assert any("degrading at epoch 8" in w for w in scored.quality.warnings)
    assert json.loads((scored.best_dir / "best.json").read_text())["epoch"] == 2
    saved = tf.train.load_checkpoint(str(scored.best_dir))  # not overwritten by worse epochs
    assert saved.get_tensor("marker/.ATTRIBUTES/VARIABLE_VALUE") == 1.0


def test_sample_quality_resumes_its_best_and_starts_anew_for_another_sample_count(scored,
                                                                                   judge):
    resumed = callbacks.SampleQuality(judge, scored.real, num_samples=300,
                                      best_checkpoint_dir=scored.best_dir)
    assert resumed.best["epoch"] == 2 and resumed.best["judge_accuracy"] == judge.accuracy
    # Scores of another sample count are not comparable: a new best is kept, and said so.
    other = callbacks.SampleQuality(judge, scored.real, num_samples=400,
                                    best_checkpoint_dir=scored.best_dir)
    assert other.best is None and "keeping a new best" in scored.messages[-1]


@pytest.mark.slow
def test_training_time_scores_and_evaluate_compute_fd_kid_and_coverage_alike(digits, judge,
                                                                            judged_digits):
    real = judged_digits
    model = ScriptedModel(real_images(digits, 500, offset=2000), real_images(digits, 1))
    quality = callbacks.SampleQuality(judge, real, num_samples=300, seed=3)
    quality.set_model(model)
    scores = quality.evaluate()
    report = evaluate_lib.score_samples(judge, real, model.generate(300, seed=3), seed=3)
    assert scores["fd"] == report["frechet_distance"]["value"]
    assert scores["kid"] == report["kid"]["mean"]
    assert (report["kid"]["num_subsets"], report["kid"]["subset_size"]) == (50, 300)
    assert scores["class_coverage"] == report["class_coverage"]["covered"]


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    """A conditional 2-epoch run scored by the CLI, and the CLI's score of its export."""
    from conftest import run_python_together, tiny_config
    from gan_tf import train_lib

    work = tmp_path_factory.mktemp("evaluated")
    config = tiny_config(work, epochs=2, eval_every_n_epochs=1, eval_num_samples=100,
                         conditional=True)
    train_lib.train(config, verbose=0)
    # Two independent commands (each writes its own folder), run at the same time.
    run, export = run_python_together([
        (["-m", "gan_tf.evaluate", f"--run_dir={config.output_dir}", "--num_samples=300"],
         str(work)),
        (["-m", "gan_tf.evaluate", f"--model={os.path.join(config.output_dir, 'generator')}",
          "--num_samples=300", f"--output={work / 'export_eval'}"], str(work))])
    return types.SimpleNamespace(config=config, work=work, run=run, export=export)


@pytest.mark.slow
def test_evaluate_cli_scores_a_run_into_its_evaluation_folder(evaluated_run):
    result, run_dir = evaluated_run.run, evaluated_run.config.output_dir
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(300 samples vs 256 real" in result.stdout and "Class asked for" in result.stdout
    report = json.loads(open(os.path.join(run_dir, "evaluation", "report.json")).read())
    assert report["model"]["kind"] == "run" and report["frechet_distance"]["num_fake"] == 300
    assert os.path.exists(os.path.join(run_dir, "evaluation", "scores.png"))


@pytest.mark.slow
def test_evaluate_cli_scores_an_export_against_the_dataset_it_names(evaluated_run):
    result = evaluated_run.export
    assert result.returncode == 0, result.stderr[-3000:]
    exported = json.loads((evaluated_run.work / "export_eval" / "report.json").read_text())
    assert exported["model"]["kind"] == "export"
    # (The run was scored against its 256 training digits; the export knows only the
    # dataset's name, and is scored against all of it.)
    assert exported["dataset"]["num_examples"] == 5000


@pytest.mark.slow
def test_the_same_generator_as_a_keras_file_gets_the_export_s_scores(evaluated_run, tmp_path):
    from gan_tf import train_lib

    exported = json.loads((evaluated_run.work / "export_eval" / "report.json").read_text())
    gan, _, _ = train_lib.load_run(evaluated_run.config.output_dir)
    keras_path = str(tmp_path / "generator.keras")
    gan.sampling_generator().save(keras_path)
    keras_report, _ = evaluate_lib.evaluate_model(
        keras_path, dataset="embedded_mnist", output_dir=str(tmp_path / "keras_eval"),
        num_samples=300)
    assert keras_report["model"]["kind"] == "keras"
    assert keras_report["frechet_distance"]["value"] == pytest.approx(
        exported["frechet_distance"]["value"], rel=1e-4)


@pytest.mark.slow
def test_evaluate_cli_exit_codes_for_bad_flags_and_a_missing_run(evaluated_run, tmp_path):
    from conftest import run_python_together

    run_dir = evaluated_run.config.output_dir
    both, missing = run_python_together([  # independent: run at the same time
        (["-m", "gan_tf.evaluate", f"--run_dir={run_dir}", f"--model={run_dir}"],
         str(tmp_path)),
        (["-m", "gan_tf.evaluate", f"--run_dir={tmp_path / 'nothing'}"], str(tmp_path))])
    # Flags checked before TensorFlow loads: exit 2, one message.
    assert both.returncode == 2 and "exactly one of --run_dir" in both.stderr
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_memorization_uses_the_real_images_not_trained_on(digits, judge, tmp_path):
    trained = data_lib.subset_indices(digits.labels, len(digits), 500, seed=0)
    copies = StubSampler(np.asarray(data_lib.to_float(digits.images[trained])))
    report = evaluate_lib.evaluate(copies, digits, num_samples=500, training_indices=trained)
    memorization = report["memorization"]
    assert memorization["method"] == "training images vs real images not trained on"
    assert memorization["num_reference"] == 500 and memorization["num_holdout"] == 4500
    assert memorization["num_copies"] == 500  # every sample is a training digit
    assert set(memorization["nearest_real_indices"]) <= set(trained.tolist())
    assert any(line.startswith("Possible memorization: 500 samples are copies")
               for line in report["verdicts"])
    assert report["dataset"]["trained_on"] == 500
    # New digits of the same distribution (the held-out ones) are not called copies.
    others = np.setdiff1d(np.arange(len(digits)), trained)[:500]
    fresh = StubSampler(np.asarray(data_lib.to_float(digits.images[others])))
    report = evaluate_lib.evaluate(fresh, digits, num_samples=500, training_indices=trained)
    assert report["memorization"]["num_copies"] == 0
    assert any(line.startswith("No sign of memorization") for line in report["verdicts"])


def test_classifier_needs_enough_images_of_each_class(digits):
    assert features.classifier_problem(digits) is None
    few = data_lib.subset(digits, 50)  # 5 per class
    assert "at least 10 images of each class" in features.classifier_problem(few)
    # 299x299 activations are large
    assert features.KerasInceptionExtractor.batch_size <= 16
    assert features.ReferenceInception.batch_size <= 16


@pytest.mark.slow
def test_evaluate_cli_refuses_bad_requests_before_any_work(trained_tiny_config, tmp_path):
    from conftest import run_python_together

    config = trained_tiny_config(epochs=1)
    export_dir = os.path.join(config.output_dir, "generator")
    (tmp_path / "a_file").write_text("x")
    cases = [
        (["--model=" + export_dir], 2, "pass --output=DIR"),
        (["--run_dir=" + config.output_dir, "--num_samples=3"], 2, "at least 50 samples"),
        (["--run_dir=" + config.output_dir, "--inception_weights=/x.h5"], 2,
         "--inception_weights with --extractor=classifier"),
        (["--run_dir=" + config.output_dir, "--extractor=inception",
          "--inception_weights=/x.h5"], 2, "--extractor=keras_inception for Keras"),
        (["--run_dir=" + config.output_dir, "--extractor=inception",
          "--inception_sha256=abc"], 2, "64 hexadecimal digits"),
        (["--run_dir=" + config.output_dir, f"--output={tmp_path / 'a_file'}"], 1,
         "Cannot write the report"),
    ]
    results = run_python_together([(["-m", "gan_tf.evaluate", *flags], str(tmp_path))
                                   for flags, _, _ in cases])  # independent: at the same time
    for (flags, code, message), result in zip(cases, results, strict=True):
        assert result.returncode == code and message in result.stderr, (flags, result.stderr)
        assert "Traceback" not in result.stderr
    assert (tmp_path / "a_file").read_text() == "x"
