//! Files in the data directory and key files: the bootstrap admin token and artifact signing
//! key pairs (the audit signing key file is `tollgate_service::signing`).
//! Secrets are written with mode 0600, in a directory with mode 0700.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;

pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
pub const PUBLIC_KEY_FILE: &str = "audit-signing.pub";
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

/// Creates the data directory (mode 0700) if it does not exist.
pub fn ensure_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(data_dir).with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting the data directory {}", data_dir.display()))
}

/// Writes a new artifact signing key pair: `<prefix>.key` (PKCS#8 PEM, 0600) and `<prefix>.pub`.
pub fn generate_key_pair(prefix: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let private = PathBuf::from(format!("{}.key", prefix.display()));
    let public = PathBuf::from(format!("{}.pub", prefix.display()));
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|error| anyhow::anyhow!("encoding the key: {error}"))?;
    write_secret(&private, private_pem.as_bytes())?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| anyhow::anyhow!("encoding the public key: {error}"))?;
    fs::write(&public, public_pem).with_context(|| format!("writing {}", public.display()))?;
    Ok((private, public))
}

/// Writes the bootstrap admin token, readable by its owner only, durably: to a temporary file
/// that is synced and then renamed over `admin-token`. Returns its path.
pub fn write_admin_token(data_dir: &Path, secret: &str) -> anyhow::Result<PathBuf> {
    write_durably(data_dir, ADMIN_TOKEN_FILE, secret)
}

/// Writes the bootstrap admin's first password like its token, to `admin-password`.
pub fn write_admin_password(data_dir: &Path, password: &str) -> anyhow::Result<PathBuf> {
    write_durably(data_dir, ADMIN_PASSWORD_FILE, password)
}

fn write_durably(data_dir: &Path, name: &str, secret: &str) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(name);
    let temporary = data_dir.join(format!("{name}.tmp"));
    let _ = fs::remove_file(&temporary);
    write_secret(&temporary, format!("{secret}\n").as_bytes())?;
    fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))?;
    fs::File::open(data_dir).and_then(|directory| directory.sync_all()).context("syncing the data directory")?;
    Ok(path)
}

fn write_secret(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents).with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().with_context(|| format!("writing {}", path.display()))
}
