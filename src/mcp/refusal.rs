//! A refused command or query as a tool result: `isError` with the contract's problem type and
//! what to do next, for the assistant to read and act on (never a protocol error: the call
//! itself was fine).

use rmcp::model::{CallToolResult, ContentBlock};

use crate::http::error::ApiError;

/// `error` as the tool's failed result: `<problem type>: <detail>. <what to do>`.
pub(super) fn refusal(error: ApiError) -> CallToolResult {
    if let ApiError::Internal(source) = &error {
        tracing::error!(error = %source, "an MCP tool call failed");
    }
    let slug = error.problem_type();
    let text = format!("{slug}: {error}. {}", advice(slug));
    CallToolResult::error(vec![ContentBlock::text(text)])
}

fn advice(slug: &str) -> &'static str {
    match slug {
        "not-found" => {
            "Check the task_id: list_tasks shows the tasks you own or that are shared with you; \
             a deleted task is not found (and unshare_task: the task is not shared with that user)"
        }
        "forbidden" => "Only the task's owner (or, for changes, an editor) may do this",
        "invalid-transition" => "Read the task with get_task to see its status first",
        "version-mismatch" => {
            "The task has changed since that version: read the task with get_task for its \
             version, then decide again"
        }
        "malformed-request" | "validation" | "limit" => "Correct the arguments and call again",
        "idempotency-key-reuse" => "Use a new idempotency_key for a different request",
        "timeout" | "unavailable" => "Nothing was changed: call again shortly",
        "outcome-unknown" => {
            "Call again with the same idempotency_key, or read the task to find out"
        }
        _ => "Report this to the server's operator if it persists",
    }
}
