"""Human evaluation: the page, its key, the answers files and their score (gan_tf.human)."""

import base64
import io
import json
import os
import re
import shutil

import numpy as np
import pytest

from gan_tf import human, runs, stats
from conftest import run_python, run_python_together, trained_run_copy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium's flags for a closed network (FINDINGS / env notes): no background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def held_out_run(tmp_path_factory):
    """A conditional MLP run on 200 digits with 20% of each class held out; 2 epochs (a copy
    of the session's run, which test_downstream also uses)."""
    return trained_run_copy(tmp_path_factory, tmp_path_factory.mktemp("human"),
                            conditional=True, holdout=0.2, max_examples=200,
                            batch_size=50).output_dir


@pytest.fixture(scope="module")
def page(held_out_run):
    """A 20-image page of that run: `(key, folder, html)`."""
    key, folder = human.make_page(held_out_run, human.PageOptions(num_images=20, seed=3))
    with open(os.path.join(folder, human.PAGE_FILE), encoding="utf-8") as stream:
        return key, folder, stream.read()


def page_data(html):
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html,
                      re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def answers_record(key, choose, rater="tester"):
    """An answers file as the page writes it, answering item `i` with `choose(item)`."""
    answers = [{"item": item["item"], "answer": choose(item), "ms": 800}
               for item in key["items"]]
    return {"format": human.ANSWERS_FORMAT, "version": 1, "page_id": key["page_id"],
            "rater": rater, "answers": answers,
            "checksum": human.answers_checksum(key["page_id"], key["salt"], rater, answers)}


def write_json(path, record):
    path.write_text(json.dumps(record))
    return str(path)


def flip(truth):
    return "real" if truth == "generated" else "generated"


# === Statistics ===

def test_wilson_interval_matches_hand_computed_values():
    # z = 1.959964, z^2 = 3.841459. 5 of 10: centre 0.5, half-width
    # z sqrt(2.5 + 0.960365) / 13.841459 = 0.263407. 0 of 10: centre = half = 0.138766.
    low, high = stats.wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.236593, 0.763407), abs=2e-6)
    low, high = stats.wilson_interval(0, 10)
    assert (low, high) == pytest.approx((0.0, 0.277533), abs=2e-6)
    assert stats.wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        stats.wilson_interval(11, 10)


def test_the_clustered_bootstrap_widens_when_raters_disagree():
    agree = [[1] * 30 + [0] * 70, [1] * 30 + [0] * 70]
    disagree = [[1] * 5 + [0] * 95, [1] * 55 + [0] * 45]
    low, high = stats.clustered_bootstrap_interval(agree)
    assert low < 0.3 < high
    # One group: about the binomial interval (Wilson for 60 of 200: 0.241 to 0.366).
    assert (low, high) == pytest.approx((0.24, 0.365), abs=0.02)
    wide_low, wide_high = stats.clustered_bootstrap_interval(disagree)
    assert wide_high - wide_low > 1.5 * (high - low)  # same pooled rate, raters differ
    assert stats.clustered_bootstrap_interval(agree) == (low, high)  # seeded


# === The page and its key ===

def test_the_page_holds_no_answer_key_and_no_external_reference(page):
    key, folder, html = page
    data = page_data(html)
    truths = [int(item["truth"] == "generated") for item in key["items"]]
    # The truth is in the page only encrypted with the unlock code, which is not.
    assert key["unlock_code"] not in html
    assert human.decrypt_truths(data["truths"], key["unlock_code"], key["page_id"]) == truths
    assert human.decrypt_truths(data["truths"], "0" * 32, key["page_id"]) != truths
    assert bytes.fromhex(data["truths"]) != bytes(truths)
    assert not re.search(r'"(real|generated)"\s*:', html.split('id="page-data"')[1])
    assert '"truth"' not in html and '"label"' not in html
    # No network: every src/href is a data: URI or a page anchor; nothing loads from outside.
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.replace(
        "http-equiv", ""), re.I)
    for attribute in re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html):
        assert attribute.startswith(("data:", "#")), attribute
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any other load
    assert key["page_sha256"] and os.path.isfile(os.path.join(folder, human.KEY_FILE))


