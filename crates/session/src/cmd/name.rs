//! `session name …`: Session names (SNS/ONS). `register` asks the network's registry
//! (`ons_buy_mapping`, JSON-RPC over HTTP to the first reachable `registry_urls` entry of
//! the network file) to map a name to this account's Session ID, then waits until
//! service nodes resolve it; `resolve` looks a name up as clients do (several nodes
//! must agree, through onion requests).
//!
//! The record is `session_crypto::ons::encrypt_value(name, session_id)`: only someone
//! who knows the name can read it. Its owner (who may update or renew it) is the
//! account's Ed25519 key, which signs the registration.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use session_client::store::MemoryStore;
use session_client::{Messenger, MessengerSettings, NetworkConfig, OnionClient};
use session_crypto::ons::{self, OnsType};
use session_crypto::{AccountId, AccountKeys};

use crate::cmd::chat::{NetArgs, load_network};
use crate::{account_file, ui};

/// `session name …`.
#[derive(Debug, Subcommand)]
pub enum NameCommand {
    /// Register a Session name for your account, so that people can write to @name
    /// instead of your Session ID. Waits until the network answers for it.
    Register(RegisterArgs),
    /// Look up the Session ID a name stands for.
    Resolve(ResolveArgs),
}

/// Options of `session name register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The name: 1–64 characters of a-z, 0-9, _ and - (not starting or ending with -);
    /// upper case is the same as lower case. A leading @ is ignored.
    #[arg(value_name = "NAME", allow_hyphen_values = true)]
    name: String,
    /// How long to wait for the network to confirm the name, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    wait: u64,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session name resolve`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The name (a leading @ is ignored).
    #[arg(value_name = "NAME", allow_hyphen_values = true)]
    name: String,
    #[command(flatten)]
    net: NetArgs,
}

/// Pause between lookups while waiting for a registration.
const RESOLVE_PAUSE: Duration = Duration::from_millis(1000);

/// Runs a `name` command.
pub fn run(cmd: NameCommand, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        NameCommand::Register(a) => rt.block_on(register(a, data_dir, json)),
        NameCommand::Resolve(a) => rt.block_on(resolve(a, json)),
    }
}

/// Checks a name as the registry will, with an error that says what is allowed.
fn check_name(text: &str) -> anyhow::Result<String> {
    let given = text.trim().trim_start_matches('@');
    ons::validate_name(OnsType::Session, given).map_err(|e| {
        anyhow::anyhow!(
            "{given:?} cannot be a Session name ({e}); use 1–64 characters of a-z, 0-9, _ \
             and -, not starting or ending with -"
        )
    })
}

/// A messenger that only looks names up (no account data is read or written).
fn lookup_messenger(keys: AccountKeys, net: NetworkConfig) -> Messenger {
    Messenger::new(
        keys,
        OnionClient::with_system_clock(net),
        Arc::new(MemoryStore::new()),
        MessengerSettings::default(),
    )
}

/// The `ons_buy_mapping` parameters registering `name` → `keys`' Session ID, owned and
/// signed by `keys`' Ed25519 key.
pub fn buy_params(keys: &AccountKeys, name: &str) -> anyhow::Result<Value> {
    let value = ons::encrypt_value(name, &keys.session_id().to_bytes())
        .context("encrypting the name record")?;
    let owner = keys.ed25519_public().0;
    let hash = session_registry::tx::ons_update_hash(Some(&value), Some(&owner), None, &[0; 32]);
    let signature = keys.ed25519().sign(&hash);
    Ok(json!({
        "type": "session",
        "name": name,
        "encrypted_value": hex::encode(&value),
        "owner": hex::encode(owner),
        "signature": hex::encode(signature),
    }))
}

/// What the registry said about a registration.
enum Submitted {
    /// Accepted into the next block.
    Accepted { txid: Option<String> },
    /// The name is registered already (perhaps by us).
    Taken,
    /// The same registration is waiting for the next block already.
    Pending,
}

async fn submit(client: &OnionClient, params: Value, name: &str) -> anyhow::Result<Submitted> {
    let (answer, url) = client
        .registry_call("ons_buy_mapping", params)
        .await
        .context("cannot register the name")?;
    if let Some(result) = answer.get("result") {
        return Ok(Submitted::Accepted {
            txid: result["txid"].as_str().map(str::to_owned),
        });
    }
    let error = &answer["error"];
    let message = error["message"].as_str().unwrap_or("no reason given");
    match error["data"]["kind"].as_str().unwrap_or_default() {
        "name_taken" => Ok(Submitted::Taken),
        "already_pending" => Ok(Submitted::Pending),
        "invalid_name" => bail!(
            "the registry refused @{name}: {message}; use 1–64 characters of a-z, 0-9, _ and -"
        ),
        _ => bail!("the registry ({url}) refused the registration of @{name}: {message}"),
    }
}

