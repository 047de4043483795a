//! cookie: see DESIGN.md
