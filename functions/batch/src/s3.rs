//! [`BatchBucket`] over S3: `HeadObject`, a ranged `GetObject` of a header, and `PutObject` with `If-None-Match: *` (S3's
//! conditional write: 412 when an object is there — another run wrote the file; 409 when a
//! concurrent conditional write of the same key is in progress — an error, as that write
//! may yet fail).

use crate::run::{BatchBucket, BucketError};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// The bucket batch files are written to.
#[derive(Debug, Clone)]
pub struct S3BatchBucket {
    client: Client,
    bucket: String,
}

impl S3BatchBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        source: impl Into<convoy_core::BoxError>,
    ) -> BucketError {
        BucketError {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source: source.into(),
        }
    }
}

impl BatchBucket for S3BatchBucket {
    async fn exists(&self, key: &str) -> Result<bool, BucketError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(self.error("HeadObject", key, e)),
        }
    }

    async fn head_bytes(&self, key: &str, bytes: usize) -> Result<Option<Vec<u8>>, BucketError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", bytes.saturating_sub(1)))
            .send()
            .await;
        match got {
            Ok(out) => {
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.error("GetObject", key, e))?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            // An empty object has no byte 0: S3 answers 416 to the range.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                Ok(Some(Vec::new()))
            }
            Err(e) => Err(self.error("GetObject", key, e)),
        }
    }

    async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, BucketError> {
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().and_then(|s| s.code()) == Some("PreconditionFailed")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 412) =>
            {
                Ok(false)
            }
            // 409 (ConditionalRequestConflict): another run is writing the file right now and
            // may yet fail; this run fails, and the next finds the file or writes it.
            Err(e) => Err(self.error("PutObject", key, e)),
        }
    }
}
