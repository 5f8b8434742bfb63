//! The private-key password, as Go cosign reads it: `COSIGN_PASSWORD` if set
//! (even empty); else a prompt on the terminal; else all of stdin,
//! trailing newline included (upstream's behaviour, kept for scripts that
//! pipe a password in).

use std::io::{BufRead, Read, Write};

pub const ENV: &str = "COSIGN_PASSWORD";

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Reads one line from the terminal with echo off.
fn prompt(text: &str) -> std::io::Result<String> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    // SAFETY: plain termios data for the terminal just opened.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have_termios = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_termios {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut w = &tty;
    let _ = write!(w, "{text}");
    let _ = w.flush();
    let mut line = String::new();
    let r = std::io::BufReader::new(&tty).read_line(&mut line);
    if have_termios {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    let _ = writeln!(w);
    r?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
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
