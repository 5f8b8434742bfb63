//! The private-key password, as Go cosign reads it: `COSIGN_PASSWORD` if set
//! (even empty); else a prompt on the terminal; else all of stdin,
//! trailing newline included (upstream's behaviour, kept for scripts that
//! pipe a password in).

use std::io::Read;

pub const ENV: &str = "COSIGN_PASSWORD";

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Reads one line from the terminal with echo off.
fn prompt(text: &str) -> std::io::Result<String> {
    sigstack_http::prompt_secret(text)
}

/// The password for an existing key.
pub fn read() -> anyhow::Result<Vec<u8>> {
    if let Some(p) = std::env::var_os(ENV) {
        return Ok(p.into_encoded_bytes());
    }
    if is_tty(0) {
        return Ok(prompt("Enter password for private key: ")?.into_bytes());
    }
    let mut all = Vec::new();
    std::io::stdin().read_to_end(&mut all)?;
    Ok(all)
}

/// The password for a new key: asked twice at a terminal.
pub fn read_new() -> anyhow::Result<Vec<u8>> {
    if let Some(p) = std::env::var_os(ENV) {
        return Ok(p.into_encoded_bytes());
    }
    if is_tty(0) {
        let a = prompt("Enter password for private key: ")?;
        let b = prompt("Enter password for private key again: ")?;
        if a != b {
            anyhow::bail!("passwords do not match");
        }
        return Ok(a.into_bytes());
    }
    let mut all = Vec::new();
    std::io::stdin().read_to_end(&mut all)?;
    Ok(all)
}
