import json

import pytest

from gan_tf import config as config_lib
from gan_tf.config import TrainConfig
from gan_tf.errors import UserError


def test_defaults_are_the_documented_run():
    config = TrainConfig()
    assert (config.dataset, config.architecture, config.loss) == (
        "embedded_mnist", "dcgan", "non_saturating")
    assert config.epochs == 50
    assert (config.generator_learning_rate, config.beta_1) == (2e-4, 0.5)


def test_every_field_has_help_text():
    import dataclasses

    for field in dataclasses.fields(TrainConfig):
        assert field.metadata.get("help"), field.name


@pytest.mark.parametrize("field, value, expected", [
    ("epochs", 0, "epochs=0"),
    ("batch_size", -4, "batch_size=-4"),
    ("loss", "wasserstein_typo", "'minimax', 'non_saturating'"),
    ("architecture", "vit", "'mlp', 'dcgan', 'resnet'"),
    ("generator_learning_rate", 0.0, "between 0 and 1"),
    ("beta_1", 1.0, "[0, 1)"),
    ("seed", -1, "seed=-1"),
    ("max_examples", 0, "positive integer"),
    ("dataset", "folder:", "folder:PATH"),
    ("epochs", True, "positive integer"),
    ("ema_decay", 1.0, "between 0 and 1"),
    ("gradient_penalty", -2.0, ">= 0"),
    ("discriminator_steps", 0, "positive integer"),
    ("ada_target", 1.5, "between 0 and 1"),
    ("ada_ramp_images", 0, "positive integer"),
    ("eval_num_samples", 10, "at least 50"),
    ("precision", "float8", "'float32', 'mixed_float16'"),
    ("extractor", "clip", "'classifier', 'inception', 'keras_inception'"),
    ("dataset", "array:", "'array:PATH' with the path of a .npz"),
    ("dataset", "array:images.txt", "a .npz file"),
    ("dataset", "/home/me/images", "'folder:PATH' for an image folder"),
    ("dataset", "images.npz", "'array:PATH' for a .npz or .npy file"),
    ("dataset", "Folder:/x", "lower-case prefix"),
    ("dataset", "npz:/x/data.npz", "lower-case prefix"),
    ("dataset", "  ", "a tensorflow-datasets name"),
    ("image_size", 100_000, "from 1 to 1024"),
    ("output_dir", "", "a path (leave the flag out"),
    ("data_dir", " ", "a path"),
    ("inception_weights", "", "a path"),
    ("tensorboard", "no", "True or False"),
    ("download", 0, "True or False"),
    ("generator_learning_rate", float("nan"), "between 0 and 1"),
    ("discriminator_learning_rate", float("inf"), "between 0 and 1"),
    ("r1_penalty", float("nan"), ">= 0"),
    ("mode_seeking", -1.0, ">= 0"),
    ("beta_2", float("nan"), "[0, 1)"),
    ("seed", 2**31, "[0, 2**31)"),
    ("optimizer", "sgd", "'adam', 'rmsprop'"),
    ("generator_optimizer", "Adam", "'adam', 'rmsprop'"),
    ("discriminator_optimizer", "", "'adam', 'rmsprop'"),
    ("rho", 1.0, "[0, 1)"),
    ("momentum", -0.1, "[0, 1)"),
    ("latent_distribution", "gaussian", "'normal', 'uniform'"),
    ("generator_activation", "elu", "'relu', 'leaky_relu', 'prelu'"),
    ("discriminator_activation", "relu", "'leaky_relu', 'prelu'"),
    ("negative_slope", 1.0, "[0, 1)"),
    ("negative_slope", float("nan"), "[0, 1)"),
])
def test_invalid_values_name_argument_value_and_expectation(field, value, expected):
    with pytest.raises(UserError) as error:
        TrainConfig(**{field: value, **({"augment": "ada"} if field.startswith("ada") else {})})
    message = str(error.value)
    assert f"argument {field}" in message and expected in message


def test_json_round_trip():
    config = TrainConfig(architecture="mlp", epochs=3, image_size=32, output_dir="/tmp/x")
    assert TrainConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["image_size"] == 32


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(UserError, match="learning_rat"):
        TrainConfig.from_dict({"learning_rat": 1})


