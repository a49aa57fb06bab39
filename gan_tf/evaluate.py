r"""Scores a generator: `python -m gan_tf.evaluate --run_dir=runs/embedded_mnist-dcgan`.

Draws samples from a training run (or `--model=EXPORT`, or `--model=GENERATOR.keras
--dataset=NAME`, a Keras file opened in safe mode after a check of its contents), computes Frechet
distance, kernel distance, classifier/Inception score (named FID, KID and IS only with
--extractor=inception, the reference FID graph), precision/recall, density/coverage, class
coverage and a memorization check against the real data, prints them with the number of
samples each used, and writes `report.json` and plots (score curves over epochs, per-class
histogram, nearest-neighbour pairs) to `--output` (default RUN/evaluation/).

With `--downstream`, it answers another question on a run trained with `--holdout` and
`--conditional`: does the generated data help a classifier, more than ordinary
augmentation does? It trains the same classifier in five arms (real; real + augmentation;
real + generated; real + augmentation + generated; generated only), tests them on the
held-out images, and writes report.json and downstream.png to RUN/evaluation/downstream/
(see `gan_tf.downstream`).

With `--human`, it writes a real-or-generated page people take in a browser (a HYPE-style
human evaluation, see `gan_tf.human`) and its answer key; `--human_results=FILES` scores the
answers files the raters send back.

Exit codes: 0 success, 1 an error in the model, data or output, 2 an invalid flag.
"""

import os

import sys

from absl import flags

from gan_tf.names import EXTRACTORS, MIN_EVAL_SAMPLES
from gan_tf import cli, downstream, runs
from gan_tf.config import inception_flags_error
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError, check_choice, check_positive_int, check_seed, invalid
from gan_tf.image_files import canonical_image_size


flags.DEFINE_string("run_dir", None, "a training run directory to evaluate")
flags.DEFINE_string("model", None, "or: an exported generator folder, a run directory, or a "
                    "generator saved as a .keras file (with --dataset and --output)")
flags.DEFINE_string("dataset", None, "the real data (default: the run's dataset)")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory")
flags.DEFINE_string("image_size", None, "resize real images to N x N or WIDTHxHEIGHT (as in "
                    "training; default: the run's)")
flags.DEFINE_integer("num_samples", 2000, "samples to draw and score")
flags.DEFINE_string("extractor", "classifier", "classifier (trained on the labelled dataset, "
                    "offline; FD/KD) | inception (the reference FID graph on disk; FID/KID/IS, "
                    "comparable with papers) | keras_inception (Keras InceptionV3 ImageNet "
                    "weights; FD/KD, not comparable with papers)")
flags.DEFINE_string("inception_weights", None, "--extractor=inception: "
                    "classify_image_graph_def.pb or inception-2015-12-05.tgz (default: "
                    "CACHE/classify_image_graph_def.pb); --extractor=keras_inception: an "
                    "InceptionV3 .h5 (default: Keras cache)")
flags.DEFINE_string("inception_sha256", None, "the SHA-256 you trust for --extractor="
                    "inception's graph file, needed while gan_tf pins none (see "
                    "docs/evaluation.md)")
flags.DEFINE_string("output", None, "report folder (default RUN/evaluation)")
flags.DEFINE_integer("seed", 0, "seed of the samples")
flags.DEFINE_enum("checkpoint", "latest", ["latest", "best"], "a run's newest checkpoint, or "
                  "the one with the lowest FD during training")
flags.DEFINE_string("cache_dir", None, "cache of classifiers and real features "
                    "(default $GAN_TF_CACHE or ~/.cache/gan_tf)")
_DEFAULTS = downstream.Options()
flags.DEFINE_bool("downstream", False, "instead of sample scores: does the generated data "
                  "help a classifier more than ordinary augmentation? (a run trained with "
                  "--holdout and --conditional)")
flags.DEFINE_integer("num_generated", _DEFAULTS.num_generated, "--downstream: generated "
                     "images (balanced over classes)")
flags.DEFINE_float("generated_fraction", _DEFAULTS.generated_fraction, "--downstream: share "
                   "of generated images in each batch of the mixed arms")
flags.DEFINE_string("sample_filter", _DEFAULTS.sample_filter, "--downstream: confident (keep "
                    "samples a classifier of the real images reads as their class with p >= "
                    "--min_confidence) | none")
flags.DEFINE_float("min_confidence", _DEFAULTS.min_confidence, "--downstream: the filter's "
                   "threshold")
flags.DEFINE_integer("downstream_seeds", _DEFAULTS.seeds, "--downstream: classifier seeds "
                     "per arm")
