"""--strategy: choosing a tf.distribute strategy, and two workers on 127.0.0.1."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, TRAIN_DRIVER, marker_directory, wait_for_marker
from gan_tf import distribute
from gan_tf.errors import UserError

TWO_WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("tf_config, expected", [
    (None, "default"),  # no GPU on the test machine
    (json.dumps({"cluster": TWO_WORKERS, "task": {"type": "worker", "index": 0}}),
     "multi_worker"),
    (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker",
                                                                    "index": 0}}), "default"),
])
def test_auto_picks_multi_worker_only_for_a_cluster(tf_config, expected, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert distribute.resolve("auto") == expected
    assert distribute.resolve("mirrored") == "mirrored"


def test_a_bad_or_missing_tf_config_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserError, match="TF_CONFIG is not valid JSON"):
        distribute.resolve("auto")
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(UserError, match="needs TF_CONFIG naming the cluster"):
        distribute.make_strategy("multi_worker")


def test_default_strategy_is_the_chief_and_writes():
    strategy = distribute.make_strategy("default")
    assert distribute.is_chief(strategy) and not distribute.is_multi_worker(strategy)
    distribute.check_same_start(strategy, 3, 1)  # a no-op without workers


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_workers(run_dir, markers, epochs=3):
    """Two `python -m gan_tf.train --strategy=multi_worker` processes on 127.0.0.1."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
                   GAN_TF_MARKER_DIR=marker_directory(markers / str(index)),
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, TRAIN_DRIVER, "--strategy=multi_worker",
             "--architecture=mlp", "--max_examples=256", "--batch_size=64",
             f"--epochs={epochs}", "--eval_every_n_epochs=0", f"--output_dir={run_dir}"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def fingerprint(out):
    return re.search(r"Weights fingerprint \(the same on every worker\): (\w+)", out).group(1)


@pytest.mark.slow
def test_two_workers_train_in_step_survive_a_killed_worker_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    chief, worker = start_workers(run_dir, tmp_path / "markers")
    wait_for_marker(tmp_path / "markers" / "1" / "step-2-2", [chief, worker])
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    killed = time.monotonic()
    out, err = chief.communicate(timeout=300)
    # The chief fails in bounded time (TensorFlow's heartbeats), with one message, no hang.
    assert time.monotonic() - killed < 90
    assert chief.returncode == 1, err
    assert "error: Another worker stopped or cannot be reached" in err
    assert "Traceback" not in err
    assert "Restart every worker with the same command" in err

    # Restarted, both resume from the chief's epoch-1 checkpoint and end in step.
    processes = start_workers(run_dir, tmp_path / "markers_again")
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
        assert "Restored" in out and "1 finished epochs" in out
        assert "MultiWorkerMirroredStrategy" in out or "CollectiveAllReduceStrategy" in out
    assert fingerprint(outputs[0][0]) == fingerprint(outputs[1][0])
    # Only the chief wrote the run; the worker's private copy is gone.
    assert os.path.exists(run_dir / "generator" / "saved_model.pb")
    worker_dir = re.search(r"Run: (\S+)\n", outputs[1][0]).group(1)
    assert worker_dir != str(run_dir) and not os.path.exists(worker_dir)
    with open(run_dir / "metrics.jsonl") as stream:
        assert [json.loads(line)["epoch"] for line in stream] == [1, 2, 3]


@pytest.mark.slow  # a TensorFlow process of its own, 3 short fits (about 15 s)
def test_a_table_gan_on_two_replicas_trains_as_one_device_does():
    # Each replica draws the global batch and keeps its slice; the generator's batch
    # normalisation takes the global batch's statistics. So two replicas train as one device
    # with the whole batch, up to float round-off (Adam turns it into ~1e-5 per weight).
    done = subprocess.run([sys.executable, os.path.join(REPO, "tests",
                                                        "table_replicas_driver.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    differences = json.loads(done.stdout.strip().splitlines()[-1])
    assert differences["two_replicas"] < 5e-4
    assert differences["same_draws_on_both"] > 2e-3  # the check can tell a wrong split


def start_table_workers(run_dir, table, batch_size, epochs=2, flags=()):
    """Two `python -m gan_tf.train --dataset=csv:TABLE --strategy=multi_worker` processes."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gan_tf.train", f"--dataset=csv:{table}", "--target=label",
             "--strategy=multi_worker", f"--batch_size={batch_size}", "--latent_dim=8",
             "--sample_rows=7", f"--epochs={epochs}", f"--output_dir={run_dir}", *flags],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return [process.communicate(timeout=300) + (process.returncode,) for process in processes]


@pytest.mark.slow  # four training processes (about 40 s on 2 cores)
def test_two_workers_train_a_streamed_table_run_in_step(tmp_path):
    from test_tables_train import write_table

    table = write_table(str(tmp_path))
    run_dir = tmp_path / "run"
    # 110 rows do not split into packs of 10 on each of 2 replicas: refused on both workers,
    # before anything is written.
    for out, err, code in start_table_workers(run_dir, table, batch_size=110):
        assert code == 1, err
        assert "--batch_size=110 does not split into packs of --pac=10 rows on each of the 2 " \
               "replicas" in err and "Pass a multiple of 20, e.g. 100." in err
        assert "Traceback" not in err
    assert not run_dir.exists()

    # Streamed from disk (each worker reads the table in chunks of 64 rows): in step.
    outputs = start_table_workers(run_dir, table, batch_size=100,
                                  flags=["--stream_chunk_rows=64"])
    for out, err, code in outputs:
        assert code == 0, err
        assert "MultiWorkerMirroredStrategy" in out or "CollectiveAllReduceStrategy" in out
        assert "(streamed from disk)" in out
    assert fingerprint(outputs[0][0]) == fingerprint(outputs[1][0])
    # Only the chief wrote the run, with everything a one-process run has.
    assert os.path.exists(run_dir / "generator" / "saved_model.pb")
    assert os.path.exists(run_dir / "samples" / "final.csv")
    with open(run_dir / "metrics.jsonl") as stream:
        assert [json.loads(line)["epoch"] for line in stream] == [1, 2]
    worker_dir = re.search(r"Run: (\S+)\n", outputs[1][0]).group(1)
    assert worker_dir != str(run_dir) and not os.path.exists(worker_dir)
