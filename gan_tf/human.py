"""Human evaluation: a real-or-generated page people take, and its HYPE-style score.

The design note's third way to judge a GAN is to ask people whether they take its images for
real ones. HYPE (Zhou et al., NeurIPS 2019) made that a protocol: a rater sees real and
generated images one at a time and says which is which; the **error rate** is the score
(50%: the generated images cannot be told from real ones; 0%: every one is spotted).

`make_page(run_dir)` writes `RUN/evaluation/human/page-ID/`:
    page.html   one self-contained file (images inline, no network, no external script or
                font) that opens from disk in any browser. The rater types a name, answers
                "real" or "generated" (buttons, or the R and G keys; B goes back), and at the
                end downloads (or copies) a small answers file. Their progress is kept in the
                browser, so closing the page loses nothing.
    key.json    the answer key: which images are real, their classes, and the unlock code.
                It is NOT in the page: the page holds the truth only encrypted with the unlock
                code (SHA-256 keystream), the order is random (not from `seed`) and the PNGs
                are padded to one size, so the page's source does not give the truth away
                (pixel statistics could, to a program: raters are trusted not to run one).
                One code serves the page's raters: give it out when all have answered, and
                the page shows each their own score.

`score_answers(run_dir, files)` scores one or more raters' answers files against the keys
beside their pages and writes `RUN/evaluation/human/report.json`: the error rate with a 95%
interval (bootstrapped over raters, then each rater's answers), the rate at which generated
images were taken for real and real ones for generated, per rater and per class.

Real images come from the run's held-out split (`--holdout`), which the GAN never saw; a run
without one uses its training images and says so. Which images are shown is a pure function
of `seed`; their order, the page's identity and the unlock code are random.
"""

import dataclasses
import datetime
import glob
import hashlib
import json
import math
import os
import secrets

import numpy as np

from gan_tf import messages, progress, runs, stats
from gan_tf.errors import UserError, check_seed, invalid
from gan_tf.files import atomic_write_text, staging_directory

FOLDER = "human"
PAGE_FILE = "page.html"
KEY_FILE = "key.json"
REPORT_FILE = "report.json"
KEY_FORMAT = "gan_tf.human_key"
ANSWERS_FORMAT = "gan_tf.human_answers"
FORMAT_VERSION = 1
ANSWERS = ("real", "generated")
DISPLAY_PIXELS = 256  # images are shown at least this wide or tall (small ones scaled up)
MAX_IMAGES = 1000
_TEMPLATE = os.path.join(os.path.dirname(__file__), "assets", "human_page.html")
_logger = messages.get_logger(__name__)


@dataclasses.dataclass
class PageOptions:
    """What `make_page` shows.

    Attributes:
        num_images: images on the page, half real and half generated (HYPE's infinity
            protocol shows 50 of each). Defaults to 100.
        seed: which real images, which samples and their order. Defaults to 0.
        checkpoint: "latest" or "best" (the run's checkpoint with the lowest FD).
    """

    num_images: int = 100
    seed: int = 0
    checkpoint: str = "latest"

    def validate(self):
        value = self.num_images
        if (not isinstance(value, int) or isinstance(value, bool) or value < 2 or value % 2
                or value > MAX_IMAGES):
            raise invalid("human_images", self.num_images,
                          f"an even number from 2 to {MAX_IMAGES} (half real, half "
                          "generated), e.g. 100")
        check_seed(self.seed)
        if self.checkpoint not in runs.CHECKPOINTS:
            raise invalid("checkpoint", self.checkpoint, f"one of {list(runs.CHECKPOINTS)}")


def human_dir(run_dir, checkpoint="latest"):
    """Where a run's human-evaluation pages and report live."""
    return os.path.join(runs.evaluation_dir(run_dir, checkpoint), FOLDER)


# === The cipher shared with the page ===

def keystream(code, page_id, length):
    """`length` bytes: SHA-256(code:page_id:0) || SHA-256(code:page_id:1) || ..., cut."""
    blocks = []
    for block in range(math.ceil(length / 32)):
        blocks.append(hashlib.sha256(f"{code}:{page_id}:{block}".encode()).digest())
    return b"".join(blocks)[:length]


def encrypt_truths(truths, code, page_id):
    """Hex of the truths (1 = generated, 0 = real) XOR the keystream: what the page holds."""
    stream = keystream(code, page_id, len(truths))
    return bytes(int(truth) ^ key for truth, key in zip(truths, stream)).hex()


def decrypt_truths(cipher_hex, code, page_id):
    """The inverse of `encrypt_truths` (a wrong code gives noise, not an error)."""
    cipher = bytes.fromhex(cipher_hex)
    return [value ^ key for value, key in zip(cipher, keystream(code, page_id, len(cipher)))]


