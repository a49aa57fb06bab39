"""The documentation check: README.md, every guide in docs/ and BUILD_NOTES.md say only what
the code does.

For each document (README.md, every docs/*.md, found by name so a new guide is checked the day
it lands, and BUILD_NOTES.md):
- every command in a code block, or in inline code, that runs a gan_tf command line tool
  (`python -m gan_tf.X`, `.venv/bin/python -m gan_tf.X`, `gan-tf-X`) is parsed by that tool's
  own flags, defined by its own module (so a renamed or removed flag fails here, and so does a
  value of the wrong type or outside an enum); a command of a tool built on a config dataclass
  (`train`) is also validated as the tool validates it (`TrainConfig`), which refuses
  nonsensical combinations;
- every relative link and image resolves to a file (and a `#fragment` to a heading of it);
- every output path the document names (`RUN/evaluation/report.json`, `samples/final.png`,
  `generator.tflite`, ...) is made of names that gan_tf's source writes: string literals and
  f-string patterns read from `gan_tf/**/*.py`, not a second list kept here; a path into the
  repository (`docs/final_grid.png`, `benchmarks/streaming.py`) must exist;
- every flag named alone in the prose (`--checkpoint=best`) is a flag of some gan_tf tool or
  benchmark script;
- every Python code block compiles;
- every test a document names (BUILD_NOTES.md lists the test behind each reliability case)
  is defined in tests/.

The flags are collected without starting a process: each tool's module is executed afresh with
absl's DEFINE functions bound to a private `FlagValues`, so nothing touches the process's
global flags and the tools' clashing names (`--model`, `--seed`) stay apart.
"""

import ast
import configparser
import functools
import glob
import importlib.util
import inspect
import os
import re
import shlex
import sys
from unittest import mock

import pytest
from absl import flags

from gan_tf import cli
from gan_tf.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "gan_tf")

# absl's own flags, which every tool accepts (absl.app defines them when it runs).
ABSL_FLAGS = {"help", "helpshort", "helpfull", "helpxml", "flagfile", "undefok", "only_check_args",
              "verbosity", "logtostderr", "alsologtostderr"}

# Placeholders the documents write where the reader puts a value of their own, with a value of
# the right form for validation (a checksum must look like one).
PLACEHOLDER_VALUES = {"HEX": "0" * 64}

# File names the documents mention that gan_tf's Python does not write: the answers file the
# human-evaluation page's script downloads in the rater's browser.
NOT_WRITTEN_BY_GAN_TF = {"answers-ID-NAME.json"}

# Names the code writes have these endings; a document's bare file name with one of them is
# checked against the code.
OUTPUT_EXTENSIONS = (".json", ".jsonl", ".png", ".gif", ".npy", ".npz", ".tfrecord", ".tflite",
                     ".onnx", ".html", ".pb")

SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}
PYTHON_LANGUAGES = {"python", "py", "python3"}


# === Reading Markdown ===

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HTML_SOURCE = re.compile(r"<(?:img|a)\s[^>]*(?:src|href)=\"([^\"]+)\"")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def split_markdown(text):
    """(code blocks as (language, code, line), inline code spans, prose) of a document."""
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((match.group(1).lower(), match.group(2), line))
    prose = _FENCE.sub("", text)
    return blocks, _INLINE.findall(prose), prose


def heading_anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"`|\*\*|\*|_(?=\W)|(?<=\W)_", "", heading).strip().lower()
    heading = re.sub(r"[^\w\- ]", "", heading)
    return heading.replace(" ", "-")


def anchors_of(path):
    with open(path, encoding="utf-8") as file:
        _, _, prose = split_markdown(file.read())
    return {heading_anchor(heading) for heading in _HEADING.findall(prose)}


# === The tools and their flags ===

def console_modules():
    """setup.cfg's console commands: {"gan-tf-train": "gan_tf.train", ...}."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    modules = {}
    for line in parser["options.entry_points"]["console_scripts"].strip().splitlines():
        command, target = (part.strip() for part in line.split("="))
        modules[command] = target.split(":")[0]
    return modules


class NoSuchTool(Exception):
    """A document runs `python -m gan_tf.X` for an X that does not exist."""


def _bound(function, flag_values):
    """`function` with its `flag_values` argument fixed to `flag_values`."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        kwargs["flag_values"] = flag_values
        return function(*args, **kwargs)
    return call


def _takes_flag_values(function):
    try:
        return "flag_values" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=None)
