"""`python -m gan_tf.train` as a user runs it: flags parsed in-process (every flag's invalid
values), and in subprocesses (exit codes, one-line errors, nothing written)."""

import ast
import dataclasses
import inspect
import os
import time
import typing

import numpy as np
import pytest

from conftest import run_python, run_python_together, write_image_folder
from gan_tf import cli
from gan_tf import config as config_lib
from gan_tf.config import TrainConfig

# Unscored, as tiny_config: scoring samples is tested in-process (test_train_lib, test_evaluate)
# and from the command line by the downstream benchmark (test_examples).
TINY = ["--architecture=mlp", "--max_examples=256", "--eval_every_n_epochs=0", "--epochs=1",
        "--nodownload"]


@pytest.mark.slow
def test_cli_trains_resumes_and_says_when_finished(tmp_path):
    run_dir = str(tmp_path / "run")
    first = run_python(["-m", "gan_tf.train", *TINY, f"--output_dir={run_dir}"],
                       cwd=str(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Finished epoch 1" in first.stdout
    assert os.path.exists(os.path.join(run_dir, "samples", "final.png"))
    assert os.path.exists(os.path.join(run_dir, "generator", "saved_model.pb"))
    assert sorted(os.listdir(tmp_path)) == ["run"]  # nothing in the working directory

    # The same command again, in this process (a third process would only add seconds of
    # TensorFlow import): the config the command parses, left finished, with its message.
    # The command's exit code 0 and its log on stdout are the run above's and the one below's.
    from conftest import collect_messages
    from gan_tf import train_lib

    with collect_messages() as messages:
        again = train_lib.train(cli.parse_config(
            TrainConfig, ["gan_tf.train", *TINY, f"--output_dir={run_dir}"]))
    assert not again.trained
    assert any("already finished 1 of 1 epochs" in message for message in messages)

    more = run_python(["-m", "gan_tf.train", *TINY[:-2], "--epochs=2", "--nodownload",
                       f"--output_dir={run_dir}"], cwd=str(tmp_path))
    assert more.returncode == 0, more.stderr[-3000:]
    assert "Restored" in more.stdout and "1 finished epochs" in more.stdout
    assert "epochs 2-2" in more.stdout


@pytest.mark.parametrize("flag, message", [
    ("--epochs=0", "Received: epochs=0"),
    ("--generator_learning_rate=nan", "Received: generator_learning_rate=nan"),
    ("--nodownload=1", "--nodownload=1 does not take an argument"),  # absl's ValueError
    ("--output_dir=", "Received: output_dir=''"),
    ("--image_size=100000", "Received: image_size=100000"),
    ("--dataset=array:images.txt", "a .npz file"),
    ("--dataset=./my_images", "'folder:PATH' for an image folder"),
    ("positional", "unexpected arguments ['positional']"),
    ("--batch_size=-8", "Received: batch_size=-8"),
    ("--loss=wgan", "Received: loss='wgan'"),
    ("--architecture=unet", "Received: architecture='unet'"),
    ("--epochs=many", "epochs"),
    ("--gradient_penalty=-1", "Received: gradient_penalty=-1"),
    ("--discriminator_steps=0", "Received: discriminator_steps=0"),
    ("--augment=mixup", "Received: augment='mixup'"),
    ("--no_such_flag=1", "no_such_flag"),
    # Combinations that make no sense.
    ("--loss=wasserstein", "Add --gradient_penalty=10 (WGAN-GP) or --spectral_norm"),
    ("--gradient_penalty=10 --r1_penalty=1", "Choose one"),
    ("--ada_target=0.7", "only acts with --augment=ada"),
    ("--augment=diffaugment --ada_ramp_images=1000", "only acts with --augment=ada"),
])
@pytest.mark.slow
def test_bad_flags_exit_2_before_anything_is_written(flag, message, tmp_path):
    started = time.monotonic()
    # The flag under test comes last, so it wins over --output_dir (e.g. --output_dir=).
    result = run_python(["-m", "gan_tf.train", f"--output_dir={tmp_path / 'run'}", *flag.split()],
                        cwd=str(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_bad_flag_with_the_default_output_dir_writes_nothing(tmp_path):
    result = run_python(["-m", "gan_tf.train", "--beta_1=inf"], cwd=str(tmp_path))
    assert result.returncode == 2 and "Received: beta_1=inf" in result.stderr
    assert os.listdir(tmp_path) == []  # no runs/ in the working directory


# === Every flag, in-process: cli.parse_config is what gan_tf.train runs on its argv ===

# Invalid values of each flag (a value, or a whole argv list when the value needs context),
# beyond those every flag of its type gets (GENERIC_INVALID). Every field of TrainConfig must
# have an entry, so a new flag cannot be added without them.
INVALID = {
    "dataset": ["", "   ", "folder:", "folder:  ", "array:", "array:images.txt",
                "/home/me/images", "~/images", "./images", "images.npz", "Folder:/x",
                "npz:/x/data.npz"],
    "data_dir": ["", "  ", "/prepared/tfds",  # the default dataset reads no tfds folder
                 ["--dataset=folder:/x", "--data_dir=/prepared/tfds"]],
    "download": ["yes please"],
    "image_size": ["0", "-28", "1025", "100000", "64x", "64x48x3", "0x64", "1025x8", "big",
                   "6 4"],
    "max_examples": ["0", "-1"],
    "holdout": ["0.7", "-0.1", "1"],
    "data_cache": ["disk", "Stream", "", "stream", ["--dataset=array:/x/images.npz",
                                                    "--data_cache=stream"]],
    "architecture": ["vit", "MLP", "ResNet"],
    "latent_dim": ["0", "-100", "4097", "1000000"],
    "dcgan_filters": ["0", "-64", "1025", "64000"],
    "attention_resolution": ["-1", "-16", ["--architecture=dcgan", "--attention_resolution=16"]],
    "conditional": [["--conditional", "--dataset=array:/x/images.npy"]],
    "loss": ["wgan", "Hinge"],
    "gradient_penalty": ["-1", "-1e-9"],
    "r1_penalty": ["-10"],
    "mode_seeking": ["-1", ["--update=simultaneous", "--mode_seeking=1"]],
    "discriminator_steps": ["0", "-1"],
    "spectral_norm": ["on"],
    "augment": ["mixup", "ADA"],
    "ada_target": [["--augment=ada", f"--ada_target={value}"] for value in ("0", "1", "1.5",
                                                                              "-0.1")]
    + [["--ada_target=0.7"]],
    "ada_ramp_images": [["--augment=ada", "--ada_ramp_images=0"],
                        ["--augment=diffaugment", "--ada_ramp_images=1000"]],
    "ema_decay": ["0", "1", "1.5", "-0.5"],
    "epochs": ["0", "-5", "100001", "5000000"],
    "batch_size": ["0", "-8"],
    "generator_learning_rate": ["0", "-2e-4", "1", "3"],
    "discriminator_learning_rate": ["0", "1e3"],
    "beta_1": ["1", "-0.1", "2"],
    "beta_2": ["1", "-1"],
    "optimizer": ["sgd", "Adam", "", ["--optimizer=rmsprop", "--beta_1=0.9"],
                  ["--optimizer=rmsprop", "--generator_optimizer=adam",
                   "--discriminator_optimizer=adam"]],
    "generator_optimizer": ["sgd", "", ["--generator_optimizer=rmsprop",
                                        "--discriminator_optimizer=rmsprop", "--beta_2=0.99"]],
    "discriminator_optimizer": ["RMSprop", "adagrad"],
    "rho": ["1", "-0.1", ["--rho=0.95"]],
    "momentum": ["1", "-0.5", ["--momentum=0.9", "--generator_optimizer=adam"]],
    "latent_distribution": ["gaussian", "Uniform", ""],
    "generator_activation": ["elu", "PReLU", ""],
    "discriminator_activation": ["relu", "Leaky_ReLU", ""],
    "negative_slope": ["1", "-0.2", "2"],
    "seed": ["-1", str(2**31), str(10**30)],
    "precision": ["float8", "bfloat16"],
    "output_dir": ["", "   "],
    "sample_every_n_epochs": ["0", "-1"],
    "checkpoint_every_n_epochs": ["0"],
    "checkpoint_every_n_steps": ["-1"],
    "strategy": ["gpu", "Mirrored", ""],
    "update": ["both", "", ["--update=simultaneous", "--discriminator_steps=2"]],
    "keep_checkpoints": ["0", "-3"],
    "tensorboard": ["sometimes"],
    "eval_every_n_epochs": ["-1", ["--eval_every_n_epochs=0", "--extractor=inception"],
                            ["--eval_every_n_epochs=0", "--eval_num_samples=200"]],
    "eval_num_samples": ["0", "49", "-1000", "100001"],
    "extractor": ["clip", ""],
    "inception_weights": ["", " ", "/weights/inception.h5",
                          ["--extractor=inception", "--inception_weights="],
                          ["--extractor=inception", "--inception_weights=/w/inception.h5"],
                          ["--extractor=keras_inception",
                           "--inception_weights=/w/classify_image_graph_def.pb"]],
    "inception_sha256": ["", "abc",
                         ["--extractor=keras_inception", "--inception_sha256=" + "0" * 64],
                         ["--extractor=inception", "--inception_sha256=" + "g" * 64]],
}
GENERIC_INVALID = {
    int: ["", "abc", "1.5", "1e3", "0x"],
    float: ["", "abc", "nan", "inf", "-inf", "1,5"],
    bool: ["maybe", "2", ""],
    str: [],  # strings: per field (any text parses)
}
# Combinations (not of one flag) and malformed command lines.
INVALID_COMMAND_LINES = [
    ["--loss=wasserstein"],
    ["--gradient_penalty=10", "--r1_penalty=1"],
    ["--architecture=mlp", "--dcgan_filters=8"],
    ["--no_such_flag=1"],
    ["--epochs"],
    ["--flagfile=/definitely/missing"],
    ["positional"],
]
# Checks that flags cannot reach (absl parses booleans as bools); test_config covers them.
UNREACHABLE_FROM_FLAGS = ('raise invalid(name, getattr(self, name), "True or False")',)


def _flag_kind(name):
    kind = typing.get_type_hints(TrainConfig)[name]
    return next((k for k in typing.get_args(kind) if k is not type(None)), kind)


def _invalid_command_lines(name):
    kind = _flag_kind(name)
    lines = [[f"--{name}={value}"] for value in GENERIC_INVALID[kind]]
    if kind is bool:
        lines.append([f"--no{name}=1"])  # absl raises a plain ValueError for this one
    return lines + [entry if isinstance(entry, list) else [f"--{name}={entry}"]
                    for entry in INVALID[name]]


def _rejection(argv, output_dir):
    """What `cli.parse_config` raises for `argv` (after --output_dir), or None if it accepts it."""
    from absl import flags

    try:
        cli.parse_config(TrainConfig, ["gan_tf.train", f"--output_dir={output_dir}", *argv])
    except (flags.Error, ValueError) as error:  # the CLI exits 2 for both (cli.py, main)
        return error
    return None


def _config_line(error):
    """The line of gan_tf/config.py that refused (None for an absl parse error)."""
    line, trace = None, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == config_lib.__file__:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _all_invalid_command_lines():
    fields = [field.name for field in dataclasses.fields(TrainConfig)]
    return [(name, argv) for name in fields for argv in _invalid_command_lines(name)] + [
        (None, argv) for argv in INVALID_COMMAND_LINES]


def test_every_flag_has_invalid_values_to_test():
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    assert set(INVALID) == fields, ("add the invalid values of each new flag to INVALID: "
                                    f"{sorted(fields - set(INVALID))}")
    assert all(INVALID[name] for name in fields)


def test_every_invalid_flag_is_rejected_at_parse_time_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output_dir = tmp_path / "run"
    assert cli.parse_config(TrainConfig, ["gan_tf.train"]) == TrainConfig()  # defaults parse
    accepted = []
    for name, argv in _all_invalid_command_lines():
        error = _rejection(argv, output_dir)
        if error is None:
            accepted.append(argv)
            continue
        message = str(error)
        assert "\n" not in message.strip(), message  # the CLI prints one line
        if name is not None:
            assert name in message, (argv, message)  # it names the flag at fault
    assert accepted == [], f"invalid flags accepted: {accepted}"
    assert os.listdir(tmp_path) == []


def test_every_check_in_the_config_is_reached_by_an_invalid_flag(tmp_path):
    """Each `raise` and `check_*` call of TrainConfig's validation refuses some test case."""
    source_lines, first = inspect.getsourcelines(TrainConfig)
    tree = ast.parse(inspect.getsource(TrainConfig))
    checks = {}
    for method in tree.body[0].body:
        if isinstance(method, ast.FunctionDef) and method.name in (
                "validate", "_check_dataset", "_check_combinations"):
            for node in ast.walk(method):
                is_check = isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Name) and node.func.id.startswith("check_")
                if isinstance(node, ast.Raise) or is_check:
                    line = node.lineno + first - 1
                    text = source_lines[node.lineno - 1].strip()
                    if text not in UNREACHABLE_FROM_FLAGS:
                        checks[line] = text
    reached = {_config_line(_rejection(argv, tmp_path / "run"))
               for _, argv in _all_invalid_command_lines()}
    missing = {line: text for line, text in checks.items() if line not in reached}
    assert len(checks) > 20 and not missing, f"no invalid flag reaches: {missing}"


BAD_DATASETS = [
    (["--dataset=mnistt", "--data_dir=TFDS"], "Unknown dataset: received --dataset='mnistt'"),
    (["--dataset=mnist", "--data_dir=TFDS"], "--data_dir"),
    (["--dataset=folder:/definitely/missing"], "Image folder not found"),
]


def _float_pixels_file(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "pixels.npz", images=pixels)
    return "array:pixels.npz", "look like uint8 pixels stored as float: pass uint8"


def _folder_with_corrupt_files(tmp_path):
    write_image_folder(tmp_path / "photos", count=70, size=(8, 8), classes=())
    (tmp_path / "photos" / "broken.png").write_bytes(b"\x89PNG garbage")
    (tmp_path / "photos" / "empty.png").write_bytes(b"")
    return "folder:photos", ("2 of the 72 image files in {root} cannot be read: broken.png (not "
                             "a readable image); empty.png (an empty file, 0 bytes)")


@pytest.mark.slow
def test_bad_datasets_and_data_files_exit_1_fast_with_one_message(tmp_path):
    """Five bad datasets, one process each (run side by side: their imports overlap)."""
    started = time.monotonic()
    commands, checks = [], []
    for number, (flags, message) in enumerate(BAD_DATASETS):
        folder = tmp_path / f"dataset{number}"
        folder.mkdir()
        flags = [flag.replace("TFDS", str(folder / "tfds")) for flag in flags]
        commands.append((["-m", "gan_tf.train", *flags, "--nodownload",
                          f"--output_dir={folder / 'run'}"], str(folder)))
        checks.append((folder, message, False))
    for make in (_float_pixels_file, _folder_with_corrupt_files):
        folder = tmp_path / make.__name__
        folder.mkdir()
        dataset, message = make(folder)
        commands.append((["-m", "gan_tf.train", f"--dataset={dataset}", "--architecture=mlp",
                          "--output_dir=run"], str(folder)))
        checks.append((folder, message.format(root=folder / "photos"), True))
    befores = [sorted(os.listdir(folder)) for folder, _, _ in checks]
    for result, (folder, message, one_line), before in zip(
            run_python_together(commands), checks, befores):
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        if one_line:  # the data files: the one error line ends the output, nothing on stdout
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
            assert message in errors[0] and result.stdout == ""
        assert sorted(os.listdir(folder)) == before  # no run/ (relative to the cwd)
    assert time.monotonic() - started < 120


@pytest.mark.slow
def test_help_lists_every_flag(tmp_path):
    result = run_python(["-m", "gan_tf.train", "--help"], cwd=str(tmp_path))
    listed = result.stdout + result.stderr
    missing = [field.name for field in dataclasses.fields(TrainConfig)
               if f"--{field.name}:" not in listed and f"--[no]{field.name}:" not in listed]
    assert missing == [] and "array:PATH" in listed
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", ["gan_tf.train", "gan_tf.generate", "gan_tf.evaluate"])
def test_help_exits_0_and_lists_the_flags(command, tmp_path):
    result = run_python(["-m", command, "--help"], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--seed" in result.stdout + result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_gan_tf_train_is_the_command_module_whatever_was_imported_first():
    result = run_python(["-c", "import gan_tf, types; a = gan_tf.train; "
                               "import gan_tf.train_lib; from gan_tf import train; "
                               "print(type(a).__name__, type(train).__name__, "
                               "gan_tf.train is train, callable(gan_tf.train_lib.train))"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["module", "module", "True", "True"]
