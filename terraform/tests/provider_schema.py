#!/usr/bin/env python3
"""Builds a compact schema of a Terraform provider from the jsii assembly that
a prebuilt CDK for Terraform binding ships (PyPI `cdktf-cdktf-provider-google`
16.12.1 describes hashicorp/google 6.50.0; `...-google-beta` 16.12.1 describes
google-beta 6.50.0), so that check_schema.py can check terraform/ offline:
the provider itself cannot be downloaded here.

The assembly is a JSON file (`package/.jsii`, inside the tarball
`_jsii/provider-<name>@<version>.jsii.tgz` inside the wheel). In it:

- each resource, data source and the provider is a class (base
  `cdktf.TerraformResource`, `cdktf.TerraformDataSource`,
  `cdktf.TerraformProvider`) whose docs name the Terraform type
  ("Represents a {@link https://registry.terraform.io/providers/hashicorp/
  google/6.50.0/docs/resources/cloud_run_v2_service google_cloud_run_v2_service}");
- its initializer takes a `config` struct (a jsii datatype interface) whose
  own properties are the Terraform arguments and blocks (the meta-arguments
  come from `cdktf.TerraformMetaArguments` and are not listed);
- a property's Terraform name is the anchor of its registry link
  (`...#value_source CloudRunV2Service#value_source`): jsii names are
  camelCase and sometimes renamed (a property that collides with a member of
  the construct class gets a suffix), so the name is taken from the link and
  only derived from the camelCase name when a link is missing (12 of ~26,000);
- `optional: true` marks what may be omitted; everything else is required;
- a property typed as a provider struct is a nested block that appears at
  most once (MaxItems 1); `IResolvable | Array<struct>` is a repeatable
  block; every other type is an argument (string, number, boolean,
  `Array<primitive>`, `Map<string, primitive>`).

The class's own non-static properties, less the `...Input` getters, are the
attributes a reference may read (arguments and computed attributes).

Usage:
  provider_schema.py build WHEEL OUT.json   (also accepts an extracted .jsii)
  provider_schema.py show OUT.json TYPE     (print one resource's schema)
"""

import gzip
import io
import json
import re
import sys
import tarfile
import zipfile

FORMAT = 1
LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/(?P<provider>[\w-]+)/(?P<version>[\d.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<slug>\w+) (?P<type>\w+)\}"
)
ANCHOR = re.compile(r"#(?P<name>\w+) \w+#\w+\}")


def read_assembly(path):
    """The assembly JSON from a wheel, a .jsii.tgz, a .jsii.gz or a .jsii."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".jsii.tgz") or n.endswith(".jsii")]
            if not names:
                raise SystemExit(f"{path}: no jsii assembly inside")
            data = z.read(names[0])
            if names[0].endswith(".jsii"):
                return json.loads(data)
            return assembly_from_tarball(data)
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".tgz") or path.endswith(".tar.gz"):
        return assembly_from_tarball(data)
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return json.loads(data)


def assembly_from_tarball(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            base = m.name.rsplit("/", 1)[-1]
            if base in (".jsii", ".jsii.gz") or m.name.endswith("jsii/assembly"):
                raw = t.extractfile(m).read()
                if base.endswith(".gz"):
                    raw = gzip.decompress(raw)
                return json.loads(raw)
    raise SystemExit("no .jsii in the tarball")


def snake(name):
    """camelCase -> snake_case (only used when a property has no registry link)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()


def docs_text(p):
    d = p.get("docs", {})
    return d.get("summary", "") + "\n" + d.get("remarks", "")


def tf_name(p):
    m = ANCHOR.search(docs_text(p))
    return m.group("name") if m else snake(p["name"])