def tool_flags(module_name):
    """(FlagValues with the flags `python -m module_name` defines, its config class or None).

    `module_name` may also be a script of the repository (`benchmarks/throughput.py`).

    The module is executed afresh (not imported: the process's own copy, if any, keeps its
    flags) with every absl function that takes `flag_values`, and gan_tf.cli's, bound to a new
    `FlagValues`; then its `console_main` runs with `cli.run_console` stubbed, which defines
    the flags a tool defines only when it runs (`train`, `export`) and parses nothing.
    """
    if module_name.endswith(".py"):  # a script of the repository: benchmarks/streaming.py
        path = os.path.join(REPO, module_name)
        name = "_documented_" + re.sub(r"\W", "_", module_name)
        spec = (importlib.util.spec_from_file_location(name, path)
                if os.path.isfile(path) else None)
    else:
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
    if spec is None or spec.origin is None:
        raise NoSuchTool(module_name)
    flag_values = flags.FlagValues()
    config_classes = []
    define_config_flags = cli.define_config_flags

    def define_config(config_class, flag_values=None):
        config_classes.append(config_class)
        define_config_flags(config_class, flag_values=flag_values)

    module = importlib.util.module_from_spec(spec)
    patches = [mock.patch.object(flags, name, _bound(getattr(flags, name), flag_values))
               for name in dir(flags)
               if not name.startswith("_") and inspect.isfunction(getattr(flags, name))
               and _takes_flag_values(getattr(flags, name))]
    patches += [mock.patch.object(cli, "define_config_flags", _bound(define_config, flag_values)),
                mock.patch.object(cli, "run_console", lambda module, main: None),
                mock.patch.object(cli, "run", lambda main: None)]
    # A script imports its neighbours as Python does when it runs (its folder first on the
    # path); they are forgotten afterwards, so the next script defines their flags again. The
    # modules of gan_tf it imports stay: a second copy of one would split its classes in two.
    folder = os.path.dirname(spec.origin)
    if module_name.endswith(".py"):
        patches.append(mock.patch.object(sys, "path", [folder] + sys.path))
    before = set(sys.modules)
    saved = sys.modules.get(spec.name)
    sys.modules[spec.name] = module  # `console_main` finds its module there
    for patch in patches:
        patch.start()
    try:
        spec.loader.exec_module(module)
        if hasattr(module, "console_main"):
            module.console_main()
    finally:
        for patch in reversed(patches):
            patch.stop()
        if saved is None:
            del sys.modules[spec.name]
        else:
            sys.modules[spec.name] = saved
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if module_name.endswith(".py") and os.path.dirname(origin) == folder:
                del sys.modules[name]
    return flag_values, (config_classes[0] if config_classes else None)


# === Commands ===

_PYTHON = re.compile(r"^(?:.*/)?python[0-9.]*$")


def shell_commands(code):
    """The commands of a shell snippet, each a list of words (continuations joined)."""
    code = re.sub(r"\\\n", " ", code)
    commands = []
    for line in code.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote: not a shell line
            continue
        command = []
        for word in words + [";"]:
            if word in ("&&", "||", ";", "|"):
                if command:
                    commands.append(command)
                command = []
            else:
                command.append(word)
    return commands


def tool_invocation(words):
    """(module, arguments) if `words` runs a gan_tf tool or a script of benchmarks/ or
    examples/ (`benchmarks/throughput.py`, its flags checked the same way), else None."""
    consoles = console_modules()
    for index, word in enumerate(words):
        if word in consoles:
            return consoles[word], words[index + 1:]
        if (_PYTHON.match(word) and words[index + 1:index + 2] == ["-m"]
                and len(words) > index + 2 and words[index + 2].startswith("gan_tf")):
            return words[index + 2], words[index + 3:]
        script = words[index + 1] if _PYTHON.match(word) and len(words) > index + 1 else ""
        if script.endswith(".py") and script.split("/")[0] in ("benchmarks", "examples"):
            return script, words[index + 2:]
    return None


def argparse_options(script):
    """The `--options` a script of the repository gives `argparse` (`add_argument("--x")`)."""
    path = os.path.join(REPO, script)
    if not script.endswith(".py") or not os.path.isfile(path):
        return set()
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    return {argument.value[2:] for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            for argument in node.args
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
            and argument.value.startswith("--")}


