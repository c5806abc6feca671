//! The body of an activity answer: a stored activity as a JSON tree, or JSON text written
//! without building one.

use axum::Json;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::store::ActivityRecord;

pub enum Answer {
    /// An activity already stored, answered again to a request replayed (as Turnkey does for
    /// the same body twice). Nothing new ran, so its rate limit token goes back: a replay can
    /// come from anyone who saw the activity (its votes carry the stamp).
    Stored(Value),
    /// Well-formed JSON text (see [`super::format::activity_text`]).
    Text(String),
}

impl Answer {
    /// `{"activity": …}` for an activity answered from the store (see [`Answer::Stored`]).
    pub fn stored(activity: &ActivityRecord) -> Self {
        Answer::Stored(json!({ "activity": super::format::activity(activity) }))
    }

    /// `{"activity": …, "receipt": …}` from the two objects' JSON text.
    pub fn activity_and_receipt(activity: &str, receipt: &str) -> Self {
        let mut text = String::with_capacity(activity.len() + receipt.len() + 26);
        text.push_str(r#"{"activity":"#);
        text.push_str(activity);
        text.push_str(r#","receipt":"#);
        text.push_str(receipt);
        text.push('}');
        Answer::Text(text)
    }

    /// The answer as a tree.
    #[cfg(test)]
    pub fn into_value(self) -> Value {
        match self {
            Answer::Stored(value) => value,
            Answer::Text(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Stored(value) => Json(value).into_response(),
            Answer::Text(text) => ([(CONTENT_TYPE, "application/json")], text).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_answers_are_the_object_they_spell() {
        let answer = Answer::activity_and_receipt(r#"{"id":"a","votes":[]}"#, r#"{"seq":"1"}"#);
        assert_eq!(
            answer.into_value(),
            json!({"activity": {"id": "a", "votes": []}, "receipt": {"seq": "1"}})
        );
    }
}
