"""The wiring behind `python -m gan_tf.impute`: read, (compare,) fill, write. No flags here.

Tables: `impute_table(config)` reads `--data` (`gan_tf.tables.schema.read_table`), infers
its schema, optionally compares the methods (`compare`), fills the holes with the chosen
method and writes the filled table(s) atomically. Images: `impute_images(config)` cuts holes
(`gan_tf.imputation.images`), fills them and writes the grid, arrays and report.
"""

import io
import json
import os

import numpy as np

from gan_tf import messages
from gan_tf.errors import UserError
from gan_tf.files import atomic_write_bytes, atomic_write_text

_logger = messages.get_logger(__name__)


def output_paths(config):
    """The files a table command writes: `{"tables": [...], "spread": path or None,
    "compare": [md, json] or []}`."""
    if not config.output:
        return {"tables": [], "spread": None, "compare": []}
    stem = os.path.splitext(config.output)[0]
    if config.num_imputations == 1:
        tables, spread = [config.output], None
    else:
        tables = [f"{stem}_{i}.csv" for i in range(1, config.num_imputations + 1)]
        spread = f"{stem}_spread.csv"
    compare = ([f"{stem}_compare.md", f"{stem}_compare.json"]
               if config.compare or config.method == "auto" else [])
    return {"tables": tables, "spread": spread, "compare": compare}


def check_outputs(config):
    """Refuses to replace existing output files unless `--overwrite`."""
    paths = output_paths(config)
    existing = [p for p in paths["tables"] + [paths["spread"]] + paths["compare"]
                if p and os.path.exists(p)]
    if existing and not config.overwrite:
        raise UserError(f"{existing[0]} exists; impute never replaces a file unless told to. "
                        "Pass another --output, or --overwrite to replace it.")
    folder = os.path.dirname(config.output) if config.output else None
    if folder and not os.path.isdir(folder):
        raise UserError(f"--output={config.output}: the folder {folder} does not exist. "
                        "Create it, or pass a path in an existing folder.")


def impute(config):
    """Runs one `impute` command (`ImputeConfig`); returns a dict of what it wrote."""
    if config.dataset:
        return impute_images(config)
    return impute_table(config)


def impute_table(config):
    """Fills the holes of `config.data`; returns `{"paths": ..., "method": ..., "report"}`."""
    from gan_tf.imputation import compare as compare_lib
    from gan_tf.imputation import fill as fill_lib
    from gan_tf.imputation.tabular import TableCodec
    from gan_tf.tables.schema import infer_schema, parse_column_kinds, read_table

    check_outputs(config)
    if not os.path.isfile(config.data):
        raise UserError(f"--data={config.data}: no such file. Give the path of a table with "
                        "missing values (.csv, .tsv or .parquet).")
    frame = read_table(config.data)
    kinds = parse_column_kinds(config.column_kinds)
    schema = infer_schema(frame, target=config.target or None, kinds=kinds)
    codec = TableCodec(schema)
    holes = int((~codec.observed(frame)).sum())
    if holes == 0 and config.output:
        raise UserError(f"{config.data} has no missing values: nothing to fill. Missing values "
                        "are empty cells or NA, NaN, null. To see how each method would fill "
                        "holes in this table, run with --compare alone (no --output).")
    gan = fill_lib.GanSettings.from_config(config)
    paths = output_paths(config)
    method, report = config.method, None
    if config.compare or method == "auto":
        report = compare_lib.compare(frame, schema, methods=config.methods_to_compare(),
                                     rate=config.hide_rate,
                                     mechanism=config.mechanism, repeats=config.repeats,
                                     seed=config.seed, gan=gan, target=config.target or None)
        text = compare_lib.format_report(report)
        print(text)
        if paths["compare"]:
            atomic_write_text(paths["compare"][0], text + "\n")
            atomic_write_text(paths["compare"][1], json.dumps(report, indent=2) + "\n")
        if method == "auto":
            method = report["best"]
            _logger.info(f"--method=auto: filling with {compare_lib.LABELS[method]}, the best "
                         "of the comparison.")
    if not config.output:
        return {"paths": paths, "method": method, "report": report}
    lock = None
    run_dir = None
    if method == "gan":
        from gan_tf.imputation import training

        run_dir = config.run_dir
        lock = training.open_run_dir(run_dir, config, schema)
    try:
        fills, imputer = fill_lib.fill_decoded(method, codec, frame, seed=config.seed, gan=gan,
                                               run_dir=run_dir, draws=config.num_imputations)
        if imputer is not None:
            training.export_imputer(imputer, os.path.join(run_dir, training.EXPORT_DIR),
                                    metadata={"schema": schema.to_json(),
                                              "widths": [int(w) for w in codec.widths]})
        for path, decoded in zip(paths["tables"], fills):
            _write_csv(codec.fill_frame(frame, decoded), path)
        if paths["spread"]:
            _write_csv(fill_lib.spread(codec, frame, fills), paths["spread"])
    finally:
        if lock is not None:
            lock.release()
    written = paths["tables"] + ([paths["spread"]] if paths["spread"] else [])
    _logger.info(f"Filled {holes} missing entries of {config.data} with "
                 f"{compare_lib.LABELS[method]}; wrote {', '.join(written)}"
                 + (f" (run directory {run_dir})" if run_dir else "") + ".")
    return {"paths": paths, "method": method, "report": report, "holes": holes}


