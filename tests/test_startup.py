"""TensorFlow's start-up noise is filtered; everything else on stderr still shows."""

import os

import pytest

from conftest import run_python
from gan_tf import startup

# What TensorFlow 2.21 prints on import on a CPU machine (copied from this project's runs).
NOISE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796038883.085218   14325 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796038883.085522   14325 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796038888.687164   14395 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1796038886.632137   14395 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
]
REAL_LINES = [
    "E0000 00:00:1796038888.687164   14395 op_kernel.cc:1830] OP_REQUIRES failed at "
    "save_restore_v2_ops.cc:150 : NOT_FOUND: /data/model.ckpt",
    "Traceback (most recent call last):",
    "ImportError: libcudart.so.12: cannot open shared object file",
    "W0000 00:00:1796038888.1 14395 loop_optimizer.cc:933] Skipping loop optimization",
]


@pytest.mark.parametrize("line", NOISE_LINES)
def test_known_start_up_lines_are_noise(line):
    assert startup.is_noise(line)


@pytest.mark.parametrize("line", REAL_LINES)
def test_errors_and_warnings_are_not_noise(line):
    assert not startup.is_noise(line)


def test_the_filter_drops_noise_and_passes_every_other_line_in_order(capfd):
    with startup.filtered_stderr():
        for line in [NOISE_LINES[0], REAL_LINES[0], NOISE_LINES[2], REAL_LINES[1]]:
            os.write(2, (line + "\n").encode())
    os.write(2, b"after the block\n")
    assert capfd.readouterr().err.splitlines() == [REAL_LINES[0], REAL_LINES[1],
                                                   "after the block"]


@pytest.mark.slow
def test_importing_tensorflow_prints_nothing_unless_asked():
    code = ("from gan_tf import startup; startup.import_tensorflow(); import sys; "
            "print('a real message', file=sys.stderr)")
    quiet = run_python(["-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert quiet.returncode == 0 and quiet.stderr == "a real message\n"
    # The same import unfiltered prints the noise on this stack (no GPU): the filter is needed.
    loud = run_python(["-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "1",
                                         startup.SHOW_ALL: "1"})
    assert any(startup.is_noise(line) for line in loud.stderr.splitlines()), loud.stderr


def test_the_filter_works_when_python_has_no_stderr_object(monkeypatch, capfd):
    """Under pythonw or `2>&-` sys.stderr is None; the filter must not crash on it."""
    monkeypatch.setattr("sys.stderr", None)
    with startup.filtered_stderr():
        os.write(2, (NOISE_LINES[2] + "\nkept\n").encode())
    assert capfd.readouterr().err == "kept\n"


@pytest.mark.slow
def test_a_command_filters_noise_to_the_end_and_still_shows_its_traceback():
    code = ("import os, sys; from gan_tf import cli; cli.start_tensorflow(); "
            "os.write(2, b'E0000 00:00:1.1 5 meta_optimizer.cc:967] remapper failed: "
            "INVALID_ARGUMENT: Mutation::Apply error: fanout x\\n'); "
            "print('a real warning', file=sys.stderr); raise SystemExit('fatal: the end')")
    result = run_python(["-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert result.returncode == 1
    assert result.stderr == "a real warning\nfatal: the end\n", result.stderr
    code = "from gan_tf import cli; cli.start_tensorflow(); raise ValueError('boom')"
    result = run_python(["-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert result.stderr.startswith("Traceback") and "ValueError: boom" in result.stderr
