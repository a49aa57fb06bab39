"""Tests of gan_tf.tables.metrics: SDMetrics' definitions matched to 1e-6, detection,
efficacy and privacy on small tables whose answers are known."""

import warnings

import numpy as np
import pandas as pd
import pytest

from gan_tf.errors import UserError
from gan_tf.tables import metrics

KINDS = {"age": "integer", "income": "continuous", "spend": "continuous",
         "city": "categorical", "member": "boolean", "plan": "categorical"}
SDTYPES = {"integer": "numerical", "continuous": "numerical", "categorical": "categorical",
           "boolean": "boolean"}


@pytest.fixture(scope="module", autouse=True)
def physical_cores_counted():
    """joblib counts the physical cores for scikit-learn's gradient boosting by running
    `lscpu`, once per process: done here, outside the tests that refuse subprocesses (a
    millisecond, no Python started)."""
    import joblib

    joblib.cpu_count(only_physical_cores=True)


def mixed_table(rows, seed, shift=0.0, missing=0.1):
    """A mixed table with correlated columns, missing values and a rare category."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = 1000 * (age + rng.normal(shift, 10, rows))
    spend = 0.3 * income + rng.normal(0, 3000, rows)
    city = rng.choice(["Oslo", "Lima", "Pune", "Kobe"], rows, p=[0.5, 0.3, 0.15, 0.05])
    member = (income + rng.normal(0, 8000, rows)) > 50000 + 5000 * shift
    plan = np.where(member, rng.choice(["gold", "basic"], rows, p=[0.8, 0.2]),
                    rng.choice(["gold", "basic"], rows, p=[0.1, 0.9]))
    frame = pd.DataFrame({"age": age, "income": income, "spend": spend, "city": city,
                          "member": member, "plan": plan})
    frame["income"] = frame["income"].mask(rng.random(rows) < missing)
    frame["city"] = frame["city"].mask(rng.random(rows) < missing)
    return frame


def sdmetrics_metadata():
    return {"columns": {name: {"sdtype": SDTYPES[kind]} for name, kind in KINDS.items()}}


@pytest.fixture(scope="module")
def real():
    return mixed_table(400, seed=0)


@pytest.fixture(scope="module")
def synthetic():
    # Differently distributed, with a category the real rows lack and more missing values.
    frame = mixed_table(300, seed=1, shift=4.0, missing=0.2)
    frame.loc[frame.index[:7], "city"] = "Baku"
    return frame


def test_column_metrics_match_sdmetrics(real, synthetic):
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    for name in ("age", "income", "spend"):
        assert metrics.ks_complement(real[name], synthetic[name]) == pytest.approx(
            KSComplement.compute(real[name], synthetic[name]), abs=1e-6)
    for name in ("city", "member", "plan"):
        assert metrics.tv_complement(real[name], synthetic[name]) == pytest.approx(
            TVComplement.compute(real[name], synthetic[name]), abs=1e-6)
    pair = ["income", "spend"]
    ours = metrics.correlation_similarity(real[pair], synthetic[pair])
    theirs = CorrelationSimilarity.compute_breakdown(real[pair], synthetic[pair])
    assert ours["score"] == pytest.approx(theirs["score"], abs=1e-6)
    assert ours["real"] == pytest.approx(theirs["real"], abs=1e-6)
    pair = ["city", "plan"]
    ours = metrics.contingency_similarity(real[pair], synthetic[pair])
    theirs = ContingencySimilarity.compute_breakdown(real[pair], synthetic[pair],
                                                     real_association_threshold=0.01)
    assert ours["score"] == pytest.approx(theirs["score"], abs=1e-6)
    assert ours["real_association"] == pytest.approx(theirs["real_association"], abs=1e-6)
    # Not a trivial match: the frames differ, so every score is below 1.
    assert metrics.ks_complement(real["income"], synthetic["income"]) < 0.95


@pytest.mark.parametrize("report", ["single_table", "unified"])
def test_quality_report_matches_sdmetrics(real, synthetic, report):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if report == "single_table":
            from sdmetrics.reports.single_table import QualityReport
        else:
            from sdmetrics.reports import QualityReport
        theirs = QualityReport()
        if report == "single_table":
            theirs.generate(real, synthetic, sdmetrics_metadata(), verbose=False)
        else:
            theirs.generate({"table": real}, {"table": synthetic},
                            {"tables": {"table": sdmetrics_metadata()}}, verbose=False)
    ours = metrics.quality_report(real, synthetic, KINDS)
    assert ours["score"] == pytest.approx(theirs.get_score(), abs=1e-6)
    table = {} if report == "single_table" else {"table_name": "table"}
    shapes = theirs.get_details("Column Shapes", **table)
    for row in ours["shapes"]:
        expected = shapes.loc[shapes["Column"] == row["column"], "Score"].item()
        assert row["score"] == pytest.approx(expected, abs=1e-6)
    pairs = theirs.get_details("Column Pair Trends", **table)
    assert len(pairs) == len(ours["pairs"]) == 15
    for row in ours["pairs"]:
        match = pairs[(pairs["Column 1"] == row["columns"][0])
                      & (pairs["Column 2"] == row["columns"][1])]
        assert row["metric"] == match["Metric"].item()
        assert bool(match["Meets Threshold?"].fillna(False).item()) == row["meets_threshold"]
        if row["meets_threshold"]:
            assert row["score"] == pytest.approx(match["Score"].item(), abs=1e-6)
    # Some pairs count and some do not, so the thresholds are exercised both ways.
    assert 0 < sum(row["meets_threshold"] for row in ours["pairs"]) < 15
    assert ours["score"] < 0.95


def test_quality_is_high_for_the_same_distribution_and_one_for_the_same_rows(real):
    same = metrics.quality_report(real, real, KINDS)
    assert same["score"] == pytest.approx(1.0)
    fresh = metrics.quality_report(real, mixed_table(400, seed=5), KINDS)
    shifted = metrics.quality_report(real, mixed_table(400, seed=5, shift=8.0), KINDS)
    assert fresh["score"] > 0.85 > shifted["score"]


def test_kinds_read_from_dtypes_and_checked(real):
    assert metrics.column_kinds(real) == {
        "age": "integer", "income": "continuous", "spend": "continuous",
        "city": "categorical", "member": "boolean", "plan": "categorical"}
    with pytest.raises(UserError, match="kind of column 'age'.*Received.*'date'"):
        metrics.column_kinds(real, {"age": "date"})
    with pytest.raises(UserError, match="no column 'height'"):
        metrics.column_kinds(real, {"height": "continuous"})
    with pytest.raises(UserError, match="synthetic rows have no column"):
        metrics.column_shapes(real, real.drop(columns="plan"), KINDS)


def test_encoder_handles_missing_values_and_unseen_categories(real):
    encoder = metrics.TableEncoder(real, {"income": "continuous", "city": "categorical"})
    # income: value + missing column; city: <missing>, Kobe, Lima, Oslo, Pune (sorted).
    assert encoder.width == 2 + 5
    frame = pd.DataFrame({"income": [np.nan, real["income"].mean()],
                          "city": ["Baku", None]})
    matrix = encoder.transform(frame)
    np.testing.assert_allclose(matrix[0], [0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(matrix[1], [0, 0, 1, 0, 0, 0, 0], atol=1e-12)
    assert np.isfinite(encoder.transform(real)).all()


def test_detection_tells_shifted_rows_apart_and_not_fresh_ones(real):
    fresh = metrics.detection(real, mixed_table(400, seed=7), KINDS)
    shifted = metrics.detection(real, mixed_table(400, seed=7, shift=8.0), KINDS)
    assert fresh["rows_each"] == 400
    assert fresh["auc"] < 0.65
    assert shifted["auc"] > 0.85
    assert set(fresh) == {"auc", "logistic_regression", "gradient_boosting", "rows_each"}
    with pytest.raises(UserError, match="at least folds=5"):
        metrics.detection(real.head(3), real, KINDS)


@pytest.mark.slow
def test_efficacy_classification_and_regression(real):
    test = mixed_table(300, seed=11)
    good = metrics.efficacy(real, test, mixed_table(400, seed=12), KINDS, target="member")
    assert good["task"] == "classification" and good["metric"] == "f1"
    assert set(good["real"]) == {"logistic_regression", "random_forest", "gradient_boosting"}
    assert good["ratio"] > 0.9
    # Labels shuffled: the synthetic rows keep their columns but lose the relation.
    useless = mixed_table(400, seed=12)
    useless["member"] = np.random.default_rng(0).permutation(useless["member"].to_numpy())
    bad = metrics.efficacy(real, test, useless, KINDS, target="member")
    assert bad["ratio"] < 0.85 * good["ratio"]
    regression = metrics.efficacy(real, test, mixed_table(400, seed=12), KINDS,
                                  target="spend")
    assert regression["task"] == "regression" and regression["metric"] == "r2"
    assert regression["real_mean"] > 0.5 and regression["ratio"] > 0.8
    # One class only in the synthetic rows: the constant prediction, not a crash.
    single = mixed_table(400, seed=12)
    single["member"] = True
    result = metrics.efficacy(real, test, single, KINDS, target="member")
    assert result["synthetic"]["random_forest"]["accuracy"] == pytest.approx(
        test["member"].mean())
    with pytest.raises(UserError, match="target=None"):
        metrics.efficacy(real, test, real, KINDS)


def test_privacy_counts_copies_and_warns_on_memorised_rows(real):
    holdout = mixed_table(300, seed=21)
    honest = metrics.privacy(real, holdout, mixed_table(300, seed=22), KINDS)
    assert honest["warning"] is None
    assert honest["synthetic"]["exact_copies"] == honest["holdout"]["exact_copies"] == 0
    copied = pd.concat([real.iloc[:150], mixed_table(150, seed=22)], ignore_index=True)
    # Copies keep missing values and may change a number's dtype: still exact copies.
    copied["age"] = copied["age"].astype(np.float64)
    leaky = metrics.privacy(real, holdout, copied, KINDS)
    assert leaky["synthetic"]["exact_copies"] == 150
    assert leaky["synthetic"]["p5"] == 0.0
    assert leaky["closer_than_holdout_p5"] >= 0.5
    assert "memorising" in leaky["warning"] and "150 synthetic rows" in leaky["warning"]
    # Near-copies (TVAE's failure on a coarse table): no exact copy, and held-out rows that
    # repeat training rows make their 5th percentile 0, but most rows sit by a training row.
    coarse = pd.concat([real.iloc[:60], mixed_table(240, seed=23)], ignore_index=True)
    near = real.iloc[:300].dropna(subset=["income"]).copy()
    near["income"] = near["income"] + 0.5
    nearly = metrics.privacy(real, coarse, near, KINDS)
    assert nearly["synthetic"]["exact_copies"] == 0 and nearly["holdout"]["p5"] == 0.0
    assert nearly["closer_than_holdout_median"] > 0.9
    assert "closer to a training row than the median new real row" in nearly["warning"]
    assert honest["closer_than_holdout_median"] < 0.6
