# Reads a folder of Kestra flows and derives, from the flows themselves:
# - every flow (namespace, id, file, the object name it is uploaded under);
# - one Cloud Scheduler job per enabled `Schedule` trigger (cron, time zone,
#   the tick message for the `baton-scheduler` topic);
# - the Schedule triggers that get no job, each with its reason.
#
# It mirrors how Baton reads a trigger (shared/model/src/flow.rs and
# shared/runtime/src/schedule/): the legacy type names, `pluginDefaults` (or the older
# `taskDefaults`) applied to the trigger — a default matches by exact type or
# package prefix, fills keys the trigger does not set, and a `forced` one
# overrides — `disabled` on the trigger and on the flow, the `@daily`-style
# nicknames, `?` for `*`, and `timezone` (UTC when absent or blank).
#
# Cloud Scheduler takes unix-cron with five fields, so a `withSeconds: true`
# trigger gets no job, nor does one using `L`, `W` or `#` (Quartz extensions
# Cloud Scheduler does not support). They are listed in the `skipped` output.
#
# A `ScheduleOnDates` trigger gets one job per date still to come, keyed
# "namespace/flowId/triggerId#index": a UTC cron on that date's minute (the
# minute after it when the date has seconds), publishing the same tick
# message as a Schedule job. The scheduler function fires the date due at
# delivery (and recovers missed ones per `recoverMissedSchedules`); the job
# fires again on that day of later years, when no date is due and nothing
# happens, until an apply after the date removes it. A date already past at
# plan time gets no job (listed in `skipped`), nor does a `dates` template.
#
# An `http.Trigger` (or its alias `io.kestra.plugin.fs.http.Trigger`) gets
# one job that ticks at its `interval` (PT60S by default) as Cloud Scheduler
# can: whole minutes, at least one; a step that does not divide the hour
# (or the day) restarts at each hour (day). Its tick makes the scheduler
# function evaluate the trigger once (shared/runtime/src/runtime/events/http.rs).
# An `io.kestra.plugin.aws.s3.Trigger` gets the same job: its tick polls the
# bucket once (shared/runtime/src/runtime/events/s3.rs); so do the JDBC
# triggers (`jdbc.postgresql.Trigger`, `jdbc.mysql.Trigger`, `jdbc.duckdb.Trigger`) and
# `gcp.bigquery.Trigger`: their tick runs the query once, as an
# http.Trigger's sends its request; `redis.list.Trigger` (alias
# `redis.TriggerList`): its tick pops the list once; `aws.sqs.Trigger`:
# its tick receives from the queue once; and `mqtt.Trigger`: its tick
# connects with the trigger's persistent session and receives once; and
# `nats.core.Trigger` (alias `nats.Trigger`): its tick pulls once; and
# `kafka.Trigger`: its tick joins the consumer group and reads once; and
# `amqp.Trigger`: its tick consumes the queue once; and
# `aws.kinesis.Trigger`: its tick reads the stream's shards once; and
# `gcp.dataflow.Trigger`: its tick lists the Dataflow jobs once.
#
# Terraform has no `let`, so the derivation runs in stages, each a list of
# records built from the one before.

