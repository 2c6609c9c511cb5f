//! Ledger function: streams an uploaded ledger from S3 and fans its transactions out to the SQS FIFO queue.