def test_the_page_shows_held_out_real_images_and_balanced_generated_ones(page, held_out_run):
    key, _, html = page
    record = runs.read_holdout(held_out_run)
    real = [item for item in key["items"] if item["truth"] == "real"]
    generated = [item for item in key["items"] if item["truth"] == "generated"]
    assert len(real) == len(generated) == 10
    assert {item["index"] for item in real} <= set(record["held_out"])
    assert sorted(item["label"] for item in real) == sorted(list(range(10)))  # one a class
    assert sorted(item["label"] for item in generated) == list(range(10))
    assert [item["item"] for item in key["items"]] == list(range(20))
    assert [item["truth"] for item in key["items"]] != ["real"] * 10 + ["generated"] * 10
    assert key["real_images_from"] == "held_out" and key["conditional"]
    # 28 px digits are shown at 280 px, sharp; each image is a PNG the size of the data.
    data = page_data(html)
    assert (data["width"], data["height"], data["pixelated"]) == (280, 280, True)
    from PIL import Image

    first = Image.open(io.BytesIO(base64.b64decode(data["images"][0].split(",", 1)[1])))
    assert first.size == (28, 28)


def test_the_seed_picks_the_images_but_not_their_order(held_out_run, page):
    """With a seeded order, a rater could replay the shuffle from the public data and read
    the truth off it; the order is random, the images are the seed's."""
    key, _, html = page
    again, folder = human.make_page(held_out_run, human.PageOptions(num_images=20, seed=3))
    try:
        def shown(record):
            return sorted((item["truth"], item["index"], item["label"])
                          for item in record["items"])

        assert shown(again) == shown(key)
        assert [item["truth"] for item in again["items"]] != [
            item["truth"] for item in key["items"]]  # 1 in 184,756 to fail by chance
        with open(os.path.join(folder, human.PAGE_FILE), encoding="utf-8") as stream:
            assert sorted(page_data(stream.read())["images"]) == sorted(
                page_data(html)["images"])
        assert again["page_id"] != key["page_id"] and again["unlock_code"] != key["unlock_code"]
    finally:
        shutil.rmtree(folder)


def test_every_image_has_the_same_size_in_the_page(page):
    """Real digits compress far better than generated ones; padded, sizes tell nothing."""
    from PIL import Image

    _, _, html = page
    images = page_data(html)["images"]
    assert len({len(image) for image in images}) == 1
    for image in images:
        decoded = Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1])))
        decoded.load()  # the padding chunk is valid PNG: it decodes
        assert decoded.size == (28, 28)


def test_bad_page_options_are_refused():
    for value in (7, 0, 1002):
        with pytest.raises(human.UserError, match=f"Received: human_images={value}"):
            human.PageOptions(num_images=value).validate()


# === Scoring ===

def test_answers_are_scored_against_the_key_per_rater_and_per_class(page, held_out_run,
                                                                    tmp_path):
    key, _, _ = page
    # Rater A is fooled by every generated image; rater B gets everything right.
    fooled = answers_record(key, lambda item: "real", rater="A")
    perfect = answers_record(key, lambda item: item["truth"], rater="B")
    files = [write_json(tmp_path / "a.json", fooled), write_json(tmp_path / "b.json", perfect)]
    report, output_dir = human.score_answers(held_out_run, files, tmp_path / "out")
    assert report["raters"] == 2 and report["answers"] == 40
    assert report["error_rate"] == pytest.approx(10 / 40)
    assert report["generated_taken_for_real"] == pytest.approx(0.5)
    assert report["real_taken_for_generated"] == 0.0
    assert [rater["error_rate"] for rater in report["per_rater"]] == [0.5, 0.0]
    assert report["ci95"][0] <= 0.25 <= report["ci95"][1]
    # Each class has one real and one generated image per rater: A misses the generated one.
    assert set(report["per_class"]) == {str(digit) for digit in range(10)}
    assert all(entry == {"error_rate": 0.25, "answers": 4}
               for entry in report["per_class"].values())
    assert "2 raters and 40 answers" in report["verdict"]
    with open(os.path.join(output_dir, human.REPORT_FILE), encoding="utf-8") as stream:
        assert json.load(stream)["error_rate"] == report["error_rate"]
    assert any("error rate 25.0%" in line for line in human.summary_lines(report))


