//! `rudder bench`: an OpenFlow 1.3 controller benchmark in the manner of cbench, and the emulated
//! switch it (and the controller's own tests) drive controllers with.

pub mod emulated;
