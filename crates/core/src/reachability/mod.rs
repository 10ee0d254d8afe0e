//! How Meta reaches this OptDesk: a public HTTPS address in front of the receiver (one of three
//! ways, by the setting `webhook_mode`), registered with Meta by API, tested from outside, and
//! read back so the owner knows which kinds of event arrive here.

pub mod routing;
pub mod selftest;
pub mod state;

pub mod connect;
pub mod endpoint;
pub mod ngrok;
pub mod status;
pub mod uptime;

pub use connect::{Choice, ConnectReport, Outcome};
pub use endpoint::{EndpointState, Mode, Reachability};
pub use routing::Routing;
pub use status::Status;