def _write_csv(frame, path):
    atomic_write_text(path, frame.to_csv(index=False))


def impute_images(config):
    """Cuts holes in `config.dataset`'s images, fills them with GAIN, writes the output folder.

    Returns `{"paths": {...}, "rmse": {"gan": ..., "mean": ...}}`.
    """
    from gan_tf import data as data_lib
    from gan_tf import images as images_lib
    from gan_tf.imputation import training
    from gan_tf.imputation.images import (GRID_COLUMNS, GRID_GROUPS, SQUARE_SIDE, image_masks,
                                          pixel_mean_fill)

    output = config.output
    if os.path.exists(output) and (not os.path.isdir(output) or (
            os.listdir(output) and not config.overwrite)):
        raise UserError(f"--output={output} exists and is not an empty folder; impute never "
                        "replaces files unless told to. Pass a new folder, or --overwrite.")
    data = data_lib.load_images(config.dataset, max_examples=config.max_examples,
                                seed=config.seed, cache="memory")
    true = np.asarray(data.images, np.float32) / 255.0
    mask = image_masks(true.shape, config.mask, config.missing_rate, config.seed)
    holed = np.where(mask > 0, true, np.nan).astype(np.float32)
    lock = training.open_run_dir(config.run_dir, config)
    try:
        imputer = training.train_imputer(
            holed, mask, seed=config.seed, iterations=config.iterations,
            batch_size=config.batch_size, hint_rate=config.hint_rate, alpha=config.alpha,
            run_dir=config.run_dir, drop_rate=config.drop_rate,
            drop_square=SQUARE_SIDE if config.mask == "square" else 0.0,
            learning_rate=config.learning_rate)
        training.export_imputer(imputer, os.path.join(config.run_dir, training.EXPORT_DIR),
                                metadata={"value_range": [0.0, 1.0],
                                          "dataset": config.dataset})
    finally:
        lock.release()
    filled = imputer.impute(holed, mask, seed=config.seed, batch_size=256)
    hidden = mask == 0
    mean_filled = pixel_mean_fill(true, mask)
    rmse = {"gan": float(np.sqrt(np.mean((filled[hidden] - true[hidden]) ** 2))),
            "mean": float(np.sqrt(np.mean((mean_filled[hidden] - true[hidden]) ** 2)))}
    os.makedirs(output, exist_ok=True)
    # Images spread over the dataset (a labelled one is ordered by class), in rows of 8.
    show = min(GRID_COLUMNS, len(true))
    groups = max(1, min(GRID_GROUPS, len(true) // show))
    picked = np.linspace(0, len(true) - 1, show * groups).round().astype(int)
    rows = []
    for group in np.split(picked, groups):
        rows += [np.where(mask[group] > 0, true[group], 0.5), filled[group], true[group]]
    grid = images_lib.make_grid(images_lib.to_uint8(np.concatenate(rows), (0.0, 1.0)),
                                num_rows=len(rows))
    paths = {"grid": os.path.join(output, "grid.png"),
             "arrays": os.path.join(output, "filled.npz"),
             "report": os.path.join(output, "report.json")}
    images_lib.save_png(grid, paths["grid"])
    buffer = _npz_bytes(images=images_lib.to_uint8(filled, (0.0, 1.0)),
                        mask=mask.astype(np.uint8), true=np.asarray(data.images, np.uint8))
    atomic_write_bytes(paths["arrays"], buffer)
    report = {"dataset": config.dataset, "images": len(true), "mask": config.mask,
              "hidden_share": float(hidden.mean()), "rmse_hidden_pixels": rmse,
              "iterations": config.iterations}
    atomic_write_text(paths["report"], json.dumps(report, indent=2) + "\n")
    _logger.info(f"Filled {int(hidden.sum())} hidden pixel values of {len(true)} images: RMSE "
                 f"{rmse['gan']:.4f} (per-pixel mean fill: {rmse['mean']:.4f}); wrote "
                 f"{paths['grid']}, {paths['arrays']}, {paths['report']} (run directory "
                 f"{config.run_dir}).")
    return {"paths": paths, "rmse": rmse}


def _npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
