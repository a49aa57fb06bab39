"""A table run through the commands: kill -9 and rerun, generate, export, and a fresh
process that loads the export with TensorFlow alone."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import (REPO, TRAIN_DRIVER, assert_same_checkpoints, marker_directory,
                      run_python, run_python_together, wait_for_marker)
from gan_tf.tables import config as config_lib
from gan_tf.tables import sampling
from gan_tf.tables import train_lib
from test_tables_schema import mixed_frame

FLAGS = ["--target=label", "--epochs=3", "--batch_size=100", "--latent_dim=8",
         "--sample_rows=7", "--checkpoint_every_n_steps=1"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "people.csv"
    mixed_frame(400).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def reference(table, tmp_path_factory):
    """The uninterrupted run, trained in this process from the same settings."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    config = config_lib.TableConfig(dataset=f"csv:{table}", target="label", epochs=3,
                                    batch_size=100, latent_dim=8, sample_rows=7,
                                    checkpoint_every_n_steps=1, output_dir=str(run_dir))
    assert train_lib.train(config, verbose=0).end_epoch == 3
    return str(run_dir)


def start(table, run_dir, markers, pause=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               GAN_TF_MARKER_DIR=marker_directory(markers))
    env.pop("GAN_TF_PAUSE_AT", None)
    if pause:
        env["GAN_TF_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, TRAIN_DRIVER, f"--dataset=csv:{table}", *FLAGS,
                             f"--output_dir={run_dir}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_mid_epoch_then_rerun_is_bit_identical(table, reference, tmp_path):
    run_dir, markers = tmp_path / "run", tmp_path / "markers"
    first = start(table, run_dir, markers, pause="2:2")  # hold after step 2 of epoch 2
    wait_for_marker(markers / "paused", [first], 180)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    rerun = start(table, run_dir, tmp_path / "markers2")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert "resuming at step 3 of epoch 2" in out
    assert_same_checkpoints(reference, str(run_dir), save_counter=False)
    for name in ("final.csv", "epoch_0002.csv", "epoch_0003.csv"):
        with open(os.path.join(reference, "samples", name), "rb") as one, open(
                run_dir / "samples" / name, "rb") as other:
            assert one.read() == other.read(), name
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as stream:
        assert [json.loads(line)["epoch"] for line in stream] == [1, 2, 3]


@pytest.mark.slow
def test_generate_and_export_commands(reference, tmp_path):
    output = tmp_path / "rows.csv"
    done = run_python(["-m", "gan_tf.generate", f"--model={reference}", "--num_rows=40",
                       f"--output={output}", "--condition=city=Oslo", "--seed=3"])
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(output)
    assert len(rows) == 40 and (rows["city"] == "Oslo").all()
    expected = sampling.sample_rows(reference, 40, seed=3, condition={"city": "Oslo"})
    pd.testing.assert_frame_equal(rows, pd.read_csv(
        __import__("io").StringIO(expected.to_csv(index=False))))
    parquet = tmp_path / "rows.parquet"
    done = run_python(["-m", "gan_tf.generate", f"--model={reference}", "--num_rows=10",
                       f"--output={parquet}", "--format=parquet", "--condition=balanced"])
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(parquet)["label"].tolist() == [0, 1] * 5
    commands, checks = [], []  # independent refusals, run side by side
    for flags, code, message in (
            (["--num_rows=5", f"--output={output}"], 2, "already exists"),
            (["--num_rows=5", f"--output={tmp_path / 'x.csv'}", "--condition=city"], 2,
             "COLUMN=VALUE"),
            (["--num_rows=5", f"--output={tmp_path / 'x.csv'}", "--condition=city=Rome"], 2,
             "Lima, Oslo, Pune"),
            ([f"--output={tmp_path / 'x.csv'}"], 2, "--num_rows is required"),
            (["--num_rows=5", f"--output={tmp_path / 'x.csv'}", "--labels=0"], 2,
             "table run")):
        commands.append((["-m", "gan_tf.generate", f"--model={reference}", *flags], None))
        checks.append((code, message))
    for done, (code, message) in zip(run_python_together(commands), checks):
        assert done.returncode == code and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.csv").exists()
    exported = tmp_path / "exported"
    done = run_python(["-m", "gan_tf.export", f"--model={reference}", f"--output={exported}"])
    assert done.returncode == 0, done.stderr
    assert os.path.isfile(exported / "saved_model.pb")
    done = run_python(["-m", "gan_tf.export", f"--model={reference}", f"--output={exported}"])
    assert done.returncode == 2 and "already exists" in done.stderr


@pytest.mark.slow
def test_train_command_refuses_bad_tables_and_flags(table, tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    commands, checks = [], []  # independent refusals, run side by side
    for flags, code, message in (
            ([f"--dataset=csv:{ragged}"], 1, "line 3 has 1 fields"),
            ([f"--dataset=csv:{table}", "--target=nope"], 1, "argument target"),
            ([f"--dataset=csv:{table}", "--architecture=mlp"], 2, "not a setting of table"),
            ([f"--dataset=csv:{table}", "--batch_size=55"], 2, "multiple of --pac=10"),
            ([f"--dataset=csv:{table}", "--column_kinds=age"], 2, "column_kinds"),
            ([f"--dataset=csv:{table}", "--stream_chunk_rows=-1"], 2, "stream_chunk_rows"),
            (["--dataset=embedded_mnist", "--stream_chunk_rows=1000"], 2,
             "--stream_chunk_rows with --dataset=embedded_mnist: it is a setting of table runs")):
        commands.append((["-m", "gan_tf.train", *flags, f"--output_dir={tmp_path / 'run'}"],
                         None))
        checks.append((code, message))
    for done, (code, message) in zip(run_python_together(commands), checks):
        assert done.returncode == code and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_export_loads_with_tensorflow_alone_and_matches_sample_rows(reference, tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["gan_tf"] = None  # any import of gan_tf now raises ImportError
        sys.modules["pandas"] = None
        import numpy as np
        import tensorflow as tf
        model = tf.saved_model.load({os.path.join(reference, "generator")!r})
        out = model.signatures["generate"](num_rows=tf.constant(30),
                                           seed=tf.constant(2, tf.int64))
        z = tf.random.stateless_normal([4, 8], seed=[5, 0])
        with open({os.path.join(reference, "generator", "gan_tf.json")!r}) as f:
            layout = json.load(f)["condition"]
        condition = np.zeros([4, len(layout)], np.float32)
        condition[:, layout.index(["city", "Pune"])] = 1.0
        served = model.signatures["serve"](z=z, condition=tf.constant(condition),
                                           seed=tf.constant(0, tf.int64))
        loaded = [m for m in sys.modules if m.startswith(("gan_tf", "pandas"))
                  and sys.modules[m] is not None]
        print(json.dumps({{
            "loaded": loaded,
            "generate": {{k: [None if isinstance(x, float) and np.isnan(x) else
                              (x.decode() if isinstance(x, bytes) else float(x))
                              for x in v.numpy().tolist()] for k, v in out.items()}},
            "served_city": [x.decode() for x in served["city"].numpy().tolist()]}}))
    """)
    done = run_python(["-c", script])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["served_city"] == ["Pune"] * 4
    expected = sampling.sample_rows(reference, 30, seed=2)
    for name, values in result["generate"].items():
        column = expected[name]
        if column.dtype == object or column.dtype == bool:
            strings = ["" if pd.isna(v) else str(v) for v in column]
            assert values == strings, name
        else:
            np.testing.assert_array_equal(
                np.array([np.nan if v is None else float(v) for v in values]),
                column.to_numpy(np.float64), err_msg=name)
