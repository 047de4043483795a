//! signature: see DESIGN.md
