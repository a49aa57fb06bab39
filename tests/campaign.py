"""The hostile-input and fault campaign: generated cases across every command, one verdict each.

A case is what a careless or hostile user does: a bad array file or image folder, nonsense
flags, a hand-edited `config.json` / `gan_tf.json` / checkpoint list, a damaged run
directory, an absurd `generate` request, `kill -9` at a random moment of `train`,
`generate`, `evaluate` or `export` (subprocesses), a full disk (a small tmpfs) or a
read-only run directory. Hypothesis draws the cases from a seed (`draw_cases`); `run_case`
gives each one verdict by these rules, never by eye:

- bad input: the command either works (and what it wrote is complete) or refuses with
  gan_tf's one message (`UserError`: a CLI's exit 1 or 2 with `error: ...` and no
  traceback); any other exception, a traceback or a non-zero exit without the message is a
  defect. A refused `train` leaves nothing behind (no config.json with an empty
  `checkpoints/`); a refused edit of an existing run leaves every file as it was.
- a damaged run that trains on must end equal to an undamaged run (weights, optimizers,
  grid), or be refused.
- after a kill, the rerun completes and equals an uninterrupted run in every file it
  writes (`compare_trees`), and nothing half-written is left beside or inside the output.

Used by `tests/test_campaign.py` (a small seeded subset) and
`benchmarks/hostile_campaign.py --cases=N --seed=S` (the figure). Test drivers live in
tests/, never in gan_tf/.
"""

import contextlib
import dataclasses
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The tiny run every run-based case starts from: 256 digits, the MLP, 2 epochs of 4 steps.
BASE = dict(architecture="mlp", max_examples=256, batch_size=64, epochs=2, conditional=True,
            eval_every_n_epochs=0, checkpoint_every_n_steps=2)
TRAIN_FLAGS = ["--architecture=mlp", "--max_examples=256", "--batch_size=64", "--epochs=3",
               "--conditional", "--eval_every_n_epochs=0", "--checkpoint_every_n_steps=2"]
GENERATE_FLAGS = ["--num_images=1200", "--format=png", "--seed=3"]
EVALUATE_FLAGS = ["--num_samples=300"]
# Keys whose values are the moment or the place of a write, not its content.
_VOLATILE_KEYS = {"created", "time", "run_dir", "output_dir", "path", "source", "model"}
# SavedModel files whose bytes hold generated function names; the variables are compared.
_SAVEDMODEL_GRAPH_FILES = {"saved_model.pb", "fingerprint.pb"}


@dataclasses.dataclass
class Case:
    family: str
    params: dict

    def reproduction(self, seed, index):
        return (f"python benchmarks/hostile_campaign.py --seed={seed} --only={index}  "
                f"# {self.family} {json.dumps(self.params, default=str)[:600]}")


@dataclasses.dataclass
class Verdict:
    clean: bool
    rule: str  # the rule that decided it
    detail: str = ""
    skipped: bool = False


def clean(rule, detail=""):
    return Verdict(True, rule, detail)


def defect(rule, detail=""):
    return Verdict(False, rule, detail)


# --- Drawing cases ---------------------------------------------------------------------

FAMILIES = ("array", "folder", "flags", "config_edit", "run_edit", "export_edit", "generate",
            "kill", "full_disk", "read_only")
KILLED_COMMANDS = ("train", "generate", "evaluate", "export")


