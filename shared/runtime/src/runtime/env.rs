//! The executor's view of the engine: template rendering with the runtime's
//! host, and the worker group of each task type from the plugin registry.

use std::sync::Arc;

use serde_json::Value;

use crate::executor::StepEnv;
use crate::plugins::Registry;
use crate::plugins::context::{mask_json, mask_secrets};
use crate::template::{Renderer, TemplateError, TemplateHost};

/// `StepEnv` backed by the renderer, a template host and the registry.
pub struct EngineEnv {
    pub renderer: Arc<Renderer>,
    pub host: Arc<dyn TemplateHost>,
    pub registry: Arc<Registry>,
    pub envs: Value,
}

impl EngineEnv {
    fn mask_error(&self, e: TemplateError) -> TemplateError {
        TemplateError::new(mask_secrets(&e.to_string(), &self.host.secret_values()))
    }
}

impl StepEnv for EngineEnv {
    fn render(&self, template: &str, ctx: &Value) -> Result<String, TemplateError> {
        self.renderer.render_str(template, ctx, self.host.as_ref()).map_err(|e| self.mask_error(e))
    }

    fn render_value(&self, v: &Value, ctx: &Value) -> Result<Value, TemplateError> {
        self.renderer.render_value(v, ctx, self.host.as_ref()).map_err(|e| self.mask_error(e))
    }

    fn templates(&self) -> (&Renderer, &dyn TemplateHost) {
        (&self.renderer, self.host.as_ref())
    }

    fn mask(&self, v: Value) -> Value {
        mask_json(v, &self.host.secret_values())
    }

    fn worker_group(&self, kind: &str) -> String {
        self.registry.get(kind).map(|d| d.group.to_string()).unwrap_or_else(|| "core".to_string())
    }

    fn envs(&self) -> Value {
        self.envs.clone()
    }
}
