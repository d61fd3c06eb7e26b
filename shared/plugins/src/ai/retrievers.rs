//! Content retrievers (`contentRetrievers`, and RAG's embedding-store
//! retrieval): given the user's question they return text to put in front
//! of the model. `TavilyWebSearch` calls Tavily's `POST /search`;
//! `GoogleCustomWebSearch` calls the Custom Search JSON API
//! (`GET /customsearch/v1`); the embedding-store retriever embeds the
//! question and searches the store. Web searches accept a `baseUrl` (a
//! Baton addition, like the `BATON_TAVILY_BASE_URL` /
//! `BATON_GOOGLE_SEARCH_BASE_URL` settings) so they can be pointed at a proxy or a fake.

use serde_json::{Map, Value, json};

use super::AiError;
use super::embeddings::EmbeddingStore;
use super::http::{Callee, call_json, trim_base};
use super::props::{i64_of, str_of};
use super::providers::Provider;
use crate::{RunContext, TaskError};

/// One retrieved text and where it came from (Kestra's `sources` entries).
#[derive(Debug, Clone)]
pub struct Content {
    pub text: String,
    pub metadata: Map<String, Value>,
}

/// Which web search.
#[derive(Debug, Clone)]
pub enum WebSearch {
    Tavily { api_key: String, max_results: i64, base_url: Option<String> },
    Google { api_key: String, csi: String, max_results: i64, base_url: Option<String> },
}

/// The web-search type names (retrievers and tools share the properties).
pub fn web_search_kind(t: &str) -> Option<&'static str> {
    let short = t.rsplit('.').next()?;
    let pkg_ok = [
        "io.kestra.plugin.ai.retriever.",
        "io.kestra.plugin.ai.tool.",
        "io.kestra.plugin.langchain4j.retriever.",
        "io.kestra.plugin.langchain4j.tool.",
    ]
    .iter()
    .any(|p| t.starts_with(p));
    match (pkg_ok, short) {
        (true, "TavilyWebSearch") => Some("TavilyWebSearch"),
        (true, "GoogleCustomWebSearch") => Some("GoogleCustomWebSearch"),
        _ => None,
    }
}

impl WebSearch {
    /// Parses a rendered `TavilyWebSearch` / `GoogleCustomWebSearch` object.
    pub fn from_value(field: &str, m: &Map<String, Value>) -> Result<WebSearch, TaskError> {
        let t = str_of(m.get("type")).unwrap_or_default();
        let key = || {
            str_of(m.get("apiKey"))
                .ok_or_else(|| TaskError::property(&format!("{field}.apiKey"), format!("{t} needs an apiKey")))
        };
        let max = i64_of(&format!("{field}.maxResults"), m.get("maxResults"))?.unwrap_or(3).max(1);
        let base_url = str_of(m.get("baseUrl"));
        match web_search_kind(&t) {
            Some("TavilyWebSearch") => Ok(WebSearch::Tavily { api_key: key()?, max_results: max, base_url }),
            Some("GoogleCustomWebSearch") => Ok(WebSearch::Google {
                api_key: key()?,
                csi: str_of(m.get("csi"))
                    .ok_or_else(|| TaskError::property(&format!("{field}.csi"), "GoogleCustomWebSearch needs csi"))?,
                max_results: max,
                base_url,
            }),
            _ => Err(TaskError::property(&format!("{field}.type"), format!("'{t}' is not a web search"))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            WebSearch::Tavily { .. } => "TavilyWebSearch",
            WebSearch::Google { .. } => "GoogleCustomWebSearch",
        }
    }

    /// Searches the web for `query`.
    pub async fn search(&self, cx: &RunContext, query: &str) -> Result<Vec<Content>, AiError> {
        let http = &cx.services.http;
        let cfg = &cx.services.config.ai;
        match self {
            WebSearch::Tavily { api_key, max_results, base_url } => {
                let b = base_url
                    .clone()
                    .or_else(|| cfg.tavily_base_url.clone())
                    .unwrap_or_else(|| "https://api.tavily.com".into());
                let url = format!("{}/search", trim_base(&b));
                let callee = Callee::new("TavilyWebSearch").secret(Some(api_key));
                let body = json!({"query": query, "max_results": max_results, "search_depth": "basic", "include_answer": false});
                let v = call_json(cx, cfg, &callee, || http.post(&url).bearer_auth(api_key).json(&body)).await?;
                Ok(v.get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let title = str_of(r.get("title")).unwrap_or_default();
                        let content = str_of(r.get("content")).unwrap_or_default();
                        let mut meta = Map::new();
                        for k in ["url", "title", "score"] {
                            if let Some(x) = r.get(k) {
                                meta.insert(k.to_string(), x.clone());
                            }
                        }
                        Content { text: format!("{title}\n{content}").trim().to_string(), metadata: meta }
                    })
                    .collect())
            }
            WebSearch::Google { api_key, csi, max_results, base_url } => {
                let b = base_url
                    .clone()
                    .or_else(|| cfg.google_search_base_url.clone())
                    .unwrap_or_else(|| "https://www.googleapis.com/customsearch/v1".into());
                let callee = Callee::new("GoogleCustomWebSearch").secret(Some(api_key));
                let num = max_results.min(&10).to_string();
                let url = trim_base(&b).to_string();
                let v = call_json(cx, cfg, &callee, || {
                    http.get(&url).query(&[
                        ("key", api_key.as_str()),
                        ("cx", csi.as_str()),
                        ("q", query),
                        ("num", num.as_str()),
                    ])
                })
                .await?;
                Ok(v.get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let title = str_of(r.get("title")).unwrap_or_default();
                        let snippet = str_of(r.get("snippet")).unwrap_or_default();
                        let mut meta = Map::new();
                        if let Some(l) = r.get("link") {
                            meta.insert("url".into(), l.clone());
                        }
                        meta.insert("title".into(), json!(title));
                        Content { text: format!("{title}\n{snippet}").trim().to_string(), metadata: meta }
                    })
                    .collect())
            }
        }
    }
}

