//! Declarative topologies and `rudder up` / `rudder down` (being written).