def code_check(code, page_id):
    """What the page compares a typed unlock code with (reveals nothing of the code)."""
    return hashlib.sha256(f"check:{code}:{page_id}".encode()).hexdigest()


def answers_checksum(page_id, salt, rater, answers):
    """The checksum the page writes into an answers file (the page computes the same).

    It detects a file edited or damaged after download; it is no defence against a rater who
    reads the page's source to forge one (nothing in a page without a server could be).
    """
    canonical = ",".join(f"{answer['item']}:{answer['answer']}" for answer in answers)
    return hashlib.sha256(f"{page_id}\n{salt}\n{rater}\n{canonical}".encode()).hexdigest()


# === The page ===

@progress.showing
def make_page(run_dir, options=None):
    """Writes a page and its key into `human_dir(run_dir)/page-ID/`; returns `(key, folder)`.

    Raises:
        UserError: not a run directory, too few real images, or the folder is not writable
            (nothing is written).
    """
    from gan_tf import samplers
    from gan_tf.images import encode_png, to_uint8

    options = options or PageOptions()
    options.validate()
    run_dir = os.path.abspath(run_dir)
    config, facts = runs.read_run_config(run_dir)
    run_data = runs.load_run_data(config, download=False)
    data = run_data.everything
    if config.holdout:
        recorded = runs.read_holdout(run_dir)["held_out"]
        if [int(i) for i in run_data.held_out] != recorded:
            raise UserError(f"The held-out split recorded in {run_dir} differs from the one "
                            "its dataset gives now: the data changed since training, so the "
                            "real images shown might have been trained on. Restore the "
                            "dataset.")
        pool, source = run_data.held_out, "held_out"
    else:
        pool, source = run_data.trained, "training"
        _logger.warning("Warning: this run has no --holdout, so the real images on the page "
                        "are ones the GAN trained on. A generator that memorised them would "
                        "fool raters; train with --holdout=0.2 for a fair test.")
    num_real = num_generated = options.num_images // 2
    if len(pool) < num_real:
        fits = min(MAX_IMAGES, 2 * len(pool))
        raise UserError(
            f"The page needs {num_real} real images but {run_dir} has only {len(pool)} "
            f"{'held-out' if source == 'held_out' else 'training'} images. "
            + (f"Pass --human_images={fits} or fewer (half of a page is real)."
               if fits >= 2 else "Train with a --holdout that leaves real images to show."))

    rng = np.random.default_rng([options.seed, 4231])
    real_indices = _balanced_choice(rng, pool, None if data.labels is None
                                    else data.labels[pool], num_real)
    sampler = samplers.load_sampler(run_dir, options.checkpoint)
    generated, generated_labels = [], []
    for images, labels in sampler.batches(num_generated, seed=options.seed):
        generated.append(images)
        if labels is not None:
            generated_labels.extend(int(label) for label in labels)
    generated = np.concatenate(generated)
    real_pixels = data.images[real_indices]
    items = ([{"truth": "real", "index": int(index),
               "label": None if data.labels is None else int(data.labels[index])}
              for index in real_indices]
             + [{"truth": "generated", "index": number,
                 "label": generated_labels[number] if generated_labels else None}
                for number in range(num_generated)])
    pixels = list(real_pixels) + list(to_uint8(generated))
    # Which images are shown follows --seed; their order must not: with the seed, a rater
    # could replay the shuffle from the public data and read the truth off the order.
    order = np.random.default_rng(secrets.randbits(128)).permutation(len(items))
    items = [dict(items[position], item=item) for item, position in enumerate(order)]
    pixels = [pixels[position] for position in order]

    page_id, code, salt = secrets.token_hex(6), secrets.token_hex(16), secrets.token_hex(16)
    truths = [int(item["truth"] == "generated") for item in items]
    height, width = data.image_shape[:2]
    scale = max(1, math.ceil(DISPLAY_PIXELS / max(height, width)))
    page_data = {
        "format": "gan_tf.human_page", "version": FORMAT_VERSION, "page_id": page_id,
        "salt": salt, "dataset": data.name, "images": [
            "data:image/png;base64," + _base64(png) for png in _same_length(
                [encode_png(pixel) for pixel in pixels])],
        "width": int(width * scale), "height": int(height * scale),
        "pixelated": scale > 1, "truths": encrypt_truths(truths, code, page_id),
        "check": code_check(code, page_id),
    }
    key = {
        "format": KEY_FORMAT, "version": FORMAT_VERSION, "page_id": page_id,
        "unlock_code": code, "created": _now(), "run_dir": run_dir,
        "dataset": data.name, "checkpoint": options.checkpoint, "seed": options.seed,
        "real_images_from": source, "num_real": num_real, "num_generated": num_generated,
        "class_names": list(data.class_names or []) if data.labels is not None else [],
        "conditional": bool(sampler.num_classes), "salt": salt, "items": items,
        "sampler": sampler.description,
    }
    html = _render(page_data)
    key["page_sha256"] = hashlib.sha256(html.encode("utf-8")).hexdigest()
    folder = os.path.join(human_dir(run_dir, options.checkpoint), f"page-{page_id}")
    try:
        with staging_directory(folder, "human_page") as staging:
            atomic_write_text(os.path.join(staging, PAGE_FILE), html)
            atomic_write_text(os.path.join(staging, KEY_FILE), json.dumps(key, indent=2) + "\n")
            os.rename(staging, folder)
    except OSError as error:
        raise UserError(f"Cannot write the page to {folder}: {error.strerror or error}. Make "
                        "the run's evaluation folder writable.") from None
    _logger.info(f"Human evaluation page: {os.path.join(folder, PAGE_FILE)} ({num_real} "
                 f"real images from the {'held-out split' if source == 'held_out' else 'training images'}, "
                 f"{num_generated} generated; {options.checkpoint} checkpoint).")
    return key, folder


