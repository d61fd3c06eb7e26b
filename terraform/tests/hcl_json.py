#!/usr/bin/env python3
"""Prints .tf files as JSON, keyed by the path given (python-hcl2; string
quotes stripped, expressions kept as "${...}" text). Used by
tests/tests/terraform.rs to read literal values (variable defaults, locals)
without the google provider.

Usage: hcl_json.py FILE.tf...
"""

import json
import sys

try:
    import hcl2
    from hcl2 import SerializationOptions
except ImportError as e:  # pragma: no cover - environment problem
    print(f"hcl_json.py needs python-hcl2 (pip install python-hcl2): {e}", file=sys.stderr)
    sys.exit(2)

if len(sys.argv) < 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)

options = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        out[path] = hcl2.load(f, serialization_options=options)
print(json.dumps(out))
