"""The reference FID network (`--extractor=inception`): loading, checksum, feeding, names.

The real `classify_image_graph_def.pb` (95 MB) is never needed: each test builds a small
GraphDef with the reference graph's tensor names and conventions (a JPEG decoder feeding
`Cast` -> `ExpandDims` -> `ResizeBilinear` to 299x299 -> `Sub` 128 -> `Mul` 1/128 -> a tiny
network -> `pool_3` of shape (1, 1, 1, d) -> `pool_3/_reshape` -> `softmax/logits/MatMul` with
1,008 classes -> `softmax/logits` (bias) -> `softmax`), and nothing touches the network.
"""

import hashlib
import json
import os
import tarfile

import numpy as np
import pytest

from gan_tf import data as data_lib
from gan_tf import evaluate_lib, features, names, train_lib
from gan_tf.errors import UserError

NUM_CLASSES = 1008  # the reference graph's softmax (1,000 ImageNet classes and 8 unused)
NUM_FEATURES = 32  # 2,048 in the reference graph; small here


def build_graph(probe=False, seed=0, without=()):
    """A GraphDef with the reference graph's names; `probe`: pool_3 is the mean input pixel."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, shape=[], name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        batch = tf.expand_dims(tf.cast(decoded, tf.float32, name="Cast"), 0, name="ExpandDims")
        # The legacy resize of the 2015 graph: align_corners=False, no half-pixel centres.
        resized = tf.raw_ops.ResizeBilinear(
            images=batch, size=tf.constant([299, 299], name="ResizeBilinear/size"),
            align_corners=False, half_pixel_centers=False, name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1.0 / 128.0, name="Mul")
        if probe:  # what reaches ExpandDims:0, averaged per channel
            pool = tf.reduce_mean(batch, axis=[1, 2], keepdims=True, name="pool_3")
        else:
            small = tf.nn.avg_pool2d(scaled, 13, 13, "VALID", name="shrink")  # 23x23
            kernel = rng.normal(size=(3, 3, 3, NUM_FEATURES)).astype(np.float32)
            conv = tf.nn.relu(tf.nn.conv2d(small, tf.constant(kernel, name="conv/kernel"), 1,
                                           "SAME"), name="conv")
            pool = tf.reduce_mean(conv, axis=[1, 2], keepdims=True,
                                  name="pool_3" if "pool_3" not in without else "pool")
        width = int(pool.shape[-1])
        flat = tf.reshape(pool, [1, width], name="pool_3/_reshape")
        weights = tf.constant(rng.normal(size=(width, NUM_CLASSES)).astype(np.float32) * 0.1,
                              name="softmax/weights")
        biases = tf.constant(rng.normal(size=(NUM_CLASSES,)).astype(np.float32),
                             name="softmax/biases")
        logits = tf.nn.bias_add(tf.matmul(flat, weights, name="softmax/logits/MatMul"), biases,
                                name="softmax/logits")
        tf.nn.softmax(logits, name="softmax")
    return graph.as_graph_def()


def write_graph(path, **options):
    """Writes a test graph to `path`; returns its SHA-256."""
    data = build_graph(**options).SerializeToString()
    with open(path, "wb") as stream:
        stream.write(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """`(path, sha256)` of the small stand-in for classify_image_graph_def.pb."""
    folder = tmp_path_factory.mktemp("reference")
    path = str(folder / names.REFERENCE_INCEPTION_FILE)
    return path, write_graph(path)


@pytest.fixture(scope="module")
def judge(graph):
    return features.ReferenceInception(graph[0], expected_sha256=graph[1])


def ttur_features(path, pixels):
    """pool_3 as TTUR's fid.py computes it: the graph imported in a TF1 session, float pixels
    in [0, 255] fed to ExpandDims:0 (here one image at a time, as improved-gan does)."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    with open(path, "rb") as stream:
        graph_def.ParseFromString(stream.read())
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        tf.compat.v1.import_graph_def(graph_def, name="FID_Inception_Net")
        pool = graph.get_tensor_by_name("FID_Inception_Net/pool_3:0")
        return np.concatenate([session.run(pool, {"FID_Inception_Net/ExpandDims:0":
                                                  pixels[i:i + 1]}).reshape(1, -1)
                               for i in range(len(pixels))])


def test_features_and_probabilities_match_the_reference_code(graph, judge):
    path, sha256 = graph
    images = np.random.default_rng(0).uniform(-1, 1, (5, 28, 28, 1)).astype(np.float32)
    feature_array, probabilities = judge.features_and_probabilities(images, batch_size=2)
    assert feature_array.shape == (5, NUM_FEATURES) and probabilities.shape == (5, NUM_CLASSES)
    assert judge.num_classes == NUM_CLASSES and judge.num_features == NUM_FEATURES
    # TTUR's feeding: the 8-bit pixels of the samples (what their PNG files hold) as float,
    # grey repeated into RGB; batched here, one by one there.
    pixels = np.repeat(np.round((images + 1) * 127.5), 3, axis=-1).astype(np.float32)
    np.testing.assert_allclose(feature_array, ttur_features(path, pixels), rtol=1e-5,
                               atol=1e-5)
    # The Inception Score's softmax: pool_3 @ W of softmax/logits/MatMul, no bias
    # (openai/improved-gan), over all 1,008 classes.
    import tensorflow as tf

    weights = tf.make_ndarray(next(node for node in build_graph().node
                                   if node.name == "softmax/weights").attr["value"].tensor)
    logits = feature_array.astype(np.float64) @ weights
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    described = judge.describe()
    assert described["sha256"] == sha256 and described["name"] == "inception"
    assert judge.metric_names == {"fd": "FID", "kid": "KID", "is": "IS"}
    assert judge.key() == "inception-reference-" + sha256[:12]


