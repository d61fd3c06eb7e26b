#!/usr/bin/env python3
"""Builds a provider-free copy of a Terraform root module, so that its
variables (with their validations), locals and local module calls can be
evaluated for real by `terraform apply` without the google provider.

The copy keeps every `variable`, `locals` and `module` block as written
(text cut from the source by the parser's positions) and drops resources,
data sources, providers, outputs and the `terraform` block. A local that
reads a resource or data attribute gets that attribute replaced by a stub
given on the command line; any other such reference is left in place, and
terraform then fails naming it. One output, `locals`, holds every local.

Usage: locals_root.py SRC_DIR OUT_DIR [--stub 'data.x.y.attr=HCL_VALUE']...
Local modules (./modules/...) are copied along.
"""

import os
import shutil
import sys

try:
    import hcl2
    from lark import Token, Tree
except ImportError as e:  # pragma: no cover - environment problem
    print(f"locals_root.py needs python-hcl2 (pip install python-hcl2): {e}", file=sys.stderr)
    sys.exit(2)

KEPT = {"variable", "locals", "module"}


def kind_of(block):
    head = block.children[0]
    return "".join(str(t) for t in head.scan_values(lambda v: isinstance(v, Token))) if isinstance(head, Tree) else str(head)


def main(argv):
    args = argv[1:]
    stubs = []
    while "--stub" in args:
        i = args.index("--stub")
        expr, _, value = args[i + 1].partition("=")
        stubs.append((expr.strip(), value.strip()))
        del args[i : i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, out = args
    os.makedirs(out, exist_ok=True)
    kept, local_names = [], []
    for name in sorted(f for f in os.listdir(src) if f.endswith(".tf")):
        text = open(os.path.join(src, name), encoding="utf-8").read()
        tree = hcl2.parses_to_tree(text)
        body = next(c for c in tree.children if isinstance(c, Tree) and c.data == "body")
        for c in body.children:
            if not (isinstance(c, Tree) and c.data == "block"):
                continue
            kind = kind_of(c)
            if kind not in KEPT:
                continue
            piece = text[c.meta.start_pos : c.meta.end_pos]
            for expr, value in stubs:
                piece = piece.replace(expr, value)
            kept.append(f"# from {name}\n{piece}\n")
            if kind == "locals":
                inner = next(x for x in c.children if isinstance(x, Tree) and x.data == "body")
                for a in inner.children:
                    if isinstance(a, Tree) and a.data == "attribute":
                        local_names.append("".join(str(t) for t in a.children[0].scan_values(lambda v: isinstance(v, Token))))
    kept.append("output \"locals\" {\n  value = {\n" + "".join(f"    {n} = local.{n}\n" for n in local_names) + "  }\n}\n")
    with open(os.path.join(out, "main.tf"), "w", encoding="utf-8") as f:
        f.write("\n".join(kept))
    modules = os.path.join(src, "modules")
    if os.path.isdir(modules):
        shutil.copytree(modules, os.path.join(out, "modules"), dirs_exist_ok=True)
    print(f"{len(local_names)} locals")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
