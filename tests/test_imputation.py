"""Tests of gan_tf.imputation: GAIN's models, masks, classical imputers, the table codec,
the comparison, the run directory (resume, export) and the impute CLI."""

import io
import json
import os
import re

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import run_python_together
from gan_tf import cli
from gan_tf.errors import UserError
from gan_tf.imputation import classical, compare, fill, gain, impute_lib, masks, training
from gan_tf.imputation.config import ImputeConfig
from gan_tf.imputation.tabular import TableCodec
from gan_tf.tables.schema import infer_schema, read_table


def correlated_matrix(rows=120, seed=0):
    """Four columns in [0, 1]; the last three are functions of the first (a learnable table)."""
    rng = np.random.default_rng(seed)
    base = rng.random(rows)
    return np.stack([base, base ** 2, 1.0 - base, 0.5 * base + 0.1 * rng.random(rows)],
                    axis=1).astype(np.float32)


def mixed_frame(rows=80, seed=0, missing=0.2):
    """A table with every kind: integer, continuous, categorical, boolean, and holes."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 70, rows)
    frame = pd.DataFrame({
        "age": age,
        "weight": np.round(age * 1.1 + rng.normal(size=rows), 3),
        "colour": np.where(age > 45, "red", np.where(age > 30, "blue", "green")),
        "member": age % 2 == 0,
        "label": np.where(age > 45, "old", "young"),
    }).astype(object)
    for name in ("age", "weight", "colour", "member"):
        frame.loc[rng.random(rows) < missing, name] = None
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))  # as read from a file


def write_mixed_csv(path, **kwargs):
    mixed_frame(**kwargs).to_csv(path, index=False)
    return str(path)


# --- GAIN's models -------------------------------------------------------------------------

def test_networks_are_registered_and_round_trip_their_config():
    for cls in (gain.GainGenerator, gain.GainDiscriminator):
        model = cls(6, hidden_units=5, seed=3)
        assert keras.saving.get_registered_object(f"gan_tf>{cls.__name__}") is cls
        config = model.get_config()
        assert {"num_features": 6, "hidden_units": 5, "seed": 3}.items() <= config.items()
        clone = cls.from_config(config)
        assert clone.get_config() == config
        for mine, theirs in zip(model.get_weights(), clone.get_weights()):
            np.testing.assert_array_equal(mine, theirs)  # seeded initial weights
    assert gain.GainGenerator(4).output_shape == (None, 4)


def test_imputer_round_trips_through_a_keras_file(tmp_path):
    imputer = training.build_imputer((4,), seed=1, hint_rate=0.8, alpha=10.0)
    path = str(tmp_path / "imputer.keras")
    imputer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, gain.GainImputer)
    assert (loaded.seed, loaded.hint_rate, loaded.alpha) == (1, 0.8, 10.0)
    values = correlated_matrix(8)
    mask = np.ones_like(values)
    mask[:, 1] = 0
    np.testing.assert_array_equal(loaded.impute(values, mask), imputer.impute(values, mask))


def test_imputer_refuses_bad_arguments():
    with pytest.raises(UserError, match="hint_rate"):
        gain.GainImputer(gain.GainGenerator(2), gain.GainDiscriminator(2), hint_rate=1.5)
    with pytest.raises(UserError, match="alpha"):
        gain.GainImputer(gain.GainGenerator(2), gain.GainDiscriminator(2), alpha=-1.0)
    with pytest.raises(UserError, match="num_features"):
        gain.GainGenerator(0)


def test_imputer_draws_are_a_pure_function_of_seed_and_step():
    first = gain.imputer_draw(3, gain.HINT, 7, [4, 5]).numpy()
    np.testing.assert_array_equal(first, gain.imputer_draw(3, gain.HINT, 7, [4, 5]).numpy())
    assert not np.array_equal(first, gain.imputer_draw(3, gain.HINT, 8, [4, 5]).numpy())
    assert not np.array_equal(first, gain.imputer_draw(4, gain.HINT, 7, [4, 5]).numpy())
    assert not np.array_equal(first, gain.imputer_draw(3, gain.NOISE, 7, [4, 5]).numpy())


def test_impute_keeps_observed_entries_and_fills_every_hole():
    values = correlated_matrix(50)
    mask = (np.random.default_rng(0).random(values.shape) > 0.3).astype(np.float32)
    holed = np.where(mask > 0, values, np.nan)
    imputer = training.train_imputer(holed, mask, iterations=50, batch_size=16)
    filled = imputer.impute(holed, mask, seed=0)
    np.testing.assert_array_equal(filled[mask > 0], values[mask > 0])
    assert np.isfinite(filled).all() and (filled >= 0).all() and (filled <= 1).all()
    other = imputer.impute(holed, mask, seed=1)
    assert not np.array_equal(other[mask == 0], filled[mask == 0])  # another draw


@pytest.mark.slow
def test_training_learns_a_correlated_table():
    """On columns that are functions of one another, GAIN beats the column means."""
    values = correlated_matrix(200)
    mask = (np.random.default_rng(1).random(values.shape) > 0.2).astype(np.float32)
    holed = np.where(mask > 0, values, np.nan)
    imputer = training.train_imputer(holed, mask, iterations=1500, batch_size=64, seed=0)
    filled = imputer.impute(holed, mask)
    holes = mask == 0
    means = np.nanmean(holed, axis=0)[None, :] * np.ones_like(values)
    gan_rmse = np.sqrt(np.mean((filled[holes] - values[holes]) ** 2))
    mean_rmse = np.sqrt(np.mean((means[holes] - values[holes]) ** 2))
    assert gan_rmse < 0.6 * mean_rmse, (gan_rmse, mean_rmse)


@pytest.mark.slow
def test_twenty_seeds_train_to_the_end_with_no_nan():
    """Numerically safe by construction: logits and softplus, no log(0). The table is made
    to provoke the authors' NaN: a constant column, a column with one observed entry, an
    all-missing row, and D and G at 10x the learning rate."""
    rng = np.random.default_rng(0)
    values = rng.random((64, 5)).astype(np.float32)
    values[:, 2] = 0.0
    mask = (rng.random(values.shape) > 0.3).astype(np.float32)
    mask[:, 4] = 0
    mask[0, 4] = 1
    mask[5] = 0
    for seed in range(20):
        imputer = training.build_imputer((5,), seed=seed)
        imputer.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
        history = imputer.fit(gain.training_dataset(values, mask, 32, seed, 0, 60), epochs=1,
                              steps_per_epoch=60, verbose=0, shuffle=False)
        for name, curve in history.history.items():
            assert np.isfinite(curve).all(), (seed, name, curve)
        for weight in imputer.generator.get_weights() + imputer.discriminator.get_weights():
            assert np.isfinite(weight).all(), seed
        assert np.isfinite(imputer.impute(values, mask, seed=seed)).all()


@pytest.mark.slow
def test_same_seed_same_weights_and_resume_is_identical(tmp_path):
    values = correlated_matrix(40)
    mask = (np.random.default_rng(2).random(values.shape) > 0.25).astype(np.float32)
    holed = np.where(mask > 0, values, np.nan)
    kwargs = dict(batch_size=8, steps_per_epoch=10, seed=5)
    whole = training.train_imputer(holed, mask, iterations=30, run_dir=str(tmp_path / "a"),
                                   **kwargs)
    training.train_imputer(holed, mask, iterations=10, run_dir=str(tmp_path / "b"), **kwargs)
    resumed = training.train_imputer(holed, mask, iterations=30, run_dir=str(tmp_path / "b"),
                                     **kwargs)
    assert int(resumed.discriminator_optimizer.iterations.numpy()) == 30
    for mine, theirs in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    records = [json.loads(line) for line in open(tmp_path / "b" / "metrics.jsonl")]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert {"d_loss", "g_loss", "mse", "d_accuracy"} <= set(records[0])
    again = training.train_imputer(holed, mask, iterations=30, run_dir=None, **kwargs)
    for mine, theirs in zip(whole.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_export_loads_with_tensorflow_alone_and_fills_like_the_imputer(tmp_path):
    values = correlated_matrix(30)
    mask = (np.random.default_rng(3).random(values.shape) > 0.3).astype(np.float32)
    holed = np.where(mask > 0, values, np.nan)
    imputer = training.train_imputer(holed, mask, iterations=20, batch_size=8)
    path = training.export_imputer(imputer, str(tmp_path / "imputer"), {"note": "x"})
    loaded = tf.saved_model.load(path)
    result = loaded.impute(values=tf.constant(holed), mask=tf.constant(mask),
                           seed=tf.constant(4, tf.int64))["filled"].numpy()
    np.testing.assert_allclose(result, imputer.impute(holed, mask, seed=4), atol=1e-6)
    assert json.load(open(os.path.join(path, "gan_tf.json")))["note"] == "x"


# --- masks and classical imputers ----------------------------------------------------------

def test_masks_hide_only_observed_entries_at_the_rate_and_by_seed():
    values = np.random.default_rng(0).random((2000, 6))
    observed = np.random.default_rng(1).random(values.shape) > 0.1
    for mechanism in masks.MECHANISMS:
        hidden = masks.hide(values, observed, 0.2, mechanism, seed=4)
        assert not (hidden & ~observed).any()
        assert abs(hidden.sum() / observed.sum() - 0.2) < 0.03, mechanism
        np.testing.assert_array_equal(hidden, masks.hide(values, observed, 0.2, mechanism, 4))
        assert not np.array_equal(hidden, masks.hide(values, observed, 0.2, mechanism, 5))


def test_mnar_hides_large_values_and_mar_follows_other_columns():
    values = np.random.default_rng(11).random((4000, 3))
    observed = np.ones(values.shape, bool)
    hidden = masks.hide(values, observed, 0.2, "mnar", seed=0)
    assert values[hidden].mean() > values[~hidden].mean() + 0.1
    hidden = masks.hide(values, observed, 0.2, "mar", seed=0)
    untouched = [c for c in range(3) if not hidden[:, c].any()]
    assert len(untouched) == 1  # a third of the columns drive the others
    for column in set(range(3)) - set(untouched):
        # the hidden entries' own values are not what decides (MAR, not MNAR)
        assert abs(values[hidden[:, column], column].mean() - 0.5) < 0.05


def test_masks_refuse_bad_arguments():
    with pytest.raises(UserError, match="rate"):
        masks.hide(np.zeros((3, 3)), np.ones((3, 3), bool), 1.0)
    with pytest.raises(UserError, match="mechanism"):
        masks.hide(np.zeros((3, 3)), np.ones((3, 3), bool), 0.2, "random")


@pytest.mark.parametrize("method", classical.METHODS)
def test_classical_methods_fill_every_hole_and_keep_observed(method):
    values = correlated_matrix(60).astype(np.float64)
    holed = values.copy()
    holed[np.random.default_rng(0).random(values.shape) < 0.2] = np.nan
    holed[:, 3] = np.nan  # a column with no value at all
    categorical = np.array([False, False, False, True])
    filled = classical.fill(method, holed, categorical, seed=0)
    assert np.isfinite(filled).all() and (filled >= 0).all() and (filled <= 1).all()
    present = ~np.isnan(holed)
    np.testing.assert_array_equal(filled[present], holed[present])
    if method != "mean":  # a learnt method uses the other columns
        holes = np.isnan(holed[:, :3])
        means = np.nanmean(holed[:, :3], axis=0)[None, :] * np.ones((60, 3))
        assert (np.abs(filled[:, :3] - values[:, :3])[holes].mean()
                < np.abs(means - values[:, :3])[holes].mean())


# --- the table codec -----------------------------------------------------------------------

def test_codec_round_trips_and_keeps_kinds():
    frame = mixed_frame()
    schema = infer_schema(frame)
    codec = TableCodec(schema)
    values, mask = codec.to_matrix(frame)
    assert values.shape == (80, 1 + 1 + 3 + 2 + 2) == (80, codec.num_features)
    assert ((values[mask > 0] >= 0) & (values[mask > 0] <= 1)).all()
    # decoding the observed encoding gives the observed values back
    decoded = codec.from_matrix(np.nan_to_num(values, nan=0.5))
    observed = codec.observed(frame)
    ages = pd.to_numeric(frame["age"]).to_numpy(float)
    np.testing.assert_allclose(np.asarray(decoded[0])[observed[:, 0]], ages[observed[:, 0]],
                               rtol=1e-5)
    assert [decoded[2][r] for r in np.flatnonzero(observed[:, 2])] == list(
        frame["colour"][observed[:, 2]])
    filled = codec.fill_frame(frame, decoded)
    assert filled.notna().all().all()
    assert filled["age"].dtype == np.int64 and filled["member"].dtype == bool
    assert set(filled["colour"]) <= {"red", "blue", "green"}
    codes = codec.to_codes(frame)
    assert np.nanmax(codes) <= 1 and np.nanmin(codes) >= 0


def test_fill_frame_never_touches_observed_entries():
    frame = mixed_frame(seed=3)
    codec = TableCodec(infer_schema(frame))
    observed = codec.observed(frame)
    garbage = codec.from_codes(np.random.default_rng(0).random((len(frame), 5)))
    filled = codec.fill_frame(frame, garbage)
    for index, name in enumerate(frame.columns):
        rows = observed[:, index]
        assert (filled[name][rows] == frame[name][rows]).all(), name  # equal values, exactly


# --- compare -------------------------------------------------------------------------------

def test_compare_scores_with_intervals_and_names_a_learnt_method_best():
    values = correlated_matrix(150)
    frame = pd.DataFrame(values, columns=list("abcd")).astype(float)
    frame["kind"] = np.where(values[:, 0] > 0.5, "high", "low")
    schema = infer_schema(frame)
    report = compare.compare(frame, schema, methods=("mean", "mice"), rate=0.2, repeats=3,
                             seed=0)
    mean, mice = report["methods"]["mean"], report["methods"]["mice"]
    assert mice["rmse"]["mean"] < mean["rmse"]["mean"]
    assert mean["rmse"]["low"] <= mean["rmse"]["mean"] <= mean["rmse"]["high"]
    assert len(mice["rmse"]["each"]) == 3 and mice["seconds"]["mean"] >= 0
    assert 0 <= mice["accuracy"]["mean"] <= 1
    assert report["best"] == "mice" and "MICE" in report["verdict"]
    text = compare.format_report(report)
    assert "| MICE (IterativeImputer) |" in text and "95% CI" in text


def test_compare_runs_a_downstream_check_on_a_target():
    frame = mixed_frame(rows=120, missing=0.1)
    schema = infer_schema(frame, target="label")
    report = compare.compare(frame, schema, methods=("mean", "knn"), repeats=2, seed=1,
                             target="label")
    for name in ("mean", "knn"):
        downstream = report["methods"][name]["downstream"]
        assert downstream is not None and 0.5 <= downstream["mean"] <= 1.0
    with pytest.raises(UserError, match="classifier"):
        compare.compare(frame, infer_schema(frame), methods=("mean",), target="weight")
    # A label missing in some rows: those rows neither train nor test the classifier.
    frame.loc[frame.index[:7], "label"] = None
    report = compare.compare(frame, infer_schema(frame), methods=("mean",), repeats=1, seed=1,
                             target="label")
    assert 0.5 <= report["methods"]["mean"]["downstream"]["mean"] <= 1.0


@pytest.mark.slow
def test_compare_with_the_gan_and_mar_and_mnar():
    frame = pd.DataFrame(correlated_matrix(80), columns=list("abcd")).astype(float)
    schema = infer_schema(frame)
    for mechanism in ("mar", "mnar"):
        report = compare.compare(frame, schema, methods=("mean", "gan"), repeats=1,
                                 mechanism=mechanism, gan=fill.GanSettings(iterations=30))
        assert report["mechanism"] == mechanism
        assert np.isfinite(report["methods"]["gan"]["rmse"]["mean"])


# --- the command's library and flags -------------------------------------------------------

def config_for(tmp_path, **overrides):
    values = dict(data=write_mixed_csv(tmp_path / "table.csv"),
                  output=str(tmp_path / "filled.csv"), iterations=40, batch_size=16)
    values.update(overrides)
    return ImputeConfig(**values)


@pytest.mark.parametrize("method", ["gan", "knn"])
def test_impute_table_fills_holes_keeps_observed_and_kinds(tmp_path, method):
    config = config_for(tmp_path, method=method)
    result = impute_lib.impute_table(config)
    original, filled = read_table(config.data), read_table(config.output)
    assert filled.notna().all().all() and result["holes"] == int(original.isna().sum().sum())
    for name in original.columns:
        rows = original[name].notna()
        assert (filled[name][rows] == original[name][rows]).all(), name  # exactly
    assert filled["age"].dtype == np.int64 and filled["member"].dtype == bool
    assert set(filled["colour"]) <= {"red", "blue", "green"}
    run_dir = tmp_path / "filled_run"
    if method == "gan":
        assert {"config.json", "schema.json", "checkpoints", "metrics.jsonl", "imputer"} <= set(
            os.listdir(run_dir))
    else:
        assert not run_dir.exists()


def test_multiple_imputation_writes_m_tables_and_the_spread(tmp_path):
    config = config_for(tmp_path, num_imputations=3)
    impute_lib.impute_table(config)
    original = read_table(config.data)
    tables = [read_table(tmp_path / f"filled_{i}.csv") for i in (1, 2, 3)]
    spread = read_table(tmp_path / "filled_spread.csv")
    holes = original.isna().to_numpy()
    assert spread.isna().to_numpy().tolist() == (~holes).tolist()
    assert (spread.to_numpy(float)[holes] >= 0).all()
    weights = np.stack([t["weight"].to_numpy(float) for t in tables])
    rows = original["weight"].isna().to_numpy()
    np.testing.assert_allclose(weights[:, rows].std(axis=0, ddof=1),
                               spread["weight"][rows].to_numpy(float), rtol=1e-6)
    assert not os.path.exists(config.output)


def test_rerun_resumes_and_refuses_other_settings(tmp_path):
    config = config_for(tmp_path)
    impute_lib.impute_table(config)
    first = read_table(config.output)
    again = config_for(tmp_path, overwrite=True)
    impute_lib.impute_table(again)  # a finished run: loads its checkpoint, same fill
    pd.testing.assert_frame_equal(first, read_table(config.output))
    with pytest.raises(UserError, match="other settings.*alpha"):
        impute_lib.impute_table(config_for(tmp_path, overwrite=True, alpha=5.0))
    # Another table at the same path (a new category): refused, the run's schema kept.
    schema_file = tmp_path / "filled_run" / "schema.json"
    recorded = schema_file.read_text()
    edited = config_for(tmp_path, overwrite=True)
    table = read_table(edited.data)
    table.loc[table.index[0], "colour"] = "violet"
    table.to_csv(edited.data, index=False)
    with pytest.raises(UserError, match="another table.*colour"):
        impute_lib.impute_table(edited)
    assert schema_file.read_text() == recorded


def test_outputs_are_never_replaced_without_overwrite(tmp_path):
    config = config_for(tmp_path, method="mean")
    (tmp_path / "filled.csv").write_text("precious\n")
    with pytest.raises(UserError, match="--overwrite"):
        impute_lib.impute_table(config)
    assert (tmp_path / "filled.csv").read_text() == "precious\n"


def test_method_auto_fills_with_the_compared_best(tmp_path):
    config = config_for(tmp_path, method="auto", repeats=1, iterations=20,
                        compare_methods="mean,knn,gan")
    result = impute_lib.impute_table(config)
    assert result["method"] == result["report"]["best"]
    assert set(result["report"]["methods"]) == {"mean", "knn", "gan"}
    assert os.path.exists(tmp_path / "filled_compare.md")
    assert json.load(open(tmp_path / "filled_compare.json"))["best"] == result["method"]


def test_a_missing_table_is_refused_by_its_flag(tmp_path):
    with pytest.raises(UserError, match="--data=.*no such file"):
        impute_lib.impute_table(config_for(tmp_path, data=str(tmp_path / "none.csv")))


def test_a_table_with_no_holes_is_refused(tmp_path):
    frame = mixed_frame(missing=0.0)
    frame.to_csv(tmp_path / "full.csv", index=False)
    with pytest.raises(UserError, match="no missing values"):
        impute_lib.impute_table(config_for(tmp_path, data=str(tmp_path / "full.csv")))


@pytest.mark.parametrize("argv, message", [
    ([], "exactly one of --data"),
    (["--data=t.csv"], "output"),
    (["--data=t.csv", "--output=o.txt"], ".csv"),
    (["--data=t.csv", "--output=o.csv", "--method=magic"], "method"),
    (["--data=t.csv", "--output=o.csv", "--num_imputations=0"], "num_imputations"),
    (["--data=t.csv", "--output=o.csv", "--method=knn", "--num_imputations=3"], "one fill"),
    (["--data=t.csv", "--output=o.csv", "--method=auto", "--num_imputations=3"], "one fill"),
    (["--data=t.csv", "--compare", "--hide_rate=1.5"], "hide_rate"),
    (["--data=t.csv", "--compare", "--mechanism=random"], "mechanism"),
    (["--data=t.csv", "--compare", "--compare_methods=mean,magic"], "compare_methods"),
    (["--data=t.csv", "--compare", "--compare_methods=mean,mean"], "compare_methods"),
    (["--dataset=embedded_mnist", "--output=o", "--compare"], "tables"),
])
def test_bad_flags_are_refused_with_one_message(argv, message):
    with pytest.raises(UserError, match=message):
        cli.parse_config(ImputeConfig, ["impute"] + argv)


@pytest.mark.slow
def test_cli_fills_a_table_and_refuses_bad_input_without_traceback(tmp_path):
    table = write_mixed_csv(tmp_path / "t.csv")
    output = tmp_path / "out.csv"
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    result, bad, flag = run_python_together([  # independent: side by side
        (["-m", "gan_tf.impute", f"--data={table}", f"--output={output}", "--method=mice"],
         None),
        (["-m", "gan_tf.impute", f"--data={tmp_path / 'ragged.csv'}",
          f"--output={tmp_path / 'x.csv'}"], None),
        (["-m", "gan_tf.impute", f"--data={table}", "--output=x.csv", "--hint_rate=2"], None)])
    assert result.returncode == 0, result.stderr
    assert read_table(output).notna().all().all()
    assert bad.returncode == cli.EXIT_ERROR
    assert "Traceback" not in bad.stderr and bad.stderr.count("error:") == 1
    assert not (tmp_path / "x.csv").exists()
    assert flag.returncode == cli.EXIT_BAD_FLAGS and "hint_rate" in flag.stderr
    assert "Traceback" not in flag.stderr


# --- images --------------------------------------------------------------------------------

def test_conv_networks_keep_the_image_shape_and_round_trip_their_config():
    from gan_tf.imputation import images

    for cls in (images.ConvGainGenerator, images.ConvGainDiscriminator):
        model = cls((9, 7, 3), filters=4, seed=2)
        assert model.output_shape == (None, 9, 7, 3)
        clone = cls.from_config(model.get_config())
        assert clone.get_config() == model.get_config()
        assert keras.saving.get_registered_object(f"gan_tf>{cls.__name__}") is cls


def test_image_masks_cut_a_square_or_pixels_in_every_channel():
    from gan_tf.imputation import images

    square = images.image_masks((5, 10, 10, 3), "square", seed=0)
    assert ((1 - square).sum(axis=(1, 2, 3)) == 4 * 4 * 3).all()
    assert (square == square[..., :1]).all()
    pixels = images.image_masks((50, 10, 10, 1), "pixels", rate=0.3, seed=0)
    assert abs(1 - pixels.mean() - 0.3) < 0.03


@pytest.mark.slow
def test_impute_images_fills_holes_keeps_pixels_and_writes_the_grid(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 1)).astype(np.uint8)
    np.save(tmp_path / "images.npy", pixels)
    config = ImputeConfig(dataset=f"array:{tmp_path / 'images.npy'}",
                          output=str(tmp_path / "out"), iterations=5, batch_size=4,
                          mask="pixels", missing_rate=0.3)
    result = impute_lib.impute(config)
    arrays = np.load(result["paths"]["arrays"])
    observed = arrays["mask"] > 0
    np.testing.assert_array_equal(arrays["images"][observed], pixels[observed])
    np.testing.assert_array_equal(arrays["true"], pixels)
    from gan_tf.images import read_png

    assert read_png(result["paths"]["grid"]).shape[:2] == (2 + 6 * 10, 2 + 8 * 10)
    assert np.isfinite(result["rmse"]["gan"]) and result["rmse"]["mean"] > 0
    assert os.path.isdir(tmp_path / "out_run" / "imputer")
    with pytest.raises(UserError, match="--overwrite"):
        impute_lib.impute(config)


@pytest.mark.slow
def test_drop_rate_is_validated_kept_in_the_config_and_changes_training():
    with pytest.raises(UserError, match="drop_rate"):
        gain.GainImputer(gain.GainGenerator(2), gain.GainDiscriminator(2), drop_rate=1.0)
    with pytest.raises(UserError, match="drop_rate"):
        cli.parse_config(ImputeConfig, ["impute", "--data=t.csv", "--output=o.csv",
                                        "--drop_rate=-0.1"])
    values = correlated_matrix(40)
    mask = np.ones_like(values)
    plain = training.train_imputer(values, mask, iterations=5, batch_size=8)
    dropped = training.train_imputer(values, mask, iterations=5, batch_size=8, drop_rate=0.3)
    assert dropped.get_config()["drop_rate"] == 0.3
    assert not np.array_equal(plain.generator.get_weights()[0],
                              dropped.generator.get_weights()[0])


def test_fractions_name_their_interval_and_refuse_bools_and_text():
    from gan_tf.errors import check_fraction

    check_fraction("x", 0, "0.5")
    check_fraction("x", 1.0, "0.5")
    for value, options, interval in ((0, {"low_open": True}, "(0, 1]"),
                                     (1.0, {"high_open": True}, "[0, 1)"),
                                     (1.5, {}, "[0, 1]"), (True, {}, "[0, 1]"),
                                     ("0.5", {}, "[0, 1]")):
        expected = rf"argument x\. .*a number in {re.escape(interval)}, e\.g\. 0\.5"
        with pytest.raises(UserError, match=expected):
            check_fraction("x", value, "0.5", **options)


def test_learning_rate_is_validated_kept_in_the_config_and_reaches_both_optimizers():
    for bad in ("0", "-0.1", "2"):
        with pytest.raises(UserError, match="learning_rate"):
            cli.parse_config(ImputeConfig, ["impute", "--data=t.csv", "--output=o.csv",
                                            f"--learning_rate={bad}"])
    config = cli.parse_config(ImputeConfig, ["impute", "--data=t.csv", "--output=o.csv",
                                             "--learning_rate=0.0002"])
    assert fill.GanSettings.from_config(config).learning_rate == 0.0002
    assert ImputeConfig(**config.to_dict()).differences(config) == {}
    values = correlated_matrix(40)
    imputer = training.train_imputer(values, np.ones_like(values), iterations=2, batch_size=8,
                                     learning_rate=2e-4)
    for optimizer in (imputer.generator_optimizer, imputer.discriminator_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)


def test_square_drops_hide_one_square_per_chosen_image_by_seed_and_step():
    shape = tf.constant([200, 10, 12, 3])
    squares = gain.dropped_squares(3, tf.constant(7, tf.int64), shape, 0.5, 0.4).numpy()
    assert squares.shape == (200, 10, 12, 3)
    assert (squares == squares[..., :1]).all()  # the same pixels in every channel
    sizes = squares[..., 0].sum(axis=(1, 2))
    assert set(np.unique(sizes)) == {0.0, 16.0}  # none, or one 4x4 square (0.4 x 10)
    assert 0.35 < (sizes > 0).mean() < 0.65  # about the rate
    for image in squares[sizes > 0][:20, :, :, 0]:
        rows, columns = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        assert np.ptp(rows) == 3 and np.ptp(columns) == 3  # contiguous: one square
    again = gain.dropped_squares(3, tf.constant(7, tf.int64), shape, 0.5, 0.4).numpy()
    other = gain.dropped_squares(3, tf.constant(8, tf.int64), shape, 0.5, 0.4).numpy()
    np.testing.assert_array_equal(squares, again)
    assert not np.array_equal(squares, other)


@pytest.mark.slow
def test_square_drops_train_images_and_are_refused_for_tables():
    from gan_tf.imputation import images

    with pytest.raises(UserError, match="drop_square"):
        gain.GainImputer(gain.GainGenerator(2), gain.GainDiscriminator(2), drop_rate=0.5,
                         drop_square=0.4)
    with pytest.raises(UserError, match="drop_square"):
        gain.GainImputer(images.ConvGainGenerator((8, 8, 1)),
                         images.ConvGainDiscriminator((8, 8, 1)), drop_square=1.5)
    true = np.random.default_rng(0).random((16, 8, 8, 1)).astype(np.float32)
    mask = images.image_masks(true.shape, "square", seed=0)
    holed = np.where(mask > 0, true, np.nan).astype(np.float32)
    entries = training.train_imputer(holed, mask, iterations=3, batch_size=4, drop_rate=0.5)
    squares = training.train_imputer(holed, mask, iterations=3, batch_size=4, drop_rate=0.5,
                                     drop_square=0.4)
    assert squares.get_config()["drop_square"] == 0.4
    assert gain.GainImputer.from_config(squares.get_config()).drop_square == 0.4
    assert not np.array_equal(entries.generator.get_weights()[0],
                              squares.generator.get_weights()[0])
    filled = squares.impute(holed, mask)
    np.testing.assert_array_equal(filled[mask > 0], true[mask > 0])
    assert np.isfinite(filled).all()


_KILL_DRIVER = """
import sys, numpy as np
sys.path.insert(0, {repo!r})
from gan_tf.imputation import training
values = np.load({data!r})
mask = (~np.isnan(values)).astype(np.float32)
training.train_imputer(values, mask, iterations=4000, batch_size=8, steps_per_epoch=20,
                       run_dir={run_dir!r})
