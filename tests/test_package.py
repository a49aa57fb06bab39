"""The package's shape: its modules import each other without a cycle, and no library module
imports a command-line module. Read from the source (every import, at module level or inside
a function), so nothing is imported to check it."""

import ast
import os
import subprocess
import sys

import pytest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "gan_tf")
# The command-line programs and what only they share; the library never imports them.
CLI_MODULES = {"train", "generate", "evaluate", "export", "impute", "cli"}


def _modules():
    """Dotted names under gan_tf of every module ("train_lib", "callbacks",
    "callbacks.sample_grid", ...); a package is named by its folder."""
    names = []
    for folder, _, files in os.walk(PACKAGE_DIR):
        prefix = os.path.relpath(folder, PACKAGE_DIR).replace(os.sep, ".")
        prefix = "" if prefix == "." else prefix + "."
        for name in files:
            if name == "__init__.py" and prefix:
                names.append(prefix[:-1])
            elif name.endswith(".py") and name != "__init__.py":
                names.append(prefix + name[:-3])
    return sorted(names)


def _source(module):
    path = os.path.join(PACKAGE_DIR, *module.split("."))
    return path + ".py" if os.path.exists(path + ".py") else os.path.join(path, "__init__.py")


def _known(dotted, modules):
    """The module `dotted` (under gan_tf) names, or the package holding it."""
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def import_graph():
    """`{module: set of gan_tf modules it imports}` for every module of the package."""
    modules = set(_modules())
    graph = {}
    for module in modules:
        with open(_source(module), encoding="utf-8") as stream:
            tree = ast.parse(stream.read())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] != "gan_tf":
                    continue
                base = ".".join(parts[1:])
                for alias in node.names:  # from gan_tf.x import y: y may be a module
                    candidate = f"{base}.{alias.name}" if base else alias.name
                    imported.add(candidate if candidate in modules else _known(base, modules))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "gan_tf" and len(parts) > 1:
                        imported.add(_known(".".join(parts[1:]), modules))
        graph[module] = imported - {None, module}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                return path[path.index(other):] + [other]
            if other not in state:
                cycle = visit(other, path + [other])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert {"train_lib", "evaluate_lib", "generate_lib", "runs", "callbacks",
            "callbacks.sample_grid"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.slow
def test_no_library_module_imports_a_command_line_module():
    offenders = {module: sorted(imported & CLI_MODULES)
                 for module, imported in import_graph().items()
                 if module not in CLI_MODULES and imported & CLI_MODULES}
    assert not offenders


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None


@pytest.mark.slow
def test_what_the_command_lines_read_first_does_not_import_tensorflow():
    from conftest import run_python

    result = run_python(["-c", "import sys, gan_tf.runs, gan_tf.config, gan_tf.cli, "
                               "gan_tf.hardware; print(sorted(m for m in ('tensorflow', "
                               "'keras') if m in sys.modules))"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("command, flag", [("gan-tf-train", "--epochs"),
                                           ("gan-tf-generate", "--num_images"),
                                           ("gan-tf-evaluate", "--human"),
                                           ("gan-tf-export", "--quantization")])
def test_pip_install_gives_console_commands(command, flag):
    path = os.path.join(os.path.dirname(sys.executable), command)
    assert os.path.isfile(path), (f"{command} is missing beside {sys.executable}: reinstall "
                                  "with pip install -e . (setup.cfg's console_scripts)")
    shown = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and flag in shown.stdout + shown.stderr
    refused = subprocess.run([path, "--no_such_flag"], capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "no_such_flag" in refused.stderr
