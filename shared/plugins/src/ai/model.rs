//! The provider-neutral conversation Baton's AI tasks build and the
//! providers translate to their wire formats: messages (system, user, AI
//! with tool calls, tool results), tool declarations, generation settings,
//! and what comes back (text, tool calls, token usage, finish reason).

use serde_json::{Value, json};

/// One tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id for the call (OpenAI); Gemini has none, Baton makes one.
    pub id: String,
    pub name: String,
    /// The arguments, a JSON object.
    pub arguments: Value,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    System(String),
    User(String),
    /// The model's turn: text and/or tool calls.
    Ai {
        text: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of a tool call, sent back to the model.
    ToolResult {
        id: String,
        name: String,
        result: String,
    },
}

/// A tool the model may call: a name, what it does, and a JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON schema object (`{"type":"object","properties":…}`).
    pub parameters: Value,
}

/// Kestra's `configuration` (`chatConfiguration` in RAG): sampling and output format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatConfig {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    pub seed: Option<i64>,
    pub max_tokens: Option<i64>,
    /// `responseFormat.type: JSON`: the model must answer JSON (with this schema when given).
    pub json: bool,
    pub json_schema: Option<Value>,
    pub json_schema_description: Option<String>,
    pub log_requests: bool,
    pub log_responses: bool,
}

/// A chat request.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub config: ChatConfig,
}

/// Kestra's `tokenUsage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub total: Option<i64>,
}

impl TokenUsage {
    /// Adds another usage (one agent run makes several calls).
    pub fn add(&mut self, other: TokenUsage) {
        fn sum(a: Option<i64>, b: Option<i64>) -> Option<i64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        self.input = sum(self.input, other.input);
        self.output = sum(self.output, other.output);
        self.total = sum(self.total, other.total);
    }

    /// `{inputTokenCount, outputTokenCount, totalTokenCount}`.
    pub fn to_json(self) -> Value {
        let total = self.total.or_else(|| match (self.input, self.output) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        });
        json!({"inputTokenCount": self.input, "outputTokenCount": self.output, "totalTokenCount": total})
    }
}

/// Kestra's (langchain4j's) finish reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolExecution,
    ContentFilter,
    Other,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "STOP",
            FinishReason::Length => "LENGTH",
            FinishReason::ToolExecution => "TOOL_EXECUTION",
            FinishReason::ContentFilter => "CONTENT_FILTER",
            FinishReason::Other => "OTHER",
        }
    }
}

/// What the model answered.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: TokenUsage,
    pub finish_reason: Option<FinishReason>,
    /// The provider's response id, when it gives one.
    pub id: Option<String>,
}

/// Embeddings of several texts, in order, and what they cost.
#[derive(Debug, Clone, Default)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub usage: TokenUsage,
}
