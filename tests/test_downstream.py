"""The held-out split and the downstream report: statistics, the split, the report, refusals."""

import json
import math
import os
import pathlib

import numpy as np
import pytest

from conftest import REPO, run_python, run_python_together, tiny_config, trained_run_copy, write_image_folder
from gan_tf import data as data_lib
from gan_tf import downstream, runs, stats, train_lib
from gan_tf.errors import UserError

QUICK = dict(num_generated=100, seeds=2, steps=5, validation_seeds=1, augmentation="light",
             sample_filter="none")


# --- Statistics, against hand-computed values -------------------------------------------


def test_t_quantiles_match_the_tables():
    assert stats.t_quantile_975(1) == 12.706
    assert stats.t_quantile_975(4) == 2.776  # 5 seeds
    assert stats.t_quantile_975(30) == 2.042
    # Beyond the table (Cornish-Fisher): t_{0.975} for 40, 60, 120 degrees of freedom.
    for df, table in ((40, 2.021), (60, 2.000), (120, 1.980)):
        assert stats.t_quantile_975(df) == pytest.approx(table, abs=6e-4)
    with pytest.raises(ValueError):
        stats.t_quantile_975(0)


def test_mean_and_sample_standard_deviation():
    assert stats.mean_and_std([0.9, 0.8, 0.7]) == pytest.approx((0.8, 0.1))
    assert stats.mean_and_std([0.5]) == (0.5, 0.0)


def test_paired_difference_and_its_interval():
    # Differences 0.05, 0.00, 0.10: mean 0.05, sd 0.05, half-width 4.303 * 0.05 / sqrt(3).
    gain = stats.paired_difference([0.90, 0.80, 0.70], [0.85, 0.80, 0.60])
    half = 4.303 * 0.05 / math.sqrt(3)
    assert gain["mean"] == pytest.approx(0.05) and gain["std"] == pytest.approx(0.05)
    assert (gain["ci_low"], gain["ci_high"]) == (pytest.approx(0.05 - half),
                                                 pytest.approx(0.05 + half))
    assert gain["each"] == pytest.approx([0.05, 0.0, 0.1])
    one = stats.paired_difference([0.9], [0.8])
    assert one["ci_low"] is None and one["mean"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="equal-length"):
        stats.paired_difference([0.9, 0.8], [0.8])


def test_the_paired_bootstrap_holds_the_test_sets_own_error():
    # The case: 60 test images, five seeds that all score alike. Arm A is right on
    # 3 images arm B gets wrong and wrong on 3 others B gets right: no gain on these 60
    # images, but 6 discordant images of 60 are far from proof of none.
    truth = np.zeros(60, np.int64)
    control = np.zeros((5, 60), np.int64)
    control[:, :3] = 1
    treated = np.zeros((5, 60), np.int64)
    treated[:, 3:6] = 1
    seeds_only = stats.paired_difference([stats.accuracy(truth, p) for p in treated],
                                         [stats.accuracy(truth, p) for p in control])
    assert (seeds_only["ci_low"], seeds_only["ci_high"]) == (0.0, 0.0)  # the old report
    gain = stats.paired_bootstrap(stats.accuracy, truth, treated, control)
    # One seed's paired differences d_i in {-1, 0, 1}: the interval is about
    # +- 1.96 sd(d) / sqrt(60) = +- 1.96 sqrt(6 / 60) / sqrt(60) = +- 0.080.
    half = 1.96 * np.std(np.r_[np.ones(3), -np.ones(3), np.zeros(54)]) / np.sqrt(60)
    assert gain["mean"] == 0.0 and gain["each"] == [0.0] * 5
    assert gain["ci_low"] == pytest.approx(-half, abs=0.02)
    assert gain["ci_high"] == pytest.approx(half, abs=0.02)
    assert stats.paired_bootstrap(stats.accuracy, truth, treated, control) == gain  # seeded
    # The same predictions in both arms: no gain and nothing to be unsure of.
    same = stats.paired_bootstrap(stats.accuracy, truth, control, control, repeats=50)
    assert (same["mean"], same["ci_low"], same["ci_high"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="60 test rows"):
        stats.paired_bootstrap(stats.accuracy, truth, treated[:, :59], control[:, :59])


def test_the_fast_scores_match_scikit_learn():
    from sklearn.metrics import f1_score, r2_score

    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 4, 200), rng.integers(0, 3, 200)  # class 3 never chosen
    assert stats.macro_f1(truth, predicted, 4) == pytest.approx(
        f1_score(truth, predicted, average="macro", labels=range(4), zero_division=0))
    np.testing.assert_allclose(stats.class_f1(truth, predicted, 4),
                               f1_score(truth, predicted, average=None, labels=range(4),
                                        zero_division=0))
    values = rng.normal(size=50)
    guesses = values + rng.normal(0, 0.5, 50)
    assert stats.r2(values, guesses) == pytest.approx(r2_score(values, guesses))
    assert stats.r2([1.0, 1.0], [1.0, 1.0]) == 1.0 and stats.r2([1.0, 1.0], [0.0, 1.0]) == 0.0


