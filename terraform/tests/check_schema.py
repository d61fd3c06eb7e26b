#!/usr/bin/env python3
"""Offline check of terraform/ against the google provider's schema, and of
the order in which Google APIs are enabled.

`terraform validate` needs the provider, which cannot be downloaded here. Its
schema can: provider_schema.py turns the jsii assembly of the prebuilt CDK
for Terraform bindings (google and google-beta 6.50.0, the versions
versions.tf pins) into JSON files, and this checks, for every module under
the folder given (each folder holding .tf files, tests/ excepted):

1. Schema. Every `resource`, `data` and `provider` block, and every block
   nested in them (also through `dynamic`): each argument exists at that
   level, every required argument and block is there, a block is written as
   a block and an argument as an argument, a nested block sits under the
   parent the provider defines (the message says where it belongs), a block
   that may appear once appears once, `lifecycle.ignore_changes` names
   arguments of the resource, and `type.name.attr` references read
   attributes the resource or data source has. A resource of a type the
   provider does not have fails, saying when the other provider has it.

2. APIs. Each resource and data source of the google providers depends,
   directly or through other resources, locals, depends_on or module calls,
   on the `google_project_service` that enables the API it calls
   (API_BY_TYPE below: the longest matching type prefix wins). Terraform
   creates a resource only after everything it depends on, so without that
   edge a first apply may call a disabled API. `google_project_service`
   keys must be literal (a literal list or set, or a local holding one) so
   that the check knows which APIs each instance enables.

Usage: check_schema.py [--schemas DIR] DIR
  DIR/… are checked; --schemas (or $BATON_PROVIDER_SCHEMAS) holds
  google-<version>.json and google-beta-<version>.json (scripts/setup/terraform.sh).
Exit 0: clean; 1: problems (file:line: message, one a line); 2: usage/setup.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_refs  # noqa: E402  (the parser and its helpers)
from check_refs import Module, node_line, subtrees, text  # noqa: E402

VERSION = "6.50.0"

# Which API a resource or data source type calls: the longest key that is the
# type or a prefix of it followed by "_" wins.
API_BY_TYPE = {
    "google_artifact_registry": "artifactregistry.googleapis.com",
    "google_bigquery": "bigquery.googleapis.com",
    "google_cloud_run": "run.googleapis.com",
    "google_cloud_run_v2": "run.googleapis.com",
    "google_cloud_scheduler": "cloudscheduler.googleapis.com",
    "google_cloudbuild": "cloudbuild.googleapis.com",
    "google_firestore": "firestore.googleapis.com",
    "google_kms": "cloudkms.googleapis.com",
    "google_logging": "logging.googleapis.com",
    "google_monitoring": "monitoring.googleapis.com",
    "google_project": "cloudresourcemanager.googleapis.com",
    "google_project_iam": "cloudresourcemanager.googleapis.com",
    "google_project_iam_custom_role": "iam.googleapis.com",
    "google_pubsub": "pubsub.googleapis.com",
    "google_secret_manager": "secretmanager.googleapis.com",
    "google_service_account": "iam.googleapis.com",
    "google_storage": "storage.googleapis.com",
}
# Types that call no API a project has to enable: the enabler itself (Service
# Usage is on in every project) and the provider's own identity.
NO_API = {"google_project_service", "google_client_config", "google_client_openid_userinfo"}
# A service identity needs the API it is the identity of (its `service`).
API_FROM_SERVICE_ARGUMENT = {"google_project_service_identity"}

RESOURCE_META = {"count", "for_each", "depends_on", "provider"}
RESOURCE_META_BLOCKS = {"lifecycle", "provisioner", "connection"}
DATA_META_BLOCKS = {"lifecycle"}
LIFECYCLE_ATTRS = {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"}
LIFECYCLE_BLOCKS = {"precondition", "postcondition"}
# Terraform's built-in provider.
BUILTIN = {
    "terraform_data": {"attributes": {"input": {"required": False}, "triggers_replace": {"required": False}}, "blocks": {}},
}
BUILTIN_OUTPUTS = {"terraform_data": ["id", "input", "output", "triggers_replace"]}


def rel(path):
    return check_refs.rel(path)


class Schemas:
    def __init__(self, folder):
        self.by_provider = {}
        for name in ("google", "google-beta"):
            path = os.path.join(folder, f"{name}-{VERSION}.json")
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            with open(path, encoding="utf-8") as f:
                self.by_provider[name] = json.load(f)

    def struct(self, provider, key):
        return self.by_provider[provider]["structs"][key]


class Checker:
    def __init__(self, schemas):
        self.schemas = schemas
        self.problems = []
        self.counts = {"resource": 0, "data": 0, "provider": 0, "block": 0}

    def problem(self, file, line, msg):
        self.problems.append(f"{rel(file)}:{line}: {msg}")

    # -- which schema -------------------------------------------------------

    def provider_of(self, b):
        attrs = b.attributes()
        if "provider" in attrs:
            return text(attrs["provider"]).strip().split(".")[0]
        return b.labels[0].split("_", 1)[0]

    def lookup(self, b):
        """(schema struct, provider name, outputs) of a resource or data block, or None (reported)."""
        kind = "resources" if b.kind == "resource" else "data_sources"
        t = b.labels[0]
        line = node_line(b.tree)
        if b.kind == "resource" and t in BUILTIN:
            return BUILTIN[t], "terraform", BUILTIN_OUTPUTS[t]
        provider = self.provider_of(b)
        if provider not in self.schemas.by_provider:
            self.problem(b.file, line, f"{b.kind} {t}: no schema for provider '{provider}' (only google and google-beta {VERSION} are known)")
            return None
        schema = self.schemas.by_provider[provider]
        key = schema[kind].get(t)
        if key is None:
            what = "resource type" if b.kind == "resource" else "data source"
            others = [p for p, s in self.schemas.by_provider.items() if p != provider and t in s[kind]]
            hint = f"; {others[0]} has it: set provider = {others[0]}" if others else ""
            self.problem(b.file, line, f"{what} {t} does not exist in {provider} {VERSION}{hint}")
            return None
        outputs = schema["outputs" if b.kind == "resource" else "data_outputs"][t]
        return schema["structs"][key], provider, outputs

    # -- the schema check ---------------------------------------------------

    def where(self, provider, struct, name, path=(), depth=0):
        """Paths (a.b.c) under `struct` where a block or argument `name` is defined."""
        if provider == "terraform" or depth > 6:
            return []
        found = []
        for bn, bs in struct["blocks"].items():
            inner = self.schemas.struct(provider, bs["struct"])
            here = path + (bn,)
            if name in inner["blocks"] or name in inner["attributes"]:
                found.append(".".join(here))
            found.extend(self.where(provider, inner, name, here, depth + 1))
        return found

    def check_body(self, b, struct, provider, top, label, meta_attrs=(), meta_blocks=()):
        """Checks the arguments and nested blocks of `b` against `struct`."""
        attrs = b.attributes()
        present_blocks = {}
        for name, expr in attrs.items():
            line = node_line(expr)
            if name in meta_attrs:
                continue
            if name in struct["attributes"]:
                continue
            if name in struct["blocks"]:
                self.problem(b.file, line, f"{label}: '{name}' is a block, not an argument: write `{name} {{ … }}`")
                continue
            self.unknown(b.file, line, provider, top, label, name, "argument")
        for inner in b.blocks():
            line = node_line(inner.tree)
            if inner.kind in meta_blocks:
                if inner.kind == "lifecycle":
                    self.check_lifecycle(inner, struct, label)
                continue
            if inner.kind == "dynamic":
                name = inner.labels[0] if inner.labels else "?"
                if name in struct["blocks"]:
                    present_blocks[name] = present_blocks.get(name, 0) + 2  # any number of times
                    self.check_dynamic(inner, struct["blocks"][name], provider, top, f"{label}.{name}")
                elif name in struct["attributes"]:
                    self.problem(b.file, line, f"{label}: dynamic \"{name}\": '{name}' is an argument, not a block")
                else:
                    self.unknown(b.file, line, provider, top, label, name, "block")
                continue
            name = inner.kind
            if name in struct["blocks"]:
                present_blocks[name] = present_blocks.get(name, 0) + 1
                spec = struct["blocks"][name]
                if spec["max_one"] and present_blocks[name] == 2:
                    self.problem(b.file, line, f"{label}: block '{name}' may appear at most once")
                self.counts["block"] += 1
                self.check_body(inner, self.schemas.struct(provider, spec["struct"]), provider, top, f"{label}.{name}")
            elif name in struct["attributes"]:
                self.problem(b.file, line, f"{label}: '{name}' is an argument, not a block: write `{name} = …`")
            else:
                self.unknown(b.file, line, provider, top, label, name, "block")
        line = node_line(b.tree)
        for name, spec in sorted(struct["attributes"].items()):
            if spec["required"] and name not in attrs:
                self.problem(b.file, line, f"{label}: missing required argument '{name}'")
        for name, spec in sorted(struct["blocks"].items()):
            if spec["required"] and name not in present_blocks:
                self.problem(b.file, line, f"{label}: missing required block '{name}'")

    def unknown(self, file, line, provider, top, label, name, what):
        places = self.where(provider, top, name)
        if name in top["attributes"] or name in top["blocks"]:
            places = ["the top level"] + places
        hint = f" (it belongs in {', '.join(places[:3])})" if places else ""
        self.problem(file, line, f"{label}: unknown {what} '{name}'{hint}")

    def check_dynamic(self, d, spec, provider, top, label):
        attrs = d.attributes()
        for name in attrs:
            if name not in ("for_each", "iterator", "labels"):
                self.problem(d.file, node_line(attrs[name]), f"{label}: dynamic block argument '{name}' is not for_each, iterator or labels")
        for c in d.blocks():
            if c.kind == "content":
                self.counts["block"] += 1
                self.check_body(c, self.schemas.struct(provider, spec["struct"]), provider, top, label)

    def check_lifecycle(self, lc, struct, label):
        attrs = lc.attributes()
        for name, expr in attrs.items():
            if name not in LIFECYCLE_ATTRS:
                self.problem(lc.file, node_line(expr), f"{label}: unknown lifecycle argument '{name}'")
        for inner in lc.blocks():
            if inner.kind not in LIFECYCLE_BLOCKS:
                self.problem(lc.file, node_line(inner.tree), f"{label}: unknown lifecycle block '{inner.kind}'")
        ignore = attrs.get("ignore_changes")
        if ignore is None:
            return
        if text(ignore).strip() == "all":
            return
        for item in tuple_items(ignore):
            chain = chain_of(item)
            if not chain:
                continue
            root = chain[0][1]
            if root not in struct["attributes"] and root not in struct["blocks"]:
                self.problem(lc.file, node_line(item), f"{label}: lifecycle.ignore_changes names '{root}', which is not an argument of the resource")

    def check_module(self, m):
        for b in m.blocks:
            if b.kind == "provider" and b.labels:
                name = b.labels[0]
                if name not in self.schemas.by_provider:
                    self.problem(b.file, node_line(b.tree), f"provider {name}: no schema (only google and google-beta are known)")
                    continue
                schema = self.schemas.by_provider[name]
                self.counts["provider"] += 1
                self.check_body(b, schema["structs"][schema["provider_config"]], name, schema["structs"][schema["provider_config"]], f"provider {name}")
            elif b.kind in ("resource", "data") and len(b.labels) == 2:
                found = self.lookup(b)
                if found is None:
                    continue
                struct, provider, _ = found
                self.counts[b.kind] += 1
                label = f"{b.labels[0]}.{b.labels[1]}" if b.kind == "resource" else f"data.{b.labels[0]}.{b.labels[1]}"
                meta_blocks = RESOURCE_META_BLOCKS if b.kind == "resource" else DATA_META_BLOCKS
                self.check_body(b, struct, provider, struct, label, RESOURCE_META, meta_blocks)
        self.check_references(m)

    def check_references(self, m):
        """`type.name.attr` and `data.type.name.attr` read attributes that exist."""
        outputs = {}
        for b in m.blocks:
            if b.kind in ("resource", "data") and len(b.labels) == 2:
                found = self.lookup_quiet(b)
                if found is not None:
                    outputs[(b.kind, b.labels[0], b.labels[1])] = set(found)
        for b in m.blocks:
            for expr in all_expressions(b):
                for chain, node in chains(expr):
                    names = [v for k, v in chain if k in ("root", "attr")]
                    if chain[0][1] == "data":
                        key, rest = ("data", *names[1:3]), chain_after(chain, 3)
                    elif "_" in chain[0][1] and len(names) >= 2:
                        key, rest = ("resource", names[0], names[1]), chain_after(chain, 2)
                    else:
                        continue
                    if key not in outputs or not rest:
                        continue
                    kind, value = rest[0]
                    if kind == "index":
                        rest = rest[1:]
                        if not rest:
                            continue
                        kind, value = rest[0]
                    if kind == "attr" and value not in outputs[key]:
                        addr = ".".join(key[1:]) if key[0] == "resource" else "data." + ".".join(key[1:])
                        self.problem(b.file, node_line(node), f"{addr} has no attribute '{value}'")

    def lookup_quiet(self, b):
        kind = "resources" if b.kind == "resource" else "data_sources"
        t = b.labels[0]
        if b.kind == "resource" and t in BUILTIN:
            return BUILTIN_OUTPUTS[t]
        schema = self.schemas.by_provider.get(self.provider_of(b))
        if schema is None or t not in schema[kind]:
            return None
        return schema["outputs" if b.kind == "resource" else "data_outputs"][t]

    # -- the API dependency check --------------------------------------------

    def check_apis(self, m):
        enablers = {}  # (name) -> {key or None: service}
        for (t, n), b in m.resources.items():
            if t != "google_project_service":
                continue
            keys = self.enabled_services(m, b)
            if keys is None:
                self.problem(b.file, node_line(b.tree), f"google_project_service.{n}: cannot tell which APIs it enables: write for_each as a literal list or set (or a local holding one), or service as a literal")
                continue
            enablers[n] = keys
        graph = Graph(m)
        checked = 0
        for node, b in graph.blocks.items():
            if node[0] not in ("resource", "data"):
                continue
            t = node[1]
            if not t.startswith("google_") or t in NO_API:
                continue
            checked += 1
            if t in API_FROM_SERVICE_ARGUMENT:
                svc = b.attributes().get("service")
                api = text(svc).strip().strip('"') if svc is not None else None
            else:
                api = api_of(t)
            if api is None:
                self.problem(b.file, node_line(b.tree), f"{t}: no API known for this resource type: add it to API_BY_TYPE in terraform/tests/check_schema.py")
                continue
            reached = graph.apis_reached(node, enablers)
            if api not in reached:
                addr = ".".join(node[1:]) if node[0] == "resource" else "data." + ".".join(node[1:])
                enabler = next((n for n, keys in enablers.items() if api in keys.values()), None)
                how = (
                    f"add depends_on = [google_project_service.{enabler}[\"{api}\"]]"
                    if enabler
                    else f"enable {api} with a google_project_service and depend on it"
                )
                self.problem(b.file, node_line(b.tree), f"{addr} calls {api} but depends on no google_project_service enabling it: {how}")
        return checked

    def enabled_services(self, m, b):
        attrs = b.attributes()
        if "for_each" not in attrs:
            svc = attrs.get("service")
            value = literal(svc) if svc is not None else None
            return {None: value} if isinstance(value, str) else None
        fe = attrs["for_each"]
        value = literal(fe)
        if value is None:
            chain = chain_of(fe)
            if chain and chain[0][1] == "local" and len(chain) == 2 and chain[1][1] in m.locals:
                value = literal(m.locals[chain[1][1]][1].children[-1])
        if isinstance(value, dict):
            svc = attrs.get("service")
            if svc is not None and text(svc).strip() == "each.value":
                return {k: v for k, v in value.items() if isinstance(v, str)}
            return {k: k for k in value}
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return {v: v for v in value}
        return None


def api_of(t):
    best = None
    for k, api in API_BY_TYPE.items():
        if (t == k or t.startswith(k + "_")) and (best is None or len(k) > len(best[0])):
            best = (k, api)
    return best[1] if best else None


# -- expressions --------------------------------------------------------------

TRAVERSALS = {"get_attr_expr_term", "index_expr_term", "attr_splat_expr_term", "full_splat_expr_term"}


def is_paren(node):
    return any(getattr(c, "type", None) == "LPAR" for c in node.children)


def chain_of(node):
    """[(kind, value)…] of a reference expression (root, attr, index, splat), or None."""
    if node is None or not hasattr(node, "data"):
        return None
    kids = subtrees(node)
    if node.data == "expr_term":
        if len(kids) == 1 and not is_paren(node):
            if kids[0].data == "identifier":
                return [("root", text(kids[0]))]
            if kids[0].data in TRAVERSALS:
                return chain_of(kids[0])
        return None
    if node.data == "get_attr_expr_term":
        base = chain_of(kids[0])
        op = kids[1]
        name = text(subtrees(op)[0]) if subtrees(op) else text(op).lstrip(".")
        return None if base is None else base + [("attr", name)]
    if node.data == "index_expr_term":
        base = chain_of(kids[0])
        if base is None:
            return None
        idx = subtrees(kids[1])
        value = literal(idx[0]) if idx else None
        return base + [("index", value if isinstance(value, (str, int)) else None)]
    if node.data in ("attr_splat_expr_term", "full_splat_expr_term"):
        base = chain_of(kids[0])
        return None if base is None else base + [("splat", None)]
    return None


def chain_after(chain, n_names):
    """The steps after the first n root/attr names (skipping an index between them)."""
    seen = 0
    for i, (kind, _) in enumerate(chain):
        if kind in ("root", "attr"):
            seen += 1
            if seen == n_names:
                return chain[i + 1 :]
    return []


def chains(node):
    """Every reference inside an expression: (chain, node)."""
    out = []

    def walk(n):
        if not hasattr(n, "data"):
            return
        c = chain_of(n) if n.data in TRAVERSALS or n.data == "expr_term" else None
        if c is not None:
            out.append((c, n))
            # index expressions may hold references of their own
            cur = n
            while hasattr(cur, "data"):
                kids = subtrees(cur)
                if cur.data == "index_expr_term":
                    for k in kids[1:]:
                        walk(k)
                if not kids:
                    break
                cur = kids[0]
            return
        for k in subtrees(n):
            walk(k)

    walk(node)
    return out


def literal(node):
    """The value of a literal expression (string, number, bool, list, map; toset/tolist of one), else None."""
    if node is None or not hasattr(node, "data"):
        return None
    kids = subtrees(node)
    d = node.data
    if d == "expr_term" and len(kids) == 1:
        return literal(kids[0])
    if d == "string":
        parts = subtrees(node)
        if all(p.data == "string_part" and not subtrees(p) for p in parts):
            return "".join(text(p) for p in parts)
        return None
    if d == "int_lit" or d == "float_lit":
        try:
            return int(text(node))
        except ValueError:
            return float(text(node))
    if d == "tuple":
        items = [literal(k) for k in kids if k.data != "new_line_or_comment"]
        return None if any(i is None for i in items) else items
    if d == "object":
        out = {}
        for elem in kids:
            if elem.data != "object_elem":
                continue
            ek = subtrees(elem)
            key = text(ek[0]).strip().strip('"')
            value = literal(ek[-1])
            if value is None:
                return None
            out[key] = value
        return out
    if d == "function_call":
        ids = [k for k in kids if k.data == "identifier"]
        args = [k for k in kids if k.data == "arguments"]
        if ids and text(ids[0]) in ("toset", "tolist") and args:
            inner = [a for a in subtrees(args[0]) if a.data != "new_line_or_comment"]
            if len(inner) == 1:
                return literal(inner[0])
    if d == "identifier" and text(node) in ("true", "false"):
        return text(node) == "true"
    return None


def tuple_items(expr):
    kids = subtrees(expr)
    if expr.data == "expr_term" and len(kids) == 1 and kids[0].data == "tuple":
        return [k for k in subtrees(kids[0]) if k.data != "new_line_or_comment"]
    return [expr]


def all_expressions(b):
    """Every attribute expression of a block and its nested blocks."""
    out = []
    for name, expr in b.attributes().items():
        out.append(expr)
    for inner in b.blocks():
        out.extend(all_expressions(inner))
    return out


class Graph:
    """What each resource, data source, local and module call refers to."""

    def __init__(self, m):
        self.m = m
        self.blocks = {}
        self.edges = {}
        for (t, n), b in m.resources.items():
            self.blocks[("resource", t, n)] = b
        for (t, n), b in m.data.items():
            self.blocks[("data", t, n)] = b
        for name, b in m.modules.items():
            self.blocks[("module", name)] = b
        for node, b in self.blocks.items():
            self.edges[node] = self.refs(all_expressions(b))
        for name, (_, attr) in m.locals.items():
            self.edges[("local", name)] = self.refs([attr.children[-1]])

    def refs(self, exprs):
        out = set()
        for e in exprs:
            for chain, _ in chains(e):
                root = chain[0][1]
                names = [(k, v) for k, v in chain[1:]]
                if root == "local" and names and names[0][0] == "attr":
                    out.add((("local", names[0][1]), None))
                elif root == "module" and names and names[0][0] == "attr":
                    out.add((("module", names[0][1]), None))
                elif root == "data" and len(names) >= 2:
                    key = names[2][1] if len(names) > 2 and names[2][0] == "index" else None
                    out.add((("data", names[0][1], names[1][1]), key))
                elif "_" in root and names and names[0][0] == "attr" and (root, names[0][1]) in self.m.resources:
                    key = names[1][1] if len(names) > 1 and names[1][0] == "index" else None
                    out.add((("resource", root, names[0][1]), key))
        return out

    def apis_reached(self, start, enablers):
        seen, stack, apis = set(), [start], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for target, key in self.edges.get(node, ()):
                if target[0] == "resource" and target[1] == "google_project_service":
                    keys = enablers.get(target[2], {})
                    if key is None:
                        apis.update(keys.values())
                    elif key in keys:
                        apis.add(keys[key])
                    continue
                stack.append(target)
        return apis


def modules_under(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "tests" and not d.startswith("."))
        if any(f.endswith(".tf") for f in filenames):
            out.append(dirpath)
    return out


def main(argv):
    args = argv[1:]
    folder = os.environ.get("BATON_PROVIDER_SCHEMAS", "")
    if len(args) >= 2 and args[0] == "--schemas":
        folder, args = args[1], args[2:]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print(__doc__, file=sys.stderr)
        return 2
    if not folder:
        here = os.path.dirname(os.path.abspath(__file__))
        folder = os.path.join(here, "..", "..", ".cache", "pytools", "provider-schema")
    try:
        schemas = Schemas(folder)
    except FileNotFoundError as e:
        print(f"check_schema.py: no provider schema at {e}: run `source scripts/setup/terraform.sh`", file=sys.stderr)
        return 2
    check_refs.ROOT = args[0]
    checker = Checker(schemas)
    parse_problems = []
    n_mods, n_api = 0, 0
    for path in modules_under(args[0]):
        m = Module(path, parse_problems)
        n_mods += 1
        checker.check_module(m)
        n_api += checker.check_apis(m)
    problems = parse_problems + checker.problems
    for p in problems:
        print(p)
    c = checker.counts
    if problems:
        print(f"{len(problems)} problem(s) in {n_mods} module(s)")
        return 1
    print(
        f"ok: {n_mods} module(s), {c['resource']} resource(s), {c['data']} data source(s), {c['provider']} provider block(s), "
        f"{c['block']} nested block(s) match google/google-beta {VERSION}; {n_api} depend on the API they call"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