def test_differences_ignore_resumable_fields():
    base = TrainConfig(epochs=10, output_dir="/a")
    assert base.differences(TrainConfig(epochs=20, output_dir="/b", tensorboard=True)) == {}
    assert base.differences(TrainConfig(epochs=10, latent_dim=64)) == {"latent_dim": (100, 64)}


def test_default_output_dir_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = TrainConfig(dataset="folder:/x/my imgs").resolved_output_dir()
    assert path == str(tmp_path / "runs" / "folder_x_my_imgs-dcgan")


def test_config_and_losses_agree_on_names():
    from gan_tf import losses

    assert set(config_lib.LOSSES) == set(losses.names())


@pytest.mark.parametrize("values, message", [
    (dict(loss="wasserstein"), "--gradient_penalty=10"),
    (dict(gradient_penalty=10.0, r1_penalty=1.0), "Choose one"),
    (dict(update="simultaneous", mode_seeking=1.0), "only --update=alternating has"),
    (dict(ada_target=0.7), "--ada_target=0.7 with --augment=none"),
    (dict(augment="diffaugment", ada_ramp_images=10), "only acts with --augment=ada"),
    (dict(architecture="mlp", dcgan_filters=8), "the MLP has no convolutions"),
    (dict(architecture="dcgan", attention_resolution=16), "only the resnet has self-attention"),
    (dict(eval_every_n_epochs=0, extractor="inception"), "turns scoring off"),
    (dict(eval_every_n_epochs=0, eval_num_samples=200), "turns scoring off"),
    (dict(inception_weights="/x.h5"), "--extractor=inception"),
    (dict(extractor="inception", inception_weights="/x/inception_v3.h5"),
     "use --extractor=keras_inception"),
    (dict(extractor="keras_inception", inception_weights="/x/classify_image_graph_def.pb"),
     "Use --extractor=inception"),
    (dict(extractor="keras_inception", inception_sha256="0" * 64),
     "checks the reference FID graph of --extractor=inception only"),
    (dict(conditional=True, dataset="array:/x/images.npy"), "a .npy file holds images only"),
    (dict(optimizer="rmsprop", beta_1=0.9), "--beta_1=0.9 with no player using adam"),
    (dict(generator_optimizer="rmsprop", discriminator_optimizer="rmsprop", beta_2=0.99),
     "--beta_2=0.99 with no player using adam (G: rmsprop, D: rmsprop)"),
    (dict(rho=0.95), "--rho=0.95 with no player using rmsprop"),
    (dict(momentum=0.5, generator_optimizer="adam"), "Drop it, or choose rmsprop"),
    (dict(optimizer="rmsprop", generator_optimizer="adam", discriminator_optimizer="adam"),
     "--optimizer=rmsprop with both --generator_optimizer=adam"),
])
def test_combinations_that_make_no_sense_are_refused(values, message):
    with pytest.raises(UserError, match="Invalid combination") as error:
        TrainConfig(**values)
    assert message in str(error.value)


@pytest.mark.parametrize("values", [
    dict(loss="wasserstein", gradient_penalty=10.0),
    dict(loss="wasserstein", spectral_norm=True),
    dict(loss="wasserstein", architecture="resnet"),  # spectral norm on D by default
    dict(architecture="resnet", attention_resolution=14, dcgan_filters=32, loss="hinge"),
    dict(augment="ada", ada_target=0.7, ada_ramp_images=10),
    dict(conditional=True, augment="ada", ema_decay=0.999, r1_penalty=10.0, loss="hinge"),
    dict(optimizer="rmsprop", rho=0.95, momentum=0.5),
    dict(discriminator_optimizer="rmsprop", beta_1=0.0, rho=0.99),  # G Adam, D RMSprop
    dict(generator_optimizer="rmsprop", discriminator_optimizer="adam"),
    dict(latent_distribution="uniform", generator_activation="prelu",
         discriminator_activation="prelu", negative_slope=0.1),
])
def test_sensible_combinations_are_accepted(values):
    assert TrainConfig(**values).to_dict().items() >= values.items()


def test_a_relative_image_folder_or_array_file_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(dataset="folder:my images")
    assert config.dataset == "folder:" + str(tmp_path / "my images")
    assert TrainConfig.from_json(config.to_json()) == config
    config = TrainConfig(dataset="array:data/digits.NPZ", conditional=True)
    assert config.dataset == "array:" + str(tmp_path / "data" / "digits.NPZ")
    assert TrainConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "mnist:3.*.*", "celeb_a/align",
                                     "huggingface:mnist", "embedded_mnist", "folder:/x",
                                     "array:/x/a.npy"])