locals {
  schedule_type = "io.kestra.plugin.core.trigger.Schedule"
  on_dates_type = "io.kestra.plugin.core.trigger.ScheduleOnDates"
  http_type     = "io.kestra.plugin.core.http.Trigger"
  s3_type       = "io.kestra.plugin.aws.s3.Trigger"
  # The other polled triggers: the JDBC ones (shared/runtime/src/triggers/jdbc.rs)
  # BigQuery's (shared/runtime/src/triggers/bigquery.rs), Redis's
  # (shared/runtime/src/triggers/redis.rs), SQS's (…/triggers/sqs.rs) and
  # MQTT's (…/triggers/mqtt.rs), NATS's (…/triggers/nats.rs), Kafka's
  # (…/triggers/kafka.rs), AMQP's (…/triggers/amqp.rs), Kinesis's
  # (…/triggers/kinesis.rs) and Dataflow's (…/triggers/dataflow.rs).
  polled_types = [
    "io.kestra.plugin.core.http.Trigger",
    "io.kestra.plugin.aws.s3.Trigger",
    "io.kestra.plugin.jdbc.postgresql.Trigger",
    "io.kestra.plugin.jdbc.mysql.Trigger",
    "io.kestra.plugin.jdbc.duckdb.Trigger",
    "io.kestra.plugin.gcp.bigquery.Trigger",
    "io.kestra.plugin.redis.list.Trigger",
    "io.kestra.plugin.aws.sqs.Trigger",
    "io.kestra.plugin.mqtt.Trigger",
    "io.kestra.plugin.nats.core.Trigger",
    "io.kestra.plugin.kafka.Trigger",
    "io.kestra.plugin.amqp.Trigger",
    "io.kestra.plugin.aws.kinesis.Trigger",
    "io.kestra.plugin.gcp.dataflow.Trigger",
  ]
  # Triggers no deployment runs, with the way out each message names: a
  # Redis list RealtimeTrigger listens continuously (BLPOP), the TCP and UDP
  # RealtimeTriggers hold a port open, and Google Cloud's functions hold no
  # listener (shared/runtime/src/triggers/redis.rs, socket.rs). A flow with
  # one enabled is refused at plan time (the precondition on its upload,
  # ../../flows.tf).
  listener_types = {
    "io.kestra.plugin.redis.list.RealtimeTrigger" = "use io.kestra.plugin.redis.list.Trigger (polled)"
    "io.kestra.plugin.redis.RealtimeTrigger"      = "use io.kestra.plugin.redis.list.Trigger (polled)"
    "io.kestra.plugin.aws.sqs.RealtimeTrigger"    = "use io.kestra.plugin.aws.sqs.Trigger (polled)"
    "io.kestra.plugin.mqtt.RealtimeTrigger"       = "use io.kestra.plugin.mqtt.Trigger (polled)"
    "io.kestra.plugin.nats.core.RealtimeTrigger"  = "use io.kestra.plugin.nats.core.Trigger (polled)"
    "io.kestra.plugin.nats.RealtimeTrigger"       = "use io.kestra.plugin.nats.core.Trigger (polled)"
    "io.kestra.plugin.kafka.RealtimeTrigger"      = "use io.kestra.plugin.kafka.Trigger (polled)"
    "io.kestra.plugin.amqp.RealtimeTrigger"       = "use io.kestra.plugin.amqp.Trigger (polled)"
    "io.kestra.plugin.fs.tcp.RealtimeTrigger"     = "send the messages to a Webhook trigger (io.kestra.plugin.core.trigger.Webhook)"
    "io.kestra.plugin.fs.udp.RealtimeTrigger"     = "send the messages to a Webhook trigger (io.kestra.plugin.core.trigger.Webhook)"
  }
  # Triggers that watch a folder of the machine they run on, which Google
  # Cloud's functions do not share (shared/runtime/src/triggers/fs_local.rs):
  # refused at plan time the same way, with the way out.
  local_types = {
    "io.kestra.plugin.fs.local.Trigger" = "put the files in a bucket watched by io.kestra.plugin.gcp.gcs.Trigger"
  }
  # Legacy names of the Schedule trigger (shared/model/src/types.rs).
  type_aliases = {
    "io.kestra.core.tasks.triggers.Schedule"        = "io.kestra.plugin.core.trigger.Schedule"
    "io.kestra.core.models.triggers.types.Schedule" = "io.kestra.plugin.core.trigger.Schedule"
    "io.kestra.plugin.fs.http.Trigger"              = "io.kestra.plugin.core.http.Trigger"
    "io.kestra.plugin.redis.TriggerList"            = "io.kestra.plugin.redis.list.Trigger"
    "io.kestra.plugin.nats.Trigger"                 = "io.kestra.plugin.nats.core.Trigger"
  }
  # The nicknames Kestra accepts, as Cloud Scheduler's five fields.
  nicknames = {
    "@yearly"   = "0 0 1 1 *"
    "@annually" = "0 0 1 1 *"
    "@monthly"  = "0 0 1 * *"
    "@weekly"   = "0 0 * * 0"
    "@daily"    = "0 0 * * *"
    "@midnight" = "0 0 * * *"
    "@hourly"   = "0 * * * *"
  }
  # The trigger properties that decide the job; each is resolved as JSON text
  # so that values of any YAML type pass through the same expressions.
  props = ["cron", "withSeconds", "timezone", "disabled", "dates", "interval"]

  files = sort(tolist(fileset(var.flows_dir, "**/*.{yml,yaml}")))
  docs  = { for f in local.files : f => yamldecode(file("${var.flows_dir}/${f}")) }
  # Files that hold a flow (a mapping with an id and a namespace).
  flow_files = [
    for f in local.files : f
    if can(tostring(local.docs[f].id)) && can(tostring(local.docs[f].namespace))
  ]

  # Keyed "namespace/id": two files declaring the same flow fail here with a
  # duplicate-key error naming it.
  flows = {
    for f in local.flow_files : "${local.docs[f].namespace}/${local.docs[f].id}" => {
      file      = f
      namespace = tostring(local.docs[f].namespace)
      id        = tostring(local.docs[f].id)
      disabled  = try(local.docs[f].disabled == true, false)
      object    = "flows/${local.docs[f].namespace}/${local.docs[f].id}.yml"
      # Where the flow's execution files live in internal storage: Baton's
      # `/{namespace with / for .}/{slugify(flowId)}/executions/`
      # (shared/src/plugins/context.rs), without the leading slash.
      executions_prefix = "${replace(local.docs[f].namespace, ".", "/")}/${replace(replace(lower(local.docs[f].id), "/[^a-z0-9_.]+/", "-"), "/^-+|-+$/", "")}/executions/"
    }
  }

  # `pluginDefaults`, or `taskDefaults` when the flow has no `pluginDefaults`.
  defaults_key = {
    for f in local.flow_files : f => can(local.docs[f].pluginDefaults) ? "pluginDefaults" : "taskDefaults"
  }
  defaults = {
    for f in local.flow_files : f => [
      for i in range(try(length(local.docs[f][local.defaults_key[f]]), 0)) : {
        type   = try(tostring(local.docs[f][local.defaults_key[f]][i].type), "")
        forced = try(local.docs[f][local.defaults_key[f]][i].forced == true, false)
        # value of each decisive property the default sets, as JSON text
        values = {
          for p in local.props : p => jsonencode(local.docs[f][local.defaults_key[f]][i].values[p])
          if can(local.docs[f][local.defaults_key[f]][i].values[p])
        }
      }
    ]
  }

  # Stage 1: every trigger of every flow, with its own decisive properties.
  triggers = flatten([
    for f in local.flow_files : [
      for i in range(try(length(local.docs[f].triggers), 0)) : {
        file          = f
        namespace     = tostring(local.docs[f].namespace)
        flow_id       = tostring(local.docs[f].id)
        flow_disabled = try(local.docs[f].disabled == true, false)
        id            = try(tostring(local.docs[f].triggers[i].id), "")
        written       = try(tostring(local.docs[f].triggers[i].type), "")
        type          = lookup(local.type_aliases, try(tostring(local.docs[f].triggers[i].type), ""), try(tostring(local.docs[f].triggers[i].type), ""))
        own = {
          for p in local.props : p => jsonencode(local.docs[f].triggers[i][p])
          if can(local.docs[f].triggers[i][p])
        }
      }
    ]
  ])

  # The triggers of `listener_types` and `local_types`, enabled in an
  # enabled flow: why each is refused.
  unsupported = {
    for t in local.triggers : "${t.namespace}/${t.flow_id}/${t.id}" => (
      contains(keys(local.local_types), t.written)
      ? "trigger '${t.id}' of flow ${t.namespace}.${t.flow_id} (${t.file}): ${t.written} watches a folder of the machine it runs on, which Google Cloud's functions do not share; ${lookup(local.local_types, t.written, "")} or run the flow on baton server local"
      : "trigger '${t.id}' of flow ${t.namespace}.${t.flow_id} (${t.file}): ${t.written} listens continuously, which Google Cloud's functions cannot (they hold no listener); ${lookup(local.listener_types, t.written, "")} or run the flow on baton server local"
    ) if contains(concat(keys(local.listener_types), keys(local.local_types)), t.written) && !t.flow_disabled && !try(jsondecode(t.own.disabled) == true, false)
  }

  # Stage 2: the Schedule triggers, with the defaults that apply to each.
  schedules = [
    for t in local.triggers : merge(t, {
      key = "${t.namespace}/${t.flow_id}/${t.id}"
      defaults = [
        for d in local.defaults[t.file] : d
        if d.type != "" && (
          d.type == t.written || d.type == t.type ||
          startswith(t.written, "${d.type}.") || startswith(t.type, "${d.type}.")
        )
      ]
    }) if t.type == local.schedule_type || t.type == local.on_dates_type || contains(local.polled_types, t.type)
  ]

  # Stage 3: each decisive property after pluginDefaults: the last forced
  # default that sets it, else the trigger's own value, else the first default.
  resolved = [
    for t in local.schedules : merge(t, {
      eff = {
        for p in local.props : p => (
          length([for d in t.defaults : d if d.forced && contains(keys(d.values), p)]) > 0
          ? reverse([for d in t.defaults : d.values[p] if d.forced && contains(keys(d.values), p)])[0]
          : contains(keys(t.own), p) ? t.own[p]
          : length([for d in t.defaults : d if contains(keys(d.values), p)]) > 0
          ? [for d in t.defaults : d.values[p] if contains(keys(d.values), p)][0]
          : "null"
        )
      }
    })
  ]

  # Stage 4: the cron as Cloud Scheduler takes it, the time zone, and why a
  # trigger gets no job.
  decoded = [
    for t in local.resolved : merge(t, {
      cron         = try(tostring(jsondecode(t.eff.cron)), null)
      disabled     = try(jsondecode(t.eff.disabled) == true, false)
      with_seconds = try(lower(tostring(jsondecode(t.eff.withSeconds))) == "true", false)
      tz           = try(trimspace(tostring(jsondecode(t.eff.timezone))), "")
      # a ScheduleOnDates' dates, Java's `[Zone/Id]` suffix dropped (the offset places the instant)
      dates = try([for d in jsondecode(t.eff.dates) : replace(tostring(d), "/\\[[^]]*\\]$/", "")], null)
    })
  ]
  # ScheduleOnDates: one entry per date, with the UTC minute its job fires on.
  dated = flatten([
    for t in local.decoded : [
      for i, d in coalesce(t.dates, []) : {
        trigger = t
        key     = "${t.key}#${i}"
        date    = d
        # the same wall clock in UTC (timeadd keeps the written offset, so
        # the offset is taken off by hand), then the minute the job fires on
        fire_at = can(timeadd(d, "59s")) ? timeadd(d, "59s") : null
        utc = !can(timeadd(d, "59s")) ? null : timeadd(timeadd(d, (
          endswith(upper(d), "Z") ? "0s" :
          "${substr(d, -6, 1) == "+" ? "-" : ""}${tonumber(substr(d, -5, 2)) * 60 + tonumber(substr(d, -2, 2))}m"
        )), "59s")
      }
    ] if t.type == local.on_dates_type
  ])
  dated_reasons = merge(
    {
      for t in local.decoded : t.key => (
        t.flow_disabled ? "the flow is disabled" :
        t.disabled ? "the trigger is disabled" : "'dates' is not a list of date-times"
      ) if t.type == local.on_dates_type && (t.flow_disabled || t.disabled || t.dates == null)
    },
    {
      for x in local.dated : x.key => (
        x.fire_at == null ? "'${x.date}' is not an RFC 3339 date-time with an offset" : "${x.date} has passed"
      ) if !x.trigger.flow_disabled && !x.trigger.disabled && (x.fire_at == null ? true : timecmp(x.fire_at, plantimestamp()) < 0)
    }
  )
  date_jobs = {
    for x in local.dated : x.key => {
      name        = "${var.name_prefix}-${substr(replace(lower("${x.trigger.namespace}-${x.trigger.flow_id}-${x.trigger.id}"), "/[^a-z0-9-]+/", "-"), 0, 70)}-${substr(sha1(x.key), 0, 8)}"
      namespace   = x.trigger.namespace
      flow_id     = x.trigger.flow_id
      trigger_id  = x.trigger.id
      file        = x.trigger.file
      schedule    = formatdate("m h D M *", x.utc)
      time_zone   = "Etc/UTC"
      description = "ScheduleOnDates trigger ${x.trigger.id} of flow ${x.trigger.namespace}.${x.trigger.flow_id}: ${x.date} (${x.trigger.file})"
      payload = jsonencode({
        type      = "tick"
        namespace = x.trigger.namespace
        flowId    = x.trigger.flow_id
        triggerId = x.trigger.id
      })
    } if !contains(keys(local.dated_reasons), x.key) && !contains(keys(local.dated_reasons), x.trigger.key)
  }
  # http.Trigger: the interval in whole minutes (rounded up, at least one)
  polled = [
    for t in local.decoded : merge(t, {
      parts = try(regex("^P(?:(\\d+)D)?(?:T(?:(\\d+)H)?(?:(\\d+)M)?(?:(\\d+(?:\\.\\d+)?)S)?)?$", upper(tostring(jsondecode(t.eff.interval)))), t.eff.interval == "null" ? [null, null, null, "60"] : null)
    }) if contains(local.polled_types, t.type)
  ]
  http_minutes = {
    for t in local.polled : t.key => max(1, ceil((
      tonumber(coalesce(t.parts[0], "0")) * 86400 + tonumber(coalesce(t.parts[1], "0")) * 3600 +
      tonumber(coalesce(t.parts[2], "0")) * 60 + tonumber(coalesce(t.parts[3], "0"))
    ) / 60)) if t.parts != null
  }
  http_reasons = {
    for t in local.polled : t.key => (
      t.flow_disabled ? "the flow is disabled" :
      t.disabled ? "the trigger is disabled" : "'interval' is not an ISO-8601 duration"
    ) if t.flow_disabled || t.disabled || t.parts == null
  }
  http_jobs = {
    for t in local.polled : t.key => {
      name       = "${var.name_prefix}-${substr(replace(lower("${t.namespace}-${t.flow_id}-${t.id}"), "/[^a-z0-9-]+/", "-"), 0, 80)}-${substr(sha1(t.key), 0, 8)}"
      namespace  = t.namespace
      flow_id    = t.flow_id
      trigger_id = t.id
      file       = t.file
      schedule = (
        local.http_minutes[t.key] == 1 ? "* * * * *" :
        local.http_minutes[t.key] < 60 ? "*/${local.http_minutes[t.key]} * * * *" :
        local.http_minutes[t.key] < 120 ? "0 * * * *" :
        local.http_minutes[t.key] < 1440 ? "0 */${floor(local.http_minutes[t.key] / 60)} * * *" : "0 0 * * *"
      )
      time_zone   = "Etc/UTC"
      description = "${replace(t.type, "io.kestra.plugin.", "")} ${t.id} of flow ${t.namespace}.${t.flow_id}, polled every ${local.http_minutes[t.key]} min (${t.file})"
      payload = jsonencode({
        type      = "tick"
        namespace = t.namespace
        flowId    = t.flow_id
        triggerId = t.id
      })
    } if !contains(keys(local.http_reasons), t.key)
  }
  shaped = [
    for t in local.decoded : merge(t, {
      time_zone = t.tz == "" ? var.default_time_zone : t.tz
      fields = (
        t.cron == null ? [] :
        length(regexall("\\S+", t.cron)) == 1 && startswith(trimspace(t.cron), "@")
        ? split(" ", lookup(local.nicknames, lower(trimspace(t.cron)), "unknown-nickname"))
        : [for x in regexall("\\S+", t.cron) : x == "?" ? "*" : upper(x)]
      )
    }) if t.type == local.schedule_type
  ]
  classified = [
    for t in local.shaped : merge(t, {
      schedule = join(" ", t.fields)
      reason = (
        t.flow_disabled ? "the flow is disabled" :
        t.disabled ? "the trigger is disabled" :
        t.cron == null ? "the trigger has no cron expression" :
        t.with_seconds ? "withSeconds: Cloud Scheduler crons have no seconds field" :
        length(t.fields) != 5 ? "'${t.cron}' is not a five-field cron expression" :
        can(regex("[LW]", t.fields[2])) || can(regex("[L#]", t.fields[4]))
        ? "'${t.cron}' uses L, W or #, which Cloud Scheduler does not support" : ""
      )
    })
  ]

  jobs = merge(local.date_jobs, local.http_jobs, {
    for t in local.classified : t.key => {
      # Cloud Scheduler job ids allow [a-zA-Z0-9_-]; the hash keeps ids that
      # differ only in punctuation apart.
      name        = "${var.name_prefix}-${substr(replace(lower("${t.namespace}-${t.flow_id}-${t.id}"), "/[^a-z0-9-]+/", "-"), 0, 80)}-${substr(sha1(t.key), 0, 8)}"
      namespace   = t.namespace
      flow_id     = t.flow_id
      trigger_id  = t.id
      file        = t.file
      schedule    = t.schedule
      time_zone   = t.time_zone
      description = "Schedule trigger ${t.id} of flow ${t.namespace}.${t.flow_id} (${t.file})"
      # The tick message: the scheduler function creates the execution of the
      # tick due at delivery time, once per (flow, trigger, date).
      payload = jsonencode({
        type      = "tick"
        namespace = t.namespace
        flowId    = t.flow_id
        triggerId = t.id
      })
    } if t.reason == ""
  })

  skipped = merge(local.dated_reasons, local.http_reasons, { for t in local.classified : t.key => t.reason if t.reason != "" })
}