def test_a_folder_of_answers_files_is_read_whole(page, held_out_run, tmp_path):
    key, _, _ = page
    folder = tmp_path / "answers"
    folder.mkdir()
    for name in "xyz":
        write_json(folder / f"{name}.json", answers_record(
            key, lambda item: flip(item["truth"]) if item["item"] < 5 else item["truth"],
            rater=name))
    report, _ = human.score_answers(held_out_run, [str(folder)], tmp_path / "out")
    assert report["raters"] == 3 and report["error_rate"] == pytest.approx(0.25)


@pytest.mark.parametrize("change, message", [
    ("not_json", "does not read as JSON"),
    ("not_answers", "is not an answers file"),
    ("other_page", "which was not made for"),
    ("tampered", "was changed after the page wrote it"),
    ("partial", "has 12 of 20 answers: the rater stopped early"),
    ("unknown_item", "answers items that are not on the page"),
    ("bad_answer", "is damaged"),
])
def test_bad_answers_files_get_one_clear_message_and_no_report(page, held_out_run, tmp_path,
                                                               change, message):
    key, _, _ = page
    record = answers_record(key, lambda item: "real")
    if change == "other_page":
        record["page_id"] = "0123456789ab"
    elif change == "tampered":
        record["answers"][0]["answer"] = "generated"
    elif change == "partial":
        record = dict(record, answers=record["answers"][:12])
        record["checksum"] = human.answers_checksum(key["page_id"], key["salt"], "tester",
                                                    record["answers"])
    elif change == "unknown_item":
        record["answers"][0]["item"] = 99
        record["checksum"] = human.answers_checksum(key["page_id"], key["salt"], "tester",
                                                    record["answers"])
    elif change == "bad_answer":
        record["answers"][0]["answer"] = "maybe"
    elif change == "not_answers":
        record["format"] = "something else"
    path = tmp_path / "answers.json"
    if change == "not_json":
        path.write_text("{ not json")
    else:
        write_json(path, record)
    with pytest.raises(human.UserError, match=message):
        human.score_answers(held_out_run, [str(path)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_same_file_twice_and_a_run_without_pages_are_refused(page, held_out_run, tmp_path,
                                                                 trained_tiny_config):
    key, _, _ = page
    record = answers_record(key, lambda item: "real")
    first = write_json(tmp_path / "one.json", record)
    second = write_json(tmp_path / "copy.json", record)
    with pytest.raises(human.UserError, match="are the same file: pass each rater's answers"):
        human.score_answers(held_out_run, [first, second], tmp_path / "out")
    # Two raters who answered alike (the same name even) are two files, both counted; a file
    # saved with a byte-order mark (an editor's paste) reads.
    twin = write_json(tmp_path / "twin.json", dict(record, started="2026-11-30T10:00:00Z"))
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(
        dict(record, started="2026-11-30T11:00:00Z")).encode())
    report, _ = human.score_answers(held_out_run, [first, twin, str(tmp_path / "bom.json")],
                                    tmp_path / "out")
    assert report["raters"] == 3
    other = trained_tiny_config(root=tmp_path / "other", epochs=1, max_examples=64)
    with pytest.raises(human.UserError, match="has no human-evaluation page yet.*--human"):
        human.score_answers(other.output_dir, [first])
    with pytest.raises(human.UserError, match="which was not made for"):
        human.make_page(other.output_dir, human.PageOptions(num_images=4))
        human.score_answers(other.output_dir, [first])


def test_a_run_without_holdout_shows_training_images_and_warns(trained_tiny_config, tmp_path,
                                                               messages):
    config = trained_tiny_config(epochs=1, max_examples=64)
    key, _ = human.make_page(config.output_dir, human.PageOptions(num_images=8))
    assert key["real_images_from"] == "training" and not key["conditional"]
    assert any("no --holdout" in message for message in messages)
    assert all(item["label"] is None for item in key["items"] if item["truth"] == "generated")
    # Scored, an unconditional page has no per-class rates (its generated images have none).
    answers = write_json(tmp_path / "a.json", answers_record(key, lambda item: "real"))
    report, _ = human.score_answers(config.output_dir, [answers], tmp_path / "out")
    assert report["per_class"] == {} and report["error_rate"] == 0.5
    # More real images than the run has: refused with the number that fits, nothing written.
    before = sorted(os.listdir(human.human_dir(config.output_dir)))
    with pytest.raises(human.UserError, match=r"needs 100 real images but .* only 64 "
                                              r"training images.*--human_images=128 or fewer"):
        human.make_page(config.output_dir, human.PageOptions(num_images=200))
    assert sorted(os.listdir(human.human_dir(config.output_dir))) == before


@pytest.mark.slow
def test_the_cli_makes_a_page_scores_answers_and_refuses_bad_flags(held_out_run, tmp_path):
    result = run_python(["-m", "gan_tf.evaluate", f"--run_dir={held_out_run}", "--human",
                         "--human_images=10", "--seed=5"])
    assert result.returncode == 0, result.stderr
    page_path = re.search(r"Page: (\S+)", result.stdout).group(1)
    code = re.search(r"Unlock code.*: ([0-9a-f]{32})", result.stdout).group(1)
    with open(os.path.join(os.path.dirname(page_path), human.KEY_FILE)) as stream:
        key = json.load(stream)
    assert key["unlock_code"] == code and code not in open(page_path).read()
    answers = write_json(tmp_path / "a.json", answers_record(key, lambda item: "generated"))
    result = run_python(["-m", "gan_tf.evaluate", f"--run_dir={held_out_run}",
                         f"--human_results={answers}", f"--output={tmp_path / 'out'}"])
    assert result.returncode == 0, result.stderr
    assert "error rate 50.0%" in result.stdout and "Report:" in result.stdout
    cases = [(["--human", "--downstream"], "Choose one of"),
             (["--human", "--human_images=7"], "human_images=7"),
             (["--human", "--output=/tmp/x"], "--output would do nothing"),
             ([f"--human_results={tmp_path / 'missing.json'}"], "does not exist")]
    results = run_python_together([  # independent: side by side
        (["-m", "gan_tf.evaluate", f"--run_dir={held_out_run}"] + flags, None)
        for flags, _ in cases])
    for (flags, message), result in zip(cases, results, strict=True):
        assert result.returncode in (1, 2) and message in result.stderr, result.stderr


# === In a real browser ===

@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install "
                                             "chromium; .ci/run installs it)")
