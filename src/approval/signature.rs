//! OpenSSH signatures (the SSHSIG format of `ssh-keygen -Y sign`) and the allowed_signers file
//! of `ssh-keygen -Y verify`, so that every signature this tool writes can be checked with stock
//! OpenSSH and every allowed_signers file an organisation keeps works here unchanged.

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::error::{Error, Result};

/// Namespace of approval signatures: a signature made for another purpose never counts here.
pub const APPROVAL_NAMESPACE: &str = "runbook-approval";
/// Namespace of a run's seal signature.
pub const SEAL_NAMESPACE: &str = "runbook-seal";
/// Passphrase of an encrypted key file, when no agent holds the key.
pub const PASSPHRASE_ENV: &str = "RUNBOOK_KEY_PASSPHRASE";

/// A key that can sign: a private key file, or a key held by the running ssh-agent.
pub struct Signer {
    public: PublicKey,
    source: Source,
}

enum Source {
    File(Box<PrivateKey>),
    Agent(PathBuf),
}

impl Signer {
    /// The key at `path` (a private key file, or its `.pub` when the agent holds the private
    /// half). With `SSH_AUTH_SOCK` set and the key loaded in the agent, the agent signs: the
    /// private key then never needs to be readable by this process.
    pub fn open(path: &Path) -> Result<Signer> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let (public, private) = if text.trim_start().starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let private = PrivateKey::from_openssh(&text)
                .map_err(|e| Error::usage(format!("{}: not an OpenSSH private key ({e})", path.display())))?;
            (private.public_key().clone(), Some(private))
        } else {
            let public = PublicKey::from_openssh(text.trim())
                .map_err(|e| Error::usage(format!("{}: neither an OpenSSH private key nor a public key ({e})", path.display())))?;
            (public, None)
        };
        if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
            let sock = PathBuf::from(sock);
            if let Ok(mut client) = ssh_agent_client_rs::Client::connect(&sock) {
                let held = client.list_all_identities().unwrap_or_default();
                if held.iter().any(|k| matches!(k, ssh_agent_client_rs::Identity::PublicKey(k) if k.key_data() == public.key_data())) {
                    return Ok(Signer { public, source: Source::Agent(sock) });
                }
            }
        }
        let Some(mut private) = private else {
            return Err(Error::usage(format!(
                "{}: a public key, and no running ssh-agent (SSH_AUTH_SOCK) holds its private key: give the private key file or `ssh-add` it",
                path.display()
            )));
        };
        if private.is_encrypted() {
            let pass = std::env::var(PASSPHRASE_ENV).map_err(|_| {
                Error::usage(format!(
                    "{}: the key is encrypted: load it into ssh-agent (`ssh-add {}`) or set {PASSPHRASE_ENV}",
                    path.display(),
                    path.display()
                ))
            })?;
            private = private
                .decrypt(pass.as_bytes())
                .map_err(|_| Error::usage(format!("{}: wrong passphrase in {PASSPHRASE_ENV}", path.display())))?;
        }
        Ok(Signer { public, source: Source::File(Box::new(private)) })
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public)
    }

    /// Whether the ssh-agent signs.
    pub fn via_agent(&self) -> bool {
        matches!(self.source, Source::Agent(_))
    }

    /// An armored SSHSIG signature of `msg` in `namespace`.
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<String> {
        let sig = match &self.source {
            Source::File(key) => key.sign(namespace, HashAlg::Sha512, msg).map_err(|e| Error::failed(format!("signing: {e}")))?,
            Source::Agent(sock) => {
                // The agent signs the SSHSIG "signed data" blob, exactly as ssh-keygen asks it to.
                let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(|e| Error::failed(format!("signing: {e}")))?;
                let mut client = ssh_agent_client_rs::Client::connect(sock)
                    .map_err(|e| Error::failed(format!("ssh-agent at {}: {e}", sock.display())))?;
                let signature = client.sign(&self.public, &data).map_err(|e| Error::failed(format!("ssh-agent refused to sign: {e}")))?;
                SshSig::new(self.public.key_data().clone(), namespace, HashAlg::Sha512, signature)
                    .map_err(|e| Error::failed(format!("signing: {e}")))?
            }
        };
        sig.to_pem(LineEnding::LF).map_err(|e| Error::failed(format!("signing: {e}")))
    }
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    pub principals: Vec<String>,
    pub namespaces: Option<Vec<String>>,
    pub key: PublicKey,
}

