//! Reading an event log (JSON Lines, docs/scenario-format.md §7) back into
//! plain records, with the file's line and column on a malformed line.

use serde::Deserialize;

/// One event line as the timeline needs it. Unknown fields are ignored, so
/// a log with fields added later still reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub t_ms: u64,
    pub kind: String,
    pub object: String,
    #[serde(default)]
    pub node: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub volume: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub k8s: Option<K8s>,
}

/// The Kubernetes record a line carries (`k8s`).
#[derive(Debug, Clone, Deserialize)]
pub struct K8s {
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
}

/// What is wrong with a log, and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses a whole log; blank lines are skipped. An empty log is an error:
/// there is nothing to draw.
pub fn parse(text: &str) -> Result<Vec<Line>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| ParseError {
            line: i + 1,
            col: e.column().max(1),
            message: format!(
                "not an event line ({}); expected a JSON object with t_ms, kind, object and reason, as --events-out writes",
                plain(&e)
            ),
        })?;
        out.push(line);
    }
    if out.is_empty() {
        return Err(ParseError {
            line: 1,
            col: 1,
            message: "the event log is empty: expected JSON Lines as --events-out writes".into(),
        });
    }
    Ok(out)
}

/// serde_json's message without its own " at line L column C" suffix (the
/// caller names the file's line).
fn plain(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_line_is_reported_with_its_line_and_column() {
        let text = "{\"t_ms\":0,\"kind\":\"PodCreated\",\"object\":\"pod/web-0\",\"node\":null,\"reason\":\"r\"}\n\n{\"t_ms\": x}\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.col), (3, 10));
        assert!(
            e.message.contains("expected a JSON object"),
            "{}",
            e.message
        );
        let e = parse("{\"t_ms\":1}\n").unwrap_err();
        assert!(e.message.contains("missing field"), "{}", e.message);
        assert!(parse("\n").is_err(), "empty");
    }
}
