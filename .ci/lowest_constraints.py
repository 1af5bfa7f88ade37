"""Print a pip constraints file that holds every direct dependency of tensorbench (its own and the test
extra's) at the lowest version pyproject.toml allows: `name==bound` for each `name>=bound`. pip then
resolves the rest as a user's install would. This is uv's `--resolution lowest-direct`, with pip alone.
"""

import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
requirements = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
for requirement in requirements:
    lowest = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    if not lowest:
        sys.exit(f"lowest_constraints: {requirement} has no lower bound (>=): CI cannot test its lowest version")
    print(f"{requirement.name}=={lowest[0]}")