def _joined_values(arguments, flag_values):
    """`--epochs 50` as `--epochs=50` (absl takes both), so every argument is one flag."""
    joined = []
    for argument in arguments:
        previous = joined[-1] if joined else ""
        name = previous.lstrip("-")
        if (not argument.startswith("-") and previous.startswith("-") and "=" not in previous
                and name in flag_values and not isinstance(flag_values[name], flags.BooleanFlag)):
            joined[-1] = f"{previous}={argument}"
        else:
            joined.append(argument)
    return joined


def command_problems(module_name, arguments):
    """What is wrong with running `module_name` with `arguments`: a list of messages."""
    try:
        flag_values, config_class = tool_flags(module_name)
    except NoSuchTool:
        return [f"`{module_name}` is not a module of gan_tf or a script of the repository"]
    arguments = [argument for argument in _joined_values(arguments, flag_values)
                 if argument.lstrip("-").split("=")[0] not in ABSL_FLAGS]
    options = argparse_options(module_name)  # checked by name only
    problems = []
    for argument in arguments:
        if not argument.startswith("-"):
            problems.append(f"`{argument}`: every option of {module_name} is a --flag")
            continue
        name = argument.lstrip("-").split("=")[0]
        known = name in flag_values or name in options or (
            name.startswith("no") and name[2:] in flag_values
            and isinstance(flag_values[name[2:]], flags.BooleanFlag))
        if not known:
            problems.append(f"--{name} is not a flag of {module_name}")
    if problems:
        return problems
    values = [re.sub(r"=(\w+)$", lambda m: "=" + PLACEHOLDER_VALUES.get(m.group(1), m.group(1)),
                     argument) for argument in arguments
              if argument.lstrip("-").split("=")[0] not in options]
    try:
        flag_values.unparse_flags()
        flag_values([module_name] + values)
        if config_class is not None:
            cli.config_from_flags(config_class, flag_values)
    except (flags.Error, ValueError, UserError) as error:
        return [f"{module_name} {' '.join(arguments)}: {error}"]
    finally:
        flag_values.unparse_flags()
    return []


@functools.lru_cache(maxsize=None)
def every_documented_flag():
    """The flags of every gan_tf tool and of every script in benchmarks/."""
    names = set(ABSL_FLAGS)
    for module_name in set(console_modules().values()):
        names.update(tool_flags(module_name)[0])
    for script in glob.glob(os.path.join(REPO, "benchmarks", "*.py")):
        script = os.path.relpath(script, REPO)
        names.update(tool_flags(script)[0])
        names.update(argparse_options(script))
    return names


_BARE_FLAG = re.compile(r"--([a-z][a-z0-9_]*)(?:=\S*)?")


def bare_flag_problems(span):
    """A flag named alone in the prose (`--checkpoint=best`) must be some tool's flag."""
    match = _BARE_FLAG.fullmatch(span.strip())
    if not match:
        return []
    name = match.group(1)
    known = every_documented_flag()
    if name in known or (name.startswith("no") and name[2:] in known):
        return []
    return [f"`{span}`: no gan_tf tool or benchmark has the flag --{name}"]


# === Output paths ===

@functools.lru_cache(maxsize=None)
def names_in_code():
    """(string literals, f-string patterns) of gan_tf's source, docstrings left out."""
    literals, patterns = set(), set()
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                pieces = [re.escape(part.value) if isinstance(part, ast.Constant)
                          else "[0-9A-Z]+" for part in node.values]
                fixed = "".join(part.value for part in node.values
                                if isinstance(part, ast.Constant))
                if len(fixed) >= 2:  # a pattern that is all placeholder would match anything
                    patterns.add("".join(pieces))
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings):
                literals.add(node.value)
    # Compiled once: there are more patterns than `re`'s cache holds.
    return literals, [re.compile(pattern) for pattern in sorted(patterns)]


@functools.lru_cache(maxsize=None)
def written_by_code(name):
    literals, patterns = names_in_code()
    return name in literals or any(pattern.fullmatch(name) for pattern in patterns)


_REPO_ROOTS = ("docs", "examples", "benchmarks", "gan_tf", "tests", ".ci")


