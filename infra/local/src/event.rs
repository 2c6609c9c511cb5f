//! SQS messages shaped into the event Lambda delivers to a function (`{"Records": [...]}`).

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use serde_json::{json, Map, Value};

/// The queue a batch came from, as Lambda names it in each record.
#[derive(Debug, Clone)]
pub struct QueueIdentity {
    pub arn: String,
    pub region: String,
}

/// Builds the SQS event Lambda would deliver for `messages`, with Lambda's field names.
pub fn sqs_event(queue: &QueueIdentity, messages: &[Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: Map<String, Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), message_attribute(v)))
                        .collect()
                })
                .unwrap_or_default();
            let mut record = json!({
                "messageId": m.message_id().unwrap_or_default(),
                "receiptHandle": m.receipt_handle().unwrap_or_default(),
                "body": m.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": queue.region,
            });
            if let (Some(md5), Some(obj)) = (m.md5_of_message_attributes(), record.as_object_mut())
            {
                obj.insert("md5OfMessageAttributes".into(), Value::String(md5.into()));
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

fn message_attribute(v: &MessageAttributeValue) -> Value {
    let mut o = json!({
        "dataType": v.data_type(),
        "stringListValues": [],
        "binaryListValues": [],
    });
    if let (Some(s), Some(obj)) = (v.string_value(), o.as_object_mut()) {
        obj.insert("stringValue".into(), Value::String(s.into()));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageSystemAttributeName;

    #[test]
    fn shapes_records_as_lambda_does_and_parses_as_an_sqs_event() {
        let m = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh")
            .body(r#"{"order_id":"A","seq":1,"op":"pay"}"#)
            .md5_of_body("x")
            .attributes(MessageSystemAttributeName::MessageGroupId, "A")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .message_attributes(
                "line",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value("3")
                    .build()
                    .unwrap(),
            )
            .build();
        let q = QueueIdentity {
            arn: "arn:aws:sqs:us-east-1:000000000000:t.fifo".into(),
            region: "us-east-1".into(),
        };
        let v = sqs_event(&q, &[m]);
        let e: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(v.clone()).unwrap();
        let r = &e.records[0];
        assert_eq!(r.message_id.as_deref(), Some("m-1"));
        assert_eq!(r.attributes["MessageGroupId"], "A");
        assert_eq!(
            r.message_attributes["line"].string_value.as_deref(),
            Some("3")
        );
        assert_eq!(v["Records"][0]["eventSourceARN"], q.arn);
    }
}
