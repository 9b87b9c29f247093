#!/usr/bin/env python3
"""Validate runbooks, given as JSON (stanch's tests convert TOML with the toml crate), against
schema/runbook.schema.json. Editors load the same schema for TOML files directly.

Usage: schema/validate_runbook.py FILE.json...   (exit 0 when all are valid, 1 when any is
not, 2 when jsonschema is missing). Needs the `jsonschema` Python package (Debian:
python3-jsonschema; PyPI: jsonschema).
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("validate_runbook.py: the jsonschema Python package is not installed", file=sys.stderr)
    sys.exit(2)

schema = json.loads((pathlib.Path(__file__).parent / "runbook.schema.json").read_text())
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
bad = 0
for name in sys.argv[1:]:
    errors = sorted(validator.iter_errors(json.loads(pathlib.Path(name).read_text())), key=str)
    for error in errors:
        print(f"{name}: /{'/'.join(map(str, error.absolute_path))}: {error.message}")
    bad += bool(errors)
sys.exit(1 if bad else 0)