def _balanced_choice(rng, pool, labels, count):
    """`count` indices of `pool` without replacement, as even over classes as they allow."""
    pool = np.asarray(pool)
    if labels is None:
        return np.sort(rng.choice(pool, count, replace=False))
    chosen, classes = [], np.unique(labels)
    members = {label: list(rng.permutation(pool[labels == label])) for label in classes}
    while len(chosen) < count:
        for label in classes:
            if members[label] and len(chosen) < count:
                chosen.append(members[label].pop())
    return np.sort(np.array(chosen, np.int64))


def _same_length(pngs):
    """The PNGs padded to one byte length with a private ancillary chunk (`paDd`, which
    viewers skip), so their sizes in the page do not tell real from generated images.

    Every PNG gets the chunk (12 bytes of length, type and CRC around zero bytes of data),
    sized so all end `longest + 12` bytes long.
    """
    import struct
    import zlib

    target = max(len(png) for png in pngs) + 12
    padded = []
    for png in pngs:
        body = b"\0" * (target - len(png) - 12)
        chunk = (struct.pack(">I", len(body)) + b"paDd" + body
                 + struct.pack(">I", zlib.crc32(b"paDd" + body) & 0xFFFFFFFF))
        end = png.rindex(b"IEND") - 4  # before the IEND chunk's length field
        padded.append(png[:end] + chunk + png[end:])
    return padded


def _render(page_data):
    with open(_TEMPLATE, encoding="utf-8") as stream:
        template = stream.read()
    payload = json.dumps(page_data, separators=(",", ":")).replace("</", "<\\/")
    title = f"Real or generated? ({page_data['dataset']})"
    return (template.replace("{{TITLE}}", _html_escape(title))
            .replace("{{NUM_IMAGES}}", str(len(page_data["images"])))
            .replace("{{DATASET}}", _html_escape(page_data["dataset"]))
            .replace("{{PAGE_DATA}}", payload))


def _html_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _base64(data):
    import base64

    return base64.b64encode(data).decode("ascii")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# === Scoring ===

def answer_files(paths):
    """The answers files `paths` name: files as given, folders as their `*.json` files."""
    files = []
    for path in paths:
        path = os.path.abspath(os.path.expanduser(path))
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "*.json")))
            if not found:
                raise UserError(f"--human_results: the folder {path} has no .json answers "
                                "files. Pass the files the raters downloaded from the page.")
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise UserError(f"--human_results: {path} does not exist. Pass the answers files "
                            "(or a folder of them) the raters downloaded from the page.")
    if not files:
        raise UserError("--human_results needs at least one answers file.")
    return files


def _keys(run_dir):
    """`{page_id: (key, folder)}` of every page made for `run_dir` (both checkpoints)."""
    keys = {}
    for checkpoint in runs.CHECKPOINTS:
        pattern = os.path.join(human_dir(run_dir, checkpoint), "page-*", KEY_FILE)
        for path in sorted(glob.glob(pattern)):
            try:
                with open(path, encoding="utf-8") as stream:
                    key = json.load(stream)
            except (OSError, ValueError) as error:
                raise UserError(f"Cannot read the answer key {path}: {error}. It is written "
                                "by `evaluate --human`; make the page again.") from None
            if key.get("format") == KEY_FORMAT:
                keys[key["page_id"]] = (key, os.path.dirname(path))
    return keys