/// `session name register`.
async fn register(args: RegisterArgs, data_dir: &Path, json_out: bool) -> anyhow::Result<()> {
    let name = check_name(&args.name)?;
    let keys = account_file::load(data_dir)?;
    let me = keys.session_id();
    let net = load_network(&args.net)?;
    let params = buy_params(&keys, &name)?;
    let m = lookup_messenger(keys, net);
    let submitted = submit(m.client(), params, &name).await?;
    let txid = match submitted {
        Submitted::Accepted { txid } => txid,
        Submitted::Pending => None,
        Submitted::Taken => {
            // Taken — by us (a second run) or by someone else?
            return match m.resolve_name(&name).await {
                Ok(owner) if owner == me => {
                    print_registered(&name, &me, None, true, json_out);
                    Ok(())
                }
                Ok(_) => {
                    bail!("@{name} is already registered to someone else; choose another name")
                }
                Err(e) => Err(anyhow::Error::new(e).context(format!(
                    "@{name} is already registered (and could not be looked up now); choose \
                     another name, or check it with `session name resolve {name}`"
                ))),
            };
        }
    };
    wait_until_resolved(&m, &name, &me, Duration::from_secs(args.wait), json_out).await?;
    print_registered(&name, &me, txid.as_deref(), false, json_out);
    Ok(())
}

fn print_registered(name: &str, id: &AccountId, txid: Option<&str>, already: bool, json_out: bool) {
    if json_out {
        ui::print_json(&json!({
            "name": name,
            "session_id": id.to_hex(),
            "txid": txid,
            "already_registered": already,
        }));
    } else if already {
        println!("@{name} is already registered to you → {id}");
    } else {
        println!("Registered @{name} → {id}");
    }
}

/// Waits (with a spinner on a terminal) until the network resolves `name` to `me`.
async fn wait_until_resolved(
    m: &Messenger,
    name: &str,
    me: &AccountId,
    limit: Duration,
    json_out: bool,
) -> anyhow::Result<()> {
    let bar = if json_out {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("waiting for the network to confirm @{name}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let deadline = Instant::now() + limit;
    let outcome = loop {
        match m.resolve_name(name).await {
            Ok(id) if id == *me => break Ok(()),
            Ok(other) => {
                break Err(anyhow::anyhow!(
                    "@{name} was registered to {other} by someone else first; choose another \
                     name"
                ));
            }
            Err(last) if Instant::now() >= deadline => {
                break Err(anyhow::anyhow!(
                    "the registration of @{name} was accepted, but the network did not \
                     confirm it within {} s (last answer: {last}). It may still appear: check \
                     with `session name resolve {name}` (or wait longer with --wait)",
                    limit.as_secs()
                ));
            }
            Err(_) => {}
        }
        tokio::time::sleep(RESOLVE_PAUSE).await;
    };
    bar.finish_and_clear();
    outcome
}

/// `session name resolve`.
async fn resolve(args: ResolveArgs, json_out: bool) -> anyhow::Result<()> {
    let name = check_name(&args.name)?;
    let net = load_network(&args.net)?;
    // Looking a name up needs no account: a throwaway key pair drives the messenger.
    let keys = AccountKeys::generate().context("generating a throwaway key pair")?;
    let m = lookup_messenger(keys, net);
    let id = m.resolve_name(&name).await?;
    if json_out {
        ui::print_json(&json!({"name": name, "session_id": id.to_hex()}));
    } else {
        println!("{id}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;
    use session_crypto::Ed25519Seed;

    #[test]
    fn names_are_checked_and_lower_cased() {
        assert_eq!(check_name("@Alice_1").unwrap(), "alice_1");
        let e = check_name("-bad").unwrap_err().to_string();
        assert!(e.contains("a-z, 0-9"), "{e}");
        assert!(check_name("no spaces").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn buy_params_are_signed_by_the_owner_and_decrypt_under_the_name() {
        let keys = AccountKeys::from_seed(Ed25519Seed::from_array([7; 32]));
        let p = buy_params(&keys, "alice").unwrap();
        let value = hex::decode(p["encrypted_value"].as_str().unwrap()).unwrap();
        assert_eq!(value.len(), 73);
        assert_eq!(
            ons::decrypt_stored_session_id("alice", &value).unwrap(),
            keys.session_id()
        );
        let owner = keys.ed25519_public();
        assert_eq!(p["owner"], hex::encode(owner.0));
        let hash =
            session_registry::tx::ons_update_hash(Some(&value), Some(&owner.0), None, &[0; 32]);
        let sig: [u8; 64] = hex::decode(p["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert!(owner.verify(&hash, &sig).is_ok());
    }
}
