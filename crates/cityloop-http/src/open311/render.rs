//! One tree, two formats: Open311 documents are built once as a [`Node`] and written as
//! XML (the spec's element names, `<?xml …?>` declaration, no namespace) or as JSON by
//! the "Spark convention" (root and list-wrapper elements vanish, lists become arrays,
//! empty elements become `null`). XML is written by hand with full escaping, and
//! characters XML 1.0 cannot carry (most control characters) are dropped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

/// The response format, chosen by the path's suffix only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format a suffix names (`json`, `xml`, any case).
    pub fn from_suffix(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if s.eq_ignore_ascii_case("xml") {
            Some(Format::Xml)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// A document before it is written in a format.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null` / an empty element.
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Named children, in order.
    Obj(Vec<(&'static str, Node)>),
    /// A list whose XML items are elements of the given name.
    List(&'static str, Vec<Node>),
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A string, or `null` when absent.
    pub fn opt(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, |s| Node::Str(s.into()))
    }

    /// A number, or `null` when absent or not finite.
    pub fn opt_f64(v: Option<f64>) -> Node {
        match v {
            Some(v) if v.is_finite() => Node::Float(v),
            _ => Node::Null,
        }
    }

    /// A W3C date-time with its offset and whole seconds: `2026-05-21T09:12:05+08:00`.
    pub fn time(t: DateTime<FixedOffset>) -> Node {
        Node::Str(t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }

    pub fn opt_time(t: Option<DateTime<FixedOffset>>) -> Node {
        t.map_or(Node::Null, Node::time)
    }

    /// The JSON value of this node.
    pub fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Node::Str(s) => Value::String(s.clone()),
            Node::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.to_json()))
                    .collect::<Map<_, _>>(),
            ),
            Node::List(_, items) => Value::Array(items.iter().map(Node::to_json).collect()),
        }
    }

    /// The XML document with `root` as its root element.
    pub fn to_xml(&self, root: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        write_element(&mut out, root, self);
        out.push('\n');
        out
    }

    /// The document in `fmt` (for XML, under `root`).
    pub fn render(&self, fmt: Format, root: &str) -> String {
        match fmt {
            Format::Json => self.to_json().to_string(),
            Format::Xml => self.to_xml(root),
        }
    }
}

fn write_element(out: &mut String, name: &str, node: &Node) {
    let text = match node {
        Node::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) if f.is_finite() => f.to_string(),
        Node::Float(_) => {
            return write_element(out, name, &Node::Null);
        }
        Node::Str(s) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_into(out, s);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
            return;
        }
        Node::Obj(fields) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (k, v) in fields {
                write_element(out, k, v);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
            return;
        }
        Node::List(item, items) => {
            if items.is_empty() {
                return write_element(out, name, &Node::Null);
            }
            out.push('<');
            out.push_str(name);
            out.push('>');
            for v in items {
                write_element(out, item, v);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
            return;
        }
    };
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Whether XML 1.0 can carry the character at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || (' '..='\u{D7FF}').contains(&c)
        || ('\u{E000}'..='\u{FFFD}').contains(&c)
        || c >= '\u{10000}'
}

/// Escapes text for element content and attribute values.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// A response: status, the format's content type, the body.
pub fn respond(fmt: Format, status: StatusCode, root: &str, node: &Node) -> Response {
    let mut resp = (status, node.render(fmt, root)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(fmt.content_type()),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Node {
        Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::str("410103-20260521-0042")),
                (
                    "description",
                    Node::str("<b>井盖</b> & \"x\" 'y'\u{1}\u{7}"),
                ),
                ("lat", Node::Float(34.7238)),
                ("media_url", Node::Null),
                ("metadata", Node::Bool(false)),
                ("code", Node::Int(400)),
            ])],
        )
    }

    #[test]
    fn json_drops_wrappers_and_keeps_types() {
        let v = doc().to_json();
        assert_eq!(v[0]["service_request_id"], "410103-20260521-0042");
        assert_eq!(v[0]["lat"], 34.7238);
        assert!(v[0]["media_url"].is_null());
        assert_eq!(v[0]["metadata"], false);
        assert_eq!(v[0]["code"], 400);
    }

    #[test]
    fn xml_escapes_text_and_drops_characters_xml_cannot_carry() {
        let x = doc().to_xml("service_requests");
        assert!(x.starts_with(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>"
        ));
        assert!(x.contains(
            "<description>&lt;b&gt;井盖&lt;/b&gt; &amp; &quot;x&quot; &apos;y&apos;</description>"
        ));
        assert!(x.contains("<media_url/>"));
        assert!(x.contains("<lat>34.7238</lat>"));
        assert_eq!(
            Node::List("request", vec![]).to_xml("service_requests"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests/>\n"
        );
    }
}
