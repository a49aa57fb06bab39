"""Tests for a table run: gan_tf/tables/{config,data,train_lib,sampling,callbacks}.py."""

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import assert_same_checkpoints
from gan_tf.errors import UserError
from gan_tf.tables import config as config_lib
from gan_tf.tables import data as data_lib
from gan_tf.tables import sampling
from gan_tf.tables import schema as schema_lib
from gan_tf.tables import train_lib
from test_tables_schema import mixed_frame

# 400 rows, 80 held out: 320 training rows, 3 steps of 100 per epoch.
TINY = dict(target="label", epochs=2, batch_size=100, latent_dim=8, sample_rows=7)


def write_table(folder, frame=None, name="table.csv"):
    path = os.path.join(folder, name)
    (mixed_frame(400) if frame is None else frame).to_csv(path, index=False)
    return path


def tiny_config(table, run_dir, **changes):
    return config_lib.TableConfig(dataset=f"csv:{table}", output_dir=str(run_dir),
                                  **{**TINY, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table_run")
    table = write_table(str(folder))
    run_dir = folder / "run"
    result = train_lib.train(tiny_config(table, run_dir), verbose=0)
    return table, str(run_dir), result


@pytest.mark.slow  # trains a table run (about 10 s on 2 cores)
def test_a_table_run_directory(trained):
    table, run_dir, result = trained
    assert result.end_epoch == 2 and result.transformer_seconds > 0
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as stream:
        record = json.load(stream)
    assert record["kind"] == "table" and record["table"]["train_rows"] == 320
    assert record["table"]["holdout_rows"] == 80 and record["table"]["transformer_seconds"] > 0
    frame = schema_lib.read_table(table)
    assert data_lib.read_schema(run_dir) == schema_lib.infer_schema(frame, target="label")
    train, holdout = data_lib.read_run_splits(run_dir)
    assert dict(train.dtypes) == dict(frame.dtypes) == dict(holdout.dtypes)
    # The split partitions the rows and keeps the label's balance (stratified).
    merged = pd.concat([train, holdout]).sort_values(list(frame.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        merged, frame.sort_values(list(frame.columns)).reset_index(drop=True))
    assert abs(holdout["label"].mean() - frame["label"].mean()) < 0.01
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as stream:
        lines = [json.loads(line) for line in stream]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert {"d_loss", "g_loss", "condition_loss", "gradient_penalty"} <= set(lines[0])
    for name in ("epoch_0001.csv", "epoch_0002.csv", "final.csv"):
        rows = pd.read_csv(os.path.join(run_dir, "samples", name))
        assert list(rows.columns) == list(frame.columns) and len(rows) == 7
        # Beside each, the picture of real against generated columns (2 epochs: every epoch).
        with open(os.path.join(run_dir, "samples", name[:-4] + ".png"), "rb") as stream:
            assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.isfile(os.path.join(run_dir, "generator", "saved_model.pb"))
    assert not data_lib.is_table_run(os.path.dirname(run_dir))


@pytest.mark.slow  # trains a table run (about 10 s on 2 cores)
def test_sample_rows_contract(trained):
    table, run_dir, _ = trained
    frame = schema_lib.read_table(table)
    rows = sampling.sample_rows(run_dir, 300, seed=4)
    assert list(rows.columns) == list(frame.columns)
    assert dict(rows.dtypes) == dict(frame.dtypes)
    assert set(rows["city"].dropna()) <= {"Lima", "Oslo", "Pune"}
    assert rows["income"].between(frame["income"].min(), frame["income"].max()).all() or (
        rows["income"].isna().any())
    assert rows["age"].between(18, 89).all()
    pd.testing.assert_frame_equal(rows, sampling.sample_rows(run_dir, 300, seed=4))
    assert not rows.equals(sampling.sample_rows(run_dir, 300, seed=5))
    lima = sampling.sample_rows(run_dir, 50, seed=1, condition={"city": "Lima"})
    assert (lima["city"] == "Lima").all()
    balanced = sampling.sample_rows(run_dir, 50, seed=1, balanced=True)
    assert balanced["label"].value_counts().to_dict() == {0: 25, 1: 25}
    with pytest.raises(UserError, match="one COLUMN=VALUE"):
        sampling.sample_rows(run_dir, 5, condition={"city": "Lima", "member": True})
    with pytest.raises(UserError, match="Lima, Oslo, Pune"):
        sampling.sample_rows(run_dir, 5, condition={"city": "Rome"})
    with pytest.raises(UserError, match="not a table run"):
        sampling.sample_rows(os.path.dirname(run_dir), 5)


@pytest.mark.slow  # trains a table run (about 10 s on 2 cores)
def test_resumed_run_is_the_uninterrupted_run(trained, tmp_path):
    table, run_dir, _ = trained
    resumed = tmp_path / "resumed"
    assert train_lib.train(tiny_config(table, resumed, epochs=1), verbose=0).end_epoch == 1
    result = train_lib.train(tiny_config(table, resumed), verbose=0)
    assert (result.start_epoch, result.end_epoch, result.transformer_seconds) == (1, 2, 0.0)
    assert_same_checkpoints(run_dir, str(resumed), save_counter=False)
    for name in ("final.csv", "epoch_0002.csv"):
        with open(os.path.join(run_dir, "samples", name), "rb") as one, open(
                resumed / "samples" / name, "rb") as other:
            assert one.read() == other.read()
    again = train_lib.train(tiny_config(table, resumed), verbose=0)  # finished: left as it is
    assert not again.trained


@pytest.mark.slow  # trains a table run (about 10 s on 2 cores)
def test_a_start_killed_before_config_json_starts_again(trained, tmp_path):
    """A kill after the setup files but before config.json: the rerun writes them anew (here
    with another seed, so the leftovers would be wrong) and trains the run it is asked for."""
    table, run_dir, _ = trained
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("schema.json", "transformer.json", "data"):
        source = os.path.join(run_dir, name)
        (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, killed / name)
    result = train_lib.train(tiny_config(table, killed, seed=3), verbose=0)
    assert result.end_epoch == 2 and result.transformer_seconds > 0  # fitted anew
    fresh = tmp_path / "fresh"
    train_lib.train(tiny_config(table, fresh, seed=3), verbose=0)
    assert_same_checkpoints(str(fresh), str(killed), save_counter=False)
    for name in ("schema.json", os.path.join("data", "train.parquet")):
        assert (fresh / name).read_bytes() == (killed / name).read_bytes(), name
    fitted = [json.loads((run / "transformer.json").read_text()) for run in (fresh, killed)]
    for state in fitted:
        state.pop("fit_seconds")  # the one field that is a time
    assert fitted[0] == fitted[1]


@pytest.mark.slow  # trains a table run (about 10 s on 2 cores)
def test_refusals_come_before_anything_is_written(trained, tmp_path):
    table, run_dir, _ = trained
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(UserError, match="ragged rows"):
        train_lib.train(tiny_config(str(ragged), tmp_path / "r1", target=None), verbose=0)
    with pytest.raises(UserError, match="looks like an ID"):
        train_lib.train(tiny_config(write_table(str(tmp_path), mixed_frame(400).assign(
            row=np.arange(400)), "ids.csv"), tmp_path / "r2"), verbose=0)
    with pytest.raises(UserError, match="fewer than --batch_size=500"):
        train_lib.train(tiny_config(table, tmp_path / "r3", batch_size=500), verbose=0)
    assert not any((tmp_path / name).exists() for name in ("r1", "r2", "r3"))
    before = sorted(os.listdir(run_dir))
    with pytest.raises(UserError, match="another configuration.*seed"):
        train_lib.train(tiny_config(table, run_dir, seed=1), verbose=0)
    changed = write_table(str(tmp_path), mixed_frame(400).assign(
        city=["Rome"] * 10 + ["Oslo"] * 390), "changed.csv")
    os.replace(changed, table + ".new")
    try:
        os.replace(table, table + ".old")
        os.replace(table + ".new", table)
        with pytest.raises(UserError, match="changed since the run.*city"):
            train_lib.train(tiny_config(table, run_dir), verbose=0)
    finally:
        os.replace(table + ".old", table)
    assert sorted(os.listdir(run_dir)) == before
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        train_lib.train(tiny_config(table, tmp_path / "full"), verbose=0)


def test_table_config_checks_and_defaults(tmp_path):
    config = config_lib.TableConfig(dataset="csv:table.csv")
    assert (config.epochs, config.batch_size, config.latent_dim, config.pac) == (300, 500,
                                                                                 128, 10)
    assert (config.beta_1, config.beta_2, config.gradient_penalty) == (0.5, 0.9, 10.0)
    assert config.dataset == "csv:" + os.path.abspath("table.csv")
    assert config.resolved_output_dir() == os.path.abspath(os.path.join("runs",
                                                                        "table-ctgan"))
    for changes, pattern in ((dict(batch_size=55), "multiple of --pac=10"),
                             (dict(holdout=0.9), "holdout"),
                             (dict(column_kinds="age=number"), "column_kinds"),
                             (dict(dataset="csv:"), "dataset"),
                             (dict(beta_2=1.0), "beta_2")):
        with pytest.raises(UserError, match=pattern):
            config_lib.TableConfig(**{"dataset": "csv:table.csv", **changes})
    assert config_lib.is_table_dataset("csv:x.csv") and not config_lib.is_table_dataset("mnist")


def test_split_without_holdout_and_with_a_continuous_target():
    frame = mixed_frame(100)
    train, holdout = data_lib.split_rows(frame, 0.0, seed=0)
    assert len(train) == 100 and len(holdout) == 0 and list(holdout.columns) == list(
        frame.columns)
    train, holdout = data_lib.split_rows(frame, 0.25, seed=0, target="income")
    assert (len(train), len(holdout)) == (75, 25)
    again = data_lib.split_rows(frame, 0.25, seed=0, target="income")
    pd.testing.assert_frame_equal(holdout, again[1])
