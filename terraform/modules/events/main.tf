# Reads a folder of Kestra flows and derives the push wiring of their event
# triggers (shared/runtime/src/triggers/gcs.rs, shared/runtime/src/triggers/pubsub.rs):
# - one entry per enabled `io.kestra.plugin.gcp.gcs.Trigger`: the bucket and
#   object prefix of its `from`, the event types (OBJECT_FINALIZE, plus
#   OBJECT_METADATA_UPDATE unless `on: CREATE`), and the push subscription
#   name `baton-gcs~{namespace}~{flowId}~{triggerId}` the scheduler function
#   reads the trigger from (shared/src/functions/events.rs);
# - one entry per enabled `io.kestra.plugin.gcp.pubsub.Trigger` /
#   `RealtimeTrigger`: its topic (in `projectId`, else the deployment's
#   project) and its `subscription`, the name the push subscription gets.
#
# A trigger's properties include the flow's `pluginDefaults` (or
# `taskDefaults`) whose type is the trigger's or a package of it, as Baton's
# model and Kestra's PluginDefaultService apply them: a default fills what
# the trigger does not say (the first matching default wins), a `forced` one
# overrides it (the last wins). Zoomcamp-style flows put `projectId` there.
#
# yamldecode reads the key `on` as YAML 1.1 does (the boolean true, so the
# key "true"): both are looked up.
#
# `interval` has no effect here: events are pushed, nothing polls. Baton's
# validator requires these properties to be written out (no templates), so
# they can be read here.

locals {
  gcs_type     = "io.kestra.plugin.gcp.gcs.Trigger"
  pubsub_types = ["io.kestra.plugin.gcp.pubsub.Trigger", "io.kestra.plugin.gcp.pubsub.RealtimeTrigger"]
  files        = sort(tolist(fileset(var.flows_dir, "**/*.{yml,yaml}")))
  docs         = { for f in local.files : f => yamldecode(file("${var.flows_dir}/${f}")) }
  flow_files = [
    for f in local.files : f
    if can(tostring(local.docs[f].id)) && can(tostring(local.docs[f].namespace)) && !try(local.docs[f].disabled == true, false)
  ]

  # each flow's pluginDefaults, as written
  defaults = { for f in local.flow_files : f => try(local.docs[f].pluginDefaults, local.docs[f].taskDefaults, []) }

  raw_triggers = flatten([
    for f in local.flow_files : [
      for t in try(local.docs[f].triggers, []) : {
        file = f
        type = try(tostring(t.type), "")
        raw  = t
        # indexes of the defaults that apply to this trigger's type
        matching = [
          for i, d in local.defaults[f] : i
          if try(tostring(d.type) == tostring(t.type) || startswith(tostring(t.type), "${tostring(d.type)}."), false)
        ]
      }
    ]
  ])

  triggers = [
    for r in [
      for t in local.raw_triggers : {
        namespace = tostring(local.docs[t.file].namespace)
        flow_id   = tostring(local.docs[t.file].id)
        id        = try(tostring(t.raw.id), "")
        type      = t.type
        props = merge(
          # non-forced, the first one winning: merged last to first
          merge([
            for i in reverse(t.matching) : try(local.defaults[t.file][i].values, {})
            if !try(local.defaults[t.file][i].forced == true, false)
          ]...),
          t.raw,
          merge([
            for i in t.matching : try(local.defaults[t.file][i].values, {})
            if try(local.defaults[t.file][i].forced == true, false)
          ]...),
        )
      }
    ] : r if !try(r.props.disabled == true, false)
  ]

  gcs = {
    for t in local.triggers : "${t.namespace}/${t.flow_id}/${t.id}" => {
      namespace    = t.namespace
      flow_id      = t.flow_id
      trigger_id   = t.id
      bucket       = split("/", trimprefix(tostring(t.props.from), "gs://"))[0]
      prefix       = join("/", slice(split("/", trimprefix(tostring(t.props.from), "gs://")), 1, length(split("/", trimprefix(tostring(t.props.from), "gs://")))))
      event_types  = upper(try(tostring(t.props.on), tostring(t.props["true"]), "CREATE_OR_UPDATE")) == "CREATE" ? ["OBJECT_FINALIZE"] : ["OBJECT_FINALIZE", "OBJECT_METADATA_UPDATE"]
      subscription = "baton-gcs~${t.namespace}~${t.flow_id}~${t.id}"
      # the bucket MOVE writes to (`moveDirectory`), when another one
      move_bucket = try(split("/", trimprefix(tostring(t.props.moveDirectory), "gs://"))[0], null)
      # topic names allow neither ~ nor dots at the start: a digest keeps them short and valid
      topic = "baton-gcs-${substr(sha256("${t.namespace}/${t.flow_id}/${t.id}"), 0, 16)}"
    } if t.type == local.gcs_type && can(tostring(t.props.from))
  }

  pubsub = {
    for t in local.triggers : "${t.namespace}/${t.flow_id}/${t.id}" => {
      namespace    = t.namespace
      flow_id      = t.flow_id
      trigger_id   = t.id
      realtime     = endswith(t.type, "RealtimeTrigger")
      topic        = "projects/${try(tostring(t.props.projectId), var.project_id)}/topics/${tostring(t.props.topic)}"
      subscription = tostring(t.props.subscription)
    } if contains(local.pubsub_types, t.type) && can(tostring(t.props.topic)) && can(tostring(t.props.subscription))
  }
}
