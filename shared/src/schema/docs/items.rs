//! Docs of the core tasks over item files and the KV purge:
//! `storage.DeduplicateItems`, `storage.FilterItems`, `kv.PurgeKV`.

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

const FROM: PropDoc = PropDoc::new("from", "The Ion file of items, one a line (kestra:// URI).");
const URI_OUT: OutDoc = OutDoc::new("uri", PropKind::String, "The new Ion file.");
const PROCESSED: OutDoc = OutDoc::new("processedItemsTotal", PropKind::Integer, "Items read.");
const DROPPED: OutDoc = OutDoc::new("droppedItemsTotal", PropKind::Integer, "Items left out of the new file.");

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new(
        "io.kestra.plugin.core.storage.DeduplicateItems",
        "Keep one item per key of an Ion file.",
        "Renders `expr` for each item (its fields are variables) and keeps, for each key, the last item with it, in file order.",
    )
    .example("id: dedup\ntype: io.kestra.plugin.core.storage.DeduplicateItems\nfrom: \"{{ outputs.query.uri }}\"\nexpr: \"{{ id }}-{{ country }}\"\n")
    .outputs(&[URI_OUT, OutDoc::new("numKeys", PropKind::Integer, "Distinct keys seen."), PROCESSED, DROPPED])
    .props(&[FROM, PropDoc::new("expr", "The key of an item: a template rendered per item, not before the task.").fixed()]),
    TypeDoc::new(
        "io.kestra.plugin.core.storage.FilterItems",
        "Keep or drop the items of an Ion file by a condition.",
        "Renders `filterCondition` for each item (its fields are variables); `false`, `0`, `-0` or an empty result is false, anything else true.",
    )
    .example("id: big\ntype: io.kestra.plugin.core.storage.FilterItems\nfrom: \"{{ outputs.query.uri }}\"\nfilterCondition: \"{{ amount > 100 }}\"\n")
    .outputs(&[URI_OUT, PROCESSED, DROPPED])
    .props(&[
        FROM,
        PropDoc::new("filterCondition", "The condition: a template rendered per item, not before the task.").fixed(),
        PropDoc::new("filterType", "Keep (INCLUDE) or drop (EXCLUDE) the items that match.")
            .values(&["INCLUDE", "EXCLUDE"])
            .default("\"INCLUDE\""),
        PropDoc::new("errorOrNullBehavior", "What to do with an item the condition fails on.")
            .values(&["FAIL", "INCLUDE", "EXCLUDE"])
            .default("\"FAIL\""),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.flow.PurgeFlows",
        "Delete old revisions of flows.",
        "Deletes old revisions of one flow (`namespace` and `flowId`), of a namespace and its children (`namespace`) or of every flow, per `behavior`: `keepAmount` keeps the newest N, `before` deletes those recorded at or before an instant; the latest revision is always kept. Needs a server's flow store. Output `size`: the revisions deleted.",
    )
    .example("id: purge_flows\ntype: io.kestra.plugin.core.flow.PurgeFlows\nnamespace: company\nbehavior:\n  keepAmount: 2\n")
    .outputs(&[OutDoc::new("size", PropKind::Integer, "The number of revisions deleted.")])
    .props(&[
        PropDoc::new("namespace", "The namespace (and its children), or the flow's namespace with flowId."),
        PropDoc::new("flowId", "One flow of `namespace`."),
        PropDoc::new("behavior", "{keepAmount: N} or {before: instant}; neither deletes every old revision.").default("{keepAmount: 1}"),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.kv.PurgeKV",
        "Delete keys of the KV store across namespaces.",
        "Deletes the expired keys (or every key with expiredOnly false) of the chosen namespaces, optionally only keys matching `keyPattern`.",
    )
    .example("id: purge_kv\ntype: io.kestra.plugin.core.kv.PurgeKV\nnamespaces:\n  - company\nincludeChildNamespaces: true\nexpiredOnly: true\n")
    .outputs(&[OutDoc::new("size", PropKind::Integer, "The number of keys deleted.")])
    .props(&[
        PropDoc::new("namespaces", "The namespaces to purge (every namespace holding keys when absent); not with namespacePattern."),
        PropDoc::new("namespacePattern", "A wildcard (`*`, `?`) on the namespaces to purge; not with namespaces."),
        PropDoc::new("keyPattern", "A wildcard (`*`, `?`) on the keys to delete."),
        PropDoc::new("includeChildNamespaces", "Also purge the namespaces starting with one of `namespaces`.").default("true"),
        PropDoc::new("expiredOnly", "Delete only expired keys (deprecated: overrides behavior).").default("true"),
        PropDoc::new("behavior", "How keys are purged: {type: key, expiredOnly: true|false} (type version is refused: Baton keeps no versions).")
            .default("{type: key, expiredOnly: true}"),
    ]),
];
