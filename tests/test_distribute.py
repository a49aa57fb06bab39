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
