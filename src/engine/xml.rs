//! XML both ways, for APIs that speak it (S3, IAM, STS, EC2): a response body becomes the
//! navigable `response.xml` value, and an `http.xml` table becomes a request body.
//!
//! The mapping is the same in both directions (the xmltodict convention):
//! - the document is `{ RootName: element }`;
//! - an element with neither attributes nor child elements is its text, a string;
//! - any other element is a map: `"@name"` for each attribute, one key per child element
//!   name (a name that repeats holds a list, in document order), and `"#text"` for text
//!   beside child elements;
//! - names are local names (namespace prefixes dropped; `xmlns` is not an attribute).
//!
//! A name that may occur once or many times (`member`, `item`, `Contents`) is a map when it
//! occurs once: read it through the `as_list` filter to always get a list.
//!
//! Parsing is bounded: the body is already capped (`max_body`), DTDs are refused (no entity
//! expansion), and nesting deeper than [`MAX_DEPTH`] is an error rather than a deep stack.
//! Writing escapes every text and attribute value, so a rendered value cannot change the
//! document's structure. Nothing here renders templates, sends or journals.

use serde_json::{Map, Value};

use crate::markup::escape;

/// Deepest element nesting read or written.
pub const MAX_DEPTH: usize = 128;

/// Why a body is not usable XML; the text says what was found where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is not XML ({0})")]
    Parse(String),
    #[error("the XML nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
}

/// Parse a response body into the `response.xml` value (see the module doc).
pub fn parse(body: &[u8]) -> Result<Value, XmlError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| XmlError::Parse(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let text = text.trim_start_matches('\u{feff}');
    let doc = roxmltree::Document::parse(text).map_err(|e| XmlError::Parse(e.to_string()))?;
    let root = doc.root_element();
    let mut out = Map::new();
    out.insert(root.tag_name().name().to_owned(), element(root, 0)?);
    Ok(Value::Object(out))
}

