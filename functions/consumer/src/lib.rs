//! Consumer function: applies each order's transactions in order to DynamoDB, exactly once in effect.
