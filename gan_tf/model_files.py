"""Opening model files that gan_tf did not write, without running code they carry.

A model file is a program (TensorFlow's SECURITY.md): a Keras `Lambda` layer stores marshalled
Python bytecode, a config can name any registered class or function, a `TFSMLayer` loads a
SavedModel from another path, and a SavedModel's functions may read and write files. gan_tf
therefore opens such files in two ways only:

- `load_keras_generator(path)`: a `.keras` file (e.g. `gan.generator.save("g.keras")`). Its
  `config.json` is read as plain JSON and checked first (`unsafe_objects`): no `Lambda`,
  `TFSMLayer` or other code-, file- or pickle-loading layer, no Python lambda, no function
  except a Keras built-in activation, and every `module` / `registered_name` inside Keras or
  gan_tf. Only then does Keras load it, with `safe_mode=True` forced even where
  `keras.config.enable_unsafe_deserialization()` was called (in Keras 3.15.1 that call
  overrides the `safe_mode=True` argument of `load_model`), and `compile=False`.
  Legacy HDF5 (`.h5`, `.hdf5`) full models are refused outright: the format can carry
  marshalled Python code, and its loader is not the one Keras hardens.
- `check_saved_model(path)`: a static scan of an exported generator's `saved_model.pb`
  before TensorFlow loads it: no op that touches files, runs Python, writes summaries or
  debug dumps, or reads datasets (`refused_ops`), except the checkpoint ops of the saver
  functions that only a TF1 loader runs.

Both are second lines of defence: load models you trust. The scans never execute the file.

Example:
```python
from gan_tf import model_files

generator = model_files.load_keras_generator("g.keras")  # UserError if unsafe or not a model
model_files.check_saved_model("runs/NAME/generator")      # UserError if its graph is unsafe
```
"""

import json
import os
import re
import shutil
import tempfile
import zipfile

from gan_tf.errors import UserError, first_line

KERAS_SUFFIX = ".keras"
LEGACY_SUFFIXES = (".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
KERAS_CONFIG_FILE = "config.json"
MAX_CONFIG_BYTES = 32 * 2**20  # a generator's config is kilobytes

# Keras classes that run code or read from outside the file when they are deserialized or
# called: Python bytecode (Lambda), another SavedModel (TFSMLayer), a torch pickle
# (TorchModuleWrapper), JAX/Flax functions, vocabulary files (the lookup layers).
REFUSED_CLASSES = {
    "Lambda": "runs Python code stored in the file",
    "TFSMLayer": "loads and runs a SavedModel from another path",
    "TorchModuleWrapper": "unpickles a torch module",
    "JaxLayer": "calls functions named by the file",
    "FlaxLayer": "calls functions named by the file",
    "StringLookup": "can read a vocabulary file from anywhere on disk",
    "IntegerLookup": "can read a vocabulary file from anywhere on disk",
    "TextVectorization": "can read a vocabulary file from anywhere on disk",
}
# Keras sub-packages that hold no model building blocks (downloads, file I/O, settings).
REFUSED_KERAS_MODULES = ("utils", "saving", "config", "export", "datasets", "callbacks",
                         "applications")
# Object configs that hold data only (tensors, arrays, bytes, slices); their parts are checked.
DATA_CLASSES = ("__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__",
                "__slice__")
ALLOWED_PACKAGES = ("keras", "gan_tf")

# TensorFlow ops that read or write files, run Python, write summaries or debug dumps, or
# read datasets: none belongs in a generator's forward pass.
REFUSED_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "FileSystemSetConfiguration", "ImmutableConst",
    "Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2",
    "MergeV2Checkpoints", "DistributedSave", "LoadAndRemapMatrix", "GenerateVocabRemapping",
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "Print", "PrintV2",
    "DecodeProtoV2", "EncodeProto", "ImportEvent",
})
REFUSED_OP_FAMILIES = re.compile(r"PyFunc|Dataset|Reader|Summary|Iterator|^Debug")
# What the saver functions of every SavedModel use; TF2's loader never runs them.
SAVER_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})

_SHOWN = 5  # problems named in one message


def _refuse(path, problem, expected, fix):
    return UserError(f"Refusing to load {path}: {problem}. Expected {expected}. {fix}")


# === .keras files ===

