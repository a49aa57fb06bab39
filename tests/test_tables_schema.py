"""Tests for gan_tf/tables/schema.py: reading tables, inferring kinds, the refusals, decoding."""

import json

import numpy as np
import pandas as pd
import pytest

from gan_tf.errors import UserError
from gan_tf.tables import schema as schema_lib


def mixed_frame(num_rows=200, seed=0):
    """A small mixed table: integers, skewed numbers with gaps, text with gaps, bools, label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, num_rows),
        "income": rng.lognormal(10, 1, num_rows),
        "city": rng.choice(["Oslo", "Lima", "Pune"], num_rows),
        "member": rng.random(num_rows) < 0.3,
        "label": rng.integers(0, 2, num_rows),
    })
    frame.loc[::7, "income"] = np.nan
    frame.loc[::11, "city"] = None
    return frame


def write_csv(tmp_path, frame, name="table.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_infer_schema_kinds_ranges_and_missing_rates(tmp_path):
    frame = schema_lib.read_table(write_csv(tmp_path, mixed_frame()))
    schema = schema_lib.infer_schema(frame, target="label")
    kinds = {column.name: column.kind for column in schema.columns}
    assert kinds == {"age": "integer", "income": "continuous", "city": "categorical",
                     "member": "boolean", "label": "categorical"}
    assert schema.names == ("age", "income", "city", "member", "label")
    assert schema.target == "label"
    assert schema.column("city").categories == ("Lima", "Oslo", "Pune")
    assert schema.column("member").categories == ("False", "True")
    assert schema.column("label").categories == ("0", "1")
    assert schema.column("income").missing_rate == pytest.approx(29 / 200)
    assert schema.column("city").missing_rate == pytest.approx(19 / 200)
    assert schema.column("age").minimum == frame["age"].min()
    assert schema.column("age").maximum == frame["age"].max()
    assert [c.name for c in schema.discrete_columns] == ["city", "member", "label"]


def test_schema_json_round_trip_and_decode_restores_the_columns(tmp_path):
    frame = schema_lib.read_table(write_csv(tmp_path, mixed_frame()))
    schema = schema_lib.infer_schema(frame, target="label")
    loaded = schema_lib.TableSchema.from_json(json.loads(json.dumps(schema.to_json())))
    assert loaded == schema
    for column in schema.columns:
        series = frame[column.name]
        values = (schema_lib.column_values_as_strings(series) if column.discrete
                  else series.to_numpy())
        pd.testing.assert_series_equal(schema_lib.decode_column(values, column), series)


def test_decode_column_rounds_and_clips_integers():
    column = schema_lib.Column("n", "integer", minimum=0.0, maximum=5.0, dtype="int64")
    decoded = schema_lib.decode_column([0.4, 2.6, 9.0, -3.0], column)
    assert decoded.dtype == np.int64
    assert decoded.tolist() == [0, 3, 5, 0]
    with_gaps = schema_lib.Column("n", "integer", minimum=0.0, maximum=5.0,
                                  missing_rate=0.5, dtype="float64")
    decoded = schema_lib.decode_column([1.2, np.nan], with_gaps)
    assert decoded.iloc[0] == 1.0 and np.isnan(decoded.iloc[1])


def test_column_kinds_overrides_and_their_parsing(tmp_path):
    frame = mixed_frame()
    kinds = schema_lib.parse_column_kinds("age=continuous, label=integer")
    assert kinds == {"age": "continuous", "label": "integer"}
    schema = schema_lib.infer_schema(frame, kinds=kinds)
    assert schema.column("age").kind == "continuous"
    assert schema.column("label").kind == "integer"
    assert schema_lib.infer_schema(frame, kinds={"label": "categorical"}).column(
        "label").categories == ("0", "1")
    with pytest.raises(UserError, match="'age' has 69 distinct values in 200 rows"):
        schema_lib.infer_schema(frame, kinds={"age": "categorical"})
    for text in ("age", "age=number", "=integer"):
        with pytest.raises(UserError, match="column_kinds"):
            schema_lib.parse_column_kinds(text)
    with pytest.raises(UserError, match="holds text such as"):
        schema_lib.infer_schema(frame, kinds={"city": "integer"})
    with pytest.raises(UserError, match="holds fractions"):
        schema_lib.infer_schema(frame, kinds={"income": "integer"})
    with pytest.raises(UserError, match="a column of the table"):
        schema_lib.infer_schema(frame, kinds={"nope": "integer"})
    with pytest.raises(UserError, match="argument target"):
        schema_lib.infer_schema(frame, target="nope")


@pytest.mark.parametrize("change, pattern", [
    (lambda f: f.assign(empty=np.nan), "Column 'empty' is empty"),
    (lambda f: f.assign(country="NO"), "Column 'country' is constant"),
    (lambda f: f.assign(customer=[f"c{i:04d}" for i in range(len(f))]),
     "Column 'customer' looks like an ID"),
    (lambda f: f.assign(row=np.arange(1, len(f) + 1)), "Column 'row' looks like an ID"),
    (lambda f: f.assign(user_id=np.random.default_rng(1).permutation(10 * len(f))[:len(f)]),
     "Column 'user_id' looks like an ID"),
    (lambda f: f.assign(code=[f"k{i % 60}" for i in range(len(f))]),
     "Column 'code' has 60 distinct values in 200 rows"),
])
def test_bad_columns_are_refused_with_the_fix(change, pattern):
    with pytest.raises(UserError, match=pattern) as caught:
        schema_lib.infer_schema(change(mixed_frame()))
    assert "Drop" in str(caught.value)


def test_an_id_like_column_is_kept_when_its_kind_is_given():
    frame = mixed_frame().assign(row=np.arange(200))
    assert schema_lib.infer_schema(frame, kinds={"row": "integer"}).column(
        "row").kind == "integer"


def test_target_refusals():
    frame = mixed_frame().assign(label=1, other=np.arange(200) % 3)
    with pytest.raises(UserError, match="Column 'label' is constant"):
        schema_lib.infer_schema(frame, target="label")
    one_class = mixed_frame().assign(label=["yes"] * 190 + [None] * 10)
    with pytest.raises(UserError, match="missing in 10 of 200 rows"):
        schema_lib.infer_schema(one_class, target="label")
    one_class = mixed_frame().assign(label=["yes"] * 200)
    with pytest.raises(UserError, match="constant"):
        schema_lib.infer_schema(one_class, target="label")
    # One class plus missing values is not constant, but still one class as a target.
    frame = mixed_frame().assign(label=["yes"] * 150 + [None] * 50)
    assert schema_lib.infer_schema(frame).column("label").missing_rate == 0.25
    with pytest.raises(UserError, match="missing in 50 of 200"):
        schema_lib.infer_schema(frame, target="label")


def test_a_missing_value_alone_is_data_not_an_error():
    frame = mixed_frame().assign(note=["x"] * 150 + [None] * 50)
    column = schema_lib.infer_schema(frame).column("note")
    assert column.categories == ("x",) and column.missing_rate == 0.25


def test_too_few_rows_and_no_columns_are_refused():
    with pytest.raises(UserError, match="has 5 rows"):
        schema_lib.infer_schema(mixed_frame().head(5))
    with pytest.raises(UserError, match="no columns"):
        schema_lib.infer_schema(pd.DataFrame())


def test_read_table_refuses_ragged_rows_naming_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(UserError, match="line 3 has 2 fields where the header has 3"):
        schema_lib.read_table(path)
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(UserError, match="line 3 has 4 fields"):
        schema_lib.read_table(path)
    # A comma inside double quotes is one field, and blank lines are skipped.
    path.write_text('a,b,c\n1,"x, y",3\n\n4,z,6\n')
    assert schema_lib.read_table(path)["b"].tolist() == ["x, y", "z"]


def test_read_table_refuses_an_unreadable_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nJosé,Bogotá\n".encode("latin-1"))
    with pytest.raises(UserError, match="not valid utf-8 text.*Save the table as UTF-8"):
        schema_lib.read_table(path)
    assert schema_lib.read_table(path, encoding="latin-1")["name"].tolist() == ["José"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa,b\n1,2\n".encode("utf-8"))
    assert list(schema_lib.read_table(bom).columns) == ["a", "b"]


def test_read_table_refuses_empty_missing_unnamed_and_duplicate(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        schema_lib.read_table(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="is empty"):
        schema_lib.read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(UserError, match="no rows"):
        schema_lib.read_table(header)
    unnamed = tmp_path / "unnamed.csv"
    mixed_frame().to_csv(unnamed)  # pandas writes its index as a column with no name
    with pytest.raises(UserError, match="column with no name.*index=False"):
        schema_lib.read_table(unnamed)
    twice = tmp_path / "twice.csv"
    twice.write_text("a,a\n1,2\n")
    with pytest.raises(UserError, match="two columns named 'a'"):
        schema_lib.read_table(twice)
    other = tmp_path / "table.xlsx"
    other.write_text("x")
    with pytest.raises(UserError, match="extension '.xlsx'"):
        schema_lib.read_table(other)


def test_read_table_parquet_matches_csv(tmp_path):
    frame = mixed_frame()
    parquet = tmp_path / "table.parquet"
    frame.to_parquet(parquet)
    from_parquet = schema_lib.read_table(parquet)
    from_csv = schema_lib.read_table(write_csv(tmp_path, frame))
    assert schema_lib.infer_schema(from_parquet) == schema_lib.infer_schema(from_csv)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(UserError, match="as Parquet"):
        schema_lib.read_table(broken)


def test_check_frame_names_the_difference():
    schema = schema_lib.infer_schema(mixed_frame())
    schema.check_frame(mixed_frame())
    with pytest.raises(UserError, match="missing member; new extra"):
        schema.check_frame(mixed_frame().drop(columns="member").assign(extra=1))
    with pytest.raises(UserError, match="another order"):
        schema.check_frame(mixed_frame()[list(reversed(schema.names))])
    with pytest.raises(UserError, match="no column 'x'"):
        schema.column("x")


def test_few_valued_numbers_are_codes_and_decode_to_their_numbers(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "age_group": rng.choice([17.5, 22.0, 27.0, 32.0, 37.0, 42.0], 60),  # 6 values: codes
        "rating": rng.integers(1, 6, 60).astype(float),  # whole, 5 values: codes
        "count": rng.integers(0, 12, 60),  # 12 values: an amount
        "score": rng.choice([0.5, 1.0, 1.5], 60),  # the target: kept a number
    })
    frame = schema_lib.read_table(write_csv(tmp_path, frame))
    schema = schema_lib.infer_schema(frame, target="score")
    kinds = {column.name: column.kind for column in schema.columns}
    assert kinds == {"age_group": "categorical", "rating": "categorical", "count": "integer",
                     "score": "continuous"}
    assert schema.column("age_group").categories == ("17.5", "22", "27", "32", "37", "42")
    decoded = schema_lib.decode_column(
        np.array(["22", "42", None], dtype=object), schema.column("age_group"))
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded.to_numpy()[:2], [22.0, 42.0])
    assert np.isnan(decoded.to_numpy()[2])
    # Too few rows for one category per 5 rows: a number, not a code (nothing refused).
    small = pd.DataFrame({"level": [1.5, 2.5, 3.5, 4.5, 5.5] * 3, "x": range(15)})
    assert schema_lib.infer_schema(small).column("level").kind == "continuous"
    # `--column_kinds` still decides.
    assert schema_lib.infer_schema(frame, kinds={"rating": "integer"}).column(
        "rating").kind == "integer"