def test_pixels_reach_the_graph_in_0_255_at_their_own_size_grey_tiled(tmp_path):
    path = str(tmp_path / "probe.pb")
    probe = features.ReferenceInception(path, expected_sha256=write_graph(path, probe=True))
    grey = np.stack([np.full((20, 12, 1), value, np.float32) for value in (-1.0, 0.0, 1.0)])
    np.testing.assert_allclose(probe.features(grey), [[0] * 3, [128] * 3, [255] * 3])
    colour = np.zeros((1, 9, 9, 3), np.float32)
    colour[..., 0], colour[..., 2] = 1.0, -1.0
    np.testing.assert_allclose(probe.features(colour), [[255, 128, 0]])
    with pytest.raises(UserError, match="1 or 3 channels"):
        probe.features(np.zeros((1, 8, 8, 2), np.float32))


def test_the_pinned_checksum_is_the_default(graph, monkeypatch):
    path, sha256 = graph
    monkeypatch.setattr(names, "REFERENCE_INCEPTION_SHA256", sha256)
    assert features.ReferenceInception(path).sha256 == sha256
    monkeypatch.setattr(names, "REFERENCE_INCEPTION_SHA256", "0" * 64)
    with pytest.raises(UserError, match=f"its SHA-256 is {sha256}, expected {'0' * 64}"):
        features.ReferenceInception(path)


def test_a_wrong_file_is_refused_in_one_line_naming_both_checksums(graph):
    path, sha256 = graph
    with pytest.raises(UserError) as error:
        features.ReferenceInception(path, expected_sha256="ab" * 32)
    message = str(error.value)
    assert "\n" not in message and path in message
    assert f"its SHA-256 is {sha256}, expected {'ab' * 32}" in message
    assert names.REFERENCE_INCEPTION_URL in message


def test_while_no_checksum_is_pinned_the_user_must_state_one(graph, monkeypatch):
    path, sha256 = graph
    assert names.REFERENCE_INCEPTION_SHA256 is None  # see BUILD_NOTES: none is published
    with pytest.raises(UserError, match=f"{os.path.getsize(path):,} bytes, where "
                                        f"{names.REFERENCE_INCEPTION_FILE} has 95,673,916"):
        features.ReferenceInception(path)
    monkeypatch.setattr(names, "REFERENCE_INCEPTION_SIZE", os.path.getsize(path))
    with pytest.raises(UserError, match=f"pins no SHA-256.*pass --inception_sha256={sha256}"):
        features.ReferenceInception(path)


def test_a_missing_file_says_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_TF_CACHE", str(tmp_path / "cache"))
    default = tmp_path / "cache" / names.REFERENCE_INCEPTION_FILE
    for path in (None, str(tmp_path / "missing.pb")):
        with pytest.raises(UserError) as error:
            features.get_extractor("inception", inception_weights=path,
                                   inception_sha256="0" * 64)
        message = str(error.value)
        assert "\n" not in message and f"is not at {path or default}" in message
        assert names.REFERENCE_INCEPTION_URL in message and str(default) in message


