#!/usr/bin/env python3
"""Offline check of a Terraform configuration: every .tf file parses, and
every reference resolves.

The google provider cannot be installed here, so `terraform validate` cannot
run. This walks the syntax tree python-hcl2 builds (lark) and checks, for the
root module and every local module it calls:

- each `var.x`, `local.x`, `module.x`, `data.t.n`, `t.n` (resource) used is
  declared, and `module.x.out` is an output of that module;
- a module call passes only variables the module declares, and every
  variable without a default;
- `each` only where `for_each` is set, `count` only where `count` is,
  `self` only in provisioners, connections and conditions, a `dynamic`
  block's iterator only inside it, a `for` expression's names only inside it;
- every function called exists (the list comes from
  `terraform metadata functions -json`, when terraform is on the PATH);
- nothing is declared twice; every resource's provider is required.

Usage: check_refs.py DIR   (exit 0: clean; 1: problems, one per line as
file:line: message; 2: usage or a file that does not parse)
"""

import json
import os
import re
import shutil
import subprocess
import sys

try:
    import hcl2
    from lark import Token, Tree
except ImportError as e:  # pragma: no cover - environment problem
    print(f"check_refs.py needs python-hcl2 (pip install python-hcl2): {e}", file=sys.stderr)
    sys.exit(2)

BUILTIN_ROOTS = {
    "path": {"module", "root", "cwd"},
    "terraform": {"workspace", "applying"},
}
# Meta-arguments of a module call, not variables of the module.
MODULE_META = {"source", "version", "count", "for_each", "providers", "depends_on"}
# Blocks whose attributes are not expressions to resolve.
OPAQUE_BLOCKS = {"terraform"}
TRAVERSALS = {"get_attr_expr_term", "index_expr_term", "attr_splat_expr_term", "full_splat_expr_term"}


ROOT = "."


def rel(path):
    """A path as shown in messages: relative to the folder being checked."""
    return os.path.relpath(path, ROOT)


def node_line(node):
    """The first line a tree or token starts on."""
    if isinstance(node, Token):
        return node.line
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line
    for c in node.children:
        line = node_line(c)
        if line:
            return line
    return 0


def text(node):
    """The source text of a small node (identifiers, string labels)."""
    if isinstance(node, Token):
        return str(node)
    if node.data == "string":
        return "".join(text(c) for c in node.children if not (isinstance(c, Token) and c.type == "DBLQUOTE"))
    return "".join(text(c) for c in node.children)


def subtrees(node):
    return [c for c in node.children if isinstance(c, Tree)]


class Scope:
    """What bare names mean at a point of the configuration."""

    def __init__(self, names=(), each=False, count=False, self_ok=False):
        self.names = set(names)
        self.each = each
        self.count = count
        self.self_ok = self_ok

    def with_names(self, names):
        return Scope(self.names | set(names), self.each, self.count, self.self_ok)

    def but(self, **kw):
        s = Scope(self.names, self.each, self.count, self.self_ok)
        for k, v in kw.items():
            setattr(s, k, v)
        return s


class Block:
    def __init__(self, kind, labels, body, tree, file):
        self.kind = kind
        self.labels = labels
        self.body = body  # the `body` tree
        self.tree = tree
        self.file = file

    def attributes(self):
        out = {}
        for c in subtrees(self.body):
            if c.data == "attribute":
                name = text(c.children[0])
                out[name] = c.children[-1]
        return out

    def blocks(self):
        return [block_of(c, self.file) for c in subtrees(self.body) if c.data == "block"]


