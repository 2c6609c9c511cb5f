//! DynamoDB layout of ledger convoy: order state, history, parked transactions, ledger status.