fn element(node: roxmltree::Node<'_, '_>, depth: usize) -> Result<Value, XmlError> {
    if depth >= MAX_DEPTH {
        return Err(XmlError::TooDeep);
    }
    let has_children = node.children().any(|c| c.is_element());
    let text: String = node
        .children()
        .filter(roxmltree::Node::is_text)
        .filter_map(|c| c.text())
        .collect();
    if !has_children && node.attributes().len() == 0 {
        return Ok(Value::String(text));
    }
    let mut map = Map::new();
    for attr in node.attributes() {
        map.insert(format!("@{}", attr.name()), attr.value().into());
    }
    for child in node.children().filter(roxmltree::Node::is_element) {
        let name = child.tag_name().name();
        let value = element(child, depth + 1)?;
        match map.get_mut(name) {
            None => {
                map.insert(name.to_owned(), value);
            }
            // An element's own value is never a list, so a list here is the repeats so far.
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    if !text.trim().is_empty() {
        map.insert("#text".to_owned(), text.into());
    }
    Ok(Value::Object(map))
}

/// Write a request body from an `http.xml` table (see the module doc); `render` turns each
/// string leaf (a template) into its text.
pub fn write(
    table: &toml::Table,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    for (name, value) in table {
        write_element(&mut out, name, value, render, 0)?;
    }
    Ok(out)
}

fn write_element(
    out: &mut String,
    name: &str,
    value: &toml::Value,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
    depth: usize,
) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("http.xml nests deeper than {MAX_DEPTH} elements"));
    }
    check_name(name)?;
    if let toml::Value::Array(items) = value {
        for item in items {
            write_element(out, name, item, render, depth + 1)?;
        }
        return Ok(());
    }
    out.push('<');
    out.push_str(name);
    let toml::Value::Table(table) = value else {
        out.push('>');
        out.push_str(&escape(&scalar(value, render)?));
        out.push_str("</");
        out.push_str(name);
        out.push('>');
        return Ok(());
    };
    for (key, attr) in table {
        if let Some(attr_name) = key.strip_prefix('@') {
            check_name(attr_name)?;
            out.push(' ');
            out.push_str(attr_name);
            out.push_str("=\"");
            out.push_str(&escape(&scalar(attr, render)?));
            out.push('"');
        }
    }
    out.push('>');
    for (key, child) in table {
        if key == "#text" {
            out.push_str(&escape(&scalar(child, render)?));
        } else if !key.starts_with('@') {
            write_element(out, key, child, render, depth + 1)?;
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    Ok(())
}

fn scalar(
    value: &toml::Value,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    match value {
        toml::Value::String(s) => render(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            Err("http.xml: an attribute or `#text` must be a single value".to_owned())
        }
    }
}

/// An element or attribute name as written in the runbook must be a plain XML name.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!("http.xml: `{name}` is not an XML name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_attributes_text_and_repeats_map_like_xmltodict() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>leaky</Name>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>a.csv</Key><Size>10</Size></Contents>
  <Contents><Key>b.csv</Key><Size>20</Size></Contents>
  <Contents><Key>c.csv</Key><Size>30</Size></Contents>
  <Owner id="42">root<DisplayName>me</DisplayName></Owner>
  <Empty/>
</ListBucketResult>"#;
        let value = parse(body).unwrap();
        let root = &value["ListBucketResult"];
        assert_eq!(root["Name"], "leaky");
        assert_eq!(root["Contents"][2]["Key"], "c.csv");
        assert_eq!(root["Contents"].as_array().unwrap().len(), 3);
        assert_eq!(root["Owner"]["@id"], "42");
        assert_eq!(root["Owner"]["#text"], "root");
        assert_eq!(root["Owner"]["DisplayName"], "me");
        assert_eq!(root["Empty"], "");
        assert!(root.get("@xmlns").is_none());
    }

    #[test]
    fn a_list_inside_a_repeated_element_stays_apart() {
        let body = b"<r><g><i>1</i><i>2</i></g><g><i>3</i></g></r>";
        let value = parse(body).unwrap();
        assert_eq!(
            value,
            json!({ "r": { "g": [ { "i": ["1", "2"] }, { "i": "3" } ] } })
        );
    }

    #[test]
    fn not_xml_says_where() {
        let err = parse(b"{\"json\": true}").unwrap_err();
        assert!(
            err.to_string().starts_with("the body is not XML ("),
            "{err}"
        );
        let err = parse(b"<a><b></a>").unwrap_err();
        assert!(err.to_string().contains("1:"), "{err}");
    }

    #[test]
    fn dtds_and_entity_bombs_are_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert!(matches!(parse(bomb), Err(XmlError::Parse(_))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let body = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(body.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn writes_escaped_bodies_that_parse_back() {
        let table: toml::Table = toml::from_str(
            r#"
[PublicAccessBlockConfiguration]
"@xmlns" = "http://s3.amazonaws.com/doc/2006-03-01/"
BlockPublicAcls = true
Note = "{{ x }}"
Tag = [{ Key = "a" }, { Key = "b" }]
"#,
        )
        .unwrap();
        let body = write(
            &table,
            &mut |s| Ok(s.replace("{{ x }}", "</Note><Evil>\"&")),
        )
        .unwrap();
        let back = parse(body.as_bytes()).unwrap();
        let root = &back["PublicAccessBlockConfiguration"];
        assert_eq!(root["BlockPublicAcls"], "true");
        assert_eq!(root["Note"], "</Note><Evil>\"&");
        assert_eq!(root["Tag"][1]["Key"], "b");
        assert!(body.contains(r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#));
        let control: toml::Table = toml::from_str(r#"A = "x\u0001y""#).unwrap();
        let body = write(&control, &mut |s| Ok(s.to_owned())).unwrap();
        assert_eq!(parse(body.as_bytes()).unwrap()["A"], "x\u{fffd}y");
        let bad: toml::Table = toml::from_str(r#""a b" = 1"#).unwrap();
        assert!(write(&bad, &mut |s| Ok(s.to_owned())).is_err());
    }
}