def path_problems(token):
    """What is wrong with a path a document names (`RUN/samples/final.png`): a list."""
    token = token.strip().rstrip(".,;:")
    if (not token or re.search(r"\s|://|[*?<>{}()\[\]=$~`'\"]", token)
            or token.startswith(("-", "/", "."))):
        return []
    parts = [part for part in token.split("/") if part]
    if not parts:
        return []
    if parts[0] in _REPO_ROOTS or (len(parts) == 1 and os.path.exists(os.path.join(REPO, token))):
        if parts[0] in _REPO_ROOTS and not os.path.exists(os.path.join(REPO, *parts)):
            return [f"`{token}` does not exist in the repository"]
        return []
    if parts[0] == "RUN":
        checked = parts[1:]
    elif parts[0] == "runs":  # runs/DATASET-ARCHITECTURE/...
        checked = parts[2:]
    elif written_by_code(parts[0]) and (len(parts) > 1 or token.endswith("/")):
        checked = parts
    elif parts[-1].endswith(OUTPUT_EXTENSIONS):
        checked = parts[-1:]
    else:
        return []
    return [f"`{token}`: gan_tf writes no file or folder named `{part}`"
            for part in checked if part not in NOT_WRITTEN_BY_GAN_TF
            and not written_by_code(part)]


# === A whole document ===

def document_problems(path, text=None):
    """Every problem of the Markdown document at `path` (its `text`, if given): a list."""
    if text is None:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    name = os.path.relpath(path, REPO)
    blocks, spans, prose = split_markdown(text)
    problems = []
    commands = []
    for language, code, line in blocks:
        if language in PYTHON_LANGUAGES:
            try:
                compile(code, f"{name}:{line}", "exec")
            except SyntaxError as error:
                problems.append(f"{name}:{line}: the Python block does not compile: {error}")
        elif language in SHELL_LANGUAGES:
            for words in shell_commands(code):
                commands.append((line, words))
                problems += [f"{name}:{line}: {problem}" for word in words
                             if "/" in word and "=" not in word
                             for problem in path_problems(word)]
    for span in spans:
        for words in shell_commands(span):
            commands.append(("inline", words))
        if " " not in span.strip():
            problems += [f"{name}: {problem}" for problem in path_problems(span)]
            problems += [f"{name}: {problem}" for problem in bare_flag_problems(span)]
    for line, words in commands:
        invocation = tool_invocation(words)
        if invocation:
            problems += [f"{name}:{line}: {problem}"
                         for problem in command_problems(*invocation)]
    targets = _LINK.findall(prose) + _HTML_SOURCE.findall(prose)
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        linked = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                  if file_part else path)
        relative = os.path.relpath(linked, REPO)
        if not os.path.exists(linked):
            problems.append(f"{name}: the link `{target}` leads to no file")
            continue
        if fragment and linked.endswith(".md"):
            anchors = anchors_of(linked) if linked != path else {
                heading_anchor(h) for h in _HEADING.findall(prose)}
            if fragment not in anchors:
                problems.append(f"{name}: the link `{target}` names no heading of {relative}")
    return problems


