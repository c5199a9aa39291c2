//! YAML documents as a tree that remembers where each key and value was
//! written, and a serde `Deserializer` over that tree: typed objects
//! (k8s-openapi) are read from it so that every error has a line and
//! column, and every key the typed object does not know (a typo the typed
//! deserializer would silently skip) or the simulator does not model is
//! reported where it was written.

use crate::sim::model::limits;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::cell::RefCell;
use std::fmt;

/// A position in a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in the order written, each with the position of the key.
    Map(Vec<(String, Pos, Node)>),
}

impl Node {
    /// The value at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }
    /// The position of `key` in a mapping (or of the node itself).
    pub fn key_pos(&self, key: &str) -> Pos {
        match &self.value {
            Value::Map(m) => m
                .iter()
                .find(|(k, _, _)| k == key)
                .map_or(self.pos, |(_, p, _)| *p),
            _ => self.pos,
        }
    }
    /// The value at a dotted path (`spec.template.spec`), through mappings only.
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('.').try_fold(self, |n, k| n.get(k))
    }
    /// The scalar as text (`web`, `3`, `true`), or None for a collection or null.
    pub fn text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn kind_words(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A location as a 1-based position (an unknown location is 0:0, which is
/// no place in a file: it becomes the start).
fn pos_of(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: (l.line() as usize).max(1),
        col: (l.column() as usize).max(1),
    }
}

/// A string of `len` bytes is at most `limits::MAX_STRING_BYTES`.
fn check_len<E: de::Error>(len: usize) -> Result<(), E> {
    if len > limits::MAX_STRING_BYTES {
        return Err(E::custom(format!(
            "this string is {len} bytes; strings are at most {} bytes",
            limits::MAX_STRING_BYTES
        )));
    }
    Ok(())
}

/// What the YAML parser gives: a value wrapped in its span.
struct Raw(Value);

impl<'de> de::Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor).map(Raw)
    }
}

fn spanned(s: Spanned<Raw>) -> Node {
    Node {
        pos: pos_of(&s.referenced),
        value: s.value.0,
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("the number {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        check_len(v.len())?;
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        check_len(v.len())?;
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            out.push(spanned(item));
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<String>>()? {
            let v = map.next_value::<Spanned<Raw>>()?;
            out.push((k.value, pos_of(&k.referenced), spanned(v)));
        }
        Ok(Value::Map(out))
    }
}

/// A YAML error: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Parses every document of a YAML text (empty documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! { max_depth: limits::MAX_NESTING },
    };
    let docs: Vec<Spanned<Raw>> = serde_saphyr::from_str_multiple_with_options::<
        Spanned<Raw>,
        Vec<_>,
    >(text, options)
    .map_err(|e| {
        let message = first_line(&e.to_string());
        // The parser's words for its nesting budget name no limit.
        let lower = message.to_lowercase();
        let message = if lower.contains("depth") || lower.contains("recursion limit") {
            format!(
                "blocks nested more than {} levels deep; a manifest nests at most {} levels",
                limits::MAX_NESTING,
                limits::MAX_NESTING
            )
        } else {
            message
        };
        YamlError {
            pos: e.location().map_or(Pos { line: 1, col: 1 }, |l| pos_of(&l)),
            message,
        }
    })?;
    Ok(docs
        .into_iter()
        .map(spanned)
        .filter(|n| n.value != Value::Null)
        .collect())
}

/// The error's sentence without the location suffix the parser adds (we
/// print `file:line:col` ourselves).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s).trim();
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// A key found in a manifest that the typed object does not know: a typo,
/// or a field of a newer API version.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownKey {
    pub pos: Pos,
    /// The dotted path of the key (`spec.podManagmentPolicy`).
    pub path: String,
    /// The known field closest in spelling, if one is close.
    pub suggestion: Option<String>,
}

/// An error while reading the tree as a typed object.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub pos: Option<Pos>,
    pub path: String,
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            pos: None,
            path: String::new(),
            message: msg.to_string(),
        }
    }
}

impl DeError {
    fn at(mut self, pos: Pos, path: &str) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
            self.path = path.to_string();
        }
        self
    }
}

/// Reads `node` as a `T`, collecting the keys `T` does not know.
pub fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<(T, Vec<UnknownKey>), DeError> {
    let unknown = RefCell::new(Vec::new());
    let t = T::deserialize(NodeDe {
        node,
        path: String::new(),
        unknown: &unknown,
    })?;
    Ok((t, unknown.into_inner()))
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    unknown: &'a RefCell<Vec<UnknownKey>>,
}