def test_the_verdict_reads_the_interval():
    helps = downstream.verdict({"mean": 0.014, "ci_low": 0.008, "ci_high": 0.020})
    assert helps == ("generated data adds +1.4 points over ordinary augmentation "
                     "(95% CI +0.8 to +2.0)")
    noise = downstream.verdict({"mean": 0.002, "ci_low": -0.004, "ci_high": 0.008})
    assert noise.startswith("generated data does not help here") and "use ordinary" in noise
    hurts = downstream.verdict({"mean": -0.01, "ci_low": -0.015, "ci_high": -0.005})
    assert "costs 1.0 points" in hurts and "use ordinary augmentation" in hurts


def test_the_sample_filter_keeps_confident_samples_up_to_each_class_quota():
    probabilities = np.array([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.02, 0.98],
                              [0.99, 0.01], [0.97, 0.03]])
    labels = np.array([0, 0, 1, 1, 0, 1])
    kept, confident = downstream.confident_choice(probabilities, labels, [1, 5], 0.9)
    # Confident: 0 (class 0), 2 and 3 (class 1), 4 (class 0); 5 asks for 1 but reads 0.
    assert confident == 4
    assert kept.tolist() == [0, 2, 3]  # class 0's quota is 1: sample 4 is not needed


# --- The held-out split -----------------------------------------------------------------


def test_the_holdout_is_class_balanced_seeded_and_independent_of_the_subset():
    labels = np.repeat(np.arange(10), 50)
    pool, held_out = data_lib.holdout_indices(labels, 500, 0.2, seed=3)
    assert np.bincount(labels[held_out]).tolist() == [10] * 10
    assert not np.intersect1d(pool, held_out).size and len(pool) + len(held_out) == 500
    for max_examples in (None, 100, 30):
        trained, again = data_lib.split_indices(labels, 500, 0.2, max_examples, seed=3)
        np.testing.assert_array_equal(again, held_out)
        assert not np.intersect1d(trained, held_out).size
    trained, _ = data_lib.split_indices(labels, 500, 0.2, 100, seed=3)
    assert np.bincount(labels[trained]).tolist() == [10] * 10
    assert not np.array_equal(data_lib.holdout_indices(labels, 500, 0.2, seed=4)[1], held_out)
    # No holdout: exactly the subset the runs trained on before holdouts existed.
    np.testing.assert_array_equal(data_lib.split_indices(labels, 500, 0.0, 100, seed=3)[0],
                                  data_lib.subset_indices(labels, 500, 100, seed=3))


@pytest.fixture(scope="module")
def held_out_run(tmp_path_factory):
    """A conditional MLP run on 200 digits with 20% of each class held out; 2 epochs (a copy
    of the session's run, which test_human's pages also use)."""
    return trained_run_copy(tmp_path_factory, tmp_path_factory.mktemp("held_out"),
                            conditional=True, holdout=0.2, max_examples=200, batch_size=50)


@pytest.mark.slow
def test_the_run_records_its_holdout_and_never_trains_or_judges_on_it(held_out_run,
                                                                     monkeypatch):
    run_dir = held_out_run.output_dir
    record = runs.read_holdout(run_dir)
    assert len(record["held_out"]) == 1000 and set(record["per_class"].values()) == {100}
    run_data = runs.load_run_data(held_out_run)
    assert record["held_out"] == run_data.held_out.tolist()
    assert not np.intersect1d(run_data.trained, run_data.held_out).size
    assert json.load(open(os.path.join(run_dir, "config.json")))["config"]["holdout"] == 0.2
    # The judge of the samples (and so the best checkpoint) learns from the other 4,000.
    judged = []
    from gan_tf import features

    def remember(data, **kwargs):
        judged.append(len(data))
        raise UserError("stop here")

    monkeypatch.setattr(features.DomainClassifier, "for_dataset", staticmethod(remember))
    config = tiny_config(pathlib.Path(held_out_run.output_dir + "_judged"), conditional=True,
                         holdout=0.2,
                         max_examples=200, batch_size=50, eval_every_n_epochs=1)
    with pytest.raises(UserError, match="stop here"):
        train_lib.train(config, verbose=0)
    assert judged == [4000]


