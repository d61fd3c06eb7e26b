//! The reader's walk over tasks, DAG tasks, triggers and retry policies:
//! each read as complete as possible, every structural problem collected
//! with its path (`Reader` and the flow's own keys are in `flow`).

use serde_json::{Map, Value};

use super::*;

impl Reader<'_> {
    pub(crate) fn task_list(&mut self, v: Option<&Value>, path: &str, required: bool) -> Vec<Task> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.problem(path, format!("missing required property '{}'", last_segment(path)));
                }
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if required && items.is_empty() {
                    self.problem(path, format!("'{}' must contain at least one task", last_segment(path)));
                }
                items.iter().enumerate().filter_map(|(i, t)| self.task(t, &child_index(path, i))).collect()
            }
            Some(other) => {
                self.problem(path, format!("'{}' must be a list of tasks, got {}", last_segment(path), kind_of(other)));
                Vec::new()
            }
        }
    }

    pub(crate) fn task(&mut self, v: &Value, path: &str) -> Option<Task> {
        let Some(raw) = v.as_object() else {
            self.problem(path, format!("a task must be a mapping, got {}", kind_of(v)));
            return None;
        };
        let type_ = match raw.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.problem(&child_key(path, "type"), "'type' must be a string");
                return None;
            }
            None => {
                self.problem(path, "missing required property 'type'");
                return None;
            }
        };
        let kind = self.current_type(&type_);
        let obj = apply_defaults(raw, &type_, &kind, self.defaults);
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.problem(&child_key(path, "id"), "'id' must be a string");
                String::new()
            }
            None => {
                self.problem(path, "missing required property 'id'");
                String::new()
            }
        };
        let flowable_kind = types::flowable_kind(&kind);
        let bool_key = |r: &mut Self, k: &str| -> bool {
            match obj.get(k) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
                Some(other) => {
                    r.problem(&child_key(path, k), format!("'{k}' must be true or false, got {}", kind_of(other)));
                    false
                }
            }
        };
        let disabled = bool_key(self, "disabled");
        let allow_failure = bool_key(self, "allowFailure");
        let allow_warning = bool_key(self, "allowWarning");
        let retry = obj.get("retry").and_then(|v| self.retry(v, &child_key(path, "retry")));
        let timeout = match obj.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match duration::parse_iso(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.problem(&child_key(path, "timeout"), format!("invalid timeout: {e}"));
                    None
                }
            },
            Some(_) => {
                self.problem(&child_key(path, "timeout"), "'timeout' must be an ISO-8601 duration such as PT10M");
                None
            }
        };
        let opt_string = |k: &str| obj.get(k).filter(|v| !v.is_null()).map(scalar_string);
        let log_level = opt_string("logLevel");
        if let Some(l) = &log_level
            && !matches!(l.to_ascii_uppercase().as_str(), "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")
        {
            self.problem(
                &child_key(path, "logLevel"),
                format!("logLevel '{l}' is not one of TRACE, DEBUG, INFO, WARN, ERROR"),
            );
        }
        let log_to_file = bool_key(self, "logToFile");
        let task_cache = match crate::task_cache::read(obj.get("taskCache")) {
            Ok(c) => c,
            Err((sub, message)) => {
                let at = child_key(path, "taskCache");
                self.problem(&if sub.is_empty() { at } else { child_key(&at, sub) }, message);
                None
            }
        };
        if task_cache.is_some() && flowable_kind.is_some() {
            self.problem(&child_key(path, "taskCache"), "taskCache applies to runnable tasks, not to flowables");
        }
        if let Some(v) = obj.get("version").filter(|v| !v.is_null())
            && !scalar_string(v).eq_ignore_ascii_case("latest")
        {
            self.problem(
                &child_key(path, "version"),
                format!("plugin version '{}' cannot be chosen: Baton runs one version of each task type (remove it, or use LATEST)", scalar_string(v)),
            );
        }
        let mut props = Map::new();
        let child_keys: &[&str] = FlowableKind::child_keys(flowable_kind);
        for (k, v) in obj.iter() {
            if !TASK_COMMON_KEYS.contains(&k.as_str()) && !child_keys.contains(&k.as_str()) {
                props.insert(k.clone(), v.clone());
            }
        }
        let children = match flowable_kind {
            Some(FlowableKind::If) => Children::If {
                then: self.task_list(obj.get("then"), &child_key(path, "then"), true),
                else_: self.task_list(obj.get("else"), &child_key(path, "else"), false),
            },
            Some(FlowableKind::Switch) => {
                let mut cases = Vec::new();
                match obj.get("cases") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(m)) => {
                        for (k, v) in m {
                            let p = child_key(&child_key(path, "cases"), k);
                            cases.push((k.clone(), self.task_list(Some(v), &p, true)));
                        }
                    }
                    Some(_) => self.problem(&child_key(path, "cases"), "'cases' must map values to task lists"),
                }
                Children::Switch {
                    cases,
                    defaults: self.task_list(obj.get("defaults"), &child_key(path, "defaults"), false),
                }
            }
            Some(
                FlowableKind::Sequential
                | FlowableKind::Parallel
                | FlowableKind::ForEach
                | FlowableKind::WorkingDirectory
                | FlowableKind::AllowFailure
                | FlowableKind::WaitFor,
            ) => Children::Tasks(self.task_list(obj.get("tasks"), &child_key(path, "tasks"), true)),
            Some(FlowableKind::Dag) => Children::Tasks(self.dag_tasks(obj.get("tasks"), &child_key(path, "tasks"))),
            // the deprecated child `tasks` of a Pause are optional
            Some(FlowableKind::Pause) => {
                Children::Tasks(self.task_list(obj.get("tasks"), &child_key(path, "tasks"), false))
            }
            Some(FlowableKind::ForEachItem) => crate::for_each_item::children(&id, &props, path),
            _ => Children::None,
        };
        let errors = self.task_list(obj.get("errors"), &child_key(path, "errors"), false);
        let finally = self.task_list(obj.get("finally"), &child_key(path, "finally"), false);
        let flowable = crate::flowable::parse(&kind, &props);
        Some(Task {
            id,
            type_,
            kind,
            flowable,
            description: opt_string("description"),
            disabled,
            allow_failure,
            allow_warning,
            retry,
            timeout,
            run_if: opt_string("runIf"),
            worker_group: obj.get("workerGroup").and_then(|w| w.get("key").or(Some(w))).map(scalar_string),
            log_level,
            log_to_file,
            task_cache,
            props,
            children,
            errors,
            finally,
            depends_on: Vec::new(),
            path: path.to_string(),
        })
    }

    /// A Dag's `tasks`: `[{task, dependsOn}]`, each task with its
    /// `dependsOn` (the ids are checked by the validator).
    pub(crate) fn dag_tasks(&mut self, v: Option<&Value>, path: &str) -> Vec<Task> {
        let Some(items) = v.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.problem(path, "'tasks' must list at least one {task, dependsOn}");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = child_index(path, i);
            let Some(m) = item.as_object() else {
                self.problem(&at, format!("a Dag entry must be a mapping {{task, dependsOn}}, got {}", kind_of(item)));
                continue;
            };
            for k in m.keys().filter(|k| !matches!(k.as_str(), "task" | "dependsOn")) {
                self.problem(
                    &child_key(&at, k),
                    format!("unknown property '{k}' of a Dag entry (known: task, dependsOn)"),
                );
            }
            let depends_on = match m.get("dependsOn") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
                    ids.iter().filter_map(Value::as_str).map(str::to_string).collect()
                }
                Some(other) => {
                    self.problem(
                        &child_key(&at, "dependsOn"),
                        format!("'dependsOn' must be a list of task ids, got {}", kind_of(other)),
                    );
                    Vec::new()
                }
            };
            match m.get("task") {
                None | Some(Value::Null) => self.problem(&at, "missing required property 'task'"),
                Some(t) => {
                    if let Some(mut task) = self.task(t, &child_key(&at, "task")) {
                        task.depends_on = depends_on;
                        out.push(task);
                    }
                }
            }
        }
        out
    }

    pub(crate) fn triggers(&mut self, v: Option<&Value>) -> Vec<Trigger> {
        let items = match v {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem("triggers", "'triggers' must be a list");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = child_index("triggers", i);
            let Some(raw) = item.as_object() else {
                self.problem(&path, "a trigger must be a mapping");
                continue;
            };
            let (Some(id), Some(type_)) =
                (raw.get("id").and_then(Value::as_str), raw.get("type").and_then(Value::as_str))
            else {
                self.problem(&path, "a trigger needs a string 'id' and 'type'");
                continue;
            };
            let kind = self.current_type(type_);
            let obj = apply_defaults(raw, type_, &kind, self.defaults);
            let disabled = obj.get("disabled").and_then(Value::as_bool).unwrap_or(false);
            out.push(Trigger { id: id.to_string(), type_: kind, disabled, props: obj, path });
        }
        out
    }

    pub(crate) fn retry(&mut self, v: &Value, path: &str) -> Option<Retry> {
        let Some(o) = v.as_object() else {
            self.problem(path, "'retry' must be a mapping with a 'type'");
            return None;
        };
        let dur = |r: &mut Self, k: &str, required: bool| -> Option<Duration> {
            match o.get(k) {
                None | Some(Value::Null) => {
                    if required {
                        r.problem(path, format!("retry is missing required property '{k}'"));
                    }
                    None
                }
                Some(Value::String(s)) => match duration::parse_iso(s) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        r.problem(&child_key(path, k), format!("invalid {k}: {e}"));
                        None
                    }
                },
                Some(_) => {
                    r.problem(&child_key(path, k), format!("'{k}' must be an ISO-8601 duration"));
                    None
                }
            }
        };
        let t = o.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        let kind = match t.as_str() {
            "constant" => RetryKind::Constant { interval: dur(self, "interval", true)? },
            "exponential" => RetryKind::Exponential {
                interval: dur(self, "interval", true)?,
                max_interval: dur(self, "maxInterval", true)?,
                delay_factor: o.get("delayFactor").and_then(Value::as_f64),
            },
            "random" => RetryKind::Random {
                min_interval: dur(self, "minInterval", true)?,
                max_interval: dur(self, "maxInterval", true)?,
            },
            other => {
                self.problem(
                    &child_key(path, "type"),
                    format!("unknown retry type '{other}' (expected constant, exponential or random)"),
                );
                return None;
            }
        };
        let max_attempt = match o.get("maxAttempt").or_else(|| o.get("maxAttempts")) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Some(n as u32),
                _ => {
                    self.problem(&child_key(path, "maxAttempt"), "maxAttempt must be an integer ≥ 1");
                    None
                }
            },
        };
        for (k, v) in o {
            match k.as_str() {
                "behavior" => match v.as_str().map(str::to_ascii_uppercase).as_deref() {
                    None if v.is_null() => {}
                    Some("RETRY_FAILED_TASK") => {}
                    Some("CREATE_NEW_EXECUTION") => self.problem(
                        &child_key(path, "behavior"),
                        "retry behavior CREATE_NEW_EXECUTION (each retry a new execution) is not supported yet; \
                         RETRY_FAILED_TASK, the default, retries the failed task in its execution",
                    ),
                    _ => self.problem(
                        &child_key(path, "behavior"),
                        format!("retry behavior {v}: expected RETRY_FAILED_TASK or CREATE_NEW_EXECUTION"),
                    ),
                },
                known if RETRY_KEYS.iter().any(|r| r.name == known) => {}
                other => {
                    let names: Vec<&str> = RETRY_KEYS.iter().filter(|r| r.offered).map(|r| r.name).collect();
                    self.problem(
                        &child_key(path, other),
                        format!("unknown retry property '{other}' (a retry has {})", names.join(", ")),
                    )
                }
            }
        }
        Some(Retry {
            kind,
            max_attempt,
            max_duration: dur(self, "maxDuration", false),
            warning_on_retry: o.get("warningOnRetry").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}
