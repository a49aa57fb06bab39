"""Tests for gan_tf/tables/transformer.py: the representation, its exact inverse, its JSON."""

import json

import numpy as np
import pandas as pd
import pytest

from gan_tf.errors import UserError
from gan_tf.tables import schema as schema_lib
from gan_tf.tables import transformer as transformer_lib
from test_tables_schema import mixed_frame


@pytest.fixture(scope="module")
def fitted():
    frame = mixed_frame(600)
    schema = schema_lib.infer_schema(frame, target="label")
    return frame, transformer_lib.TableTransformer(schema).fit(frame, seed=0)


def test_layout_follows_the_paper(fitted):
    frame, transformer = fitted
    roles = [(span.column, span.role, span.activation) for span in transformer.spans]
    assert roles == [
        ("age", "value", "tanh"), ("age", "mode", "softmax"),
        ("income", "value", "tanh"), ("income", "mode", "softmax"),
        ("income", "missing", "softmax"),
        ("city", "category", "softmax"), ("member", "category", "softmax"),
        ("label", "category", "softmax")]
    widths = {(span.column, span.role): span.width for span in transformer.spans}
    assert 2 <= widths["age", "mode"] <= transformer_lib.MAX_MODES
    assert widths["income", "missing"] == 2
    assert widths["city", "category"] == 4  # three cities and the missing slot
    assert widths["member", "category"] == 2
    assert transformer.output_dim == transformer.spans[-1].end
    assert transformer.condition_dim == 8
    assert transformer.condition_index("city", "Pune") == 2
    assert transformer.condition_index("member", True) == 5
    assert transformer.condition_index("label", 1) == 7


def test_rows_are_in_range_and_one_hot(fitted):
    frame, transformer = fitted
    rows = transformer.transform(frame, seed=3)
    assert rows.dtype == np.float32 and rows.shape == (600, transformer.output_dim)
    for span in transformer.spans:
        part = rows[:, span.start:span.end]
        if span.activation == "tanh":
            assert np.all(np.abs(part) <= transformer_lib.ALPHA_LIMIT)
        else:
            assert np.all(part.sum(axis=1) == 1.0) and set(np.unique(part)) == {0.0, 1.0}
    missing = transformer.column_spans("income")[2]
    assert rows[:, missing.start + 1].mean() == pytest.approx(frame["income"].isna().mean())


def test_inverse_is_exact_with_types_and_missing_values(fitted):
    frame, transformer = fitted
    back = transformer.inverse_transform(transformer.transform(frame, seed=1))
    assert list(back.columns) == list(frame.columns)
    assert dict(back.dtypes) == dict(frame.dtypes)
    for name in ("age", "member", "label"):
        assert back[name].tolist() == frame[name].tolist()
    assert back["city"].fillna("<NA>").tolist() == frame["city"].fillna("<NA>").tolist()
    assert back["income"].isna().tolist() == frame["income"].isna().tolist()
    # float32 round-off of alpha: below a millionth of the column's range.
    atol = 1e-6 * np.ptp(frame["income"].dropna())
    np.testing.assert_allclose(back["income"].dropna(), frame["income"].dropna(), rtol=0,
                               atol=atol)


def test_transform_is_a_function_of_the_seed(fitted):
    frame, transformer = fitted
    first = transformer.transform(frame, seed=5)
    assert np.array_equal(first, transformer.transform(frame, seed=5))
    assert not np.array_equal(first, transformer.transform(frame, seed=6))


def test_json_round_trip_gives_the_same_transformer(fitted):
    frame, transformer = fitted
    data = json.loads(json.dumps(transformer.to_json()))
    loaded = transformer_lib.TableTransformer.from_json(data)
    assert loaded.spans == transformer.spans and loaded.schema == transformer.schema
    assert np.array_equal(loaded.transform(frame, seed=2), transformer.transform(frame, seed=2))
    with pytest.raises(UserError, match="transformer.json"):
        transformer_lib.TableTransformer.from_json({"schema": data["schema"]})


def test_fit_uses_a_bounded_sample_and_refits_the_same():
    frame = mixed_frame(3000, seed=4)
    schema = schema_lib.infer_schema(frame)
    small = transformer_lib.TableTransformer(schema, fit_rows=500).fit(frame, seed=0)
    assert small.fit_sample_rows == 500 and small.fit_seconds > 0
    again = transformer_lib.TableTransformer(schema, fit_rows=500).fit(frame, seed=0)
    assert again.modes == small.modes
    # Values the sample did not hold still round-trip (their nearest mode, within range).
    back = small.inverse_transform(small.transform(frame))
    # float32 round-off of alpha: below a millionth of the column's range.
    atol = 1e-6 * np.ptp(frame["income"].dropna())
    np.testing.assert_allclose(back["income"].dropna(), frame["income"].dropna(), rtol=0,
                               atol=atol)


def test_soft_outputs_decode_by_their_largest_entry(fitted):
    frame, transformer = fitted
    rows = transformer.transform(frame.head(20), seed=0)
    noisy = rows.copy()
    for span in transformer.spans:
        if span.activation == "softmax":
            noisy[:, span.start:span.end] = 0.6 * rows[:, span.start:span.end] + 0.1
    pd.testing.assert_frame_equal(transformer.inverse_transform(noisy),
                                  transformer.inverse_transform(rows))


def test_unseen_values_and_bad_conditions_are_refused(fitted):
    frame, transformer = fitted
    with pytest.raises(UserError, match="'Rome'.*never saw"):
        transformer.transform(frame.assign(city=["Rome"] + ["Oslo"] * 599))
    with pytest.raises(UserError, match="'age' has 1 missing values"):
        transformer.transform(frame.assign(age=[np.nan] + [30.0] * 599))
    with pytest.raises(UserError, match="condition.*Lima, Oslo, Pune"):
        transformer.condition_index("city", "Rome")
    with pytest.raises(UserError, match="categorical or boolean column"):
        transformer.condition_index("age", 30)
    with pytest.raises(UserError, match="shape"):
        transformer.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(UserError, match="not fitted"):
        transformer_lib.TableTransformer(transformer.schema).output_dim  # noqa: B018