def _strategies():
    from hypothesis import strategies as st

    train_flags = st.fixed_dictionaries({
        "batch_size": st.sampled_from([1, 2, 8, 16, 64, 500]),
        "holdout": st.sampled_from([0.0, 0.0, 0.001, 0.1, 0.5]),
        "max_examples": st.sampled_from([None, None, 1, 5, 64]),
        "conditional": st.sampled_from([None, None, True, False]),
        "image_size": st.sampled_from([None, None, "8", "4x6", "0", "9x"]),
    })
    array = st.fixed_dictionaries({
        "container": st.sampled_from(["npz", "npz", "npy"]),
        "count": st.sampled_from([0, 1, 2, 9, 64, 258]),
        "shape": st.sampled_from([(8, 8), (8, 8, 1), (8, 8, 3), (8, 8, 4), (3, 8, 8),
                                  (8,), (0, 8), (8, 8, 3, 1), (8, 0)]),
        "dtype": st.sampled_from(["uint8", "uint8", "int16", "float32", "float64", "bool",
                                  "complex64", "U1"]),
        "values": st.sampled_from(["pixels", "unit", "signed", "nan", "inf", "huge",
                                   "constant"]),
        "labels": st.sampled_from([None, "ok", "ok", "one_hot", "float", "negative", "short",
                                   "column", "unique"]),
        "classes": st.sampled_from([1, 2, 3, 129, 300]),
        "class_names": st.sampled_from([None, None, "ok", "short", "duplicate", "numbers"]),
        "extra_key": st.sampled_from([False, False, False, True]),
        "damage": st.sampled_from([None, None, None, None, "zero", "text", "truncate",
                                   "pickle", "huge_header"]),
        "cut": st.floats(0.0, 1.0),
        "flags": train_flags,
    })
    folder = st.fixed_dictionaries({
        "classes": st.integers(0, 4),
        "per_class": st.integers(0, 6),
        "loose": st.integers(0, 2),
        "nested": st.integers(0, 2),
        "size": st.sampled_from([(8, 8), (8, 8), (8, 6), "mixed"]),
        "mode": st.sampled_from(["L", "RGB", "RGBA", "P", "I;16", "1"]),
        "extension": st.sampled_from([".png", ".png", ".jpg", ".bmp", ".gif", ".tiff",
                                      ".webp", ".txt"]),
        "damage": st.sampled_from([None, None, None, "zero", "text", "truncate"]),
        "others": st.sampled_from([0, 0, 1]),
        "flags": train_flags,
    })
    field_names = sorted(f.name for f in dataclasses.fields(_train_config_class()))
    flag_value = st.one_of(
        st.integers(-10 ** 12, 10 ** 12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                max_size=8),
        st.sampled_from(["", "nan", "inf", "-1", "0", "1", "1e309", "true", "none",
                         "folder:/nonexistent", "array:x.npz", "2147483648", "1.5"]))
    flags = st.fixed_dictionaries({
        "flags": st.lists(st.tuples(st.sampled_from(field_names + ["nonsense", "no"]),
                                    flag_value), max_size=4),
        "positional": st.sampled_from([[], [], ["extra"]]),
    })
    json_value = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                           st.sampled_from([10 ** 30, -10 ** 30, 1e308, float("nan")]),
                           st.text(max_size=6), st.just([]), st.just({}), st.just([1, 2]))
    config_edit = st.fixed_dictionaries({
        "key": st.sampled_from(field_names + ["(dataset)", "(dataset.num_classes)",
                                              "(dataset.image_shape)", "(config)",
                                              "(versions)"]),
        "operation": st.sampled_from(["set", "set", "delete", "truncate", "garbage"]),
        "value": json_value,
        "cut": st.floats(0.0, 1.0),
        "command": st.sampled_from(["train", "load", "generate"]),
    })
    run_edit = st.fixed_dictionaries({
        "target": st.sampled_from(["checkpoints/checkpoint", "checkpoints/ckpt-4.index",
                                   "checkpoints/ckpt-4.data-00000-of-00001",
                                   "samples/latents.npy", "metrics.jsonl", "config.json",
                                   "checkpoints", "samples", "generator", "progress.gif",
                                   "samples/final.png"]),
        "damage": st.sampled_from(["zero", "garbage", "truncate", "delete", "folder",
                                   "file", "list_elsewhere", "list_missing",
                                   "list_absolute"]),
        "cut": st.floats(0.0, 1.0),
        "command": st.sampled_from(["train", "train", "load"]),
    })
    export_edit = st.fixed_dictionaries({
        "key": st.sampled_from(["latent_dim", "num_classes", "image_shape", "class_names",
                                "latent_distribution", "signatures", "format", "(file)"]),
        "operation": st.sampled_from(["set", "delete", "truncate", "garbage"]),
        "value": json_value,
        "cut": st.floats(0.0, 1.0),
    })
    generate = st.fixed_dictionaries({
        "num_images": st.one_of(st.integers(-3, 40), st.integers(10 ** 9, 10 ** 13)),
        "format": st.sampled_from(["png", "npz", "tfrecord", "PNG", "jpeg", ""]),
        "labels": st.sampled_from([None, None, "balanced", "0,3", "3,3", "cat", "99", "",
                                   ",", "-1", "0, 1"]),
        "batch_size": st.sampled_from([1, 7, 500, 0, -1]),
        "seed": st.sampled_from([0, 1, 2 ** 31 - 1, 2 ** 31, -1]),
        "output": st.sampled_from(["new", "new", "file", "nonempty", "empty"]),
    })
    kill = st.fixed_dictionaries({
        "command": st.sampled_from(KILLED_COMMANDS),
        "moment": st.floats(0.05, 0.98),
    })
    full_disk = st.fixed_dictionaries({"size_kib": st.sampled_from([256, 768, 1536, 3072])})
    read_only = st.fixed_dictionaries({
        "command": st.sampled_from(["train", "load", "generate", "evaluate", "export"])})
    return {"array": array, "folder": folder, "flags": flags, "config_edit": config_edit,
            "run_edit": run_edit, "export_edit": export_edit, "generate": generate,
            "kill": kill, "full_disk": full_disk, "read_only": read_only}


def _train_config_class():
    from gan_tf.config import TrainConfig

    return TrainConfig