@pytest.mark.slow  # scores 300 samples with a judge of 4,000 digits
def test_evaluate_judges_a_held_out_run_without_its_test_images(held_out_run, tmp_path):
    from gan_tf import evaluate_lib

    report, _ = evaluate_lib.evaluate_model(held_out_run.output_dir, num_samples=300,
                                            output_dir=str(tmp_path / "evaluation"))
    assert report["dataset"]["num_examples"] == 4000  # 5,000 less the 1,000 held out
    # The memorization check knows which 200 of them the GAN trained on.
    assert report["dataset"]["trained_on"] == 200


@pytest.mark.slow
def test_the_holdout_is_stable_across_resume_and_a_changed_dataset_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 8, 8, 1), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 20)
    path = tmp_path / "data.npz"
    np.savez(path, images=images, labels=labels)
    config = tiny_config(tmp_path, dataset=f"array:{path}", max_examples=None, batch_size=8,
                         holdout=0.25, epochs=1)
    train_lib.train(config, verbose=0)
    first = runs.read_holdout(config.output_dir)
    longer = tiny_config(tmp_path, dataset=f"array:{path}", max_examples=None, batch_size=8,
                         holdout=0.25, epochs=2)
    assert train_lib.train(longer, verbose=0).trained
    assert runs.read_holdout(config.output_dir) == first
    # Another dataset under the same name: the split would move onto trained images.
    np.savez(path, images=images[:57], labels=labels[:57])
    longest = tiny_config(tmp_path, dataset=f"array:{path}", max_examples=None, batch_size=8,
                          holdout=0.25, epochs=3)
    with pytest.raises(UserError, match="held-out split recorded .* differs"):
        train_lib.train(longest, verbose=0)


def test_a_holdout_needs_labels_and_a_fraction(tmp_path):
    with pytest.raises(UserError, match="holdout=0.7.*from 0 \\(none\\) to 0.5"):
        tiny_config(tmp_path, holdout=0.7)
    folder = write_image_folder(tmp_path / "flat", classes=())
    config = tiny_config(tmp_path, dataset=f"folder:{folder}", max_examples=None,
                         batch_size=4, holdout=0.2)
    with pytest.raises(UserError, match="needs a labelled dataset"):
        train_lib.train(config, verbose=0)
    assert not os.path.exists(config.output_dir)


# --- The report -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_tiny_report_trains_five_paired_arms_and_writes_its_files(held_out_run, messages):
    report, output_dir = downstream.downstream_report(held_out_run.output_dir,
                                                      downstream.Options(**QUICK))
    assert output_dir == os.path.join(held_out_run.output_dir, "evaluation", "downstream")
    assert sorted(os.listdir(output_dir)) == ["downstream.png", "report.json"]
    assert json.load(open(os.path.join(output_dir, "report.json"))) == json.loads(
        json.dumps(report))
    assert list(report["arms"]) == list(downstream.ARMS)
    assert all(len(arm["each"]) == 2 and 0 <= min(arm["each"]) <= max(arm["each"]) <= 1
               for arm in report["arms"].values())
    assert (report["real_train_images"], report["test_images"]) == (200, 1000)
    gain = report["gain_over_augmentation"]
    # The interval is the paired bootstrap over test images and seeds, around the seeds'
    # mean gain; with 1000 test images and two seeds it has a width.
    assert gain["method"] == "paired bootstrap over test rows and seeds"
    assert gain["each"] == pytest.approx(np.subtract(
        report["arms"]["real_augmented_generated"]["each"],
        report["arms"]["real_augmented"]["each"]))
    assert gain["mean"] == pytest.approx(np.mean(gain["each"]))
    assert gain["ci_low"] < gain["ci_high"]
    assert report["verdict"] == downstream.verdict(gain)
    assert report["generated"]["images"] == 100
    # Progress: one line per trained classifier.
    assert sum(line.startswith("[") for line in messages) == 10


@pytest.mark.slow  # several classifier trainings: seconds each
def test_augmentation_is_chosen_on_validation_and_the_validation_split_spares_the_test(
        held_out_run):
    options = downstream.Options(**dict(QUICK, augmentation="auto", seeds=1,
                                        split="validation"))
    report, output_dir = downstream.downstream_report(held_out_run.output_dir, options)
    assert output_dir.endswith(os.path.join("evaluation", "downstream_validation"))
    scores = report["augmentation"]["validation_accuracy"]
    assert len(scores) == 6 and report["augmentation"]["chosen"] == max(scores,
                                                                        key=scores.get)
    # Trained on the 200 real digits; tested on 1,000 that neither the GAN (it trained on
    # 200 of the 4,000 outside the holdout) nor the holdout holds.
    assert (report["real_train_images"], report["test_images"]) == (200, 1000)
    assert report["validation_seen_by_gan"] is False


