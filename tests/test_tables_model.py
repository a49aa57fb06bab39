"""Tests for gan_tf/tables/networks.py and model.py: CTGAN's networks and objective."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from gan_tf.errors import UserError
from gan_tf.tables import model as model_lib
from gan_tf.tables import networks
from gan_tf.tables import schema as schema_lib
from gan_tf.tables import transformer as transformer_lib
from test_tables_schema import mixed_frame

SMALL = dict(latent_dim=8, generator_dims=(16, 16), critic_dims=(16, 16))


@pytest.fixture(scope="module")
def table():
    frame = mixed_frame(300)
    schema = schema_lib.infer_schema(frame, target="label")
    transformer = transformer_lib.TableTransformer(schema).fit(frame)
    return frame, transformer, transformer.transform(frame)


def make_gan(table, seed=0):
    _, transformer, rows = table
    gan = model_lib.TableGAN.build(transformer, rows, seed=seed, **SMALL)
    gan.compile()
    return gan


def test_generator_is_residual_and_critic_packs():
    generator = networks.TableGenerator(data_dim=7, condition_dim=3, latent_dim=5,
                                        hidden_dims=(4, 6))
    assert generator([tf.zeros((2, 5)), tf.zeros((2, 3))]).shape == (2, 7)
    # h0 (8) -> h1 = h0 (+) 4 -> h2 = h1 (+) 6: the output layer sees 18 features.
    assert generator.get_layer("outputs").kernel.shape == (18, 7)
    critic = networks.TableCritic(data_dim=7, condition_dim=3, pac=5, hidden_dims=(4,))
    assert critic([tf.zeros((20, 7)), tf.zeros((20, 3))]).shape == (4, 1)
    assert critic.get_layer("dense0").kernel.shape == (5 * 10, 4)
    for model in (generator, critic):
        clone = type(model).from_config(model.get_config())
        assert clone.get_config() == model.get_config()
    with pytest.raises(UserError, match="hidden_dims"):
        networks.TableGenerator(data_dim=7, hidden_dims=())


def test_activate_tanh_and_gumbel_softmax():
    spans = (transformer_lib.Span("a", "value", 0, 1, "tanh"),
             transformer_lib.Span("b", "category", 1, 3, "softmax"))
    outputs = tf.constant([[0.5, 10.0, 0.0, -10.0]])
    plain = networks.activate(outputs, spans).numpy()
    assert plain[0, 0] == pytest.approx(np.tanh(0.5))
    np.testing.assert_allclose(plain[0, 1:], [1.0, 0.0, 0.0], atol=1e-6)
    # Hard samples follow the softmax: logits (log 0.7, log 0.3) -> about 70% first.
    logits = tf.math.log(tf.constant([[0.0, 0.7, 0.3, 1e-9]]) + 1e-30)
    logits = tf.tile(logits, [4000, 1])
    uniforms = tf.random.stateless_uniform([4000, 4], seed=[1, 2])
    hard = networks.activate(logits, spans, uniforms, hard=True).numpy()
    assert set(np.unique(hard[:, 1:])) == {0.0, 1.0} and np.all(hard[:, 1:].sum(1) == 1)
    assert hard[:, 1].mean() == pytest.approx(0.7, abs=0.03)


def test_packed_gradient_penalty_matches_hand_computation():
    weights = tf.constant([[3.0], [4.0]])  # a linear critic on packs of 2 one-entry rows

    def critic(rows):
        return tf.reshape(rows, [-1, 2]) @ weights

    real, fake = tf.zeros((4, 1)), tf.ones((4, 1))
    penalty = model_lib.packed_gradient_penalty(critic, real, fake, tf.constant([0.2, 0.7]), 2)
    assert float(penalty) == pytest.approx((5.0 - 1.0) ** 2)


def test_option_probabilities_are_log_frequency_per_column():
    log_p = model_lib.option_log_probabilities([9, 0, 99, 1], [2, 2])
    p = np.exp(log_p)
    assert p.sum() == pytest.approx(1.0)
    assert p[1] == 0.0
    assert p[2] / p[3] == pytest.approx(np.log(100) / np.log(2), rel=1e-5)
    plain = np.exp(model_lib.option_log_probabilities([9, 0, 99, 1], [2, 2],
                                                      log_frequency=False))
    np.testing.assert_allclose(plain, [0.5, 0.0, 0.495, 0.005], rtol=1e-6)


def test_training_by_sampling_draws_rows_that_match_the_condition(table):
    _, transformer, rows = table
    gan = make_gan(table)
    conditions, real = gan._real_batch(400, 3)
    conditions, real = conditions.numpy(), real.numpy()
    spans, _ = gan.condition_positions()
    entries = conditions @ gan.condition_positions()[1]
    # The real row has the conditioned category: its entry is 1 where the condition is.
    assert np.all((real * entries).sum(axis=1) == 1.0)
    assert np.all(conditions.sum(axis=1) == 1.0)
    # Every real row drawn is a training row.
    assert all((rows == row).all(axis=1).any() for row in real[:50])
    assert not np.array_equal(gan._real_batch(400, 4)[1].numpy(), real)


@pytest.mark.slow
def test_same_seed_same_training_and_rows(table):
    histories, samples, weights = [], [], []
    for _ in range(2):
        gan = make_gan(table, seed=3)
        history = gan.fit(gan.step_dataset(100, steps=2), epochs=2, verbose=0, shuffle=False)
        histories.append(history.history)
        samples.append(gan.sample(50, seed=4))
        weights.append([w.numpy() for w in gan.generator.weights])
    assert histories[0] == histories[1]
    assert np.array_equal(samples[0], samples[1])
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
    assert set(histories[0]) >= {"d_loss", "g_loss", "gradient_penalty", "condition_loss"}
    assert all(np.isfinite(v).all() for v in histories[0].values())


def test_conditional_sampling_is_exact_and_balanced_options(table):
    _, transformer, _ = table
    gan = make_gan(table)
    pune = transformer.condition_index("city", "Pune")
    frame = gan.sample_frame(60, seed=1, options=pune)
    assert (frame["city"] == "Pune").all()
    labels = [transformer.condition_index("label", v) for v in (0, 1)]
    frame = gan.sample_frame(60, seed=1, options=labels * 30)
    assert frame["label"].tolist() == [0, 1] * 30
    unconditional = gan.sample_frame(60, seed=1)
    assert list(unconditional.columns) == list(transformer.schema.names)
    assert dict(unconditional.dtypes) == dict(table[0].dtypes)


def test_config_round_trip_and_checkpoint_items(table):
    gan = make_gan(table)
    clone = model_lib.TableGAN.from_config(gan.get_config())
    assert clone.condition_counts == gan.condition_counts
    assert clone.transformer.spans == gan.transformer.spans
    clone.set_weights(gan.get_weights())
    assert np.array_equal(clone.sample(20, seed=2), gan.sample(20, seed=2))
    items = gan.checkpoint_items()
    assert len(items["critic_random_state"]) == 2
    with pytest.raises(UserError, match="multiple of pac=10"):
        gan.step_dataset(55)
    with pytest.raises(UserError, match="no training rows"):
        clone.step_dataset(100)
    with pytest.raises(UserError, match="category counts differ"):
        clone.set_training_rows(table[2][:100])
    assert isinstance(keras.saving.get_registered_object("gan_tf>TableGAN"), type)


def test_networks_for_other_rows_are_refused_at_construction(table):
    _, transformer, rows = table
    gan = make_gan(table)
    other = networks.TableCritic(data_dim=transformer.output_dim + 1,
                                 condition_dim=transformer.condition_dim, pac=10,
                                 hidden_dims=(4,))
    with pytest.raises(UserError, match=f"rows {transformer.output_dim} wide"):
        model_lib.TableGAN(gan.generator, other, transformer.to_json(), gan.condition_counts)
    # The image GAN's convention (one latents input, or latents and labels) does not apply:
    # the generator's two inputs are latents and the conditional vector.
    assert len(gan.generator.inputs) == 2 and not gan.num_classes