@pytest.mark.parametrize("hashing", ["webcrypto", "plain_js"])
def test_a_rater_takes_the_page_in_headless_chromium(page, held_out_run, tmp_path, hashing):
    playwright = pytest.importorskip("playwright.sync_api")
    from PIL import Image

    key, folder, html = page
    data = page_data(html)
    truth = {item["item"]: item["truth"] for item in key["items"]}
    # The rater gets items 0-4 wrong and the rest right.
    intended = {item: flip(truth[item]) if item < 5 else truth[item] for item in truth}
    url = "file://" + os.path.join(folder, human.PAGE_FILE)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True,
                                      viewport={"width": 900, "height": 900})
        if hashing == "plain_js":  # as on a page served over plain HTTP: no crypto.subtle
            context.add_init_script(
                "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined});")
        tab = context.new_page()
        requests = []
        tab.on("request", lambda request: requests.append(request.url))
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(url)
        tab.fill("#rater", "Ada")
        tab.click("#start")
        assert tab.inner_text("#progress") == "Image 1 of 20"

        # The screenshot shows the first image, at its display size, and both buttons.
        shot = tab.screenshot(path=str(tmp_path / "page.png"))
        pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), np.float32)
        box = tab.locator("#image").bounding_box()
        assert (round(box["width"]), round(box["height"])) == (280, 280)
        left, top = int(round(box["x"])), int(round(box["y"]))
        shown = pixels[top:top + 280, left:left + 280]
        first = Image.open(io.BytesIO(base64.b64decode(data["images"][0].split(",", 1)[1])))
        expected = np.asarray(first.convert("L").resize((280, 280), Image.NEAREST), np.float32)
        assert np.abs(shown - expected).mean() < 4.0  # the image itself, not a blank box
        for button in ("#answer-real", "#answer-generated"):
            assert tab.locator(button).is_visible()
            area = tab.locator(button).bounding_box()
            assert area["y"] + area["height"] <= 900  # on screen without scrolling
            region = pixels[int(area["y"]):int(area["y"] + area["height"]),
                            int(area["x"]):int(area["x"] + area["width"])]
            assert region.std() > 10  # drawn: a border and its label

        # Keys for the first answers, one wrong answer taken back, then buttons.
        for item in range(3):
            tab.keyboard.press("r" if intended[item] == "real" else "g")
        tab.keyboard.press("g")
        tab.keyboard.press("b")
        assert tab.inner_text("#progress") == "Image 4 of 20"
        # A held key answers once (its repeats are ignored), then is taken back.
        tab.keyboard.down("r")
        tab.keyboard.down("r")
        tab.keyboard.down("r")
        tab.keyboard.up("r")
        assert tab.inner_text("#progress") == "Image 5 of 20"
        tab.keyboard.press("b")
        assert tab.inner_text("#progress") == "Image 4 of 20"
        # Closing and reopening the page keeps the progress: the page keeps it in its
        # localStorage, and a page opened on that storage resumes there. (Not by reloading
        # this tab: Chromium hands a page's writes to its store asynchronously, and under
        # load a reload at once read none of them, once even through 30 s of reloads.)
        storage_key = "gan_tf_human_" + key["page_id"]
        saved = tab.evaluate("key => localStorage.getItem(key)", storage_key)
        assert len(json.loads(saved)["answers"]) == 3
        reopened_context = browser.new_context()
        reopened_context.add_init_script(
            f"localStorage.setItem({json.dumps(storage_key)}, {json.dumps(saved)});")
        reopened = reopened_context.new_page()
        reopened.goto(url)
        assert reopened.inner_text("#progress") == "Image 4 of 20"
        reopened_context.close()
        # A page that loaded before the answers reached its storage shows the start screen;
        # Start then takes the saved answers up instead of overwriting them with none.
        early_context = browser.new_context()
        early = early_context.new_page()
        early.goto(url)
        assert early.is_visible("#start") and early.inner_text("#progress") == ""
        early.evaluate("([key, value]) => localStorage.setItem(key, value)",
                       [storage_key, saved])
        early.click("#start")
        assert early.inner_text("#progress") == "Image 4 of 20"
        early_context.close()
        for item in range(3, 20):
            if item == 19:
                with tab.expect_download() as waiting:
                    tab.click("#answer-" + intended[item])
                    tab.wait_for_function(
                        "document.getElementById('download').download !== ''")
                    tab.click("#download")
            else:
                tab.click("#answer-" + intended[item])
                if item == 3:  # Enter or Space after a click does not answer again
                    tab.keyboard.press("Enter")
                    tab.keyboard.press(" ")
                    assert tab.inner_text("#progress") == "Image 5 of 20"
        answers_path = tmp_path / "downloaded.json"
        waiting.value.save_as(answers_path)
        assert waiting.value.suggested_filename == f"answers-{key['page_id']}-Ada.json"

        # The rater's own score, after the unlock code (a wrong one is refused).
        tab.fill("#code", "not the code")
        tab.click("#unlock")
        tab.wait_for_function("document.getElementById('score').textContent !== ''")
        assert "not this page's unlock code" in tab.inner_text("#score")
        tab.fill("#code", key["unlock_code"])
        tab.click("#unlock")
        tab.wait_for_function("document.getElementById('score').textContent"
                              ".startsWith('Your error rate')")
        score_text = tab.inner_text("#score")
        browser.close()
    assert not errors
    assert all(request.startswith(("file:", "data:", "blob:")) for request in requests)

    record = json.loads(answers_path.read_text())
    assert record["rater"] == "Ada" and len(record["answers"]) == 20
    assert {answer["item"]: answer["answer"] for answer in record["answers"]} == intended
    report, _ = human.score_answers(held_out_run, [str(answers_path)], tmp_path / "out")
    assert report["error_rate"] == pytest.approx(5 / 20)
    low, high = stats.wilson_interval(5, 20)
    assert score_text.startswith(f"Your error rate: 25% (95% CI {round(100 * low)}% to "
                                 f"{round(100 * high)}%)")
