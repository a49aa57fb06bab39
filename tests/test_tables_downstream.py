"""Tests of gan_tf.tables.downstream: the five arms on frames, SMOTE, the paired intervals,
the minority class and the verdict."""

import json
import os

import numpy as np
import pytest

from conftest import collect_messages
from gan_tf.errors import UserError
from gan_tf.tables import downstream
from test_tables_metrics import KINDS, mixed_table, physical_cores_counted  # noqa: F401

# Random forests: the fastest of the models on these small tables.
QUICK = downstream.Options(model="random_forest", seeds=2, repeats=200)




@pytest.fixture(scope="module")
def frames():
    return mixed_table(400, seed=30), mixed_table(300, seed=31), mixed_table(400, seed=32)


@pytest.mark.slow
def test_five_paired_arms_with_intervals_and_a_verdict(frames, tmp_path):
    train, test, synthetic = frames
    with collect_messages() as messages:
        report = downstream.downstream_report(train, test, synthetic, KINDS, target="member",
                                              options=QUICK)
    assert list(report["arms"]) == list(downstream.ARMS)
    assert (report["task"], report["metric"]) == ("classification", "macro_f1")
    assert (report["real_train_rows"], report["test_rows"], report["synthetic_rows"]) == (
        400, 300, 400)
    arms = report["arms"]
    # SMOTE balances the classes; the mixed arms hold both sets of rows.
    counts = np.bincount(train["member"].astype(int))
    assert arms["real_smote"]["rows"] == 2 * counts.max()
    assert arms["real_smote_synthetic"]["rows"] == 2 * counts.max() + 400
    assert arms["real_synthetic"]["rows"] == 800
    for name, arm in arms.items():
        assert len(arm["each"]) == 2 and 0.6 < arm["mean"] <= 1.0
        assert set(arm["class_f1"]) == {"False", "True"}
        if name != "real":
            gain = arm["against_real"]
            assert gain["ci_low"] <= gain["mean"] <= gain["ci_high"]
            assert gain["ci_high"] - gain["ci_low"] > 0.005  # the test rows' own error
    gain = report["gain"]
    assert (gain["treated"], gain["control"]) == ("real_smote_synthetic", "real_smote")
    assert gain["mean"] == pytest.approx(arms["real_smote_synthetic"]["mean"]
                                         - arms["real_smote"]["mean"])
    assert report["verdict"] == downstream.verdict(gain, "classification", "macro F1")
    assert report["imbalanced"] is False and "minority_f1" not in report
    assert sum(message.startswith("[") for message in messages) == 10
    lines = downstream.summary_lines(report)
    assert lines[-1] == "Verdict: " + report["verdict"] + "."
    output = tmp_path / "downstream"
    downstream.write_report(report, str(output))
    assert sorted(os.listdir(output)) == ["downstream.png", "report.json"]
    assert json.loads((output / "report.json").read_text()) == json.loads(json.dumps(report))


@pytest.mark.slow
def test_useless_synthetic_rows_are_found_out(frames):
    train, test, synthetic = frames
    useless = synthetic.copy()
    useless["member"] = np.random.default_rng(0).permutation(useless["member"].to_numpy())
    report = downstream.downstream_report(train, test, useless, KINDS, target="member",
                                          options=QUICK)
    alone = report["arms"]["synthetic"]["against_real"]
    assert alone["ci_high"] < -0.1  # far worse than real, and the interval says so
    assert "do not help" in report["verdict"]


def test_a_numeric_target_has_three_arms_and_r2(frames):
    train, test, synthetic = frames
    report = downstream.downstream_report(train, test, synthetic, KINDS, target="spend",
                                          options=QUICK)
    assert list(report["arms"]) == ["real", "real_synthetic", "synthetic"]
    assert report["metric"] == "r2" and report["arms"]["real"]["mean"] > 0.5
    assert (report["gain"]["treated"], report["gain"]["control"]) == ("real_synthetic", "real")
    assert "minority_class" not in report


def test_an_imbalanced_target_reports_its_minority_class(frames):
    train, test, synthetic = frames
    # city: Kobe is 5% of the rows (and 10% of them have no city: dropped).
    report = downstream.downstream_report(train, test, synthetic, KINDS, target="city",
                                          options=downstream.Options(model="random_forest", seeds=1,
                                                                       repeats=100))
    assert report["minority_class"] == "Kobe" and report["imbalanced"] is True
    assert report["minority_share"] == pytest.approx(
        (train["city"] == "Kobe").sum() / train["city"].notna().sum())
    assert set(report["minority_f1"]) == set(downstream.ARMS)
    assert "against_real" in report["minority_f1"]["real_smote"]
    assert any(line.startswith("Minority class 'Kobe'")
               for line in downstream.summary_lines(report))


def test_smote_balances_and_keeps_lone_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 3))
    y = np.array([0] * 20 + [1] * 2 + [2])
    balanced_x, balanced_y = downstream.smote(x, y)
    assert np.bincount(balanced_y).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(balanced_x[:23], x)  # the real rows come first, unchanged
    assert np.allclose(balanced_x[balanced_y == 2], x[22])  # a lone row has only itself


def test_bad_requests_are_refused(frames):
    train, test, synthetic = frames
    with pytest.raises(UserError, match="target=None"):
        downstream.downstream_report(train, test, synthetic, KINDS)
    with pytest.raises(UserError, match="Invalid value for argument model"):
        downstream.downstream_report(train, test, synthetic, KINDS, target="member",
                                     options=downstream.Options(model="svm"))
    with pytest.raises(UserError, match="synthetic rows have 0 value"):
        empty = synthetic.assign(member=np.nan)
        downstream.downstream_report(train, test, empty, KINDS, target="member",
                                     options=QUICK)
