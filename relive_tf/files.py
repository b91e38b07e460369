"""Writing files so that readers never see half of one: a temporary name, then os.replace."""

import json
import os


def write_json(path, value):
  """Writes `value` as indented JSON to `path` atomically."""
  temporary = f"{path}.partial"
  with open(temporary, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2)
    f.write("\n")
  os.replace(temporary, path)