def draw_cases(count, seed, families=FAMILIES, weights=None):
    """`count` cases drawn by Hypothesis from `seed` (the same seed, the same cases).

    Hypothesis generates the inputs (no shrinking: each draw is a case); the family of each
    case comes from `weights` (default: the cheap in-process families weighed up, the
    subprocess and mount families down).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    strategies = _strategies()
    weights = weights or {"array": 5, "folder": 4, "flags": 4, "config_edit": 3,
                          "run_edit": 3, "export_edit": 1, "generate": 3, "kill": 2,
                          "full_disk": 1, "read_only": 1}
    rng = random.Random(seed)
    chosen = rng.choices([f for f in families], [weights.get(f, 1) for f in families],
                         k=count)
    cases = []
    for family in families:
        wanted = chosen.count(family)
        if not wanted:
            continue
        drawn = []

        @hypothesis_seed(seed)
        @settings(max_examples=4 * wanted, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(strategies[family])
        def collect(params):
            if len(drawn) < wanted and params not in drawn:  # each case once
                drawn.append(params)

        collect()  # Hypothesis may give fewer on a small space: fewer cases then
        cases += [Case(family, params) for params in drawn]
    order = list(range(len(cases)))
    rng.shuffle(order)
    return [cases[i] for i in order]


# --- Running cases ---------------------------------------------------------------------

class Campaign:
    """Runs cases in `workdir`; shared reference runs are made once, on first need."""

    def __init__(self, workdir, log=print):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.log = log
        self._references = {}
        self._counter = 0

    def fresh(self, name):
        while True:  # another Campaign may share the workdir
            self._counter += 1
            path = os.path.join(self.workdir, f"{self._counter:04d}_{name}")
            if not os.path.exists(path):
                os.makedirs(path)
                return path

    # The references: uninterrupted runs, trained or written once per campaign.
    def reference(self, key):
        if key not in self._references:
            self._references[key] = getattr(self, f"_make_{key}")()
        return self._references[key]

    def _make_run2(self):
        return self._train_in_process(os.path.join(self.workdir, "reference_run2"), epochs=2)

    def _make_run3(self):
        return self._train_in_process(os.path.join(self.workdir, "reference_run3"), epochs=3)

    def _train_in_process(self, run_dir, epochs):
        from gan_tf import train_lib

        config = _train_config_class()(**dict(BASE, epochs=epochs, output_dir=run_dir))
        train_lib.train(config, verbose=0)
        return run_dir

    def _make_cli_train(self):
        folder = os.path.join(self.workdir, "reference_cli_train")
        started = time.monotonic()
        result = cli("gan_tf.train", TRAIN_FLAGS + [f"--output_dir={folder}/run"])
        if result.returncode:
            raise RuntimeError(f"the reference train failed: {result.stderr[-2000:]}")
        return {"output": f"{folder}/run", "seconds": time.monotonic() - started}

    def _make_cli_generate(self):
        run = self.reference("run3")
        folder = os.path.join(self.workdir, "reference_cli_generate")
        started = time.monotonic()
        result = cli("gan_tf.generate", GENERATE_FLAGS + [f"--model={run}",
                                                          f"--output={folder}/out"])
        if result.returncode:
            raise RuntimeError(f"the reference generate failed: {result.stderr[-2000:]}")
        return {"output": f"{folder}/out", "seconds": time.monotonic() - started}

    def _make_cli_evaluate(self):
        run = os.path.join(self.workdir, "reference_cli_evaluate", "run")
        shutil.copytree(self.reference("run3"), run)
        # Twice: the first trains and caches the domain classifier, which every later
        # evaluate reads; the kills fall in the second's duration.
        for _ in range(2):
            shutil.rmtree(os.path.join(run, "evaluation"), ignore_errors=True)
            started = time.monotonic()
            result = cli("gan_tf.evaluate", EVALUATE_FLAGS + [f"--model={run}"])
            if result.returncode:
                raise RuntimeError(f"the reference evaluate failed: {result.stderr[-2000:]}")
        return {"output": os.path.join(run, "evaluation"), "seconds": time.monotonic() - started}

    def _make_cli_export(self):
        run = self.reference("run3")
        folder = os.path.join(self.workdir, "reference_cli_export")
        started = time.monotonic()
        result = cli("gan_tf.export", [f"--model={run}", f"--output={folder}/out"])
        if result.returncode:
            raise RuntimeError(f"the reference export failed: {result.stderr[-2000:]}")
        return {"output": f"{folder}/out", "seconds": time.monotonic() - started}

    def run_case(self, case):
        """The verdict of one case; an exception escaping the rules is itself a defect."""
        try:
            return getattr(self, f"_case_{case.family}")(case.params)
        except Exception as error:  # noqa: BLE001 - what escapes is the finding
            return defect("uncaught", _traceback_of(error))

    # --- Bad input, in process ----------------------------------------------------------

    def _case_array(self, p):
        folder = self.fresh("array")
        path = os.path.join(folder, "data." + p["container"])
        write_array_file(path, p)
        return self._train_verdict(f"array:{path}", p["flags"], folder)

    def _case_folder(self, p):
        folder = self.fresh("folder")
        root = os.path.join(folder, "images")
        write_hostile_folder(root, p)
        return self._train_verdict(f"folder:{root}", p["flags"], folder)

    def _train_verdict(self, dataset, flags, folder):
        from gan_tf import train_lib
        from gan_tf.errors import UserError

        run_dir = os.path.join(folder, "run")
        values = dict(architecture="mlp", epochs=1, eval_every_n_epochs=0, dataset=dataset,
                      output_dir=run_dir, sample_every_n_epochs=1)
        values.update({k: v for k, v in flags.items() if v is not None or k == "conditional"})
        try:
            config = _train_config_class()(**values)
            result = train_lib.train(config, verbose=0)
        except UserError as error:
            verdict = one_message(error)
            if not verdict.clean:
                return verdict
            if os.path.exists(run_dir) and not has_checkpoint(run_dir):
                return defect("refused after writing",
                              f"{first_line(error)}; left {sorted(os.listdir(run_dir))}")
            return clean("refused with one message", first_line(error))
        if result.end_epoch != 1:
            return defect("incomplete", f"end_epoch {result.end_epoch}")
        for name in ("samples/final.png", "generator/gan_tf.json", "config.json"):
            if not os.path.exists(os.path.join(run_dir, name)):
                return defect("incomplete", f"no {name} after a finished run")
        return clean("trained")

    def _case_flags(self, p):
        from absl import flags as absl_flags

        from gan_tf import cli as cli_lib
        from gan_tf.errors import UserError

        argv = ["gan_tf.train"] + [f"--{name}={value}" for name, value in p["flags"]]
        argv += p["positional"]
        try:
            config = cli_lib.parse_config(_train_config_class(), argv)
        except UserError as error:
            return one_message(error)
        except (absl_flags.Error, ValueError) as error:  # the CLI's exit 2, one line
            return clean("bad flag", first_line(error))
        again = _train_config_class().from_dict(json.loads(json.dumps(config.to_dict())))
        if again != config:
            return defect("config round trip", f"{config} != {again}")
        return clean("parsed, and round-trips through JSON")

    # --- Hand edits of a run ------------------------------------------------------------

    def _run_copy(self, epochs=2):
        folder = self.fresh("run")
        run_dir = os.path.join(folder, "run")
        shutil.copytree(self.reference(f"run{epochs}"), run_dir, symlinks=True)
        return run_dir

    def _case_config_edit(self, p):
        run_dir = self._run_copy()
        path = os.path.join(run_dir, "config.json")
        edit_json_file(path, p, section="config")
        return self._command_on_edited_run(run_dir, p["command"])

    def _case_run_edit(self, p):
        run_dir = self._run_copy()
        damage_run(run_dir, p)
        return self._command_on_edited_run(run_dir, p["command"])

    def _command_on_edited_run(self, run_dir, command):
        """train (resume to 3 epochs, as the original command with --epochs=3), load or
        generate on an edited run: refused with nothing changed, or equal to a clean run."""
        from gan_tf import generate_lib, runs, train_lib
        from gan_tf.errors import UserError

        before = snapshot(run_dir)
        try:
            if command == "train":
                config = _train_config_class()(**dict(BASE, epochs=3, output_dir=run_dir))
                train_lib.train(config, verbose=0)
                differences = compare_trees(self.reference("run3"), run_dir,
                                            only_in_second_ok=True)
                if differences:
                    return defect("resumed run differs from an undamaged one",
                                  "; ".join(differences[:5]))
                return clean("resumed and equal to an undamaged run")
            if command == "load":
                runs.load_run(run_dir)
                return clean("loaded")
            sampler = generate_lib.load_sampler(run_dir)
            output = os.path.join(os.path.dirname(run_dir), "generated")
            generate_lib.write_dataset(sampler, output, 8, format="npz")
            return clean("generated")
        except UserError as error:
            verdict = one_message(error)
            if verdict.clean and snapshot(run_dir) != before:
                changed = sorted(set(snapshot(run_dir).items()) ^ set(before.items()))
                return defect("refused but changed the run", str(changed[:4]))
            return verdict

    def _case_export_edit(self, p):
        from gan_tf import generate_lib
        from gan_tf.errors import UserError

        folder = self.fresh("export")
        export = os.path.join(folder, "generator")
        shutil.copytree(os.path.join(self.reference("run2"), "generator"), export)
        edit_json_file(os.path.join(export, "gan_tf.json"), p, section=None)
        try:
            sampler = generate_lib.load_sampler(export)
            generate_lib.write_dataset(sampler, os.path.join(folder, "out"), 4, format="npz")
        except UserError as error:
            return one_message(error)
        return clean("generated from the edited export")

    def _case_generate(self, p):
        from gan_tf import generate_lib
        from gan_tf.errors import UserError

        folder = self.fresh("generate")
        output = os.path.join(folder, "out")
        if p["output"] == "file":
            with open(output, "w", encoding="utf-8") as stream:
                stream.write("mine")
        elif p["output"] in ("nonempty", "empty"):
            os.mkdir(output)
            if p["output"] == "nonempty":
                with open(os.path.join(output, "keep.txt"), "w", encoding="utf-8") as stream:
                    stream.write("mine")
        sampler = self._sampler()  # the first one trains the reference run: not timed
        before = snapshot(folder)
        started = time.monotonic()
        try:
            manifest = generate_lib.write_dataset(
                sampler, output, p["num_images"], format=p["format"], seed=p["seed"],
                labels=p["labels"], batch_size=p["batch_size"])
        except UserError as error:
            verdict = one_message(error)
            if verdict.clean and snapshot(folder) != before:
                return defect("refused but wrote", str(sorted(os.listdir(folder))))
            # A refusal decided before drawing takes well under a second; one that drew first
            # (the defect this rule finds) takes minutes.
            if verdict.clean and time.monotonic() - started > 60:
                return defect("slow refusal", f"{time.monotonic() - started:.0f} s")
            return verdict
        if manifest["num_images"] != p["num_images"]:
            return defect("incomplete", f"manifest says {manifest['num_images']}")
        leftovers = [n for n in os.listdir(folder) if n.startswith(".")]
        if leftovers:
            return defect("temporaries left", str(leftovers))
        return clean("generated")

    def _sampler(self):
        if "sampler" not in self._references:
            from gan_tf import generate_lib

            self._references["sampler"] = generate_lib.load_sampler(self.reference("run2"))
        return self._references["sampler"]

    # --- Faults: kill -9, full disk, read-only ------------------------------------------

    def _case_kill(self, p):
        command = p["command"]
        reference = self.reference(f"cli_{command}")
        folder = self.fresh(f"kill_{command}")
        if command == "train":
            output = os.path.join(folder, "run")
            module, args = "gan_tf.train", TRAIN_FLAGS + [f"--output_dir={output}"]
        elif command == "evaluate":
            run = os.path.join(folder, "run")
            shutil.copytree(self.reference("run3"), run)
            output = os.path.join(run, "evaluation")
            module, args = "gan_tf.evaluate", EVALUATE_FLAGS + [f"--model={run}"]
        else:
            output = os.path.join(folder, "out")
            module = f"gan_tf.{command}"
            args = ([f"--model={self.reference('run3')}", f"--output={output}"]
                    + (GENERATE_FLAGS if command == "generate" else []))
        delay = p["moment"] * reference["seconds"]
        process = start_cli(module, args)
        try:
            process.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed = True
        rerun = cli(module, args)
        verdict = cli_verdict(rerun)
        if not verdict.clean:
            return verdict
        # A kill after the output's final rename leaves it complete; the rerun then refuses
        # to overwrite it (generate, export), and the output is what is compared.
        complete_before = (command in ("generate", "export") and os.path.exists(output)
                           and ("not empty" in rerun.stderr or "already exists" in
                                rerun.stderr))
        if rerun.returncode and not complete_before:
            return defect("rerun after kill -9 failed",
                          f"killed at {delay:.1f} s: exit {rerun.returncode}: "
                          f"{rerun.stderr.strip()[-1500:]}")
        differences = compare_trees(reference["output"], output)
        if differences:
            return defect("rerun differs from an uninterrupted run",
                          f"killed at {delay:.1f} s: " + "; ".join(differences[:6]))
        parent = os.path.dirname(output)
        leftovers = [n for n in os.listdir(parent) if n.startswith(".") and n != ".lock"]
        if leftovers:
            return defect("temporaries left beside the output", f"killed at {delay:.1f} s: "
                          f"{leftovers}")
        return clean("rerun equals an uninterrupted run",
                     f"{command} killed at {delay:.1f} s" if killed
                     else f"{command} finished before the kill")

    def _case_full_disk(self, p):
        from gan_tf import train_lib
        from gan_tf.errors import UserError

        folder = self.fresh("full_disk")
        mount = os.path.join(folder, "disk")
        os.mkdir(mount)
        if not mount_tmpfs(mount, f"size={p['size_kib']}k"):
            return Verdict(True, "skipped: cannot mount a tmpfs here", skipped=True)
        try:
            run_dir = os.path.join(mount, "run")
            config = _train_config_class()(**dict(BASE, epochs=3, output_dir=run_dir))
            try:
                train_lib.train(config, verbose=0)
                outcome = "fitted"
            except UserError as error:
                verdict = one_message(error)
                if not verdict.clean:
                    return verdict
                outcome = first_line(error)
            except Exception as error:  # noqa: BLE001 - the finding
                return defect("full disk: not one message", _traceback_of(error))
            moved = os.path.join(folder, "run")
            if os.path.exists(run_dir):
                shutil.copytree(run_dir, moved, symlinks=True)
        finally:
            unmount(mount)
        if not os.path.exists(moved):
            return clean("full disk refused before writing", outcome)
        config = _train_config_class()(**dict(BASE, epochs=3, output_dir=moved))
        train_lib.train(config, verbose=0)  # what the disk held must not be trusted wrongly
        differences = compare_trees(self.reference("run3"), moved, only_in_second_ok=True)
        if differences:
            return defect("rerun after a full disk differs", "; ".join(differences[:5]))
        return clean("one message, then the rerun on free space equals an uninterrupted run",
                     outcome)

    def _case_read_only(self, p):
        from gan_tf import evaluate_lib, export_lib, generate_lib, runs, train_lib
        from gan_tf.errors import UserError

        folder = self.fresh("read_only")
        mount = os.path.join(folder, "disk")
        os.mkdir(mount)
        if not mount_tmpfs(mount, "size=64m"):
            return Verdict(True, "skipped: cannot mount a tmpfs here", skipped=True)
        try:
            run_dir = os.path.join(mount, "run")
            shutil.copytree(self.reference("run2"), run_dir, symlinks=True)
            os.remove(os.path.join(run_dir, ".lock"))
            if subprocess.run(["mount", "-o", "remount,ro", mount], capture_output=True
                              ).returncode:
                return Verdict(True, "skipped: cannot remount read-only", skipped=True)
            command = p["command"]
            try:
                if command == "train":
                    train_lib.train(_train_config_class()(**dict(BASE, epochs=3,
                                                                 output_dir=run_dir)),
                                    verbose=0)
                    return defect("trained into a read-only folder")
                if command == "load":
                    runs.load_run(run_dir)
                elif command == "generate":
                    generate_lib.write_dataset(generate_lib.load_sampler(run_dir),
                                               os.path.join(folder, "out"), 8, format="npz")
                elif command == "evaluate":
                    evaluate_lib.evaluate_model(run_dir, num_samples=200)
                    return defect("evaluated into a read-only folder")
                else:
                    export_lib.export_model(run_dir, os.path.join(folder, "out"))
            except UserError as error:
                return one_message(error)
            return clean(f"{command} read the read-only run")
        finally:
            unmount(mount)


# --- Rules ------------------------------------------------------------------------------

def first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else ""


def one_message(error):
    """A refusal is clean when it is gan_tf's one message: non-empty, no traceback."""
    text = str(error).strip()
    if not text:
        return defect("empty message", type(error).__name__)
    if "Traceback" in text or len(text.splitlines()) > 3:
        return defect("not one message", text[:500])
    return clean("refused with one message", text.splitlines()[0][:300])