class Builder:
    def __init__(self, assembly):
        self.types = assembly["types"]
        self.prefix = assembly["name"] + "."
        self.structs = {}

    def short(self, fqn):
        return fqn[len(self.prefix):] if fqn.startswith(self.prefix) else fqn

    def struct_of(self, t):
        """The provider struct a property type names: (fqn, repeatable) or None."""
        if "fqn" in t and t["fqn"].startswith(self.prefix):
            return t["fqn"], False
        for u in t.get("union", {}).get("types", []):
            el = u.get("collection", {})
            if el.get("kind") == "array":
                f = el.get("elementtype", {}).get("fqn", "")
                if f.startswith(self.prefix):
                    return f, True
        return None

    @staticmethod
    def kind_of(t):
        if "primitive" in t:
            return {"boolean": "bool"}.get(t["primitive"], t["primitive"])
        if "collection" in t:
            return "list" if t["collection"]["kind"] == "array" else "map"
        prims = [u.get("primitive") for u in t.get("union", {}).get("types", []) if "primitive" in u]
        if prims:
            return {"boolean": "bool"}.get(prims[0], prims[0])
        return "any"

    def struct(self, fqn):
        key = self.short(fqn)
        if key in self.structs:
            return key
        self.structs[key] = None  # recursion guard
        t = self.types[fqn]
        if not t.get("datatype"):
            raise SystemExit(f"{fqn} is not a struct")
        attrs, blocks = {}, {}
        for p in t.get("properties", []):
            name = tf_name(p)
            required = not p.get("optional", False)
            s = self.struct_of(p["type"])
            if s is not None:
                blocks[name] = {"required": required, "max_one": not s[1], "struct": self.struct(s[0])}
            else:
                attrs[name] = {"required": required, "kind": self.kind_of(p["type"])}
        self.structs[key] = {"attributes": attrs, "blocks": blocks}
        return key

    def outputs(self, cls, config_key):
        """Attribute names a reference may read: the config's and the computed ones."""
        names = set(self.structs[config_key]["attributes"]) | set(self.structs[config_key]["blocks"])
        camel_to_tf = {}
        for p in self.types[self.prefix + config_key].get("properties", []):
            camel_to_tf[p["name"]] = tf_name(p)
        for p in cls.get("properties", []):
            if p.get("static") or p["name"].endswith("Input"):
                continue
            names.add(camel_to_tf.get(p["name"], snake(p["name"])))
        names.add("id")
        return sorted(names)

    def build(self):
        out = {"format": FORMAT, "resources": {}, "data_sources": {}, "outputs": {}, "data_outputs": {}}
        for fqn, t in self.types.items():
            if t.get("kind") != "class" or not fqn.startswith(self.prefix):
                continue
            base = t.get("base")
            params = t.get("initializer", {}).get("parameters", [])
            config = next((p for p in params if p["name"] == "config"), None)
            if base == "cdktf.TerraformProvider":
                if config is not None:
                    out["provider_config"] = self.struct(config["type"]["fqn"])
                continue
            if base not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource") or config is None:
                continue
            m = LINK.search(t.get("docs", {}).get("summary", ""))
            if not m:
                raise SystemExit(f"{fqn}: no registry link in its docs")
            out["provider"] = m.group("provider")
            out["version"] = m.group("version")
            key = self.struct(config["type"]["fqn"])
            if m.group("kind") == "resources":
                out["resources"][m.group("type")] = key
                out["outputs"][m.group("type")] = self.outputs(t, key)
            else:
                out["data_sources"][m.group("type")] = key
                out["data_outputs"][m.group("type")] = self.outputs(t, key)
        out["structs"] = self.structs
        return out


def main(argv):
    if len(argv) == 4 and argv[1] == "build":
        schema = Builder(read_assembly(argv[2])).build()
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump(schema, f, separators=(",", ":"), sort_keys=True)
        print(
            f"{schema['provider']} {schema['version']}: {len(schema['resources'])} resources, "
            f"{len(schema['data_sources'])} data sources, {len(schema['structs'])} structs -> {argv[3]}"
        )
        return 0
    if len(argv) == 4 and argv[1] == "show":
        with open(argv[2], encoding="utf-8") as f:
            schema = json.load(f)
        key = schema["resources"].get(argv[3]) or schema["data_sources"].get(argv[3])
        if key is None:
            print(f"{argv[3]}: not in {schema['provider']} {schema['version']}", file=sys.stderr)
            return 1

        def expand(k, depth=0):
            s = schema["structs"][k]
            return {
                "attributes": s["attributes"],
                "blocks": {n: dict(b, struct=expand(b["struct"], depth + 1)) for n, b in s["blocks"].items()},
            }

        print(json.dumps(expand(key), indent=1, sort_keys=True))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
