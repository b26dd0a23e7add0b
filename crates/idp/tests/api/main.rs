//! The integration suite: one test binary (cheap to link on two cores) that
//! boots the real server on a random port against a fresh database per test,
//! on SQLite and — when `TEST_DATABASE_URL` is set — on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[macro_use]
#[allow(dead_code)] // each module uses a different part of the harness
mod helpers;
#[allow(dead_code)]
mod smtp;

mod abuse;
mod account;
mod admin;
mod audit;
mod authorize;
mod browser;
mod cli;
mod conformance;
mod connections;
mod crash;
mod file_modes;
mod health;
mod hostile_input;
mod invalidation_races;
mod jwt_attacks;
mod keys;
mod log_lines;
mod logout;
mod machine_clients;
mod mail;
mod migrations;
mod multi_node;
mod nodes;
mod oidc_client;
mod original_flow;
mod outage;
mod own_apis;
mod refresh;
mod register;
mod retention;
mod rs256;
mod secrets_hygiene;
mod seed_cli;
mod userinfo;
mod well_known;