def read_answers(path, keys, run_dir):
    """One rater's answers file, checked against its page's key; returns `(answers, key)`."""
    name = os.path.basename(path)
    try:
        # utf-8-sig: a file pasted into an editor that saves a byte-order mark still reads.
        with open(path, encoding="utf-8-sig") as stream:
            record = json.load(stream)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path} is not an answers file: it does not read as JSON ({error}). "
                        "Pass the file the page downloaded, unchanged.") from None
    if not isinstance(record, dict) or record.get("format") != ANSWERS_FORMAT:
        raise UserError(f"{path} is not an answers file of a gan_tf human-evaluation page "
                        f"(expected \"format\": \"{ANSWERS_FORMAT}\"). Pass the file the page "
                        "downloaded.")
    page_id = record.get("page_id")
    if not isinstance(page_id, str) or page_id not in keys:
        pages = ", ".join(sorted(keys)) or "none"
        raise UserError(f"{name} answers page {page_id!r}, which was not made for {run_dir} "
                        f"(its pages: {pages}). Pass the run the page was made for with "
                        "--run_dir.")
    key = keys[page_id][0]
    answers = record.get("answers")
    rater = record.get("rater", "")
    if not isinstance(answers, list) or not isinstance(rater, str) or not all(
            isinstance(a, dict) and isinstance(a.get("item"), int)
            and a.get("answer") in ANSWERS for a in answers):
        raise UserError(f"{name} is damaged: its answers are not a list of items answered "
                        "'real' or 'generated'. Ask the rater for the file the page "
                        "downloaded, unchanged.")
    try:
        expected = answers_checksum(page_id, key["salt"], rater, answers)
    except UnicodeEncodeError:  # a lone surrogate in the name: the browser wrote U+FFFD
        expected = None
    if record.get("checksum") != expected:
        raise UserError(f"{name} was changed after the page wrote it (its checksum does not "
                        "match its answers). Ask the rater for the downloaded file as it was.")
    total = len(key["items"])
    items = [answer["item"] for answer in answers]
    if sorted(set(items)) != sorted(items) or any(not 0 <= item < total for item in items):
        raise UserError(f"{name} is damaged: it answers items that are not on the page, or one "
                        "item twice. Ask the rater for the downloaded file as it was.")
    if len(items) < total:
        raise UserError(f"{name} has {len(items)} of {total} answers: the rater stopped "
                        "early. The page keeps their progress in their browser; ask them to "
                        "open it again, finish, and download the answers again.")
    return dict(record, answers=answers), key


def score_answers(run_dir, paths, output_dir=None):
    """Scores the answers files `paths` (files or folders) of `run_dir`'s pages.

    Writes report.json into `human_dir(run_dir)` (or `output_dir`) and returns
    `(report, output_dir)`.

    Raises:
        UserError: a file that is not a complete, unchanged answers file of one of this run's
            pages; the same file twice; pages of different checkpoints.
    """
    run_dir = os.path.abspath(run_dir)
    runs.read_run_config(run_dir)
    keys = _keys(run_dir)
    if not keys:
        raise UserError(f"{run_dir} has no human-evaluation page yet. Make one with "
                        f"`python -m gan_tf.evaluate --run_dir={run_dir} --human`, give it to "
                        "the raters, then score the files they download.")
    raters, seen, used_keys = [], {}, {}
    for path in answer_files(paths):
        record, key = read_answers(path, keys, run_dir)
        # The same download passed twice (by two names or two paths) would count one rater
        # twice; two raters who answered alike are two files with their own start times.
        with open(path, "rb") as stream:
            content = hashlib.sha256(stream.read()).hexdigest()
        if content in seen:
            raise UserError(f"{os.path.basename(path)} and {os.path.basename(seen[content])} "
                            "are the same file: pass each rater's answers once.")
        seen[content] = path
        used_keys[key["page_id"]] = key
        raters.append((path, record, key))
    checkpoints = {key["checkpoint"] for key in used_keys.values()}
    if len(checkpoints) > 1:
        raise UserError("The answers are for pages of different checkpoints "
                        f"({', '.join(sorted(checkpoints))}); score each checkpoint's pages "
                        "on their own.")
    report = _report(run_dir, raters, used_keys)
    output_dir = os.path.abspath(output_dir or human_dir(run_dir, checkpoints.pop()))
    try:
        atomic_write_text(os.path.join(output_dir, REPORT_FILE),
                          json.dumps(report, indent=2) + "\n")
    except OSError as error:
        raise UserError(f"Cannot write {os.path.join(output_dir, REPORT_FILE)}: "
                        f"{error.strerror or error}. Pass --output=DIR.") from None
    return report, output_dir


