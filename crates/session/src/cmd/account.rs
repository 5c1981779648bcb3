//! `session account …`: create, restore and show the account in the data directory.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use session_crypto::blinding::BlindedKeypair;
use session_crypto::{AccountKeys, Ed25519Seed, mnemonic};
use zeroize::Zeroizing;

use crate::account_file;
use crate::ui;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a new account: prints its Session ID, a QR code of it, and the recovery
    /// password (shown only this once — write it down).
    New(NewArgs),
    /// Restore an account from its recovery password (prompted for, or --words) or from
    /// its seed (--seed).
    Restore(RestoreArgs),
    /// Show the account's Session ID (and, with --community-pubkey, its blinded ids on
    /// that community server).
    Show(ShowArgs),
}

/// Options of `account new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Don't print the QR code.
    #[arg(long)]
    no_qr: bool,
}

/// Options of `account restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The recovery password: 13 words (12 are accepted too), separated by spaces. Without
    /// this or --seed, it is read from standard input.
    #[arg(long, conflicts_with = "seed")]
    words: Option<String>,
    /// The account seed as hex (16 or 32 bytes, or the 64-byte libsodium secret key).
    #[arg(long)]
    seed: Option<String>,
}

/// Options of `account show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A community server's public key (64 hex characters): also show the blind15 and
    /// blind25 ids this account has on that server.
    #[arg(long, value_name = "HEX")]
    community_pubkey: Option<String>,
    /// Also print a QR code of the Session ID.
    #[arg(long)]
    qr: bool,
    /// Also print the recovery password. Anyone who sees it can take over the account.
    #[arg(long)]
    recovery_password: bool,
}

/// Runs an account command.
pub fn run(cmd: AccountCommand, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::New(args) => new(&args, data_dir, json),
        AccountCommand::Restore(args) => restore(args, data_dir, json),
        AccountCommand::Show(args) => show(&args, data_dir, json),
    }
}

fn new(args: &NewArgs, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let keys = AccountKeys::generate().context("generating keys")?;
    let words = recovery_words(&keys)?;
    let file = account_file::save_new(data_dir, &keys)?;
    let sid = keys.session_id().to_string();
    if json {
        ui::print_json(&json!({
            "session_id": sid,
            "ed25519_pubkey": keys.ed25519_public().to_string(),
            "recovery_password": words.as_str(),
            "account_file": file.display().to_string(),
        }));
        return Ok(());
    }
    println!("Created a new Session account.\n");
    println!("  Session ID  {sid}\n");
    if !args.no_qr {
        println!("{}", ui::qr_code(&sid)?);
    }
    println!("Recovery password — write it down and keep it secret. It is shown only now,");
    println!("and anyone who has it can use your account:\n");
    println!("  {}\n", words.as_str());
    println!("Saved to {}", file.display());
    Ok(())
}

fn restore(args: RestoreArgs, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let seed = if let Some(hex_seed) = args.seed {
        let hex_seed = Zeroizing::new(hex_seed);
        Ed25519Seed::from_hex(&hex_seed).context("--seed must be 32, 64 or 128 hex characters")?
    } else {
        let words = match args.words {
            Some(w) => Zeroizing::new(w),
            None => read_words_from_stdin()?,
        };
        mnemonic::words_to_seed(&words)?
    };
    let keys = AccountKeys::from_seed(seed);
    let file = account_file::save_new(data_dir, &keys)?;
    if json {
        ui::print_json(&json!({
            "session_id": keys.session_id().to_string(),
            "ed25519_pubkey": keys.ed25519_public().to_string(),
            "account_file": file.display().to_string(),
        }));
    } else {
        println!("Restored account {}", keys.session_id());
        println!("Saved to {}", file.display());
    }
    Ok(())
}

fn read_words_from_stdin() -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Recovery password (13 words): ");
        std::io::stderr().flush().ok();
    }
    let mut line = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the recovery password")?;
    if line.trim().is_empty() {
        bail!("no recovery password given: type the 13 words, or pass --words or --seed");
    }
    Ok(line)
}

fn show(args: &ShowArgs, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let keys = account_file::load(data_dir)?;
    let sid = keys.session_id().to_string();
    let blinded = match &args.community_pubkey {
        Some(hex_pk) => Some(blinded_ids(&keys, hex_pk)?),
        None => None,
    };
    let words = if args.recovery_password {
        Some(recovery_words(&keys)?)
    } else {
        None
    };
    if json {
        let mut out = json!({
            "session_id": sid,
            "ed25519_pubkey": keys.ed25519_public().to_string(),
        });
        if let Some((b15, b25)) = &blinded {
            out["blinded15_id"] = json!(b15);
            out["blinded25_id"] = json!(b25);
        }
        if let Some(w) = &words {
            out["recovery_password"] = json!(w.as_str());
        }
        ui::print_json(&out);
        return Ok(());
    }
    println!("Session ID      {sid}");
    if let Some((b15, b25)) = &blinded {
        println!("Blinded (15)    {b15}");
        println!("Blinded (25)    {b25}");
    }
    if let Some(w) = &words {
        println!("Recovery        {}", w.as_str());
    }
    if args.qr {
        println!("\n{}", ui::qr_code(&sid)?);
    }
    Ok(())
}

/// The 13-word (or 25-word, for full 32-byte seeds) recovery password.
fn recovery_words(keys: &AccountKeys) -> anyhow::Result<Zeroizing<String>> {
    Ok(mnemonic::seed_to_words(keys.seed()))
}

fn blinded_ids(keys: &AccountKeys, server_pk_hex: &str) -> anyhow::Result<(String, String)> {
    let server_pk = session_crypto::Ed25519PublicKey::from_hex(server_pk_hex)
        .context("--community-pubkey must be the server's 64-hex-character public key")?;
    let b15 = BlindedKeypair::blind15(keys.ed25519(), server_pk.as_bytes());
    let b25 = BlindedKeypair::blind25(keys.ed25519(), server_pk.as_bytes());
    Ok((b15.account_id().to_string(), b25.account_id().to_string()))
}
