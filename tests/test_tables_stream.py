"""Streamed table runs (--stream_chunk_rows): gan_tf/tables/stream.py and its train path."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from conftest import assert_same_checkpoints
from gan_tf.errors import UserError
from gan_tf.tables import schema as schema_lib
from gan_tf.tables import stream as stream_lib
from gan_tf.tables import sampling, train_lib
from test_tables_schema import mixed_frame
from test_tables_train import tiny_config, write_table


def test_a_table_read_in_chunks_has_the_schema_of_the_whole_table(tmp_path):
    frame = mixed_frame(400)
    frame.loc[5, "age"] = 17  # extremes and a category in one chunk only
    frame.loc[390, "income"] = 1e7
    frame.loc[201, "city"] = "Rome"
    path = write_table(str(tmp_path), frame)
    whole = schema_lib.infer_schema(schema_lib.read_table(path), target="label")
    scan = stream_lib.scan_table(path, chunk_rows=7, holdout=0.0, seed=0, sample_rows=50)
    assert (scan.num_rows, scan.train_rows, scan.holdout_rows) == (400, 400, 0)
    assert len(scan.train_sample) == 50 and len(scan.holdout_sample) == 0
    # Kinds from 50 sampled rows; categories, ranges and missing rates from all 400.
    assert stream_lib.streamed_schema(scan, target="label") == whole
    assert "Rome" in whole.column("city").categories


def test_a_parquet_table_streams_in_record_batches(tmp_path):
    frame = mixed_frame(300)
    path = str(tmp_path / "table.parquet")
    frame.to_parquet(path, index=False)
    chunks = list(stream_lib.read_chunks(path, 64))
    assert [len(chunk) for chunk in chunks] == [64, 64, 64, 64, 44]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame)
    scan = stream_lib.scan_table(path, chunk_rows=64, holdout=0.0, seed=0)
    whole = schema_lib.infer_schema(schema_lib.read_table(path), target="label")
    assert stream_lib.streamed_schema(scan, target="label") == whole


def test_the_split_and_the_samples_are_seeded_per_row(tmp_path):
    path = write_table(str(tmp_path), mixed_frame(1000))
    one = stream_lib.scan_table(path, chunk_rows=128, holdout=0.2, seed=3, sample_rows=100)
    again = stream_lib.scan_table(path, chunk_rows=128, holdout=0.2, seed=3, sample_rows=100)
    pd.testing.assert_frame_equal(one.train_sample, again.train_sample)
    assert one.train_rows + one.holdout_rows == 1000 and 150 < one.holdout_rows < 250
    other = stream_lib.scan_table(path, chunk_rows=128, holdout=0.2, seed=4, sample_rows=100)
    assert not one.train_sample.equals(other.train_sample)


def test_bad_streamed_tables_are_refused_with_the_fix(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(UserError, match="ragged rows: line 3"):
        stream_lib.scan_table(str(ragged), chunk_rows=1, holdout=0.0, seed=0)
    frame = mixed_frame(400)
    frame["code"] = [f"c{i % 150}" for i in range(400)]  # 150 values in 400 rows
    path = write_table(str(tmp_path), frame, "codes.csv")
    scan = stream_lib.scan_table(path, chunk_rows=50, holdout=0.0, seed=0, sample_rows=400)
    with pytest.raises(UserError, match="'code' has .* distinct values in 400 rows"):
        stream_lib.streamed_schema(scan)
    with pytest.raises(UserError, match="has a header but no rows"):
        (tmp_path / "empty.csv").write_text("a,b\n")
        stream_lib.scan_table(str(tmp_path / "empty.csv"), chunk_rows=5, holdout=0.0, seed=0)


@pytest.mark.slow  # trains three tiny table runs (about 25 s on 2 cores)
def test_a_table_in_one_chunk_trains_as_in_memory_and_resumes_bit_for_bit(tmp_path):
    table = write_table(str(tmp_path))
    # One chunk, nothing held out: the rows on disk and every draw are those of a table in
    # memory, so the two runs are the same run.
    memory = train_lib.train(tiny_config(table, tmp_path / "memory", holdout=0.0), verbose=0)
    streamed = train_lib.train(tiny_config(table, tmp_path / "streamed", holdout=0.0,
                                           stream_chunk_rows=1000), verbose=0)
    assert memory.end_epoch == streamed.end_epoch == 2
    assert_same_checkpoints(memory.run_dir, streamed.run_dir, save_counter=False)

    # Several chunks: a run stopped after epoch 1 and resumed is the uninterrupted run.
    chunked = dict(holdout=0.2, stream_chunk_rows=64)
    whole = train_lib.train(tiny_config(table, tmp_path / "whole", **chunked), verbose=0)
    first = train_lib.train(tiny_config(table, tmp_path / "resumed", epochs=1, **chunked),
                            verbose=0)
    assert first.end_epoch == 1
    resumed = train_lib.train(tiny_config(table, tmp_path / "resumed", **chunked), verbose=0)
    assert (resumed.start_epoch, resumed.end_epoch) == (1, 2)
    assert_same_checkpoints(whole.run_dir, resumed.run_dir, save_counter=False)
    with open(os.path.join(whole.run_dir, stream_lib.STREAM_FILE)) as stream:
        record = json.load(stream)
    assert record["num_rows"] == 400 and record["chunk_rows"] == 64
    assert record["train_rows"] == np.load(os.path.join(whole.run_dir, stream_lib.ROWS_FILE),
                                           mmap_mode="r").shape[0]
    rows = sampling.sample_rows(whole.run_dir, 20, condition={"city": "Lima"})
    assert (rows["city"] == "Lima").all() and list(rows.columns) == list(mixed_frame(5).columns)

    # The table changed since: refused, the run untouched; another chunk size is another run.
    with open(table, "a") as stream:
        stream.write("30,1000.0,Oslo,False,1\n")
    with pytest.raises(UserError, match="changed since the streamed run"):
        train_lib.train(tiny_config(table, tmp_path / "whole", epochs=3, **chunked), verbose=0)
    with pytest.raises(UserError, match="stream_chunk_rows: saved 64, now 32"):
        train_lib.train(tiny_config(table, tmp_path / "whole", holdout=0.2,
                                    stream_chunk_rows=32), verbose=0)