def trained_on_an_array(tmp_path, per_class, holdout):
    """A 1-epoch conditional run on random 8x8 images of 3 classes, trained on them all."""
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, images=rng.integers(0, 256, (3 * per_class, 8, 8, 1), dtype=np.uint8),
             labels=np.repeat(np.arange(3), per_class))
    config = tiny_config(tmp_path, dataset=f"array:{path}", max_examples=None, batch_size=8,
                         holdout=holdout, epochs=1, conditional=True)
    train_lib.train(config, verbose=0)
    return config


@pytest.mark.slow  # several classifier trainings and 30,000 discriminator scores
def test_the_options_benchmark_compares_variants_on_validation_only(held_out_run):
    """benchmarks/downstream_options.py: arm 2 once, arm 4 per variant, tested on the 1,000
    real digits neither the GAN nor the holdout holds (never the test split)."""
    result = run_python([os.path.join(REPO, "benchmarks", "downstream_options.py"),
                         f"--run_dir={held_out_run.output_dir}", "--variants=nofilter,dtop,drs",
                         "--seeds=2", "--steps=5", "--augmentation=light"], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["variant"] for row in rows] == ["nofilter", "dtop", "drs"]
    assert {(row["split"], row["validation_images"], row["steps"]) for row in rows} == {
        ("validation", 1000, 5)}
    # The same arm-2 baseline for every variant (paired), and a gain from it.
    assert rows[0]["real_augmented"] == rows[1]["real_augmented"] == rows[2]["real_augmented"]
    for row in rows:
        each = np.subtract(row["real_augmented_generated"], row["real_augmented"])
        assert row["gain"]["mean"] == pytest.approx(each.mean())
    assert [row["generated"]["filter"] for row in rows[:2]] == ["none",
                                                                "discriminator top half"]
    assert rows[2]["generated"]["filter"] == "drs" and 0 < rows[2]["generated"][
        "acceptance"] <= 1


@pytest.mark.slow  # several classifier trainings: seconds each
def test_without_unseen_images_validation_is_carved_from_the_gan_s_and_says_so(tmp_path,
                                                                             messages):
    config = trained_on_an_array(tmp_path, 40, 0.25)  # 30 of each class trained, 10 held out
    options = downstream.Options(**dict(QUICK, seeds=1, split="validation"))
    report, _ = downstream.downstream_report(config.output_dir, options)
    # 6 of each class's 30 training images validate; the GAN saw them.
    assert (report["real_train_images"], report["test_images"]) == (72, 18)
    assert report["validation_seen_by_gan"] is True
    assert any("score optimistically" in line for line in messages)


@pytest.mark.slow  # several classifier trainings: seconds each
def test_the_filter_keeps_only_confident_samples(held_out_run):
    options = downstream.Options(**dict(QUICK, sample_filter="confident", steps=60,
                                        min_confidence=0.2, seeds=1))
    report, _ = downstream.downstream_report(held_out_run.output_dir, options,
                                             output_dir=held_out_run.output_dir + "_filtered")
    generated = report["generated"]
    assert generated["filter"] == "confident" and 0 < generated["acceptance"] <= 1
    assert 0 < generated["images"] <= 100 and generated["samples_drawn"] >= 100


# --- Refusals: one clear message, nothing written ----------------------------------------


@pytest.mark.slow  # trains two runs
def test_a_run_without_holdout_or_labels_for_its_samples_is_refused(make_tiny_config):
    config = make_tiny_config(epochs=1, conditional=True)
    train_lib.train(config, verbose=0)
    with pytest.raises(UserError, match="without --holdout.*--holdout=0.2"):
        downstream.downstream_report(config.output_dir, downstream.Options(**QUICK))
    unconditional = make_tiny_config(epochs=1, holdout=0.2,
                                     output_dir=config.output_dir + "_unconditional")
    train_lib.train(unconditional, verbose=0)
    with pytest.raises(UserError, match="without --conditional.*Train with --conditional"):
        downstream.downstream_report(unconditional.output_dir, downstream.Options(**QUICK))
    for run in (config, unconditional):
        assert not os.path.exists(os.path.join(run.output_dir, "evaluation"))


