"""The hostile-input and fault campaign (tests/campaign.py): its rules, and a seeded subset.

The rules are tested on hand-made outcomes (fast); the subset runs generated cases through
every family (slow: training, subprocesses killed with kill -9, tmpfs mounts). The full
figure comes from `benchmarks/hostile_campaign.py --cases=N --seed=S`.
"""

import json
import os
import random
import subprocess

import pytest

import campaign
from gan_tf.errors import UserError


@pytest.mark.slow
def test_the_same_seed_draws_the_same_cases_and_another_seed_others():
    first = campaign.draw_cases(12, seed=5)
    again = campaign.draw_cases(12, seed=5)
    other = campaign.draw_cases(12, seed=6)
    assert [(c.family, c.params) for c in first] == [(c.family, c.params) for c in again]
    assert [(c.family, c.params) for c in first] != [(c.family, c.params) for c in other]
    assert len(first) == 12 and {c.family for c in first} <= set(campaign.FAMILIES)


def test_a_refusal_is_clean_only_as_one_message():
    assert campaign.one_message(UserError("Invalid value for argument x.")).clean
    assert not campaign.one_message(UserError("")).clean
    assert not campaign.one_message(ValueError("Traceback (most recent call last):\n  x")).clean
    assert not campaign.one_message(ValueError("a\nb\nc\nd\ne")).clean


@pytest.mark.parametrize("code, stderr, is_clean", [
    (0, "", True),
    (1, "error: Output /x is not empty.\n", True),
    (2, "error: --num_images=-1 ...\n", True),
    (1, "Traceback (most recent call last):\n  File ...\nValueError: x\n", False),
    (1, "Killed\n", False),
    (-9, "", False),
])
def test_a_command_exits_with_one_message_or_it_is_a_defect(code, stderr, is_clean):
    result = subprocess.CompletedProcess([], code, "", stderr)
    assert campaign.cli_verdict(result).clean == is_clean


def test_trees_compare_every_file_less_moments_and_places(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root, created, place in ((first, "2026-01-01", "/a"), (second, "2026-02-02", "/b")):
        (root / "samples").mkdir(parents=True)
        (root / "samples" / "final.png").write_bytes(b"pixels")
        (root / "config.json").write_text(json.dumps(
            {"config": {"seed": 1, "output_dir": place}, "created": created}))
        (root / "metrics.jsonl").write_text('{"epoch": 1, "time": 1.5, "d_loss": 0.5}\n'
                                            if root == first else
                                            '{"epoch": 1, "time": 9.0, "d_loss": 0.5}\n')
        (root / ".lock").write_text(place)
    assert campaign.compare_trees(str(first), str(second)) == []
    (second / "metrics.jsonl").write_text('{"epoch": 1, "time": 1.5, "d_loss": 0.25}\n')
    (second / "samples" / "final.png").write_bytes(b"pixelz")
    (second / "extra.txt").write_text("x")
    (first / "only_here.txt").write_text("x")
    assert campaign.compare_trees(str(first), str(second)) == [
        "only_here.txt missing", "extra.txt extra",
        "metrics.jsonl differs: record 0: d_loss 0.5 vs 0.25", "samples/final.png differs"]
    assert "extra.txt extra" not in campaign.compare_trees(str(first), str(second),
                                                           only_in_second_ok=True)


@pytest.fixture(scope="module")
def campaign_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("campaign"))


@pytest.fixture(scope="module")
def runner(campaign_dir):
    """One Campaign for the module's cases: its reference runs (the uninterrupted runs the
    cases copy and compare with, never change) are trained once, not once per test."""
    return campaign.Campaign(os.path.join(campaign_dir, "shared"))


@pytest.mark.slow
def test_a_seeded_subset_of_input_and_edit_cases_is_clean(runner):
    """24 generated cases: array files, image folders, flags, hand-edited config.json,
    gan_tf.json and run directories, generate requests; each one verdict by the rules."""
    families = ("array", "folder", "flags", "config_edit", "run_edit", "export_edit",
                "generate")
    results = campaign.run_campaign(24, seed=25, workdir=runner.workdir, families=families,
                                    log=lambda line: None, campaign=runner)
    assert len(results) >= 20
    assert {case.family for _, case, _, _ in results} == set(families)
    assert all(verdict.clean for _, _, verdict, _ in results), campaign.summary(results, 25)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "generate"])
def test_kill_9_at_a_seeded_moment_then_the_rerun_equals_an_uninterrupted_run(runner,
                                                                             command):
    moment = random.Random(f"{command}-25").uniform(0.3, 0.9)
    verdict = runner.run_case(campaign.Case("kill", {"command": command, "moment": moment}))
    assert verdict.clean, f"{verdict.rule}: {verdict.detail}"


@pytest.mark.slow
@pytest.mark.parametrize("family, params", [
    ("full_disk", {"size_kib": 768}),
    ("read_only", {"command": "train"}),
    ("read_only", {"command": "evaluate"}),
])
def test_a_full_disk_and_a_read_only_run_give_one_message(runner, family, params):
    if not campaign.can_mount(runner.workdir):
        pytest.skip("this process may not mount a tmpfs (root in a container that allows it)")
    verdict = runner.run_case(campaign.Case(family, params))
    assert verdict.clean and not verdict.skipped, f"{verdict.rule}: {verdict.detail}"
