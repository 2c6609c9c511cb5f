//! Local driver: plays Lambda's event source mappings against an emulator; the demo command.