/// An allowed_signers file (see ssh-keygen(1), ALLOWED SIGNERS).
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub entries: Vec<AllowedSigner>,
}

impl AllowedSigners {
    pub fn read(path: &Path) -> Result<AllowedSigners> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        AllowedSigners::parse(&text).map_err(|(line, why)| Error::usage(format!("{}:{line}: {why}", path.display())))
    }

    /// Parse the file; certificate authorities are not supported and say so.
    pub fn parse(text: &str) -> std::result::Result<AllowedSigners, (usize, String)> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_words(line);
            let mut it = words.iter().peekable();
            let principals: Vec<String> =
                it.next().map(|p| p.split(',').map(|s| s.trim_matches('"').to_string()).collect()).unwrap_or_default();
            let mut namespaces = None;
            // Options come before the key type when present.
            if let Some(opts) = it.peek() {
                if !opts.starts_with("ssh-") && !opts.starts_with("ecdsa-") && !opts.starts_with("sk-") {
                    for opt in split_options(opts) {
                        let (name, value) =
                            opt.split_once('=').map(|(n, v)| (n, Some(v.trim_matches('"')))).unwrap_or((opt.as_str(), None));
                        match name.to_ascii_lowercase().as_str() {
                            "namespaces" => namespaces = value.map(|v| v.split(',').map(str::to_string).collect()),
                            "cert-authority" => {
                                return Err((i + 1, "cert-authority entries are not supported: list each signer's key".into()))
                            }
                            _ => {}
                        }
                    }
                    it.next();
                }
            }
            let rest: Vec<&str> = it.map(String::as_str).collect();
            let key = PublicKey::from_openssh(&rest.join(" ")).map_err(|e| (i + 1, format!("not a public key ({e})")))?;
            entries.push(AllowedSigner { principals, namespaces, key });
        }
        Ok(AllowedSigners { entries })
    }

    /// The principals that may sign in `namespace` with `key`.
    pub fn principals_for(&self, key: &ssh_key::public::KeyData, namespace: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.key.key_data() == key)
            .filter(|e| e.namespaces.as_ref().is_none_or(|ns| ns.iter().any(|n| glob(n, namespace))))
            .flat_map(|e| e.principals.clone())
            .collect()
    }
}

fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// OpenSSH's principal patterns: `*` and `?`.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The signature file is not an SSHSIG signature, or does not verify over the bytes.
    BadSignature(String),
    /// The key is not in the allowed signers for this principal and namespace.
    UnknownSigner { fingerprint: String, principal: String },
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::BadSignature(why) => write!(f, "bad signature: {why}"),
            Rejection::UnknownSigner { fingerprint, principal } => {
                write!(f, "unknown signer: key {fingerprint} is not in the allowed signers for principal `{principal}`")
            }
        }
    }
}

/// Check `pem` over `msg` in `namespace`, and that its key is allowed for `principal`.
/// Returns the key's fingerprint.
pub fn verify(allowed: &AllowedSigners, namespace: &str, principal: &str, msg: &[u8], pem: &str) -> std::result::Result<String, Rejection> {
    let sig = SshSig::from_pem(pem.trim()).map_err(|e| Rejection::BadSignature(format!("not an SSH signature ({e})")))?;
    if sig.namespace() != namespace {
        return Err(Rejection::BadSignature(format!("made for namespace `{}`, not `{namespace}`", sig.namespace())));
    }
    let key = PublicKey::new(sig.public_key().clone(), "");
    key.verify(namespace, msg, &sig)
        .map_err(|_| Rejection::BadSignature("it does not match the signed bytes (forged or altered)".into()))?;
    let fp = fingerprint(&key);
    if !allowed.principals_for(key.key_data(), namespace).iter().any(|p| glob(p, principal)) {
        return Err(Rejection::UnknownSigner { fingerprint: fp, principal: principal.to_string() });
    }
    Ok(fp)
}
