//! Rudder inference node (scaffold: see issue 4).
