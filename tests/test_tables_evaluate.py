"""Tests of gan_tf.tables.evaluate_lib and gan_tf.tables.plots: the scores of a table run,
their printed lines, report.json and the pictures."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from gan_tf.errors import UserError
from gan_tf.tables import commands, evaluate_lib, metrics, plots
from test_tables_metrics import KINDS, mixed_table, physical_cores_counted  # noqa: F401




class Schema:
    """A stand-in with the `TableSchema` attributes evaluation reads."""

    def __init__(self, kinds, target=None):
        self.columns = tuple(type("Column", (), {"name": name, "kind": kind})()
                             for name, kind in kinds.items())
        self.target = target


@pytest.fixture(scope="module")
def frames():
    return mixed_table(400, seed=40), mixed_table(200, seed=41), mixed_table(400, seed=42)


@pytest.mark.slow
def test_scores_lines_and_files(frames, tmp_path):
    train, holdout, synthetic = frames
    schema = Schema(KINDS, target="member")
    report = evaluate_lib.evaluate_frames(train, holdout, synthetic, schema)
    assert report["rows"] == {"train": 400, "holdout": 200, "synthetic": 400}
    assert report["quality"]["score"] == pytest.approx(
        metrics.quality_report(train, synthetic, KINDS)["score"])
    # Rows from the same distribution: near the held-out rows' own score, hard to detect.
    assert abs(report["quality"]["score"] - report["quality"]["holdout_score"]) < 0.1
    assert report["detection"]["auc"] < 0.7 and report["detection"]["rows_each"] == 200
    assert report["efficacy"]["target"] == "member" and report["efficacy"]["ratio"] > 0.85
    assert report["privacy"]["warning"] is None
    assert set(report["seconds"]) == {"quality", "detection", "efficacy", "privacy"}
    lines = evaluate_lib.summary_lines(report)
    assert [line.split(" ")[0] for line in lines] == ["Quality", "Detection", "Efficacy",
                                                     "Privacy:"]
    assert "of 400 synthetic against 400 training rows" in lines[0]
    assert "200 held-out real rows score" in lines[0]
    assert "tested on 200 held-out rows" in lines[2]
    output = tmp_path / "evaluation"
    (output / "downstream").mkdir(parents=True)  # another report's files stay
    evaluate_lib.write_evaluation(report, train, synthetic, schema, str(output))
    assert sorted(os.listdir(output)) == ["columns.png", "downstream", "pair_trends.png",
                                          "report.json"]
    written = json.loads((output / "report.json").read_text())
    assert written["quality"]["score"] == pytest.approx(report["quality"]["score"])
    for name in ("columns.png", "pair_trends.png"):
        with Image.open(output / name) as image:
            assert image.size[0] > 300 and image.size[1] > 300


def test_nan_scores_are_written_as_null_and_without_holdout_only_quality(frames, tmp_path):
    train, _, synthetic = frames
    constant = synthetic.assign(spend=1.0)  # a collapsed column: its correlations are NaN
    report = evaluate_lib.evaluate_frames(train, train.iloc[:0], constant, KINDS)
    assert "detection" not in report and "held-out" in report["skipped"]
    pairs = report["quality"]["pairs"]
    assert any(np.isnan(row["score"]) for row in pairs)
    evaluate_lib.write_evaluation(report, train, constant, KINDS, str(tmp_path))
    text = (tmp_path / "report.json").read_text()
    assert "NaN" not in text and json.loads(text)["quality"]["pairs"]
    assert evaluate_lib.summary_lines(report)[-1].startswith("Skipped: detection")


def test_a_table_without_strong_real_trends_prints_no_pair_trend_score():
    # Independent columns: no pair meets SDMetrics' thresholds, the pair-trend score is
    # missing (null once written), and the summary says so instead of failing to format it.
    report = {"rows": {"train": 100, "holdout": 0, "synthetic": 100},
              "quality": {"score": 0.9, "column_shapes": 0.9, "column_pair_trends": None},
              "skipped": "detection, efficacy and privacy need held-out real rows"}
    line = evaluate_lib.summary_lines(report)[0]
    assert line.startswith("Quality (SDMetrics): 0.900 (column shapes 0.900, no column pair "
                           "with a strong real trend")
    report["quality"]["column_pair_trends"] = float("nan")
    assert "no column pair with a strong real trend" in evaluate_lib.summary_lines(report)[0]


def test_trend_difference_matrix(frames):
    train, holdout, synthetic = frames
    names, same = plots.trend_difference_matrix(train, train, KINDS)
    assert names == list(KINDS) and np.allclose(same, 0)
    names, matrix = plots.trend_difference_matrix(train, synthetic, KINDS)
    pairs = metrics.column_pair_trends(train, synthetic, KINDS)
    first = pairs[0]
    i, j = names.index(first["columns"][0]), names.index(first["columns"][1])
    assert matrix[i, j] == matrix[j, i] == pytest.approx(1 - first["score"])
    assert np.allclose(np.diag(matrix), 0)


@pytest.mark.slow
def test_a_table_run_is_scored_through_the_contract(frames, tmp_path, monkeypatch):
    train, holdout, synthetic = frames
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "schema.json").write_text("{}")
    assert evaluate_lib.is_table_run(str(run_dir)) and not evaluate_lib.is_table_run(
        str(tmp_path))
    asked = {}

    def fake_sample(run, num_rows, seed):
        asked.update(num_rows=num_rows, seed=seed, checkpoint=run.checkpoint)
        return synthetic.iloc[:num_rows]

    monkeypatch.setattr(evaluate_lib, "load_table_run", lambda path, checkpoint: (
        evaluate_lib.TableRun(path, checkpoint, Schema(KINDS, target="spend"), train,
                              holdout)))
    monkeypatch.setattr(evaluate_lib, "sample", fake_sample)
    printed = commands.evaluate(commands.check_evaluate(str(run_dir), num_rows=300, seed=3,
                                                        checkpoint="best")).splitlines()
    assert asked == {"num_rows": 300, "seed": 3, "checkpoint": "best"}
    assert printed[0].startswith("Quality (SDMetrics):") and "R2" in printed[2]
    assert printed[-1] == "Report: " + str(run_dir / "evaluation_best" / "report.json")
    report = json.loads((run_dir / "evaluation_best" / "report.json").read_text())
    assert report["seed"] == 3 and report["target"] == "spend"
    assert report["rows"]["synthetic"] == 300
    # Bad flags: refused as a flag (exit 2 from the command line) before anything is written.
    with pytest.raises(commands.BadFlag, match="num_samples=0"):
        commands.check_evaluate(str(run_dir), num_rows=0)
    assert not (run_dir / "evaluation").exists()


def test_a_folder_without_a_schema_is_refused(tmp_path):
    with pytest.raises(UserError, match="is not a table run"):
        evaluate_lib.load_table_run(str(tmp_path))


@pytest.mark.slow  # trains a table run (tens of seconds)
def test_a_trained_table_run_is_evaluated_and_reported_end_to_end(tmp_path):
    from gan_tf.tables import downstream, train_lib
    from gan_tf.tables.config import TableConfig

    csv = tmp_path / "people.csv"
    mixed_table(300, seed=60).to_csv(csv, index=False)
    run_dir = tmp_path / "run"
    train_lib.train(TableConfig(dataset=f"csv:{csv}", target="member", epochs=1,
                                batch_size=100, output_dir=str(run_dir)), verbose=0)
    assert evaluate_lib.is_table_run(str(run_dir))
    report, output_dir = evaluate_lib.evaluate_table_run(str(run_dir), num_rows=200)
    assert output_dir == str(run_dir / "evaluation")
    assert {"report.json", "columns.png", "pair_trends.png"} <= set(os.listdir(output_dir))
    assert report["rows"] == {"train": 240, "holdout": 60, "synthetic": 200}
    assert 0 < report["quality"]["score"] <= 1 and 0 <= report["detection"]["auc"] <= 1
    assert report["efficacy"]["target"] == "member"
    options = downstream.Options(model="random_forest", seeds=1, repeats=50)
    result, folder = downstream.run_downstream_report(str(run_dir), options)
    assert folder == str(run_dir / "evaluation" / "downstream")
    assert result["synthetic_rows"] == 240 and result["test_rows"] == 60
    assert sorted(os.listdir(folder)) == ["downstream.png", "report.json"]
