//! Run-time settings of the AI plugins (part of `PluginConfig`): base URLs
//! that replace each provider's and web-search service's default for every
//! flow (a proxy, a compatible server, a local fake), and the retry policy
//! for rate limits. A `baseUrl` written in the flow wins over these.

use std::time::Duration;

/// Settings of the AI plugins.
#[derive(Debug, Clone)]
pub struct AiConfig {
    /// `BATON_GEMINI_BASE_URL`: replaces `https://generativelanguage.googleapis.com`.
    pub gemini_base_url: Option<String>,
    /// `BATON_VERTEX_BASE_URL`: replaces `https://{location}-aiplatform.googleapis.com`.
    pub vertex_base_url: Option<String>,
    /// `BATON_OPENAI_BASE_URL`: replaces `https://api.openai.com/v1`.
    pub openai_base_url: Option<String>,
    /// `BATON_ANTHROPIC_BASE_URL`: replaces `https://api.anthropic.com`
    /// (Kestra's Anthropic plugin has no `baseUrl`).
    pub anthropic_base_url: Option<String>,
    /// `BATON_PERPLEXITY_BASE_URL`: replaces `https://api.perplexity.ai`
    /// (Kestra's Perplexity plugin has no `baseUrl`).
    pub perplexity_base_url: Option<String>,
    /// `BATON_TAVILY_BASE_URL`: replaces `https://api.tavily.com`.
    pub tavily_base_url: Option<String>,
    /// `BATON_GOOGLE_SEARCH_BASE_URL`: replaces `https://www.googleapis.com/customsearch/v1`.
    pub google_search_base_url: Option<String>,
    /// How often a rate-limited (429) or unavailable (5xx) call is retried.
    pub max_retries: u32,
    /// The first backoff delay when the provider gives no `Retry-After`; doubles each time.
    pub backoff: Duration,
}

impl Default for AiConfig {
    fn default() -> AiConfig {
        AiConfig {
            gemini_base_url: None,
            vertex_base_url: None,
            openai_base_url: None,
            anthropic_base_url: None,
            perplexity_base_url: None,
            tavily_base_url: None,
            google_search_base_url: None,
            max_retries: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

impl AiConfig {
    /// Reads the `BATON_*_BASE_URL` variables.
    pub fn from_env() -> AiConfig {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        AiConfig {
            gemini_base_url: var("BATON_GEMINI_BASE_URL"),
            vertex_base_url: var("BATON_VERTEX_BASE_URL"),
            openai_base_url: var("BATON_OPENAI_BASE_URL"),
            anthropic_base_url: var("BATON_ANTHROPIC_BASE_URL"),
            perplexity_base_url: var("BATON_PERPLEXITY_BASE_URL"),
            tavily_base_url: var("BATON_TAVILY_BASE_URL"),
            google_search_base_url: var("BATON_GOOGLE_SEARCH_BASE_URL"),
            ..AiConfig::default()
        }
    }
}
