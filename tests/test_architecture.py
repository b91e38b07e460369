"""The package's layers: imports flow one way, read from the source with `ast`."""

import ast

import pytest

import helpers

PACKAGE = helpers.REPO / "relive_tf"
# Top to bottom; a module may import its own package and the layers below it, nothing beside or
# above. docs/architecture.md draws the same.
LAYERS = (
  {"cli"},
  {"families"},
  {"gallery"},
  {"serving"},
  {"evaluation", "inference"},
  {"training"},
  {"models", "losses", "metrics"},
  {"data"},
  {"files", "progress", "errors", "limits"},
)
LAYER_OF = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def _modules():
  return sorted(path for path in PACKAGE.rglob("*.py"))


def _part(path):
  """The top-level part of relive_tf a file belongs to: "training", "files", ..."""
  relative = path.relative_to(PACKAGE)
  return relative.parts[0].removesuffix(".py")


def _imported_parts(path):
  """(line, part of relive_tf) of every relive_tf import in a file, at any depth."""
  for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    else:
      continue
    for name in names:
      parts = name.split(".")
      if parts[0] == "relive_tf" and len(parts) > 1:
        yield node.lineno, parts[1]


def test_every_part_of_the_package_has_a_layer():
  parts = {_part(path) for path in _modules()} - {"__init__"}
  assert parts == set(LAYER_OF)


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_flow_down_the_layers(path):
  part = _part(path)
  if part == "__init__":
    return
  wrong = [
    f"line {line}: relive_tf.{imported}"
    for line, imported in _imported_parts(path)
    if imported != part and LAYER_OF[imported] <= LAYER_OF[part]
  ]
  assert not wrong, f"{part} (layer {LAYER_OF[part]}) imports beside or above it: {wrong}"