def cli_verdict(result):
    """A CLI's exit: 0, or 1/2 with `error: ...` on stderr and no traceback."""
    if "Traceback (most recent call last)" in result.stderr:
        return defect("traceback", result.stderr.strip()[-1500:])
    if result.returncode == 0:
        return clean("exit 0")
    if result.returncode in (1, 2) and "error: " in result.stderr:
        return clean("refused with one message", result.stderr.strip().splitlines()[-1][:300])
    return defect("exit without a message", f"exit {result.returncode}: "
                                            f"{result.stderr.strip()[-800:]}")


def _traceback_of(error):
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))[-1500:]


def has_checkpoint(run_dir):
    return os.path.exists(os.path.join(run_dir, "checkpoints", "checkpoint"))


def snapshot(folder):
    """{relative path: (size, mtime_ns)} of every file under `folder` but `.lock`."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            if name != ".lock" and not os.path.islink(path):
                status = os.stat(path)
                found[os.path.relpath(path, folder)] = (status.st_size, status.st_mtime_ns)
    return found


def compare_trees(first, second, only_in_second_ok=False):
    """The differences between two outputs of the same command, file by file.

    Every file is compared: JSON and JSON lines without the keys that hold a moment or a
    place (`_VOLATILE_KEYS`); tf.train checkpoints by the values of their variables (less
    TensorFlow's count of saves), the checkpoint list by its checkpoint names; a SavedModel
    by its variables (its graph files hold generated function names); everything else byte
    for byte. `.lock` is the lock file, not output. `only_in_second_ok`: files only the
    second has are fine (a damaged run's extra evaluation, say).
    """
    differences = []
    a, b = _files(first), _files(second)
    for name in sorted(set(a) - set(b)):
        differences.append(f"{name} missing")
    if not only_in_second_ok:
        for name in sorted(set(b) - set(a)):
            differences.append(f"{name} extra")
    checkpoint_sets = set()
    for name in sorted(set(a) & set(b)):
        base = os.path.basename(name)
        folder = os.path.dirname(name)
        if ".index" in base or ".data-" in base:
            stem = base.split(".")[0]
            if (folder, stem) in checkpoint_sets:
                continue
            checkpoint_sets.add((folder, stem))
            if not _same_checkpoint(os.path.join(first, folder, stem),
                                    os.path.join(second, folder, stem)):
                differences.append(f"{os.path.join(folder, stem)} variables differ")
        elif base == "checkpoint":
            if _checkpoint_list(os.path.join(first, name)) != _checkpoint_list(
                    os.path.join(second, name)):
                differences.append(f"{name} lists other checkpoints")
        elif base in _SAVEDMODEL_GRAPH_FILES:
            continue
        elif base.endswith((".json", ".jsonl")):
            one, other = _json_lines(os.path.join(first, name)), _json_lines(
                os.path.join(second, name))
            if one != other:
                differences.append(f"{name} differs: {_first_difference(one, other)}")
        else:
            with open(os.path.join(first, name), "rb") as x, open(
                    os.path.join(second, name), "rb") as y:
                if x.read() != y.read():
                    differences.append(f"{name} differs")
    return differences


def _files(root):
    found = set()
    for parent, _, names in os.walk(root):
        for name in names:
            if name != ".lock":
                found.add(os.path.relpath(os.path.join(parent, name), root))
    return found


def _same_checkpoint(first, second):
    import tensorflow as tf

    try:
        a, b = tf.train.load_checkpoint(first), tf.train.load_checkpoint(second)
    except (tf.errors.OpError, ValueError):
        return False
    names = {n for n in a.get_variable_to_shape_map() if _compared_variable(n)}
    if names != {n for n in b.get_variable_to_shape_map() if _compared_variable(n)}:
        return False
    # Keras's ExportArchive lists `_all_variables` in an order that varies from process to
    # process (the same values; `variables/N`, the model's own order, is stable): compared
    # as a multiset.
    unordered = sorted(n for n in names if n.startswith("_all_variables/"))
    if sorted(a.get_tensor(n).tobytes() for n in unordered) != sorted(
            b.get_tensor(n).tobytes() for n in unordered):
        return False
    return all(np.array_equal(a.get_tensor(n), b.get_tensor(n)) for n in names
               if not n.startswith("_all_variables/"))


def _compared_variable(name):
    return "_CHECKPOINTABLE_OBJECT_GRAPH" not in name and not name.startswith("save_counter")


def _checkpoint_list(path):
    with open(path, encoding="utf-8", errors="replace") as stream:
        return [line for line in stream if "timestamp" not in line]


def _json_lines(path):
    records = []
    with open(path, encoding="utf-8", errors="replace") as stream:
        text = stream.read()
    chunks = [text] if path.endswith(".json") else text.splitlines()
    for chunk in chunks:
        try:
            records.append(_without_volatile(json.loads(chunk)))
        except json.JSONDecodeError:
            records.append(("unparseable", chunk))
    return records


def _without_volatile(value):
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _first_difference(one, other):
    for index, (x, y) in enumerate(zip(one, other)):
        if x != y:
            if isinstance(x, dict) and isinstance(y, dict):
                keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
                return f"record {index}: " + ", ".join(
                    f"{k} {x.get(k)!r} vs {y.get(k)!r}" for k in keys[:3])
            return f"record {index}"
    return f"{len(one)} vs {len(other)} records"


# --- Making hostile inputs --------------------------------------------------------------

def write_array_file(path, p):
    rng = np.random.default_rng(0)
    shape = (p["count"],) + tuple(p["shape"])
    values = {"pixels": rng.integers(0, 256, shape), "unit": rng.random(shape),
              "signed": rng.random(shape) * 2 - 1, "huge": rng.random(shape) * 1e6,
              "constant": np.zeros(shape)}.get(p["values"])
    if values is None:
        values = rng.random(shape) * 2 - 1
        if values.size:
            values.flat[values.size // 2] = np.nan if p["values"] == "nan" else np.inf
    images = values.astype(p["dtype"]) if p["dtype"] != "U1" else values.astype(str)
    arrays = {"images": images}
    classes, count = p["classes"], p["count"]
    labels = {"ok": np.arange(count) % classes, "one_hot": np.eye(classes)[
        np.arange(count) % classes], "float": (np.arange(count) % classes).astype(float),
        "negative": np.arange(count) - 1, "short": np.arange(max(0, count - 1)) % classes,
        "column": (np.arange(count) % classes)[:, None], "unique": np.arange(count)}.get(
        p["labels"])
    if labels is not None:
        arrays["labels"] = labels
        names = {"ok": [f"c{i}" for i in range(classes)], "short": ["a"],
                 "duplicate": ["a"] * classes, "numbers": list(range(classes))}.get(
            p["class_names"])
        if names is not None:
            arrays["class_names"] = np.array(names)
    if p["extra_key"]:
        arrays["label"] = np.zeros(count)
    if p["container"] == "npy":
        np.save(path, images)
    else:
        np.savez(path, **arrays)
    damage = p["damage"]
    if damage == "zero":
        open(path, "wb").close()
    elif damage == "text":
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("images,labels\n1,2\n")
    elif damage == "truncate":
        with open(path, "rb") as stream:
            data = stream.read()
        with open(path, "wb") as stream:
            stream.write(data[:int(len(data) * p["cut"])])
    elif damage == "pickle":
        import pickle

        with open(path, "wb") as stream:
            pickle.dump({"images": images}, stream)
    elif damage == "huge_header":
        with open(path, "wb") as stream:
            np.lib.format.write_array_header_1_0(stream, {
                "descr": "|u1", "fortran_order": False, "shape": (10 ** 8, 28, 28, 1)})
            stream.write(b"\0" * 64)


def write_hostile_folder(root, p):
    from PIL import Image

    rng = np.random.default_rng(0)
    os.makedirs(root, exist_ok=True)
    mode, extension = p["mode"], p["extension"]

    def image(path, index):
        width, height = ((8, 8) if p["size"] == "mixed" and index % 2 else (6, 8)) if \
            p["size"] == "mixed" else p["size"]
        array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        picture = Image.fromarray(array, "RGB")
        if mode == "I;16":
            picture = Image.fromarray((array[..., 0].astype(np.uint16) * 257))
        elif mode != "RGB":
            picture = picture.convert(mode)
        if extension in (".jpg", ".bmp") and picture.mode in ("RGBA", "P", "I;16"):
            picture = picture.convert("RGB")
        if extension == ".txt":
            with open(path, "w", encoding="utf-8") as stream:
                stream.write("not an image")
            return
        picture.save(path, format={".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP",
                                   ".gif": "GIF", ".tiff": "TIFF", ".webp": "WEBP"}[extension])

    files = []
    for c in range(p["classes"]):
        folder = os.path.join(root, f"class{c}")
        os.makedirs(folder)
        for i in range(p["per_class"]):
            files.append(os.path.join(folder, f"{i}{extension}"))
    if not p["classes"]:
        files += [os.path.join(root, f"{i}{extension}") for i in range(p["per_class"])]
    files += [os.path.join(root, f"loose{i}{extension}") for i in range(p["loose"])]
    for i in range(p["nested"]):
        folder = os.path.join(root, "class0" if p["classes"] else "x", "deeper")
        os.makedirs(folder, exist_ok=True)
        files.append(os.path.join(folder, f"{i}{extension}"))
    for index, path in enumerate(files):
        image(path, index)
    for i in range(p["others"]):
        with open(os.path.join(root, f"notes{i}.txt"), "w", encoding="utf-8") as stream:
            stream.write("x")
    if files and p["damage"]:
        victim = files[len(files) // 2]
        if p["damage"] == "zero":
            open(victim, "wb").close()
        elif p["damage"] == "text":
            with open(victim, "w", encoding="utf-8") as stream:
                stream.write("garbage")
        else:
            with open(victim, "rb") as stream:
                data = stream.read()
            with open(victim, "wb") as stream:
                stream.write(data[:len(data) // 2])


def edit_json_file(path, p, section):
    """Edits a JSON file as a careless hand would: a key set or deleted, the file torn."""
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    operation = p["operation"]
    if p["key"] == "(file)" and operation in ("set", "delete"):
        operation = "garbage"
    if operation == "truncate":
        text = text[:int(len(text) * p["cut"])]
    elif operation == "garbage":
        text = "{not json" if p["cut"] < 0.5 else "[]"
    else:
        record = json.loads(text)
        key = p["key"]
        target = record
        if key.startswith("("):
            parts = key.strip("()").split(".")
            target, key = (record, parts[0]) if len(parts) == 1 else (
                record.get(parts[0], {}), parts[1])
        elif section:
            target = record.get(section, {})
        if isinstance(target, dict):
            if operation == "delete":
                target.pop(key, None)
            else:
                target[key] = p["value"]
        text = json.dumps(record)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def damage_run(run_dir, p):
    path = os.path.join(run_dir, p["target"])
    damage = p["damage"]
    if p["target"] == "checkpoints/checkpoint" and damage.startswith("list_"):
        target = {"list_elsewhere": "../../../../etc/passwd", "list_missing": "ckpt-99",
                  "list_absolute": "/tmp/ckpt-1"}[damage]
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(f'model_checkpoint_path: "{target}"\n'
                         f'all_model_checkpoint_paths: "{target}"\n')
        return
    if damage.startswith("list_"):
        damage = "garbage"
    if damage in ("delete", "folder", "file") or os.path.isdir(path):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        if damage == "folder":
            os.mkdir(path)
        elif damage in ("file", "garbage", "zero", "truncate"):
            with open(path, "w", encoding="utf-8") as stream:
                stream.write("not what gan_tf wrote")
        return
    if not os.path.exists(path):
        return
    with open(path, "rb") as stream:
        data = stream.read()
    data = {"zero": b"", "garbage": b"\x00garbage\xff" * 3,
            "truncate": data[:int(len(data) * p["cut"])]}[damage]
    with open(path, "wb") as stream:
        stream.write(data)


# --- Processes and mounts ---------------------------------------------------------------

def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
                PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start_cli(module, args):
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO,
                            env=_environment(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def cli(module, args, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO,
                          env=_environment(), capture_output=True, text=True, timeout=timeout)


def mount_tmpfs(path, options):
    """Mounts a tmpfs at `path`; False where this process may not mount."""
    if not shutil.which("mount"):
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                            capture_output=True)
    return result.returncode == 0


def unmount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


def can_mount(workdir):
    probe = os.path.join(workdir, "mount_probe")
    os.makedirs(probe, exist_ok=True)
    try:
        if mount_tmpfs(probe, "size=64k"):
            unmount(probe)
            return True
        return False
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


def run_campaign(count, seed, workdir, families=FAMILIES, weights=None, log=print,
                 only=None, campaign=None):
    """Draws and runs `count` cases; returns [(index, case, verdict, seconds)].

    `campaign`: a `Campaign` to run them in (its reference runs, made once, are shared with
    whatever else it runs); by default a new one in `workdir`.
    """
    cases = draw_cases(count, seed, families, weights)
    campaign = campaign or Campaign(workdir, log=log)
    results = []
    for index, case in enumerate(cases):
        if only is not None and index != only:
            continue
        started = time.monotonic()
        with _quiet():
            verdict = campaign.run_case(case)
        seconds = time.monotonic() - started
        results.append((index, case, verdict, seconds))
        mark = "skip" if verdict.skipped else "ok" if verdict.clean else "DEFECT"
        log(f"[{index:3d}] {mark:6s} {case.family:12s} {seconds:5.1f} s  {verdict.rule}: "
            f"{verdict.detail[:160]}")
    return results


@contextlib.contextmanager
def _quiet():
    """gan_tf's lines of the cases (training banners) kept out of the campaign's report."""
    import logging

    logger = logging.getLogger("gan_tf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def summary(results, seed):
    """"N cases, N clean, N defects", then each defect with its reproduction."""
    ran = [r for r in results if not r[2].skipped]
    defects = [r for r in ran if not r[2].clean]
    lines = [f"{len(ran)} cases, {len(ran) - len(defects)} clean, {len(defects)} defects"
             + (f" ({len(results) - len(ran)} skipped)" if len(ran) < len(results) else "")]
    for index, case, verdict, _ in defects:
        lines.append(f"- [{index}] {case.family}: {verdict.rule}: {verdict.detail}")
        lines.append(f"  reproduce: {case.reproduction(seed, index)}")
    return "\n".join(lines)