def documents():
    """README.md, every guide in docs/ and BUILD_NOTES.md."""
    return ([os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
            + [os.path.join(REPO, "BUILD_NOTES.md")])


# === The tests ===

@pytest.mark.parametrize("path", documents(), ids=lambda path: os.path.relpath(path, REPO))
def test_the_document_uses_only_what_the_code_defines(path):
    problems = document_problems(path)
    assert not problems, "\n".join(problems)


def test_readme_keeps_the_two_set_up_commands_ci_runs():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as file:
        blocks, _, _ = split_markdown(file.read())
    lines = [line for _, code, _ in blocks for line in code.splitlines()]
    assert ("python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python -m "
            "gan_tf.train --epochs 50") in lines
    assert ('python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m '
            "pytest -q -n 2") in lines


def test_every_console_command_is_checked_with_its_modules_flags():
    modules = console_modules()
    assert set(modules) >= {"gan-tf-train", "gan-tf-generate", "gan-tf-evaluate", "gan-tf-export"}
    for command, module in modules.items():
        flag_values, _ = tool_flags(module)
        assert "seed" in flag_values or "model" in flag_values, (command, list(flag_values))
    train_flags, config_class = tool_flags("gan_tf.train")
    assert config_class is not None and "epochs" in train_flags and "model" not in train_flags
    export_flags, config_class = tool_flags("gan_tf.export")
    assert config_class is None and {"model", "format", "quantization"} <= set(export_flags)
    assert "quantization" not in tool_flags("gan_tf.generate")[0]


def test_every_test_the_notes_and_guides_name_exists():
    """BUILD_NOTES.md lists the test behind each row of README's "When things go wrong"."""
    defined = set()
    for path in glob.glob(os.path.join(REPO, "tests", "*.py")):
        with open(path, encoding="utf-8") as file:
            defined.update(re.findall(r"^def (test_\w+)", file.read(), re.M))
    missing = []
    for path in documents():
        with open(path, encoding="utf-8") as file:
            named = set(re.findall(r"`(?:[\w/.]+::)?(test_\w+)", file.read()))
        missing += [f"{os.path.relpath(path, REPO)}: {name}" for name in sorted(named - defined)]
    assert not missing, "no such test: " + ", ".join(missing)


@pytest.mark.parametrize("command, expected", [
    ("python -m gan_tf.train --epochz=50", "--epochz is not a flag of gan_tf.train"),
    ("gan-tf-export --model=RUN --quantisation=float16 --output=x",
     "--quantisation is not a flag of gan_tf.export"),
    (".venv/bin/python -m gan_tf.evaluate --run_dir=RUN --num_samples=many", "num_samples"),
    ("python -m gan_tf.evaluate --run_dir=RUN --checkpoint=newest", "checkpoint"),
    ("python -m gan_tf.train --loss=wasserstein", "wasserstein"),
    ("python -m gan_tf.train --nofoo", "--nofoo is not a flag of gan_tf.train"),
    ("python -m gan_tf.generate --model=RUN --downstream", "--downstream is not a flag"),
    ("python -m gan_tf.summarize --epochs=3", "`gan_tf.summarize` is not a module of gan_tf"),
    ("python -m gan_tf.impute --epochs=3", "--epochs"),
    ("python benchmarks/throughput.py --step=40", "--step is not a flag of benchmarks/throughput.py"),
    (".venv/bin/python benchmarks/no_such_benchmark.py", "`benchmarks/no_such_benchmark.py` is not"),
    ("python benchmarks/colour_shapes.py --outptu=/tmp/shapes",
     "--outptu is not a flag of benchmarks/colour_shapes.py"),
])
def test_a_made_up_flag_or_value_in_a_guide_fails_the_check(tmp_path, command, expected):
    guide = f"# A guide\n\n```\n{command}\n```\n"
    problems = document_problems(os.path.join(REPO, "docs", "made_up.md"), guide)
    assert any(expected in problem for problem in problems), problems
    inline = document_problems(os.path.join(REPO, "docs", "made_up.md"), f"Run `{command}`.\n")
    assert any(expected in problem for problem in inline), inline


def test_real_flags_negated_booleans_and_continuations_pass():
    guide = ("```\n.venv/bin/python -m gan_tf.train --noconditional --epochs=3 \\\n"
             "    --architecture=mlp  # a comment\n"
             "TF_CONFIG='{\"task\": 1}' gan-tf-evaluate --run_dir=RUN --extractor=inception "
             "--inception_sha256=HEX && python -m gan_tf.export --help\n```\n")
    assert document_problems(os.path.join(REPO, "docs", "made_up.md"), guide) == []


@pytest.mark.parametrize("text, expected", [
    ("It writes `RUN/evaluation/reprot.json`.", "no file or folder named `reprot.json`"),
    ("See `samples/last.png`.", "no file or folder named `last.png`"),
    ("The grids go to `RUN/sample/`.", "no file or folder named `sample`"),
    ("Open `docs/no_such_picture.png`.", "does not exist in the repository"),
    ("![grid](no_such_grid.png)", "leads to no file"),
    ("[the guide](evaluation_guide_that_is_not_there.md)", "leads to no file"),
    ("[the notes](../BUILD_NOTES.md#no-such-section)", "names no heading"),
    ("Pass `--checkpoint_evry=best` to any command.", "has the flag --checkpoint_evry"),
    ("```python\nimport gan_tf\ngan_tf.train(\n```\n", "does not compile"),
])
def test_a_wrong_path_link_or_python_block_fails_the_check(text, expected):
    problems = document_problems(os.path.join(REPO, "docs", "made_up.md"), text + "\n")
    assert any(expected in problem for problem in problems), problems


def test_paths_the_code_writes_pass():
    text = ("`RUN/evaluation/report.json`, `samples/final.png`, `samples/epoch_NNNN.png`, "
            "`RUN/evaluation/human/page-ID/page.html`, `generator.tflite`, `best_checkpoint/`, "
            "`RUN/evaluation/downstream/`, `docs/final_grid.png`, "
            "[notes](../BUILD_NOTES.md), ![grid](final_grid.png)\n")
    assert document_problems(os.path.join(REPO, "docs", "made_up.md"), text) == []