def test_the_graph_is_read_from_the_archive_too(graph, tmp_path):
    path, sha256 = graph
    archive = str(tmp_path / "inception-2015-12-05.tgz")
    with tarfile.open(archive, "w:gz") as stream:
        stream.add(path, arcname=names.REFERENCE_INCEPTION_FILE)
    assert features.ReferenceInception(archive, expected_sha256=sha256).sha256 == sha256
    empty = str(tmp_path / "empty.tgz")
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(UserError, match=f"holds no {names.REFERENCE_INCEPTION_FILE}"):
        features.ReferenceInception(empty, expected_sha256=sha256)
    (tmp_path / "broken.tgz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="Cannot read .* as a .tgz archive"):
        features.ReferenceInception(str(tmp_path / "broken.tgz"), expected_sha256=sha256)


def test_files_that_are_not_the_graph_are_refused(tmp_path):
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(UserError, match="is not a TensorFlow GraphDef"):
        features.ReferenceInception(str(garbage),
                                    expected_sha256=hashlib.sha256(b"\xff" * 64).hexdigest())
    other = str(tmp_path / "other.pb")
    with pytest.raises(UserError, match="has no pool_3"):
        features.ReferenceInception(other, expected_sha256=write_graph(other,
                                                                       without=("pool_3",)))


class NamedStub(features.Extractor):
    """An extractor of a given name: 4 pixel features and, optionally, 3 class probabilities."""

    def __init__(self, name, weights=None):
        self.name, self.weights = name, weights
        self.num_classes = None

    def _call(self, batch):
        import tensorflow as tf

        flat = tf.reshape(tf.nn.avg_pool2d(batch, 14, 14, "VALID"), [tf.shape(batch)[0], -1])
        return flat, tf.nn.softmax(flat[:, :3])


@pytest.mark.parametrize("extractor, fd, kid, score_key, score", [
    (NamedStub("inception"), "FID", "KID", "inception_score", "IS"),
    (NamedStub("keras_inception"), "FD (Keras InceptionV3 features)",
     "KD (Keras InceptionV3 features)", "keras_inception_score",
     "Inception-v3 score (Keras weights)"),
    (NamedStub("classifier"), "FD (classifier features)", "KD (classifier features)",
     "classifier_score", "Classifier score"),
])
def test_each_judge_names_its_scores_in_the_report_and_its_text(extractor, fd, kid, score_key,
                                                                score):
    rng = np.random.default_rng(0)
    real_images = rng.uniform(-1, 1, (120, 28, 28, 1)).astype(np.float32)
    real_features, real_probabilities = extractor.features_and_probabilities(real_images)
    real = {"features": real_features, "probabilities": real_probabilities, "labels": None,
            "indices": np.arange(120)}
    report = evaluate_lib.score_samples(extractor, real, real_images[:60] * 0.5)
    assert report["metric_names"] == {"fd": fd, "kid": kid, "is": score}
    assert report["frechet_distance"]["name"] == fd and report["kid"]["name"] == kid
    assert report[score_key]["name"] == score
    others = set(evaluate_lib.SCORE_KEYS.values()) - {score_key}
    assert not others & set(report)  # e.g. no "inception_score" from Keras weights
    report["extractor"] = extractor.describe()
    text = "\n".join(evaluate_lib.summary_lines(report))
    assert f"{fd}: " in text and f"{kid}: " in text and f"{score}: " in text
    assert ("not comparable with published FID" in text) == (fd != "FID")
    if fd != "FID":
        assert "FID:" not in text and "KID:" not in text and "IS:" not in text


def test_evaluate_with_the_reference_graph_writes_fid_kid_is(graph, tmp_path):
    from test_evaluate import StubSampler

    path, sha256 = graph
    digits = data_lib.subset(data_lib.load_embedded_mnist(), 200)
    fake = np.asarray(data_lib.to_float(digits.images[:50]))
    report = evaluate_lib.evaluate(StubSampler(fake), digits, output_dir=str(tmp_path / "out"),
                                   extractor="inception", num_samples=100, cache=tmp_path,
                                   inception_weights=path, inception_sha256=sha256)
    saved = json.loads((tmp_path / "out" / evaluate_lib.REPORT_FILE).read_text())
    assert saved["metric_names"] == {"fd": "FID", "kid": "KID", "is": "IS"}
    assert saved["extractor"]["sha256"] == sha256 and saved["extractor"]["name"] == "inception"
    assert saved["frechet_distance"]["name"] == "FID" and saved["kid"]["name"] == "KID"
    assert saved["inception_score"]["name"] == "IS"
    assert saved["inception_score"]["num_splits"] == 10  # 100 samples, 10 splits of 10
    assert saved["frechet_distance"]["value"] == report["frechet_distance"]["value"]
    assert "class_coverage" not in saved  # 1,008 ImageNet classes say nothing of digits
    lines = evaluate_lib.summary_lines(saved)
    assert lines[0] == f"Judge: inception (the reference FID graph, SHA-256 {sha256})"
    assert lines[1].startswith("FID: ") and lines[2].startswith("KID: ")


@pytest.mark.slow
def test_a_run_scored_by_the_reference_graph_logs_fid_and_kid(graph, make_tiny_config,
                                                               messages, monkeypatch, tmp_path):
    path, sha256 = graph
    monkeypatch.setenv("GAN_TF_CACHE", str(tmp_path / "cache"))
    config = make_tiny_config(epochs=1, eval_every_n_epochs=1, eval_num_samples=50,
                              extractor="inception", inception_weights=path,
                              inception_sha256=sha256)
    train_lib.train(config, verbose=0)
    logged = [m for m in messages if "sample quality" in m]
    assert len(logged) == 1 and "judge: inception" in logged[0]
    assert ": FID " in logged[0] and ", KID " in logged[0] and "FD (" not in logged[0]
    record = json.loads(open(os.path.join(config.output_dir, "metrics.jsonl")).readline())
    assert record["fd"] >= 0 and "kid" in record  # the keys stay fd and kid
    best = json.loads(open(os.path.join(config.output_dir, train_lib.BEST_DIR,
                                        "best.json")).read())
    assert best["metric_names"]["fd"] == "FID" and best["metric_names"]["kid"] == "KID"
    from gan_tf import runs

    saved, _ = runs.read_run_config(config.output_dir)  # what names the curves of scores.png
    assert saved.extractor == "inception" and saved.inception_sha256 == sha256
