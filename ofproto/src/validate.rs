//! Match prerequisite validation (OF1.3.5 §7.2.3.6). SCAFFOLD: owned by the oxm owner.
