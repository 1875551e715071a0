//! The tools' input schemas, from the OpenAPI document: a tool that sends an operation's
//! body takes that body's schema, so the tool and the operation cannot disagree on a field.
//! The document's `#/components/schemas/X` references become the schema's own
//! `#/$defs/X`.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(crate::contract::json()).expect("the document is JSON"));

const COMPONENTS: &str = "#/components/schemas/";

/// The JSON body schema of the operation `operation_id`, standalone.
pub(crate) fn body_of(operation_id: &str) -> Map<String, Value> {
    let operation = DOCUMENT["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .find(|operation| operation["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("the document has an operation {operation_id}"));
    let content = operation["requestBody"]["content"]
        .as_object()
        .and_then(|content| content.values().next())
        .unwrap_or_else(|| panic!("{operation_id} takes a body"));
    let mut schema = content["schema"].clone();
    let mut names = Vec::new();
    collect(&schema, &mut names);
    let mut defs = Map::new();
    while let Some(name) = names.pop() {
        if defs.contains_key(&name) {
            continue;
        }
        let named = DOCUMENT["components"]["schemas"][&name].clone();
        collect(&named, &mut names);
        defs.insert(name, named);
    }
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(COMPONENTS))
    {
        schema = defs[name].clone();
    }
    rewrite(&mut schema);
    let mut schema = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if !defs.is_empty() {
        let mut defs = Value::Object(defs);
        rewrite(&mut defs);
        schema.insert("$defs".into(), defs);
    }
    schema
}

/// An object schema of `properties`, `required` naming those it must have.
pub(crate) fn object(properties: Value, required: &[&str]) -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), properties);
    schema.insert("required".into(), json!(required));
    schema
}

/// `base` with more properties, all of them required.
pub(crate) fn with(mut base: Map<String, Value>, more: Value) -> Map<String, Value> {
    let added: Vec<String> = more
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    if let (Some(properties), Some(more)) = (
        base.get_mut("properties").and_then(Value::as_object_mut),
        more.as_object(),
    ) {
        for (name, schema) in more {
            properties.insert(name.clone(), schema.clone());
        }
    }
    let required = base.entry("required").or_insert_with(|| json!([]));
    if let Some(required) = required.as_array_mut() {
        required.extend(added.into_iter().map(Value::String));
    }
    base
}

/// A UUID string.
pub(crate) fn uuid(description: &str) -> Value {
    json!({ "type": "string", "format": "uuid", "description": description })
}

fn collect(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(COMPONENTS))
            {
                names.push(name.to_owned());
            }
            map.values().for_each(|inner| collect(inner, names));
        }
        Value::Array(items) => items.iter().for_each(|inner| collect(inner, names)),
        _ => {}
    }
}

fn rewrite(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(name) = target.strip_prefix(COMPONENTS)
            {
                *target = format!("#/$defs/{name}");
            }
            map.values_mut().for_each(rewrite);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_schema_stands_alone_with_its_definitions() {
        let schema = body_of("createApiKey");
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["name"].is_object());
        let text = serde_json::to_string(&schema).unwrap();
        assert!(!text.contains(COMPONENTS), "{text}");
        for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schema["$defs"][name].is_object(), "{name} defined");
        }
    }
}
