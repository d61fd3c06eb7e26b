// Prints editor.stamp for the committed bundle: the SHA-256 of the sources
// that make it (scripts/build-editor.sh, package.json, package-lock.json,
// every file under src/, each as "path\0bytes\0" in path order) and of the
// two built files. shared/src/api/ui.rs's test recomputes the same hashes
// and fails when the bundle is stale. Usage: node stamp.mjs REPO_ROOT
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const root = process.argv[2] || path.resolve(import.meta.dirname, "../..");
const src = fs.readdirSync(path.join(root, "ui/editor/src")).sort().map((f) => `ui/editor/src/${f}`);
const inputs = ["scripts/build-editor.sh", "ui/editor/package.json", "ui/editor/package-lock.json", ...src].sort();
const sources = createHash("sha256");
for (const f of inputs) {
  sources.update(f + "\0");
  sources.update(fs.readFileSync(path.join(root, f)));
  sources.update("\0");
}
const file = (f) => createHash("sha256").update(fs.readFileSync(path.join(root, "shared/src/api/ui", f))).digest("hex");
process.stdout.write(`sources ${sources.digest("hex")}\neditor.js ${file("editor.js")}\neditor.css ${file("editor.css")}\n`);