"""


def _checkpoint_numbers(run_dir):
    folder = os.path.join(run_dir, "checkpoints")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [int(name[len("ckpt-"):-len(".index")]) for name in names
            if name.startswith("ckpt-") and name.endswith(".index")]


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    values = correlated_matrix(40)
    values[np.random.default_rng(4).random(values.shape) < 0.25] = np.nan
    np.save(tmp_path / "values.npy", values)
    run_dir = str(tmp_path / "run")
    script = _KILL_DRIVER.format(repo=REPO, data=str(tmp_path / "values.npy"), run_dir=run_dir)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        # Only the last 3 checkpoints are kept: wait for any from the third on (waiting for
        # ckpt-3 itself could miss it on a fast machine, and the run would finish unkilled).
        while max(_checkpoint_numbers(run_dir), default=0) < 3:
            assert process.poll() is None and time.time() < deadline, "no checkpoint came"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    saved = max(_checkpoint_numbers(run_dir))  # one per epoch
    mask = (~np.isnan(values)).astype(np.float32)
    kwargs = dict(iterations=(saved + 3) * 20, batch_size=8, steps_per_epoch=20)
    resumed = training.train_imputer(values, mask, run_dir=run_dir, **kwargs)
    whole = training.train_imputer(values, mask, **kwargs)
    assert int(resumed.discriminator_optimizer.iterations.numpy()) == kwargs["iterations"]
    for mine, theirs in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