def _report(run_dir, raters, keys):
    per_rater, groups, by_class = [], [], {}
    totals = {"real": [0, 0], "generated": [0, 0]}  # [mistakes, answers]
    for path, record, key in raters:
        items = key["items"]
        outcomes = []
        mistakes = {"real": 0, "generated": 0}
        for answer in record["answers"]:
            item = items[answer["item"]]
            wrong = int(answer["answer"] != item["truth"])
            outcomes.append(wrong)
            mistakes[item["truth"]] += wrong
            totals[item["truth"]][0] += wrong
            totals[item["truth"]][1] += 1
            # Per class only where both kinds have one (a conditional page): on an
            # unconditional page the generated images have no class to count them in.
            if key.get("conditional") and item.get("label") is not None and key["class_names"]:
                name = key["class_names"][item["label"]]
                entry = by_class.setdefault(name, [0, 0])
                entry[0] += wrong
                entry[1] += 1
        groups.append(outcomes)
        low, high = stats.wilson_interval(sum(outcomes), len(outcomes))
        per_rater.append({
            "file": path, "rater": record.get("rater") or "(unnamed)",
            "page_id": key["page_id"], "answers": len(outcomes),
            "error_rate": sum(outcomes) / len(outcomes), "ci95": [low, high],
            "generated_taken_for_real": mistakes["generated"] / key["num_generated"],
            "real_taken_for_generated": mistakes["real"] / key["num_real"],
            "seconds": _seconds(record),
        })
    answered = sum(len(group) for group in groups)
    errors = sum(sum(group) for group in groups)
    low, high = stats.clustered_bootstrap_interval(groups)
    first = next(iter(keys.values()))
    report = {
        "run_dir": run_dir, "dataset": first["dataset"], "checkpoint": first["checkpoint"],
        "pages": sorted(keys), "real_images_from": sorted({k["real_images_from"]
                                                          for k in keys.values()}),
        "raters": len(raters), "answers": answered,
        "error_rate": errors / answered, "ci95": [low, high],
        "ci_method": "bootstrap over raters, then over each drawn rater's answers (2,000 "
                     "repeats, seed 0)",
        "generated_taken_for_real": totals["generated"][0] / totals["generated"][1],
        "real_taken_for_generated": totals["real"][0] / totals["real"][1],
        "per_rater": per_rater,
        "per_class": {name: {"error_rate": wrong / count, "answers": count}
                      for name, (wrong, count) in sorted(by_class.items())},
    }
    report["verdict"] = verdict(report)
    return report


def _seconds(record):
    times = [answer.get("ms") for answer in record["answers"]]
    if all(isinstance(ms, (int, float)) for ms in times):
        return round(sum(times) / 1000.0, 1)
    return None


def verdict(report):
    """One plain line: what the error rate says."""
    rate, (low, high) = report["error_rate"], report["ci95"]
    span = f"error rate {rate:.0%}, 95% CI {low:.0%} to {high:.0%}; 50% = indistinguishable"
    if high < 0.5:
        meaning = "people tell the generated images from real ones"
    elif low > 0.5:
        meaning = ("people took generated images for real more often than real ones: the "
                   "generated images look more typical than the real data")
    else:
        meaning = "people could not tell the generated images from real ones"
    raters = f"{report['raters']} rater{'s' if report['raters'] != 1 else ''}"
    return f"{meaning} ({span}), over {raters} and {report['answers']} answers."


def summary_lines(report):
    """The report as printable lines."""
    lines = [f"Human evaluation of {report['run_dir']} ({report['checkpoint']} checkpoint): "
             f"{report['raters']} rater(s), {report['answers']} answers.",
             f"  error rate {report['error_rate']:.1%} (95% CI {report['ci95'][0]:.1%} to "
             f"{report['ci95'][1]:.1%}); generated taken for real "
             f"{report['generated_taken_for_real']:.1%}, real taken for generated "
             f"{report['real_taken_for_generated']:.1%}"]
    for rater in report["per_rater"]:
        lines.append(f"  {rater['rater']}: {rater['error_rate']:.1%} of {rater['answers']} "
                     f"(95% CI {rater['ci95'][0]:.1%} to {rater['ci95'][1]:.1%})")
    if report["per_class"]:
        lines.append("  per class: " + ", ".join(
            f"{name} {entry['error_rate']:.0%}" for name, entry in report["per_class"].items()))
    lines.append(report["verdict"][0].upper() + report["verdict"][1:])
    return lines
