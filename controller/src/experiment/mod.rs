//! The workload generator and `rudder experiment` (being written).
