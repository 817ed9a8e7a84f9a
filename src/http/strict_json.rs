//! JSON read as `serde_json::Value`, except that an object naming a key twice is refused.
//! serde_json keeps the last of duplicate keys, so `{"title": "a", "title": "b"}` would be a
//! valid edit that means whatever the last parser in the chain (a proxy, a log reader, an audit
//! tool) thinks it means; RFC 8259 leaves it undefined, so the API refuses it as malformed.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON document with no duplicate key in any object, at any depth.
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite number; `Null` is what it would make of one.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(deserializer).map(|strict| strict.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, String> {
        serde_json::from_str::<StrictValue>(text)
            .map(|strict| strict.0)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn reads_what_serde_json_reads_when_no_key_repeats() {
        let text = r#"{"a": [1, -2, 3.5, 18446744073709551615, true, null, "x"],
                       "b": {"c": {}, "d": []}, "e": "é\n"}"#;
        assert_eq!(
            parse(text),
            Ok(serde_json::from_str::<Value>(text).unwrap())
        );
        for scalar in ["null", "0", "\"s\"", "[]"] {
            assert_eq!(parse(scalar), Ok(serde_json::from_str(scalar).unwrap()));
        }
    }

    #[test]
    fn refuses_a_key_named_twice_at_any_depth() {
        for text in [
            r#"{"title": "a", "title": "b"}"#,
            r#"{"a": {"permission": "view", "permission": "edit"}}"#,
            r#"[{"x": 1, "x": 1}]"#,
            r#"{"t\u0069tle": "a", "title": "b"}"#,
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains("duplicate key"), "{text}: {error}");
        }
        // The same key in sibling objects is no duplicate.
        assert!(parse(r#"[{"x": 1}, {"x": 2}]"#).is_ok());
    }
}
