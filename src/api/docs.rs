//! `/api/docs`: the OpenAPI description rendered for people, from our own
//! origin under the console's CSP (no script, no CDN).

use actix_web::{HttpResponse, get};
use askama::Template;
use serde_json::Value;
use utoipa::OpenApi as _;

use super::ApiDoc;

pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub body: Option<String>,
    pub responses: Vec<(String, String, Option<String>)>,
    pub anchor: String,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
}

pub struct Schema {
    pub name: String,
    pub description: String,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    title: String,
    description: String,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// The name of the schema a reference or an array of them points at, or
/// its type.
fn kind(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            return options.iter().map(kind).collect::<Vec<_>>().join(" or ");
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!("array of {}", schema.get("items").map_or_else(String::new, kind))
        }
        Some(Value::String(t)) => match schema.get("format").and_then(Value::as_str) {
            Some(format) => format!("{t} ({format})"),
            None => t.clone(),
        },
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ => "any".into(),
    }
}

fn json_schema(content: &Value) -> Option<String> {
    content.as_object()?.values().next()?.get("schema").map(kind)
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return operations };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let parameters = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| Parameter {
                    name: text(p, "name"),
                    location: text(p, "in"),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    description: text(p, "description"),
                })
                .collect();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(status, r)| (status.clone(), text(r, "description"), r.get("content").and_then(json_schema)))
                .collect();
            operations.push(Operation {
                anchor: format!("{method}-{}", path.replace(['/', '{', '}'], "-")),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                parameters,
                body: op.get("requestBody").and_then(|b| b.get("content")).and_then(json_schema),
                responses,
            });
        }
    }
    operations.sort_by(|a, b| a.path.cmp(&b.path).then(a.method.cmp(&b.method)));
    operations
}

fn schemas(doc: &Value) -> Vec<Schema> {
    let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) else { return Vec::new() };
    schemas
        .iter()
        .map(|(name, schema)| {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let fields = schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(field, s)| Field {
                    name: field.clone(),
                    kind: kind(s),
                    required: required.contains(&field.as_str()),
                    description: text(s, "description"),
                })
                .collect();
            Schema { name: name.clone(), description: text(schema, "description"), fields }
        })
        .collect()
}

#[get("/docs")]
pub async fn page() -> actix_web::Result<HttpResponse> {
    let doc = serde_json::to_value(ApiDoc::openapi()).map_err(actix_web::error::ErrorInternalServerError)?;
    let page = DocsPage {
        title: doc.pointer("/info/title").and_then(Value::as_str).unwrap_or_default().to_owned(),
        description: doc.pointer("/info/description").and_then(Value::as_str).unwrap_or_default().to_owned(),
        operations: operations(&doc),
        schemas: schemas(&doc),
    };
    let body = page.render().map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
