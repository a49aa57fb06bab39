"""Tests of gan_tf.tables.baselines: kinds, dtypes and missing rates kept, relations kept
by the copula and lost by independent columns, seeded."""

import numpy as np
import pandas as pd
import pytest

from gan_tf.errors import UserError
from gan_tf.tables import baselines, metrics
from test_tables_metrics import KINDS, mixed_table


@pytest.fixture(scope="module")
def train():
    return mixed_table(1000, seed=50)


@pytest.mark.parametrize("model", [baselines.IndependentColumns, baselines.GaussianCopula])
def test_rows_keep_columns_dtypes_ranges_and_missing_rates(train, model):
    rows = model().fit(train, KINDS).sample(2000, seed=1)
    assert list(rows.columns) == list(train.columns) and len(rows) == 2000
    assert rows["age"].dtype == train["age"].dtype  # integers stay integers
    assert rows["member"].dtype == bool
    assert set(rows["city"].dropna()) <= set(train["city"].dropna())
    assert rows["age"].between(train["age"].min(), train["age"].max()).all()
    for name in ("income", "city"):
        assert rows[name].isna().mean() == pytest.approx(train[name].isna().mean(), abs=0.03)
    shapes = metrics.column_shapes(train, rows, KINDS)
    assert min(row["score"] for row in shapes) > 0.9
    pd.testing.assert_frame_equal(rows, model().fit(train, KINDS).sample(2000, seed=1))
    assert not rows.equals(model().fit(train, KINDS).sample(2000, seed=2))


def test_the_copula_keeps_relations_that_independent_columns_lose(train):
    copula = baselines.GaussianCopula().fit(train, KINDS).sample(2000, seed=0)
    independent = baselines.IndependentColumns().fit(train, KINDS).sample(2000, seed=0)
    real_r = train[["income", "spend"]].corr().iloc[0, 1]
    assert real_r > 0.6
    assert copula[["income", "spend"]].corr().iloc[0, 1] == pytest.approx(real_r, abs=0.1)
    assert abs(independent[["income", "spend"]].corr().iloc[0, 1]) < 0.1
    trends = {name: metrics.quality_report(train, rows, KINDS)["column_pair_trends"]
              for name, rows in (("copula", copula), ("independent", independent))}
    assert trends["copula"] > trends["independent"] + 0.1


def test_bad_input_is_refused(train):
    with pytest.raises(UserError, match="non-empty pandas DataFrame"):
        baselines.GaussianCopula().fit(train.iloc[:0], KINDS)
    with pytest.raises(UserError, match="num_rows=0"):
        baselines.IndependentColumns().fit(train, KINDS).sample(0)
    # A column that is always missing comes back always missing.
    empty = train.assign(income=np.nan)
    rows = baselines.GaussianCopula().fit(empty, KINDS).sample(50)
    assert rows["income"].isna().all()