def test_dataset_names_that_are_not_paths_are_accepted(dataset):
    assert TrainConfig(dataset=dataset).dataset == dataset


def test_each_player_gets_its_optimizer_and_the_architecture_its_activation():
    assert TrainConfig().player_optimizers == ("adam", "adam")
    assert TrainConfig(optimizer="rmsprop").player_optimizers == ("rmsprop", "rmsprop")
    assert TrainConfig(optimizer="rmsprop", discriminator_optimizer="adam"
                       ).player_optimizers == ("rmsprop", "adam")
    assert TrainConfig().effective_generator_activation == "relu"
    assert TrainConfig(architecture="mlp").effective_generator_activation == "leaky_relu"
    assert TrainConfig(architecture="mlp", generator_activation="relu"
                       ).effective_generator_activation == "relu"


def test_a_config_saved_before_the_new_options_reads_as_the_old_run():
    old = TrainConfig().to_dict()
    for name in ("optimizer", "generator_optimizer", "discriminator_optimizer", "rho",
                 "momentum", "latent_distribution", "generator_activation",
                 "discriminator_activation", "negative_slope"):
        del old[name]
    assert TrainConfig.from_dict(old) == TrainConfig()
    # And a run resumed with a new option is refused, naming it.
    assert TrainConfig().differences(TrainConfig(latent_distribution="uniform")) == {
        "latent_distribution": ("normal", "uniform")}


@pytest.mark.parametrize("argv, expected", [
    (["--optimizer=rmsprop", "--rho=0.95"], dict(optimizer="rmsprop", rho=0.95)),
    (["--generator_optimizer=rmsprop", "--momentum=0.5"],
     dict(generator_optimizer="rmsprop", momentum=0.5)),
    (["--latent_distribution=uniform"], dict(latent_distribution="uniform")),
    (["--discriminator_activation=prelu", "--generator_activation=leaky_relu",
      "--negative_slope=0.1"], dict(discriminator_activation="prelu",
                                    generator_activation="leaky_relu", negative_slope=0.1)),
])
def test_the_new_flags_parse_into_the_config(argv, expected):
    from gan_tf import cli

    config = cli.parse_config(TrainConfig, ["train"] + argv)
    assert config.to_dict().items() >= expected.items()


@pytest.mark.parametrize("argv, message", [
    (["--optimizer=rmsprop", "--beta_1=0.9"], "no player using adam"),
    (["--latent_distribution=gauss"], "Received: latent_distribution='gauss'"),
    (["--discriminator_activation=relu"], "Expected one of 'leaky_relu', 'prelu'"),
])
def test_the_new_flags_are_refused_at_parsing(argv, message):
    from gan_tf import cli

    with pytest.raises(UserError, match=message):
        cli.parse_config(TrainConfig, ["train"] + argv)


@pytest.mark.parametrize("values, expected", [
    (dict(), False), (dict(architecture="mlp"), False), (dict(architecture="resnet"), True),
    (dict(architecture="resnet", spectral_norm=False), False),
    (dict(architecture="dcgan", spectral_norm=True), True),
])
def test_spectral_norm_left_out_is_the_architectures_default_and_is_recorded(values, expected):
    config = TrainConfig(**values)
    assert config.spectral_norm is expected
    assert json.loads(config.to_json())["spectral_norm"] is expected
    assert TrainConfig.from_json(config.to_json()) == config
    # A run recorded before the default depended on the architecture (an explicit False)
    # has no difference from the same command today.
    recorded = dict(config.to_dict(), spectral_norm=False)
    if not expected:
        assert TrainConfig.from_dict(recorded).differences(TrainConfig(**values)) == {}


@pytest.mark.parametrize("argv, expected", [
    (["--architecture=resnet"], True), (["--architecture=resnet", "--nospectral_norm"], False),
    ([], False), (["--spectral_norm"], True),
])
def test_the_spectral_norm_flag_keeps_its_meaning(argv, expected):
    from gan_tf import cli

    assert cli.parse_config(TrainConfig, ["train"] + argv).spectral_norm is expected
