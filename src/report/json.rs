//! `report --format json`: the model as one JSON document, in the envelope every `--json`
//! output has (`schemaVersion`, `command`), documented in json-output.md.

use super::Report;

/// The report as pretty JSON, with a final newline.
pub fn render(report: &Report) -> String {
    let mut map = serde_json::Map::new();
    map.insert(
        "schemaVersion".into(),
        crate::output::JSON_SCHEMA_VERSION.into(),
    );
    map.insert("command".into(), "report".into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(report) {
        map.extend(fields);
    }
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or_default();
    text.push('\n');
    text
}
