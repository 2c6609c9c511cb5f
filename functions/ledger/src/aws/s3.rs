//! S3 adapters: the ledger object as a stream of chunks ([`S3Source`]) and the rejects
//! report upload ([`S3Rejects`]).

use crate::notification::ObjectRef;
use crate::ports::{ChunkStream, ObjectSource, RejectsSink, SinkError, SourceError};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use std::path::Path;

/// Reads ledgers with `GetObject`, pinned to the announced version and ETag.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
}

impl S3Source {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// The body of a `GetObject`, read as it arrives.
pub struct S3Chunks {
    body: ByteStream,
    read: u64,
}

impl ObjectSource for S3Source {
    type Chunks = S3Chunks;

    async fn open(&self, object: &ObjectRef, from: u64) -> Result<S3Chunks, SourceError> {
        let if_match = object
            .etag
            .as_deref()
            .map(|e| format!("\"{}\"", e.trim_matches('"')));
        let result = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .set_if_match(if_match)
            .set_range((from > 0).then(|| format!("bytes={from}-")))
            .send()
            .await;
        match result {
            Ok(out) => Ok(S3Chunks {
                body: out.body,
                read: from,
            }),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().unwrap_or_default().to_owned();
                let (bucket, key) = (object.bucket.clone(), object.key.clone());
                let source = Box::new(e);
                Err(match open_failure(status, &code) {
                    OpenFailure::Replaced => SourceError::Superseded {
                        bucket,
                        key,
                        source,
                    },
                    OpenFailure::Missing => SourceError::Missing {
                        bucket,
                        key,
                        version_id: object.version_id.clone(),
                        source,
                    },
                    OpenFailure::Other => SourceError::Open {
                        bucket,
                        key,
                        source,
                    },
                })
            }
        }
    }
}

/// What a failed `GetObject` of the announced version means.
#[derive(Debug, PartialEq, Eq)]
enum OpenFailure {
    /// 412: the key's ETag is not the announced one — a newer upload replaced it.
    Replaced,
    /// No such key (deleted, unversioned bucket) or no such version (deleted version).
    Missing,
    Other,
}

fn open_failure(status: Option<u16>, code: &str) -> OpenFailure {
    match (status, code) {
        (Some(412), _) | (_, "PreconditionFailed") => OpenFailure::Replaced,
        (_, "NoSuchKey" | "NoSuchVersion") => OpenFailure::Missing,
        _ => OpenFailure::Other,
    }
}

impl ChunkStream for S3Chunks {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        match self.body.next().await {
            None => Ok(None),
            Some(Ok(chunk)) => {
                self.read += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Some(Err(e)) => Err(SourceError::Read {
                bytes: self.read,
                source: Box::new(e),
            }),
        }
    }
}

/// Uploads rejects reports with `PutObject`, streamed from the spool file (server-side
/// encryption is the bucket's default).
#[derive(Debug, Clone)]
pub struct S3Rejects {
    client: Client,
}

impl S3Rejects {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl RejectsSink for S3Rejects {
    async fn put_report(&self, bucket: &str, key: &str, report: &Path) -> Result<(), SinkError> {
        let fail = |source| SinkError {
            action: "store",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source,
        };
        let body = ByteStream::from_path(report)
            .await
            .map_err(|e| fail(Box::new(e)))?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(body)
            .send()
            .await
            .map_err(|e| fail(Box::new(e)))?;
        Ok(())
    }

    /// `DeleteObject` (in a versioned bucket, a delete marker; S3 answers the same whether
    /// or not the report was there).
    async fn delete_report(&self, bucket: &str, key: &str) -> Result<(), SinkError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| SinkError {
                action: "delete",
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                source: Box::new(e),
            })?;
        Ok(())
    }

    /// `ListObjectsV2`, page after page.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, SinkError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| SinkError {
                action: "list the parts of",
                bucket: bucket.to_owned(),
                key: prefix.to_owned(),
                source: Box::new(e),
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// `GetObject`, its body streamed to the end of the file.
    async fn append(&self, bucket: &str, key: &str, to: &Path) -> Result<(), SinkError> {
        use tokio::io::AsyncWriteExt;
        let fail = |source: convoy_core::BoxError| SinkError {
            action: "read",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source,
        };
        let mut out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| fail(Box::new(e)))?;
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(to)
            .await
            .map_err(|e| fail(Box::new(e)))?;
        while let Some(chunk) = out.body.next().await {
            let chunk = chunk.map_err(|e| fail(Box::new(e)))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| fail(Box::new(e)))?;
        }
        file.flush().await.map_err(|e| fail(Box::new(e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_object_is_told_from_a_missing_one() {
        assert_eq!(open_failure(Some(412), ""), OpenFailure::Replaced);
        assert_eq!(
            open_failure(Some(400), "PreconditionFailed"),
            OpenFailure::Replaced
        );
        assert_eq!(open_failure(Some(404), "NoSuchKey"), OpenFailure::Missing);
        assert_eq!(
            open_failure(Some(404), "NoSuchVersion"),
            OpenFailure::Missing
        );
        assert_eq!(open_failure(Some(403), "AccessDenied"), OpenFailure::Other);
        assert_eq!(open_failure(None, ""), OpenFailure::Other);
    }
}
