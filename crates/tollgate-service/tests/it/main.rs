//! Use-case stories on a real SQLite database, through the public service API.

mod apply;
mod artifacts;
mod audit;
mod auth;
mod authz;
mod backends;
mod calendar;
mod changes;
mod check;
mod gates;
mod leases;
mod races;
mod release;
mod sso;
mod storm;
mod trains;
mod trust;
mod windows;
