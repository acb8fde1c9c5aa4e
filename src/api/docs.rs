//! `/api/docs`: the OpenAPI description rendered for people, from our own
//! origin under the console's CSP (no script, no CDN).

use actix_web::{HttpResponse, get};
use askama::Template;
use serde_json::Value;
use utoipa::OpenApi as _;

use super::ApiDoc;

/// Text with `code` spans, as the descriptions write them.
pub struct Text(pub Vec<(bool, String)>);

impl Text {
    fn of(raw: &str) -> Self {
        Text(
            raw.split('`')
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
                .map(|(i, s)| (i % 2 == 1, s.to_owned()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: Text,
    pub description: Text,
    pub parameters: Vec<Parameter>,
    pub body: Option<String>,
    /// The answers other than the problems every operation may give.
    pub responses: Vec<(String, Text, Option<String>)>,
    /// The statuses of the problems it may answer.
    pub problems: Vec<String>,
    pub anchor: String,
}

pub struct Tag {
    pub name: String,
    pub description: Text,
    pub operations: Vec<Operation>,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: Text,
}

pub struct Schema {
    pub name: String,
    pub description: Text,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: Text,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    title: String,
    description: Text,
    tags: Vec<Tag>,
    /// The problems any operation may answer: status and meaning.
    problems: Vec<(String, Text)>,
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
                    description: Text::of(&text(p, "description")),
                })
                .collect();
            let (mut responses, mut problems) = (Vec::new(), Vec::new());
            for (status, r) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
                let body = r.get("content").and_then(json_schema);
                if body.as_deref() == Some("Problem") {
                    problems.push(status.clone());
                } else {
                    responses.push((status.clone(), Text::of(&text(r, "description")), body));
                }
            }
            operations.push(Operation {
                anchor: format!("{method}-{}", path.replace(['/', '{', '}'], "-")),
                method: method.to_uppercase(),
                path: path.clone(),
                tag: op.pointer("/tags/0").and_then(Value::as_str).unwrap_or_default().to_owned(),
                summary: Text::of(&text(op, "summary")),
                description: Text::of(&text(op, "description")),
                parameters,
                body: op.get("requestBody").and_then(|b| b.get("content")).and_then(json_schema),
                responses,
                problems,
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
            let mut fields = Vec::new();
            fields_of(doc, schema, &mut fields);
            Schema { name: name.clone(), description: Text::of(&text(schema, "description")), fields }
        })
        .collect()
}

/// The fields of `schema`: its properties, and those of each schema it is
/// made of (`allOf`, as a flattened struct is written; `$ref`s followed).
fn fields_of(doc: &Value, schema: &Value, fields: &mut Vec<Field>) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => match reference.strip_prefix('#').and_then(|pointer| doc.pointer(pointer)) {
            Some(target) => target,
            None => return,
        },
        None => schema,
    };
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        fields_of(doc, part, fields);
    }
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    fields.extend(schema.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(field, s)| Field {
        name: field.clone(),
        kind: kind(s),
        required: required.contains(&field.as_str()),
        description: Text::of(&text(s, "description")),
    }));
}

#[get("/docs")]
pub async fn page() -> actix_web::Result<HttpResponse> {
    let doc = serde_json::to_value(ApiDoc::openapi()).map_err(actix_web::error::ErrorInternalServerError)?;
    let mut operations = operations(&doc);
    let tags = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|tag| {
            let name = text(tag, "name");
            let (mine, rest) = operations.drain(..).partition(|op| op.tag == name);
            operations = rest;
            Tag { description: Text::of(&text(tag, "description")), operations: mine, name }
        })
        .collect();
    let page = DocsPage {
        title: doc.pointer("/info/title").and_then(Value::as_str).unwrap_or_default().to_owned(),
        description: Text::of(doc.pointer("/info/description").and_then(Value::as_str).unwrap_or_default()),
        tags,
        problems: super::PROBLEMS.iter().map(|(status, meaning)| ((*status).to_owned(), Text::of(meaning))).collect(),
        schemas: schemas(&doc),
    };
    let body = page.render().map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
