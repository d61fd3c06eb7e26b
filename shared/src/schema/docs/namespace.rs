//! Docs of the namespace-file tasks: `namespace.UploadFiles`,
//! `namespace.DownloadFiles`, `namespace.DeleteFiles`, `namespace.PurgeFiles`.

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

const NS: PropDoc = PropDoc::new("namespace", "The namespace whose files are changed or read (any namespace).");
const PATTERNS: PropDoc = PropDoc::new(
    "files",
    "A pattern or a list of patterns on the namespace files: a glob (`**` crosses folders; one starting with a letter matches that name in any folder), or `glob:…` / `regex:…` on the path with its leading `/`.",
);

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new(
        "io.kestra.plugin.core.namespace.UploadFiles",
        "Write files into a namespace's files.",
        "Uploads the working-directory files matching `files` (inside a WorkingDirectory) and the kestra:// files of `filesMap` (namespace path → URI; a missing file is skipped with a warning) under `destination`. An existing file is overwritten (its old content kept as a revision), skipped, or fails the task before anything is written, as `conflict` says. No outputs.",
    )
    .example("id: upload\ntype: io.kestra.plugin.core.namespace.UploadFiles\nnamespace: \"{{ flow.namespace }}\"\nfilesMap:\n  scripts/main.py: \"{{ inputs.script }}\"\nconflict: SKIP\n")
    .props(&[
        NS,
        PropDoc::new("files", "Patterns over the working directory (globs anchored at it, or `glob:…` / `regex:…` on absolute paths); each file keeps its relative path."),
        PropDoc::new("filesMap", "A map (or JSON map, e.g. another task's `files` output) of namespace path → kestra:// URI."),
        PropDoc::new("destination", "The namespace folder the files go under.").default("\"/\""),
        PropDoc::new("conflict", "What a file that already exists gets.").values(&["OVERWRITE", "ERROR", "SKIP"]).default("\"OVERWRITE\""),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.namespace.DownloadFiles",
        "Copy namespace files into the execution's storage.",
        "Copies the files of `namespace` matching `files` into this task's internal storage, streamed, and outputs each one's kestra:// URI by its namespace path. Counter `downloaded`.",
    )
    .example("id: download\ntype: io.kestra.plugin.core.namespace.DownloadFiles\nnamespace: tutorial\nfiles:\n  - \"**input.txt\"\n")
    .outputs(&[OutDoc::new("files", PropKind::Map, "Namespace path (with its leading /) → kestra:// URI of the copy.")])
    .props(&[NS, PATTERNS, PropDoc::new("destination", "A folder of the task's storage the copies go under.").default("\"\"")]),
    TypeDoc::new(
        "io.kestra.plugin.core.namespace.DeleteFiles",
        "Delete namespace files.",
        "Deletes the files of `namespace` matching `files`, with their revisions. Counter `deleted`; no outputs.",
    )
    .example("id: delete\ntype: io.kestra.plugin.core.namespace.DeleteFiles\nnamespace: tutorial\nfiles:\n  - \"**.upl\"\n")
    .props(&[
        NS,
        PATTERNS,
        PropDoc::new("deleteParentFolder", "Remove the folders the deletions leave empty (deepest first); false keeps them as empty folders.").default("false"),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.namespace.PurgeFiles",
        "Purge old revisions of namespace files.",
        "Deletes revisions of the namespace files of the selected namespaces (`namespaces`, with their children unless `includeChildNamespaces` is false, or `namespacePattern`, or every namespace holding files) whose path matches `filePattern`, as `behavior` says: keep the `keepAmount` newest revisions of each file (default 1), or purge the revisions written at or before `before` (never the last one), or, with neither, every revision. A file whose last revision is purged is deleted. Output `size`, the number of revisions purged.",
    )
    .example("id: purge_files\ntype: io.kestra.plugin.core.namespace.PurgeFiles\nnamespaces:\n  - company\nincludeChildNamespaces: true\nfilePattern: \"**/*.sql\"\nbehavior:\n  type: version\n  keepAmount: 3\n")
    .outputs(&[OutDoc::new("size", PropKind::Integer, "The number of namespace file revisions purged.")])
    .props(&[
        PropDoc::new("namespaces", "The namespaces to purge (not with `namespacePattern`); unset with no pattern: every namespace holding files."),
        PropDoc::new("namespacePattern", "A wildcard (`*`, `?`) on the namespace names to purge (not with `namespaces`)."),
        PropDoc::new("includeChildNamespaces", "Also purge the child namespaces of `namespaces` (`company` → `company.team`).").default("true"),
        PropDoc::new("filePattern", "A wildcard on the file paths, without their leading `/` (`*` also crosses `/`, `?` is one character)."),
        PropDoc::new("behavior", "`{type: version, keepAmount: N}` keeps the N newest revisions of each file; `{type: version, before: <ISO date-time>}` purges the older revisions written until then; both at once are refused.").default("{type: version, keepAmount: 1}"),
    ]),
];
