//! End-to-end tests of ledger convoy against the local emulator.
