//! Docs of the compress, git and AI tasks.

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

/// The properties the git tasks share.
pub(super) const GIT_POOL: &[PropDoc] = &[
    PropDoc::new("url", "The repository's URL (https)."),
    PropDoc::new("username", "The user for https authentication."),
    PropDoc::new("password", "The password or token (use a secret)."),
    PropDoc::new("branch", "The branch.").default("\"main\""),
    PropDoc::new("gitDirectory", "The folder of the repository to read.").default("\"_flows\""),
    PropDoc::new("delete", "Delete what is no longer in the repository.").default("false"),
    PropDoc::new("dryRun", "Only log what would change.").default("false"),
];

/// The properties the AI tasks share.
pub(super) const AI_POOL: &[PropDoc] = &[
    PropDoc::new("provider", "The model provider: {type, modelName, apiKey, baseUrl…}."),
    PropDoc::new("chatProvider", "The chat model provider: {type, modelName, apiKey…}."),
    PropDoc::new("embeddingProvider", "The embedding model provider, when not the chat one."),
    PropDoc::new("prompt", "The user's message."),
    PropDoc::new("systemMessage", "The system message."),
    PropDoc::new("messages", "The conversation: [{type: SYSTEM|USER|AI, content}]."),
    PropDoc::new("configuration", "Model settings: temperature, topP, maxToken, seed…"),
    PropDoc::new("chatConfiguration", "Model settings of the chat model."),
    PropDoc::new("tools", "Tools the model may call."),
    PropDoc::new("contentRetrievers", "Retrievers that add context to the prompt."),
    PropDoc::new("contentRetrieverConfiguration", "maxResults and minScore of the retrieval."),
    PropDoc::new("embeddings", "The embedding store: {type, …}."),
    PropDoc::new("memory", "Conversation memory kept between executions: {type, ttl, messages}."),
    PropDoc::new("guardrails", "Checks on the input and output."),
    PropDoc::new("observability", "Tracing options."),
    PropDoc::new("maxSequentialToolsInvocations", "Tool calls allowed in a row."),
    PropDoc::new("outputFiles", "Files of the working directory kept as outputs."),
    PropDoc::new("fromPath", "Ingest the files under this working-directory path."),
    PropDoc::new("fromInternalURIs", "Ingest these stored files."),
    PropDoc::new("fromExternalURLs", "Ingest these URLs."),
    PropDoc::new("fromDocuments", "Ingest these inline documents: [{content, metadata}]."),
    PropDoc::new("metadata", "Metadata added to every ingested document."),
    PropDoc::new("documentSplitter", "How documents are split: {splitter, maxSegmentSizeInChars, maxOverlapSizeInChars}."),
    PropDoc::new("drop", "Empty the store before ingesting.").default("false"),
    PropDoc::new("bulkSize", "Segments written per batch."),
];
/// What Baton implements (`plugins::compress`): Kestra's other names are refused.
const ALGORITHMS: &[&str] = &["TAR", "ZIP", "JAR"];
const COMPRESSIONS: &[&str] = &["GZIP", "BZIP2", "ZSTD", "XZ", "LZMA", "DEFLATE"];
const CHAT_OUT: &[OutDoc] = &[
    OutDoc::new("textOutput", PropKind::String, "The model's answer."),
    OutDoc::new("tokenUsage", PropKind::Map, "Tokens used."),
    OutDoc::new("finishReason", PropKind::String, "Why the model stopped."),
];

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.compress.ArchiveCompress", "Make an archive of files.", "Packs files (name → kestra:// URI) into a tar or zip archive, optionally compressed.")
        .example("id: pack\ntype: io.kestra.plugin.compress.ArchiveCompress\nalgorithm: TAR\ncompression: GZIP\nfrom:\n  report.csv: \"{{ outputs.report.uri }}\"\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The archive.")])
        .props(&[
            PropDoc::new("from", "The files: name → kestra:// URI (or a JSON mapping as a string)."),
            PropDoc::new("algorithm", "The archive format.").values(ALGORITHMS),
            PropDoc::new("compression", "The compression of the archive.").values(COMPRESSIONS),
        ]),
    TypeDoc::new("io.kestra.plugin.compress.ArchiveDecompress", "Unpack an archive.", "Unpacks a tar or zip archive into stored files.")
        .example("id: unpack\ntype: io.kestra.plugin.compress.ArchiveDecompress\nfrom: \"{{ outputs.download.uri }}\"\nalgorithm: ZIP\n")
        .outputs(&[OutDoc::new("files", PropKind::Map, "The files, by name.")])
        .props(&[
            PropDoc::new("from", "The archive (kestra:// URI)."),
            PropDoc::new("algorithm", "The archive format.").values(ALGORITHMS),
            PropDoc::new("compression", "The compression of the archive.").values(COMPRESSIONS),
        ]),
    TypeDoc::new("io.kestra.plugin.compress.FileCompress", "Compress one file.", "Compresses a stored file (gzip, bzip2, zstd…).")
        .example("id: gz\ntype: io.kestra.plugin.compress.FileCompress\nfrom: \"{{ outputs.report.uri }}\"\ncompression: GZIP\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The compressed file.")])
        .props(&[PropDoc::new("from", "The file (kestra:// URI)."), PropDoc::new("compression", "The compression.").values(COMPRESSIONS)]),
    TypeDoc::new("io.kestra.plugin.compress.FileDecompress", "Decompress one file.", "Decompresses a stored file (gzip, bzip2, zstd…).")
        .example("id: gunzip\ntype: io.kestra.plugin.compress.FileDecompress\nfrom: \"{{ outputs.download.uri }}\"\ncompression: GZIP\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The decompressed file.")])
        .props(&[PropDoc::new("from", "The file (kestra:// URI)."), PropDoc::new("compression", "The compression.").values(COMPRESSIONS)]),
    TypeDoc::new("io.kestra.plugin.git.Clone", "Clone a git repository.", "Clones a repository into the working directory (inside a WorkingDirectory, for the next tasks).")
        .example("id: clone\ntype: io.kestra.plugin.git.Clone\nurl: https://github.com/kestra-io/examples\nbranch: main\n")
        .outputs(&[OutDoc::new("directory", PropKind::String, "Where it was cloned.")])
        .props(&[PropDoc::new("directory", "The folder to clone into."), PropDoc::new("depth", "A shallow clone of this depth.").default("1")]),
    TypeDoc::new("io.kestra.plugin.git.SyncFlows", "Make a namespace's flows those of a git repository.", "Reads the flows of a repository folder and creates, updates (and with delete, removes) the namespace's flows.")
        .example("id: sync_flows\ntype: io.kestra.plugin.git.SyncFlows\nurl: https://github.com/kestra-io/flows\ntargetNamespace: company.team\ndryRun: true\n")
        .outputs(&[OutDoc::new("flows", PropKind::String, "A file of what changed.")])
        .props(&[
            PropDoc::new("targetNamespace", "The namespace the flows go to."),
            PropDoc::new("includeChildNamespaces", "Sync child namespaces from sub-folders.").default("false"),
            PropDoc::new("ignoreInvalidFlows", "Skip flows that do not validate.").default("false"),
        ]),
    TypeDoc::new("io.kestra.plugin.git.SyncNamespaceFiles", "Make a namespace's files those of a git repository.", "Copies a repository folder into the namespace's files.")
        .example("id: sync_files\ntype: io.kestra.plugin.git.SyncNamespaceFiles\nurl: https://github.com/kestra-io/scripts\nnamespace: company.team\ngitDirectory: scripts\n")
        .outputs(&[OutDoc::new("files", PropKind::String, "A file of what changed.")])
        .props(&[PropDoc::new("namespace", "The namespace; the flow's when absent.")]),
    TypeDoc::new("io.kestra.plugin.ai.completion.ChatCompletion", "Ask a chat model.", "Sends messages to an LLM provider and returns its answer.")
        .example("id: ask\ntype: io.kestra.plugin.ai.completion.ChatCompletion\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmessages:\n  - type: USER\n    content: Summarize today's run in one line.\n")
        .outputs(CHAT_OUT),
    TypeDoc::new("io.kestra.plugin.ai.agent.AIAgent", "Run an AI agent with tools.", "Lets a model answer a prompt, calling tools (and retrievers) in a loop.")
        .example("id: agent\ntype: io.kestra.plugin.ai.agent.AIAgent\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nprompt: What is the capital of France?\n")
        .outputs(CHAT_OUT),
    TypeDoc::new("io.kestra.plugin.ai.rag.ChatCompletion", "Ask a chat model with retrieved context.", "Retrieves documents from an embedding store and asks the model with them as context.")
        .example("id: rag\ntype: io.kestra.plugin.ai.rag.ChatCompletion\nchatProvider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nprompt: Which flows load taxi data?\n")
        .outputs(CHAT_OUT),
    TypeDoc::new("io.kestra.plugin.ai.rag.IngestDocument", "Put documents in an embedding store.", "Splits documents, embeds the pieces and writes them to an embedding store.")
        .example("id: ingest\ntype: io.kestra.plugin.ai.rag.IngestDocument\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: text-embedding-3-small\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nfromDocuments:\n  - content: Baton runs Kestra flows.\n")
        .outputs(&[OutDoc::new("ingestedDocuments", PropKind::Integer, "Documents ingested.")]),
];