/// A content retriever.
pub enum Retriever {
    Web(WebSearch),
    Store { store: Box<dyn EmbeddingStore>, provider: Provider, max_results: usize, min_score: f64 },
}

/// Parses `contentRetrievers` (rendered); only web searches and
/// `EmbeddingStoreRetriever` are supported.
pub async fn parse_list(cx: &RunContext, field: &str, v: Option<&Value>) -> Result<Vec<Retriever>, TaskError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => return Err(TaskError::property(field, "expected a list of retrievers")),
        },
        Some(_) => return Err(TaskError::property(field, "expected a list of retrievers")),
    };
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Value::Object(m) = r else { return Err(TaskError::property(&f, "expected a retriever with a `type`")) };
        let t = str_of(m.get("type")).unwrap_or_default();
        if web_search_kind(&t).is_some() {
            out.push(Retriever::Web(WebSearch::from_value(&f, m)?));
        } else if t.ends_with(".retriever.EmbeddingStoreRetriever") {
            let provider = Provider::from_value(
                &format!("{f}.embeddingProvider"),
                m.get("embeddingProvider").unwrap_or(&Value::Null),
            )?;
            let store = super::embeddings::open(
                cx,
                &format!("{f}.embeddings"),
                m.get("embeddings").unwrap_or(&Value::Null),
                false,
            )
            .await?;
            out.push(Retriever::Store {
                store,
                provider,
                max_results: i64_of(&format!("{f}.maxResults"), m.get("maxResults"))?.unwrap_or(3).max(1) as usize,
                min_score: super::props::f64_of(&format!("{f}.minScore"), m.get("minScore"))?.unwrap_or(0.0),
            });
        } else {
            return Err(TaskError::property(
                &format!("{f}.type"),
                format!(
                    "content retriever '{t}' is not supported by Baton \
                     (supported: TavilyWebSearch, GoogleCustomWebSearch, EmbeddingStoreRetriever)"
                ),
            ));
        }
    }
    Ok(out)
}

impl Retriever {
    /// The contents for `query`.
    pub async fn retrieve(&self, cx: &RunContext, query: &str) -> Result<Vec<Content>, AiError> {
        match self {
            Retriever::Web(w) => {
                let r = w.search(cx, query).await?;
                cx.info(&format!("{}: {} results", w.name(), r.len()));
                Ok(r)
            }
            Retriever::Store { store, provider, max_results, min_score } => {
                let e = provider.embed(cx, &[query.to_string()]).await?;
                let v = e.vectors.into_iter().next().unwrap_or_default();
                let hits = store.search(&v, *max_results, *min_score).await?;
                cx.info(&format!("embedding store: {} segments retrieved", hits.len()));
                Ok(hits.into_iter().map(|h| Content { text: h.text, metadata: h.metadata }).collect())
            }
        }
    }
}

/// langchain4j's default content injection: the question, then the contents.
pub fn augment(prompt: &str, contents: &[Content]) -> String {
    if contents.is_empty() {
        return prompt.to_string();
    }
    let joined: Vec<&str> = contents.iter().map(|c| c.text.as_str()).collect();
    format!("{prompt}\n\nAnswer using the following information:\n{}", joined.join("\n\n"))
}

/// Kestra's `sources` output.
pub fn sources(contents: &[Content]) -> Value {
    Value::Array(contents.iter().map(|c| json!({"content": c.text, "metadata": c.metadata})).collect())
}
