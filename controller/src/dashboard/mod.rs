//! The web dashboard served by the controller (being written).
