//! expiry: see DESIGN.md