flags.DEFINE_integer("downstream_steps", _DEFAULTS.steps, "--downstream: classifier "
                     "training steps (batches of 64) in every arm")
flags.DEFINE_string("augmentation", _DEFAULTS.augmentation, "--downstream: auto (chosen on "
                    "validation) | light | medium | strong, optionally +flip")
flags.DEFINE_string("classifier", None, "--downstream: a .keras classifier to train in "
                    "every arm instead of the small CNN")
flags.DEFINE_bool("human", False, "instead of sample scores: write a real-or-generated page "
                  "people take in a browser (RUN/evaluation/human/page-ID/page.html) and its "
                  "answer key beside it")
flags.DEFINE_integer("human_images", 100, "--human: images on the page, half real (held "
                     "out where the run has --holdout) and half generated")
flags.DEFINE_list("human_results", None, "score the answers files (or folders of them) "
                  "raters downloaded from a --human page: error rate with a 95% CI, per "
                  "rater and per class, into RUN/evaluation/human/report.json")
flags.DEFINE_enum("split", _DEFAULTS.split, list(downstream.SPLITS), "--downstream: test "
                  "on the held-out split, or on a validation split of the training images "
                  "(to choose options without touching the test split)")
FLAGS = flags.FLAGS


def check_flags(run_dir, model, num_samples, extractor, seed, inception_weights=None,
                output=None, inception_sha256=None):
    """Flag errors found before TensorFlow is imported (UserError)."""
    if bool(run_dir) == bool(model):
        raise UserError("Pass exactly one of --run_dir=RUN and --model=EXPORT_OR_RUN "
                        f"(received run_dir={run_dir!r}, model={model!r}).")
    check_positive_int("num_samples", num_samples)
    if num_samples < MIN_EVAL_SAMPLES:
        raise invalid("num_samples", num_samples, f"at least {MIN_EVAL_SAMPLES} samples")
    check_choice("extractor", extractor, EXTRACTORS)
    check_seed(seed)
    problem = inception_flags_error(extractor, inception_weights, inception_sha256)
    if problem:
        raise problem
    path = run_dir or model
    if not output and not os.path.isfile(os.path.join(path, runs.CONFIG_FILE)) and \
            os.path.isfile(os.path.join(path, runs.EXPORT_METADATA_FILE)):
        raise UserError(f"--model={model} is an exported generator: pass --output=DIR for "
                        "its report (a run directory's report goes to RUN/evaluation).")
    if not output and os.path.isfile(path):
        raise UserError(f"--model={model} is a model file: pass --output=DIR for its report "
                        "(and --dataset=NAME, the data it was trained on).")


def downstream_options():
    """The `downstream.Options` the flags give (UserError on a bad one)."""
    options = downstream.Options(
        num_generated=FLAGS.num_generated, generated_fraction=FLAGS.generated_fraction,
        sample_filter=FLAGS.sample_filter, min_confidence=FLAGS.min_confidence,
        seeds=FLAGS.downstream_seeds, steps=FLAGS.downstream_steps,
        augmentation=FLAGS.augmentation, classifier=FLAGS.classifier,
        checkpoint=FLAGS.checkpoint, seed=FLAGS.seed, split=FLAGS.split)
    options.validate()
    if options.classifier and not os.path.isfile(options.classifier):
        raise UserError(f"--classifier={options.classifier} is not a file; pass a .keras "
                        "classifier (model.save('classifier.keras')) or leave it out for the "
                        "small CNN.")
    return options


def main_downstream():
    path = FLAGS.run_dir or FLAGS.model
    try:
        options = downstream_options()
        check_seed(FLAGS.seed)
        if not os.path.isfile(os.path.join(path, runs.CONFIG_FILE)):
            raise UserError(f"--downstream needs a training run directory (with "
                            f"{runs.CONFIG_FILE}); {path} is not one. Pass --run_dir=RUN.")
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    try:
        report, output_dir = downstream.downstream_report(path, options, FLAGS.output)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    for line in downstream.summary_lines(report):
        print(line)
    print(f"Report: {os.path.join(output_dir, downstream.REPORT_FILE)}")
    return 0