def load_keras_generator(path):
    """The Keras model in the `.keras` file `path`, loaded only if it is safe to load.

    Checks, in order, without executing anything from the file: the name and the bytes say
    `.keras` zip (legacy `.h5`/`.hdf5` HDF5 files are refused), the archive's member names
    stay inside it, and its `config.json` passes `unsafe_objects`. Then
    `keras.saving.load_model(path, safe_mode=True, compile=False)` inside a safe-mode scope,
    so an earlier `keras.config.enable_unsafe_deserialization()` cannot switch it off. The
    scan and the load read the same private copy of the file, so it cannot be swapped
    between them.

    Raises:
        UserError: refused or unreadable; the message says why and what to do.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise _refuse(path, "it is not a file", "a .keras file (model.save('g.keras'))",
                      "Check the path.")
    _check_keras_file_kind(path)
    # Check and load one private copy, so the file cannot change between the two.
    with tempfile.TemporaryDirectory(prefix="gan_tf_model_") as folder:
        copy = os.path.join(folder, "model.keras")
        try:
            shutil.copyfile(path, copy)
        except OSError as error:
            raise _refuse(path, f"it cannot be copied for checking ({error.strerror or error})",
                          "a readable .keras file and space in the temporary folder",
                          "Check the file, or set TMPDIR to a folder with space.") from None
        return _check_and_load(path, copy)


def _check_and_load(path, copy):
    """Scans the config of `copy` (the private copy of `path`), then loads it safely."""
    config = read_keras_config(copy, path)
    problems = unsafe_objects(config)
    if problems:
        shown = "; ".join(problems[:_SHOWN]) + (
            f"; ... ({len(problems)} in all)" if len(problems) > _SHOWN else "")
        raise _refuse(path, f"its config.json holds code or objects from outside Keras and "
                      f"gan_tf ({shown})",
                      "a .keras generator made only of Keras layers and gan_tf networks",
                      "Rebuild the generator without them (a Lambda layer becomes a layer "
                      "class registered with keras.saving.register_keras_serializable) and "
                      "save it again, or train it with gan_tf and pass the run directory.")
    return _load_safely(copy, path)


def _check_keras_file_kind(path):
    """UserError unless `path` is named `.keras` and is a zip; HDF5 gets its own message."""
    with open(path, "rb") as stream:
        head = stream.read(8)
    if path.lower().endswith(LEGACY_SUFFIXES) or head.startswith(HDF5_SIGNATURE):
        raise _refuse(path, "it is a legacy HDF5 (.h5/.hdf5) Keras model, a format whose "
                      "full models can carry marshalled Python code (e.g. a Lambda layer) "
                      "that runs when the file is loaded",
                      "a .keras file, a training run directory or an exported generator folder",
                      "If you trust the file, convert it once in your own Python session: "
                      "keras.saving.load_model('g.h5', compile=False).save('g.keras') "
                      "(replace any Lambda layer by a registered layer class first).")
    if not path.lower().endswith(KERAS_SUFFIX) or not head.startswith(ZIP_SIGNATURE):
        problem = ("its name does not end in .keras (gan_tf opens only .keras zip archives)"
                   if head.startswith(ZIP_SIGNATURE) else "it is not a .keras zip archive")
        raise _refuse(path, problem,
                      "a .keras file (model.save('g.keras')), a training run directory or an "
                      "exported generator folder",
                      "Save the generator with model.save('generator.keras'), or pass the run "
                      "directory gan_tf wrote.")


def read_keras_config(path, shown_path=None):
    """The parsed `config.json` of the `.keras` archive `path` (plain JSON, nothing run).

    `shown_path`: the path to name in errors (default `path`).
    """
    shown_path = shown_path or path
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            unsafe = [name for name in names if name.startswith(("/", "\\"))
                      or ".." in re.split(r"[/\\]", name)]
            if unsafe:
                raise _refuse(shown_path, f"its archive has members outside it ({unsafe[:_SHOWN]})",
                              "a .keras file written by model.save", "Save the model again.")
            info = archive.getinfo(KERAS_CONFIG_FILE)
            if info.file_size > MAX_CONFIG_BYTES:
                raise _refuse(shown_path, f"its config.json is {info.file_size} bytes",
                              f"at most {MAX_CONFIG_BYTES} bytes for a generator's config",
                              "Save the model again with model.save('g.keras').")
            text = archive.read(info).decode("utf-8")
        return json.loads(text)
    except UserError:
        raise
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile) as error:
        detail = first_line(error, 200)
        raise _refuse(shown_path, f"it is not a readable .keras archive "
                      f"({type(error).__name__}: {detail})",
                      "a .keras file with a config.json, as written by model.save('g.keras')",
                      "Save the model again.") from None


def unsafe_objects(config):
    """What makes a Keras config unsafe to deserialize: a list of one-line problems.

    Walks every nested dict and list (iteratively, without executing anything) and reports
    each Keras object config (a dict with `class_name`) that is a Python lambda
    (`__lambda__`), a class of `REFUSED_CLASSES`, a function other than a Keras built-in
    activation, or names a `module` or `registered_name` outside Keras and gan_tf (or a
    gan_tf name that gan_tf did not register). An empty list: safe to load with safe mode.
    """
    problems = []
    stack = [("config", config)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            if "class_name" in value:
                problem = _object_problem(value)
                if problem:
                    problems.append(f"{where}: {problem}")
            stack.extend((f"{where}.{key}", item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in
                         reversed(list(enumerate(value))))
    return problems


def _object_problem(config):
    """Why one Keras object config is unsafe, or None."""
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        return f"class_name {class_name!r} is not a name"
    if class_name == "__lambda__":
        return "a Python lambda (marshalled bytecode)"
    if class_name in DATA_CLASSES:
        return None
    if class_name in REFUSED_CLASSES:
        return f"a {class_name} layer, which {REFUSED_CLASSES[class_name]}"
    module = config.get("module")
    if class_name == "function":
        return _function_problem(config, module)
    problem = _module_problem(module) if module is not None else None
    if problem:
        return f"{class_name!r} from module {module!r}, {problem}"
    registered = config["registered_name"] if "registered_name" in config else class_name
    return _registered_name_problem(class_name, registered)


def _function_problem(config, module):
    """None for a Keras built-in activation by name (`{"module": "builtins", "class_name":
    "function", "config": "relu"}`, which Keras looks up in its own modules); else why not."""
    name = config.get("config")
    if module == "builtins" and isinstance(name, str) and _is_keras_activation(name) \
            and config.get("registered_name", "function") in ("function", None):
        return None
    return (f"a function {name!r} from module {module!r} (only Keras built-in activations "
            "such as 'relu' are accepted)")


def _is_keras_activation(name):
    """True for the name of a Keras built-in activation (a lookup in Keras's own table)."""
    import keras

    if re.fullmatch(r"[a-z][a-z0-9_]*", name) is None:
        return False
    try:
        keras.activations.get(name)  # a string is only looked up, never deserialized
    except ValueError:
        return False
    return True


def _module_problem(module):
    """Why a config's `module` is outside Keras and gan_tf, or None."""
    if not isinstance(module, str):
        return "which is not a module name"
    parts = module.split(".")
    if parts[0] not in ALLOWED_PACKAGES:
        return "outside Keras and gan_tf"
    inner = parts[2:] if parts[:2] == ["keras", "src"] else parts[1:]
    if parts[0] == "keras" and inner and inner[0] in REFUSED_KERAS_MODULES:
        return "which holds no model layers"
    return None


def _registered_name_problem(class_name, registered):
    """None when `registered` is unset, a Keras built-in's own class name, or a class gan_tf
    registered (`gan_tf>Name`); else why not."""
    if registered is None or (registered == class_name and ">" not in class_name):
        return None
    if not isinstance(registered, str) or not registered.startswith("gan_tf>"):
        return f"{class_name!r} registered as {registered!r}, outside Keras and gan_tf"
    import keras

    _register_gan_tf_classes()
    found = keras.saving.get_registered_object(registered)
    if found is None or not getattr(found, "__module__", "").startswith("gan_tf."):
        return f"{registered!r}, which gan_tf does not register"
    return None


def _register_gan_tf_classes():
    """Imports the modules whose classes gan_tf registers for Keras serialization."""
    import importlib

    for module in ("gan_tf.gan", "gan_tf.networks"):  # registration happens at import
        importlib.import_module(module)


def _load_safely(path, shown_path=None):
    """`keras.saving.load_model(path, safe_mode=True, compile=False)` with safe mode forced.

    `shown_path`: the path to name in errors (default `path`).
    """
    import keras

    _register_gan_tf_classes()
    try:
        with _safe_mode_scope():
            return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001  any failure on an untrusted file: refuse it
        message = first_line(error)
        raise _refuse(shown_path or path, "Keras could not load it in safe mode "
                      f"({type(error).__name__}: {message})",
                      "a .keras generator saved by model.save('g.keras') from Keras layers "
                      "and gan_tf networks",
                      "Save it again with this Keras version, or pass the run directory "
                      "gan_tf wrote.") from None


def _safe_mode_scope():
    """A context in which Keras deserializes in safe mode whatever the process set before.

    Keras 3.15.1's `deserialize_keras_object` prefers the thread's global safe-mode flag
    (set to False by `keras.config.enable_unsafe_deserialization()`) over its `safe_mode`
    argument; `SafeModeScope(True)` sets that flag for the duration of the load and restores
    it after. It is private Keras API: if a Keras version moves it, the `unsafe_objects`
    scan still refuses everything safe mode would.
    """
    import contextlib

    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:
        return contextlib.nullcontext()
    return SafeModeScope(True)


# === SavedModel exports ===

def check_saved_model(path):
    """Refuses a SavedModel folder whose graph holds ops a generator has no use for.

    Parses `saved_model.pb` as a protocol buffer (nothing runs) and lists the op types of
    the graph and of every function TensorFlow's loader or a signature can call
    (`refused_ops`). A `saved_model.pbtxt` is refused: gan_tf writes the binary form.

    Raises:
        UserError: unsafe ops, or no readable `saved_model.pb`.
    """
    path = os.fspath(path)
    expected = "a generator exported by gan_tf (a run's generator/ folder)"
    fix = ("Export it again with gan_tf.export_lib.export_generator, or pass the training run "
           "directory.")
    if os.path.exists(os.path.join(path, "saved_model.pbtxt")):
        raise _refuse(path, "it holds a text saved_model.pbtxt", expected, fix)
    try:
        from tensorflow.core.protobuf import saved_model_pb2

        with open(os.path.join(path, "saved_model.pb"), "rb") as stream:
            saved_model = saved_model_pb2.SavedModel.FromString(stream.read())
    except (OSError, ValueError) as error:  # protobuf's DecodeError is a ValueError
        raise _refuse(path, f"its saved_model.pb cannot be read ({type(error).__name__}: "
                      f"{error})", expected, fix) from None
    found = refused_ops(saved_model)
    if found:
        shown = ", ".join(f"{op} in {where}" for op, where in found[:_SHOWN])
        raise _refuse(path, f"its graph holds ops that touch files or run Python ({shown}"
                      f"{', ...' if len(found) > _SHOWN else ''})", expected, fix)


def refused_ops(saved_model):
    """`[(op type, function or "graph")]` of every refused op in a `SavedModel` proto.

    The checkpoint ops (`SAVER_OPS`) are allowed only inside the functions that the
    `saver_def` alone calls (TF1's save/restore; TF2's loader restores variables itself),
    and refused in any function reachable from anything else.
    """
    found = []
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        functions = {function.signature.name: function for function in graph.library.function}
        gradients = {}
        for gradient in graph.library.gradient:
            gradients.setdefault(gradient.function_name, []).append(gradient.gradient_func)
        saver_nodes = _saver_node_names(meta_graph.saver_def)
        roots = set()
        for node in graph.node:
            allowed = SAVER_OPS if node.name in saver_nodes else frozenset()
            found += [(node.op, "graph")] if _is_refused(node.op, allowed) else []
            if node.name not in saver_nodes:
                roots |= _called_functions(node, functions)
        saver_only = _saver_functions(graph, saver_nodes, functions) - roots
        roots |= set(functions) - saver_only
        reachable = _closure(roots, functions, gradients)
        for name, function in functions.items():
            allowed = frozenset() if name in reachable else SAVER_OPS
            found += [(node.op, name) for node in function.node_def
                      if _is_refused(node.op, allowed)]
    return found


def _is_refused(op, allowed):
    return op not in allowed and (op in REFUSED_OPS or bool(REFUSED_OP_FAMILIES.search(op)))


def _saver_node_names(saver_def):
    """The graph nodes the `saver_def` names (save and restore)."""
    names = {saver_def.save_tensor_name.split(":")[0], saver_def.restore_op_name.split(":")[0]}
    return {name.lstrip("^") for name in names if name}


def _saver_functions(graph, saver_nodes, functions):
    """The functions that the saver nodes call directly."""
    called = set()
    for node in graph.node:
        if node.name in saver_nodes:
            called |= _called_functions(node, functions)
    return called


def _called_functions(node, functions):
    """Names of the library functions a node calls: by op type or by any function attr."""
    called = {node.op}
    for attr in node.attr.values():
        if attr.HasField("func"):
            called.add(attr.func.name)
        if attr.HasField("list"):
            called.update(func.name for func in attr.list.func)
    return {name for name in called if name in functions}


def _closure(roots, functions, gradients):
    """Every function reachable from `roots` through calls and registered gradients."""
    reachable, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name in reachable or name not in functions:
            continue
        reachable.add(name)
        stack.extend(gradients.get(name, []))
        for node in functions[name].node_def:
            stack.extend(_called_functions(node, functions))
    return reachable