def block_of(tree, file):
    parts = [c for c in tree.children if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE"))]
    body = next(c for c in parts if isinstance(c, Tree) and c.data == "body")
    heads = [c for c in parts if c is not body and not (isinstance(c, Tree) and c.data == "new_line_or_comment")]
    kind = text(heads[0])
    labels = [text(h) for h in heads[1:]]
    return Block(kind, labels, body, tree, file)


class Module:
    """One folder of .tf files."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = problems
        self.blocks = []
        self.resources = {}
        self.data = {}
        self.variables = {}
        self.locals = {}
        self.modules = {}
        self.outputs = {}
        self.required_providers = set()
        files = sorted(f for f in os.listdir(path) if f.endswith(".tf"))
        for f in files:
            full = os.path.join(path, f)
            with open(full, encoding="utf-8") as fh:
                src = fh.read()
            try:
                tree = hcl2.parses_to_tree(src)
            except Exception as e:  # lark reports the line and column
                print(f"{full}: does not parse: {e}", file=sys.stderr)
                sys.exit(2)
            body = next(c for c in tree.children if isinstance(c, Tree) and c.data == "body")
            for c in subtrees(body):
                if c.data == "block":
                    self.blocks.append(block_of(c, full))
                elif c.data == "attribute":
                    self.problem(full, node_line(c), "a top-level attribute is not valid Terraform")
        self.declare()

    def problem(self, file, line, msg):
        self.problems.append(f"{rel(file)}:{line}: {msg}")

    def declare_one(self, table, key, b, what):
        if key in table:
            first = table[key]
            self.problem(b.file, node_line(b.tree), f"{what} declared twice (first at {rel(first.file)}:{node_line(first.tree)})")
        else:
            table[key] = b

    def declare(self):
        for b in self.blocks:
            if b.kind == "resource" and len(b.labels) == 2:
                self.declare_one(self.resources, tuple(b.labels), b, f"resource {'.'.join(b.labels)}")
            elif b.kind == "data" and len(b.labels) == 2:
                self.declare_one(self.data, tuple(b.labels), b, f"data.{'.'.join(b.labels)}")
            elif b.kind == "variable" and len(b.labels) == 1:
                self.declare_one(self.variables, b.labels[0], b, f"variable {b.labels[0]}")
            elif b.kind == "module" and len(b.labels) == 1:
                self.declare_one(self.modules, b.labels[0], b, f"module {b.labels[0]}")
            elif b.kind == "output" and len(b.labels) == 1:
                self.declare_one(self.outputs, b.labels[0], b, f"output {b.labels[0]}")
            elif b.kind == "locals":
                for c in subtrees(b.body):
                    if c.data == "attribute":
                        name = text(c.children[0])
                        if name in self.locals:
                            self.problem(b.file, node_line(c), f"local.{name} declared twice")
                        self.locals[name] = (b.file, c)
            elif b.kind == "terraform":
                for inner in b.blocks():
                    if inner.kind == "required_providers":
                        self.required_providers |= set(inner.attributes())
            elif b.kind in ("resource", "data", "variable", "module", "output"):
                self.problem(b.file, node_line(b.tree), f"{b.kind} block with labels {b.labels}")

    def local_module(self, name):
        """The folder of a module call with a local source, else None."""
        b = self.modules.get(name)
        if b is None:
            return None
        src = b.attributes().get("source")
        if src is None:
            return None
        s = text(src).strip().strip('"')
        if s.startswith("./") or s.startswith("../"):
            return os.path.normpath(os.path.join(self.path, s))
        return None


class Checker:
    def __init__(self, functions):
        self.functions = functions
        self.problems = []
        self.seen = {}
        self.used_vars = set()
        self.used_locals = set()
        self.references = 0

    def load(self, path):
        path = os.path.normpath(path)
        if path not in self.seen:
            self.seen[path] = Module(path, self.problems)
        return self.seen[path]

    def check_dir(self, path):
        m = self.load(path)
        for b in m.blocks:
            self.check_block(m, b)
        for name, b in m.modules.items():
            child_path = m.local_module(name)
            if child_path is None:
                continue
            if not os.path.isdir(child_path):
                m.problem(b.file, node_line(b.tree), f"module {name}: source folder {child_path} does not exist")
                continue
            child = self.load(child_path)
            passed = {k for k in b.attributes() if k not in MODULE_META}
            for k in sorted(passed - set(child.variables)):
                m.problem(b.file, node_line(b.tree), f"module {name}: passes '{k}', which the module does not declare")
            for v, vb in sorted(child.variables.items()):
                if "default" not in vb.attributes() and v not in passed:
                    m.problem(b.file, node_line(b.tree), f"module {name}: required variable '{v}' is not passed")
            if child_path not in getattr(self, "checked", set()):
                self.checked = getattr(self, "checked", set()) | {child_path}
                self.check_dir(child_path)
        for (t, n), b in m.resources.items():
            provider = t.split("_", 1)[0]
            if m.required_providers and provider not in m.required_providers and "provider" not in b.attributes():
                m.problem(b.file, node_line(b.tree), f"resource {t}.{n}: provider '{provider}' is not in required_providers")
        return m

    # -- blocks -------------------------------------------------------------

    def check_block(self, m, b, scope=None):
        if b.kind in OPAQUE_BLOCKS:
            return
        if scope is None:
            attrs = b.attributes()
            scope = Scope(each="for_each" in attrs, count="count" in attrs)
        attrs = b.attributes()
        for name, expr in attrs.items():
            if b.kind == "variable" and name == "type":
                continue  # a type expression
            if b.kind == "lifecycle" and name == "ignore_changes":
                continue  # attribute names of the resource itself
            if b.kind == "moved" and name == "from":
                continue  # the old address no longer exists
            if b.kind in ("resource", "data", "module") and name == "provider":
                continue
            if b.kind == "module" and name == "providers":
                continue
            if name == "depends_on" or (b.kind in ("import", "moved", "removed") and name in ("to", "from")):
                self.check_addresses(m, b, expr)
                continue
            self.walk(m, b.file, expr, scope)
        for inner in b.blocks():
            if inner.kind == "dynamic":
                self.check_dynamic(m, inner, scope)
            elif inner.kind in ("provisioner", "connection", "precondition", "postcondition"):
                self.check_block(m, inner, scope.but(self_ok=True))
            else:
                self.check_block(m, inner, scope)

    def check_dynamic(self, m, b, scope):
        attrs = b.attributes()
        if "for_each" not in attrs:
            m.problem(b.file, node_line(b.tree), f"dynamic \"{b.labels[0] if b.labels else '?'}\" has no for_each")
        else:
            self.walk(m, b.file, attrs["for_each"], scope)
        iterator = b.labels[0] if b.labels else "?"
        if "iterator" in attrs:
            iterator = text(attrs["iterator"]).strip()
        inner_scope = scope.with_names([iterator])
        for name, expr in attrs.items():
            if name in ("for_each", "iterator"):
                continue
            self.walk(m, b.file, expr, inner_scope)
        contents = [c for c in b.blocks() if c.kind == "content"]
        if len(contents) != 1:
            m.problem(b.file, node_line(b.tree), f"dynamic \"{iterator}\" needs exactly one content block")
        for c in b.blocks():
            if c.kind == "content":
                self.check_block(m, c, inner_scope)
            else:
                m.problem(c.file, node_line(c.tree), f"unexpected block '{c.kind}' in dynamic \"{iterator}\"")

    def check_addresses(self, m, b, expr):
        """depends_on = [t.n, module.x, data.t.n]; import/moved `to`."""
        items = [expr]
        if isinstance(expr, Tree) and expr.data == "expr_term" and subtrees(expr) and subtrees(expr)[0].data == "tuple":
            items = [c for c in subtrees(subtrees(expr)[0]) if c.data != "new_line_or_comment"]
        for it in items:
            ref = self.traversal(it)
            if ref is None:
                m.problem(b.file, node_line(it), "expected a resource, data or module address")
                continue
            root, attrs, node = ref
            self.resolve(m, b.file, node, root, attrs, Scope(), address=True)

    # -- expressions --------------------------------------------------------

    def traversal(self, node):
        """(root name, [attribute names], node) of a reference expression, else None."""
        attrs = []
        cur = node
        while isinstance(cur, Tree):
            if cur.data == "expr_term" and len(subtrees(cur)) == 1 and not any(
                isinstance(c, Token) and c.type == "LPAR" for c in cur.children
            ):
                inner = subtrees(cur)[0]
                if inner.data == "identifier":
                    return text(inner), list(reversed(attrs)), node
                cur = inner
                continue
            if cur.data == "get_attr_expr_term":
                base, op = subtrees(cur)[0], subtrees(cur)[1]
                attrs.append(text(subtrees(op)[0]) if subtrees(op) else text(op).lstrip("."))
                cur = base
                continue
            if cur.data in ("index_expr_term", "attr_splat_expr_term", "full_splat_expr_term"):
                attrs = []  # only the names after the last index count for addresses
                cur = subtrees(cur)[0]
                continue
            return None
        return None

    def walk(self, m, file, node, scope):
        if isinstance(node, Token) or node is None:
            return
        d = node.data
        if d in TRAVERSALS or (d == "expr_term" and len(subtrees(node)) == 1 and subtrees(node)[0].data == "identifier"):
            ref = self.traversal(node)
            if ref is not None:
                root, attrs, _ = ref
                self.resolve(m, file, node, root, attrs, scope)
                # indexes inside the traversal may hold references of their own
                self.walk_indexes(m, file, node, scope)
                return
        if d == "function_call":
            ids = [c for c in subtrees(node) if c.data == "identifier"]
            name = "::".join(text(i) for i in ids)
            if self.functions is not None and name not in self.functions:
                m.problem(file, node_line(node), f"unknown function {name}()")
            for c in subtrees(node):
                if c.data != "identifier":
                    self.walk(m, file, c, scope)
            return
        if d in ("for_tuple_expr", "for_object_expr"):
            intro = next(c for c in subtrees(node) if c.data == "for_intro")
            names = [text(c) for c in subtrees(intro) if c.data == "identifier"]
            for c in subtrees(intro):
                if c.data != "identifier":
                    self.walk(m, file, c, scope)
            inner = scope.with_names(names)
            for c in subtrees(node):
                if c.data != "for_intro":
                    self.walk(m, file, c, inner)
            return
        if d == "object_elem":
            key = subtrees(node)[0]
            k = subtrees(key)[0] if subtrees(key) else None
            bare = (
                k is not None
                and k.data == "expr_term"
                and len(subtrees(k)) == 1
                and subtrees(k)[0].data == "identifier"
                and not any(isinstance(c, Token) and c.type == "LPAR" for c in k.children)
            )
            if not bare and k is not None and k.data != "keyword":
                self.walk(m, file, key, scope)
            for c in subtrees(node)[1:]:
                self.walk(m, file, c, scope)
            return
        if d == "string":
            # %{ for x in ... } directives bring names into the rest of the string
            s = scope
            for part in subtrees(node):
                for c in subtrees(part):
                    if c.data == "template_for_start":
                        ids = [text(i) for i in subtrees(c) if i.data == "identifier"]
                        for e in subtrees(c):
                            if e.data != "identifier":
                                self.walk(m, file, e, s)
                        s = s.with_names(ids)
                    else:
                        self.walk(m, file, c, s)
            return
        if d in ("heredoc_template", "heredoc_template_trim"):
            self.walk_heredoc(m, file, node, scope)
            return
        for c in subtrees(node):
            self.walk(m, file, c, scope)

    def walk_indexes(self, m, file, node, scope):
        cur = node
        while isinstance(cur, Tree):
            kids = subtrees(cur)
            if cur.data in TRAVERSALS:
                for op in kids[1:]:
                    self.walk(m, file, op, scope)
                cur = kids[0]
            elif cur.data == "expr_term" and len(kids) == 1:
                cur = kids[0]
            else:
                return

    def walk_heredoc(self, m, file, node, scope):
        raw = text(node)
        line = node_line(node)
        for inner in interpolations(raw):
            try:
                tree = hcl2.parses_to_tree(f"x = {inner}\n")
            except Exception as e:
                m.problem(file, line, f"heredoc interpolation '${{{inner}}}' does not parse: {e}")
                continue
            attr = subtrees(subtrees(tree)[0])[0]
            before = len(self.problems)
            self.walk(m, file, attr.children[-1], scope)
            # the re-parsed text starts at line 1: report the heredoc's line
            prefix = f"{rel(file)}:"
            for i in range(before, len(self.problems)):
                rest = self.problems[i][len(prefix):].split(":", 1)[1]
                self.problems[i] = f"{prefix}{line}:{rest}"

    def resolve(self, m, file, node, root, attrs, scope, address=False):
        line = node_line(node)
        first = attrs[0] if attrs else None
        self.references += 1
        if root in scope.names:
            return
        if root == "var":
            if first not in m.variables:
                m.problem(file, line, f"var.{first} is not declared")
            self.used_vars.add((m.path, first))
        elif root == "local":
            if first not in m.locals:
                m.problem(file, line, f"local.{first} is not declared")
            self.used_locals.add((m.path, first))
        elif root == "module":
            if first not in m.modules:
                m.problem(file, line, f"module.{first} is not declared")
                return
            if len(attrs) > 1:
                child_path = m.local_module(first)
                if child_path and os.path.isdir(child_path):
                    child = self.load(child_path)
                    if attrs[1] not in child.outputs:
                        m.problem(file, line, f"module.{first}.{attrs[1]}: the module has no output '{attrs[1]}'")
        elif root == "data":
            if len(attrs) < 2 or (attrs[0], attrs[1]) not in m.data:
                m.problem(file, line, f"data.{'.'.join(attrs[:2])} is not declared")
        elif root == "each":
            if not scope.each:
                m.problem(file, line, "each is used in a block without for_each")
            elif first not in ("key", "value"):
                m.problem(file, line, f"each.{first}: only each.key and each.value exist")
        elif root == "count":
            if not scope.count:
                m.problem(file, line, "count is used in a block without count")
            elif first != "index":
                m.problem(file, line, f"count.{first}: only count.index exists")
        elif root == "self":
            if not scope.self_ok:
                m.problem(file, line, "self is only valid in provisioners, connections and conditions")
        elif root in BUILTIN_ROOTS:
            if first not in BUILTIN_ROOTS[root]:
                m.problem(file, line, f"{root}.{first} does not exist")
        elif "_" in root or address:
            if first is None:
                m.problem(file, line, f"'{root}' alone is not a reference (expected {root}.<name>)")
            elif (root, first) not in m.resources:
                m.problem(file, line, f"resource {root}.{first} is not declared")
        else:
            m.problem(file, line, f"'{root}' is not declared here")


def interpolations(raw):
    """The expressions inside ${...} of a heredoc, braces balanced."""
    out = []
    i = 0
    while True:
        i = raw.find("${", i)
        if i < 0:
            return out
        if i > 0 and raw[i - 1] == "$":
            i += 2
            continue
        depth, j = 1, i + 2
        while j < len(raw) and depth:
            depth += {"{": 1, "}": -1}.get(raw[j], 0)
            j += 1
        out.append(raw[i + 2 : j - 1])
        i = j


def terraform_functions():
    tf = shutil.which("terraform")
    if tf is None:
        print("check_refs.py: terraform not on the PATH; function names are not checked", file=sys.stderr)
        return None
    env = dict(os.environ, CHECKPOINT_DISABLE="1")
    out = subprocess.run([tf, "metadata", "functions", "-json"], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        print(f"check_refs.py: 'terraform metadata functions' failed; function names are not checked: {out.stderr}", file=sys.stderr)
        return None
    return set(json.loads(out.stdout)["function_signatures"])


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__, file=sys.stderr)
        return 2
    global ROOT
    ROOT = argv[1]
    checker = Checker(terraform_functions())
    checker.check_dir(argv[1])
    warnings = []
    for path, m in checker.seen.items():
        for v, b in m.variables.items():
            if (path, v) not in checker.used_vars:
                warnings.append(f"{rel(b.file)}:{node_line(b.tree)}: warning: variable {v} is never used")
        for name, (file, node) in m.locals.items():
            if (path, name) not in checker.used_locals:
                warnings.append(f"{rel(file)}:{node_line(node)}: warning: local.{name} is never used")
    for w in warnings:
        print(w)
    for p in checker.problems:
        print(p)
    n_res = sum(len(m.resources) for m in checker.seen.values())
    n_mod = len(checker.seen)
    if checker.problems:
        print(f"{len(checker.problems)} problem(s) in {n_mod} module(s)")
        return 1
    print(f"ok: {n_mod} module(s), {n_res} resource(s), {checker.references} references, every one resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
