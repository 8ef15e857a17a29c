//! Deterministic traffic simulator (placeholder; being written).
