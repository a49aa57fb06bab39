"""gan_tf's one message channel: the `gan_tf` logger, silenced and redirected with `logging`."""

import logging

import numpy as np

from gan_tf import messages
from gan_tf.callbacks import ResumableCheckpoint

from conftest import collect_messages


def test_lines_go_to_stdout_and_warnings_to_stderr_as_plain_text(capsys):
    logger = messages.get_logger("gan_tf.somewhere")
    logger.info("Saved it")
    logger.warning("Warning: something")
    out, err = capsys.readouterr()
    assert (out, err) == ("Saved it\n", "Warning: something\n")
    assert messages.get_logger("elsewhere").name == "gan_tf.elsewhere"


def test_a_callback_in_another_keras_project_is_silenced_and_redirected_with_logging(
        tmp_path, capsys):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    x = np.zeros((4, 2), "float32")

    def fit():
        checkpoint = ResumableCheckpoint(tmp_path / "ckpt", verbose=2)
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[checkpoint])

    fit()
    assert "Saved " in capsys.readouterr().out
    logger = logging.getLogger("gan_tf")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with collect_messages() as collected:
            fit()
    finally:
        logger.setLevel(level)
    assert capsys.readouterr().out == "" and collected == []
    with collect_messages("gan_tf.callbacks") as collected:
        fit()
    assert any(line.startswith("Saved ") for line in collected)