impl<'a> NodeDe<'a> {
    fn child(&self, node: &'a Node, key: &str) -> NodeDe<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else if key.starts_with('[') {
            format!("{}{key}", self.path)
        } else {
            format!("{}.{key}", self.path)
        };
        NodeDe {
            node,
            path,
            unknown: self.unknown,
        }
    }
    fn wrap<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(self.node.pos, &self.path))
    }
    fn invalid(&self, expected: &str) -> DeError {
        DeError {
            pos: Some(self.node.pos),
            path: self.path.clone(),
            message: format!("expected {expected}, found {}", self.node.kind_words()),
        }
    }
}

/// The known field closest in spelling to `key` (edit distance at most 3,
/// or the same letters in another case).
pub fn closest<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .map(|f| (edit_distance(&key.to_lowercase(), &f.to_lowercase()), *f))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

macro_rules! forward_any {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.deserialize_any(v)
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(items) => v.visit_seq(Seq {
                parent: &self,
                items: items.iter().enumerate(),
            }),
            Value::Map(entries) => v.visit_map(Map {
                parent: &self,
                entries: entries.iter(),
                value: None,
            }),
        };
        self.wrap(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => self.wrap(v.visit_none()),
            _ => v.visit_some(self),
        }
    }

    /// Strings also accept a scalar written without quotes (`value: 3306`),
    /// as the API server's JSON decoding of YAML would not, but kubectl's
    /// users expect for quantities (`storage: 1`).
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match (&self.node.value, self.node.text()) {
            (Value::Str(s), _) => self.wrap(v.visit_str(s)),
            (Value::Int(_) | Value::Float(_), Some(t)) => self.wrap(v.visit_string(t)),
            _ => Err(self.invalid("a string")),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let Value::Map(entries) = &self.node.value else {
            return Err(self.invalid("a mapping"));
        };
        for (k, pos, _) in entries {
            if !fields.contains(&k.as_str()) {
                self.unknown.borrow_mut().push(UnknownKey {
                    pos: *pos,
                    path: self.child(self.node, k).path,
                    suggestion: closest(k, fields).map(String::from),
                });
            }
        }
        self.deserialize_any(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(_) => self.deserialize_any(v),
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(_) => self.deserialize_any(v),
            _ => Err(self.invalid("a mapping")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => self.wrap(v.visit_enum(s.as_str().into_deserializer())),
            _ => Err(self.invalid("a string")),
        }
    }

    forward_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }
}

struct Seq<'p, 'a, I> {
    parent: &'p NodeDe<'a>,
    items: I,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> SeqAccess<'de> for Seq<'_, 'a, I> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((i, n)) => seed
                .deserialize(self.parent.child(n, &format!("[{i}]")))
                .map(Some),
            None => Ok(None),
        }
    }
}

struct Map<'p, 'a, I> {
    parent: &'p NodeDe<'a>,
    entries: I,
    value: Option<(&'a str, &'a Node)>,
}

impl<'de, 'a, I: Iterator<Item = &'a (String, Pos, Node)>> MapAccess<'de> for Map<'_, 'a, I> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, pos, v)) => {
                self.value = Some((k.as_str(), v));
                seed.deserialize(k.as_str().into_deserializer())
                    .map(Some)
                    .map_err(|e: DeError| e.at(*pos, &self.parent.path))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((k, v)) => seed.deserialize(self.parent.child(v, k)),
            None => Err(de::Error::custom("a value without its key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_the_line_and_column_of_each_key() {
        let docs = parse_documents("a: 1\n---\nkind: X\nspec:\n  replicas: 3\n").unwrap();
        assert_eq!(docs.len(), 2);
        let spec = docs[1].get("spec").unwrap();
        assert_eq!(spec.key_pos("replicas"), Pos { line: 5, col: 3 });
        assert_eq!(docs[1].at("spec.replicas").unwrap().value, Value::Int(3));
    }

    #[test]
    fn a_syntax_error_has_its_position() {
        let e = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
        assert!(!e.message.is_empty());
    }

    #[test]
    fn a_misspelt_key_is_found_with_the_field_it_resembles() {
        let docs = parse_documents(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  podManagmentPolicy: Parallel\n  serviceName: web\n  selector: {}\n  template: {}\n",
        )
        .unwrap();
        let (_s, unknown) = from_node::<k8s_openapi::api::apps::v1::StatefulSet>(&docs[0]).unwrap();
        assert_eq!(
            unknown,
            vec![UnknownKey {
                pos: Pos { line: 6, col: 3 },
                path: "spec.podManagmentPolicy".into(),
                suggestion: Some("podManagementPolicy".into()),
            }]
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_at_the_value() {
        let docs = parse_documents(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: three\n",
        )
        .unwrap();
        let e = from_node::<k8s_openapi::api::apps::v1::StatefulSet>(&docs[0]).unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 6, col: 13 }));
        assert_eq!(e.path, "spec.replicas");
    }
}
