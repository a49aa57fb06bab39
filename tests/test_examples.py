"""The examples run as a user copies them (one or two epochs) and do what they say."""

import json
import os

import pytest

from conftest import REPO, run_python


def run_example_here(name, *args):
    """Calls `main(*args)` of examples/`name` in this process, as the script's last line does.

    For the first of two runs of an example: a second Python process (seconds of TensorFlow
    import) would check nothing more. The run the test resumes from it is a real process.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"example_{name[:-3]}", os.path.join(REPO, "examples", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(*args)


@pytest.mark.slow
def test_python_api_example(tmp_path):
    result = run_python([os.path.join(REPO, "examples", "python_api.py"), str(tmp_path), "1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the export gives the same images: True" in result.stdout


@pytest.mark.slow
def test_callbacks_example_in_a_vae_resumes(tmp_path, capsys):
    script = os.path.join(REPO, "examples", "callbacks_in_keras_project.py")
    run_example_here("callbacks_in_keras_project.py", str(tmp_path), 1)  # the first epoch
    assert "Samples in" in capsys.readouterr().out
    second = run_python([script, str(tmp_path), "2"])  # resumed by the script, as a user runs it
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Restored" in second.stdout and "1 finished epochs" in second.stdout
    assert sorted(os.listdir(tmp_path / "samples")) == [
        "epoch_0001.png", "epoch_0002.png", "final.png", "latents.npy"]
    assert (tmp_path / "progress.gif").exists() and (tmp_path / "loss.png").exists()


@pytest.mark.slow
def test_keras_io_gan_example_resumes_from_a_relative_folder(tmp_path, monkeypatch, capsys):
    """keras-io's DCGAN with every callback, run twice from a relative output folder (the
    second run, the script in a process of its own, resumes its checkpoint and its
    callbacks' state)."""
    script = os.path.join(REPO, "examples", "keras_io_gan_with_callbacks.py")
    with monkeypatch.context() as here:
        here.chdir(tmp_path)
        run_example_here("keras_io_gan_with_callbacks.py", "run", 1)  # --output_dir=run
    assert "Trained to epoch 1: FD" in capsys.readouterr().out
    second = run_python([script, "--output_dir=run", "--epochs=2"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Restored run/checkpoints/ckpt-" in second.stdout and "1 finished epochs" in (
        second.stdout)
    run = tmp_path / "run"
    assert sorted(os.listdir(run / "samples")) == [
        "epoch_0001.png", "epoch_0002.png", "final.png", "latents.npy"]
    records = [json.loads(line) for line in open(run / "metrics.jsonl", encoding="utf-8")]
    assert [r["epoch"] for r in records] == [1, 2]
    assert all({"d_loss", "g_loss", "fd", "kid", "class_coverage", "sample_diversity"}
               <= set(r) for r in records)
    assert (run / "curves.png").exists() and (run / "best" / "best.json").exists()


@pytest.mark.slow
def test_downstream_benchmark_runs_end_to_end(tmp_path):
    result = run_python(["benchmarks/downstream.py", f"--output_dir={tmp_path}",
                         "--per_class=10", "--epochs_10=1", "--architecture=mlp",
                         "--steps=5", "--seeds=2", "--num_generated=50",
                         "--sample_filter=none", "--augmentation=light"], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["per_class"] == 10 and report["test_images"] == 1000
    assert set(report["arms"]) == {"real", "real_augmented", "real_generated",
                                   "real_augmented_generated", "generated"}
    assert all(len(arm["each"]) == 2 for arm in report["arms"].values())
    assert report["verdict"].startswith("generated data")


@pytest.mark.slow
def test_labelled_data_example_feeds_a_keras_classifier(tmp_path):
    script = os.path.join(REPO, "examples", "labelled_data_for_a_classifier.py")
    result = run_python([script, str(tmp_path), "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'9': 200" in result.stdout and "on real test digits" in result.stdout
    assert len(os.listdir(tmp_path / "synthetic" / "7")) == 200


@pytest.mark.slow
def test_quickstart_notebook_runs_top_to_bottom(tmp_path):
    """examples/quickstart.ipynb, executed as Jupyter would (nbclient, a real kernel), with its
    parameters cell set to a short run; every cell must run and the pictures must show."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(os.path.join(REPO, "examples", "quickstart.ipynb"), as_version=4)
    parameters = [cell for cell in notebook.cells
                  if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1
    parameters[0].source = (f"EPOCHS = 1\nARCHITECTURE = 'mlp'\nMAX_EXAMPLES = 500\n"
                            f"OUTPUT_DIR = {str(tmp_path / 'run')!r}\nSEED = 0")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 4  # the grid, the curves, the synthetic digits, the export's 7s
    assert "generator.tflite" in "".join(output.get("text", "") for output in outputs)
    text = "".join(output.get("text", "") for output in outputs)
    assert "labels per class: [100 100 100 100 100 100 100 100 100 100]" in text
    assert (tmp_path / "run" / "synthetic" / "data.npz").exists()


@pytest.mark.slow
def test_recipe_comparison_benchmark_runs_end_to_end(tmp_path):
    variants = json.dumps({"new": {"architecture": "mlp", "epochs": 1, "max_examples": 200,
                                   "eval_every_n_epochs": 0},
                           "old": {"architecture": "mlp", "epochs": 1, "max_examples": 200,
                                   "eval_every_n_epochs": 0, "conditional": False}})
    result = run_python([os.path.join(REPO, "benchmarks", "compare_defaults.py"),
                         f"--output_dir={tmp_path}", f"--variants={variants}",
                         "--num_samples=200"], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(row["variant"], row["conditional"]) for row in rows] == [("new", True),
                                                                        ("old", False)]
    # The label embeddings cost a little more per image, never less.
    assert rows[0]["step_mflops_per_image"] >= rows[1]["step_mflops_per_image"] > 0
    assert "| new |" in result.stdout and "requested_class_accuracy" in rows[0]
