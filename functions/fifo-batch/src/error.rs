//! `BatchError`: why a batch cannot be processed at all.

use std::error::Error;
use std::fmt;

/// A batch that cannot be processed record by record: the invocation must fail, so Lambda
/// returns every record of the batch to the queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Without a `messageId` a record cannot be named in `batchItemFailures`, and a record
    /// left out of it would be deleted as done.
    #[error("record {index} of the batch has no messageId: it could not be reported failed")]
    MissingMessageId { index: usize },
}

/// An error and its causes (`Error::source`), joined by `: `, for logs.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
