#!/usr/bin/env python3
"""Validate stanch post-mortem JSON files against schema/postmortem.schema.json.

Usage: schema/validate.py FILE.json...   (exit 0 when all are valid; 2 when jsonschema is missing)
Needs the `jsonschema` Python package (Debian: python3-jsonschema; PyPI: jsonschema).
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("validate.py: the jsonschema Python package is not installed", file=sys.stderr)
    sys.exit(2)

schema = json.loads((pathlib.Path(__file__).parent / "postmortem.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
bad = 0
for name in sys.argv[1:]:
    errors = sorted(validator.iter_errors(json.loads(pathlib.Path(name).read_text())), key=str)
    for error in errors:
        print(f"{name}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    bad += bool(errors)
sys.exit(1 if bad else 0)