def main_human():
    """`--human` (make a page) or `--human_results=FILES` (score the raters' answers)."""
    from gan_tf import human

    path = FLAGS.run_dir or FLAGS.model
    try:
        if not os.path.isfile(os.path.join(path, runs.CONFIG_FILE)):
            raise UserError(f"{'--human' if FLAGS.human else '--human_results'} needs a "
                            f"training run directory (with {runs.CONFIG_FILE}); {path} is not "
                            "one. Pass --run_dir=RUN.")
        options = human.PageOptions(num_images=FLAGS.human_images, seed=FLAGS.seed,
                                    checkpoint=FLAGS.checkpoint)
        if FLAGS.human:
            options.validate()
            ignored = [f"--{name}" for name in ("output", "dataset", "data_dir", "image_size")
                       if FLAGS[name].value is not None]
            if FLAGS.num_samples != FLAGS["num_samples"].default:
                ignored.append("--num_samples")
            if ignored:
                raise UserError(f"--human takes its real images from the run's own data and "
                                f"writes into RUN/evaluation/human, where --human_results "
                                f"finds the key: {', '.join(ignored)} would do nothing. Drop "
                                "them (--human_images sets the page's size).")
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    try:
        if FLAGS.human_results:
            report, output_dir = human.score_answers(path, FLAGS.human_results, FLAGS.output)
            for line in human.summary_lines(report):
                print(line)
            print(f"Report: {os.path.join(output_dir, human.REPORT_FILE)}")
            return 0
        key, folder = human.make_page(path, options)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    print(f"Page: {os.path.join(folder, human.PAGE_FILE)}")
    print(f"Answer key (keep it from the raters): {os.path.join(folder, human.KEY_FILE)}")
    print(f"Unlock code, for a rater to see their own score after sending their answers: "
          f"{key['unlock_code']}")
    print("Send page.html to each rater; they open it in a browser and send back the answers "
          f"file it downloads. Then: python -m gan_tf.evaluate --run_dir={path} "
          "--human_results=ANSWERS_FILES_OR_FOLDER")
    return 0


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    modes = [name for name in ("downstream", "human", "human_results") if FLAGS[name].value]
    if len(modes) > 1:
        return cli.error(UserError(
            f"Choose one of --downstream, --human and --human_results (received "
            f"{', '.join('--' + mode for mode in modes)}): each is a separate job."),
            EXIT_BAD_FLAGS)
    table_run = FLAGS.run_dir or FLAGS.model
    from gan_tf.tables import commands as table_commands  # TensorFlow-free

    if table_commands.is_table_model(table_run) and not (FLAGS.human or FLAGS.human_results):
        # A table run (gan_tf.tables): its own scores, pictures and downstream report.
        return cli.run_checked_command(
            lambda flag_values: table_commands.check_evaluate(
                os.path.expanduser(table_run), downstream=flag_values.downstream,
                seed=flag_values.seed,
                num_rows=(flag_values.num_samples if flag_values["num_samples"].present
                          else None),
                checkpoint=flag_values.checkpoint, output=flag_values.output,
                downstream_seeds=flag_values.downstream_seeds),
            table_commands.evaluate, FLAGS, (table_commands.BadFlag,))
    if FLAGS.human or FLAGS.human_results:
        if bool(FLAGS.run_dir) == bool(FLAGS.model):
            return cli.error(UserError(
                "Pass exactly one of --run_dir=RUN and --model=RUN (received "
                f"run_dir={FLAGS.run_dir!r}, model={FLAGS.model!r})."), EXIT_BAD_FLAGS)
        return main_human()
    if FLAGS.downstream:
        if bool(FLAGS.run_dir) == bool(FLAGS.model):
            return cli.error(UserError(
                "Pass exactly one of --run_dir=RUN and --model=RUN (received "
                f"run_dir={FLAGS.run_dir!r}, model={FLAGS.model!r})."), EXIT_BAD_FLAGS)
        return main_downstream()
    try:
        check_flags(FLAGS.run_dir, FLAGS.model, FLAGS.num_samples, FLAGS.extractor, FLAGS.seed,
                    FLAGS.inception_weights, FLAGS.output, FLAGS.inception_sha256)
        image_size = canonical_image_size(FLAGS.image_size)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf import evaluate_lib

    try:
        report, output_dir = evaluate_lib.evaluate_model(
            FLAGS.run_dir or FLAGS.model, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
            image_size=image_size, output_dir=FLAGS.output, extractor=FLAGS.extractor,
            num_samples=FLAGS.num_samples, seed=FLAGS.seed, cache=FLAGS.cache_dir,
            inception_weights=FLAGS.inception_weights, checkpoint=FLAGS.checkpoint,
            inception_sha256=FLAGS.inception_sha256)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    for line in evaluate_lib.summary_lines(report):
        print(line)
    print(f"Report: {os.path.join(output_dir, evaluate_lib.REPORT_FILE)}")
    return 0


def console_main():
    """`gan-tf-evaluate`, the console command `pip install` makes: the same as `python -m`."""
    cli.run_console(sys.modules[__name__], main)


if __name__ == "__main__":
    console_main()