@pytest.mark.slow
def test_too_few_held_out_images_and_a_mismatched_classifier_are_refused(tmp_path,
                                                                         held_out_run):
    config = trained_on_an_array(tmp_path, 16, 0.2)  # 3 of each class of 16 held out
    with pytest.raises(UserError, match="Too few held-out images in 3 class.*at least 5 per "
                                        "class.*larger --holdout"):
        downstream.downstream_report(config.output_dir, downstream.Options(**QUICK))
    import keras

    wrong = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    wrong.save(tmp_path / "wrong.keras")
    options = downstream.Options(**dict(QUICK, classifier=str(tmp_path / "wrong.keras")))
    with pytest.raises(UserError, match=r"takes \(8, 8, 1\) images and gives 3 outputs.*"
                                        r"\(28, 28, 1\) images of 10 classes"):
        downstream.downstream_report(held_out_run.output_dir, options,
                                     output_dir=tmp_path / "never")
    assert not os.path.exists(tmp_path / "never")
    assert not os.path.exists(os.path.join(config.output_dir, "evaluation"))


@pytest.mark.slow  # several classifier trainings: seconds each
def test_a_users_classifier_is_trained_from_scratch_in_every_arm(held_out_run, tmp_path):
    import keras

    mine = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])
    mine.save(tmp_path / "mine.keras")
    options = downstream.Options(**dict(QUICK, classifier=str(tmp_path / "mine.keras"),
                                        seeds=1, steps=30))
    report, _ = downstream.downstream_report(held_out_run.output_dir, options,
                                             output_dir=tmp_path / "report")
    assert report["classifier"] == str(tmp_path / "mine.keras")
    assert report["arms"]["real"]["mean"] > 0.3  # a softmax output is trained as such


@pytest.mark.slow
def test_the_cli_reports_and_refuses_with_exit_codes(held_out_run, tmp_path):
    run = held_out_run.output_dir
    (tmp_path / "empty").mkdir()
    done, bad, missing = run_python_together([  # independent: side by side
        (["-m", "gan_tf.evaluate", f"--run_dir={run}", "--downstream", "--downstream_seeds=1",
          "--downstream_steps=5", "--num_generated=50", "--augmentation=light",
          "--sample_filter=none", f"--output={tmp_path / 'cli'}"], REPO),
        (["-m", "gan_tf.evaluate", f"--run_dir={run}", "--downstream",
          "--generated_fraction=1.5"], REPO),
        (["-m", "gan_tf.evaluate", f"--run_dir={tmp_path / 'empty'}", "--downstream"], REPO)])
    assert done.returncode == 0, done.stderr
    assert "Verdict: generated data" in done.stdout and "real + augmentation" in done.stdout
    assert os.path.isfile(tmp_path / "cli" / "report.json")
    assert bad.returncode == 2 and "generated_fraction=1.5" in bad.stderr
    assert missing.returncode == 2 and "needs a training run directory" in missing.stderr


@pytest.mark.slow
def test_a_classifier_fit_depends_on_its_seed_alone():
    """The same seed trains the same classifier whatever was trained before it in the
    process (the global seeds are set before tf.data draws its shuffles), and augmentation
    draws in a fixed order: so a report can be reproduced, seed by seed."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 28, 28, 1)).astype(np.float32)
    y = np.arange(40) % 10
    trainer = downstream.Trainer(downstream.classifier_factory(None, (28, 28, 1), 10), 8,
                                 x, y)

    def weights(seed):
        model = trainer.fit([(x, y), (x[:20], y[:20])], [0.5, 0.5], seed, "medium")
        return np.concatenate([np.ravel(w) for w in model.get_weights()])

    first, other, again = weights(0), weights(1), weights(0)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_report_folder_holding_other_files_is_refused_and_kept(tmp_path):
    from gan_tf.files import check_report_folder, replace_report_folder

    names = ("report.json", "downstream.png")
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "report.json").write_text("{}")
    with pytest.raises(UserError, match=r"holds files that are not a report \(thesis.tex\)"):
        replace_report_folder(str(staging), str(mine), names)
    assert (mine / "thesis.tex").read_text() == "years of work" and staging.is_dir()
    # An earlier report (only the report's own files) is replaced whole; a new folder is made.
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "report.json").write_text("old")
    replace_report_folder(str(staging), str(earlier), names)
    assert (earlier / "report.json").read_text() == "{}" and not staging.exists()
    check_report_folder(str(tmp_path / "new"), names)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UserError, match="it is a file"):
        check_report_folder(str(tmp_path / "a_file"), names)
