//! JSON Web Tokens: which keys verify them, and minting tokens for `tally token`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::UserId;

/// The smallest HS256 secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;
/// Where the generated secret lives, inside the data directory.
pub const SECRET_FILE: &str = "jwt-secret";

/// Where the verifying key comes from (the `TALLY_JWT_*` settings).
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    pub secret: Option<String>,
    pub public_key_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Why the server cannot set up token checking.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("TALLY_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
    #[error("{0} holds fewer than {MIN_SECRET_BYTES} bytes: delete it to have a new secret made")]
    ShortSecretFile(PathBuf),
    #[error("cannot use {path} (the generated secret, in TALLY_DATA_DIR): {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TALLY_JWT_PUBLIC_KEY_FILE={path}: cannot read it ({source})")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "TALLY_JWT_PUBLIC_KEY_FILE={0}: holds no RSA, EC (P-256) or Ed25519 public key in PEM form"
    )]
    UnknownKey(PathBuf),
    #[error(
        "tokens are verified with a public key here; tally can only mint tokens for an HS256 secret"
    )]
    CannotMint,
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Why a request's token was refused. Kept apart from what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("invalid subject: {0}")]
    Subject(#[from] crate::domain::InvalidValue),
    /// RFC 7515 §4.1.11: every extension `crit` names must be understood; tally knows none.
    #[error("the token names critical header extensions tally does not know: {0:?}")]
    UnknownCritical(Vec<String>),
}

impl TokenError {
    /// A well-signed token past its `exp` (jsonwebtoken checks the signature first, so saying
    /// so tells a forger nothing).
    pub fn is_expired(&self) -> bool {
        matches!(self, TokenError::Invalid(error)
            if matches!(error.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature))
    }
}

/// The claims of the tokens tally mints.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Verifies bearer tokens with one key and one algorithm.
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
    /// The HS256 secret, when that is the key: lets tests and `tally token` mint tokens.
    secret: Option<Vec<u8>>,
    config: AuthConfig,
}

impl Authenticator {
    /// Sets up from the configuration; with no key configured, uses (creating on first use)
    /// the random secret in `data_dir`.
    pub fn from_config(config: &AuthConfig, data_dir: &Path) -> Result<Self, KeyError> {
        let (key, algorithm, secret) = if let Some(path) = &config.public_key_file {
            let pem = std::fs::read(path).map_err(|source| KeyError::KeyFile {
                path: path.clone(),
                source,
            })?;
            let (key, algorithm) = public_key(&pem).ok_or(KeyError::UnknownKey(path.clone()))?;
            (key, algorithm, None)
        } else {
            let secret = match &config.secret {
                Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                    return Err(KeyError::ShortSecret);
                }
                Some(secret) => secret.as_bytes().to_vec(),
                None => generated_secret(data_dir)?,
            };
            (
                DecodingKey::from_secret(&secret),
                Algorithm::HS256,
                Some(secret),
            )
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        // RFC 7519 §4.1.5: a token is not accepted before its `nbf`.
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        required.extend(config.issuer.as_ref().map(|_| "iss"));
        required.extend(config.audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        validation.validate_aud = config.audience.is_some();
        if let Some(audience) = &config.audience {
            validation.set_audience(&[audience]);
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(Authenticator {
            key,
            validation,
            secret,
            config: config.clone(),
        })
    }

    /// The issuer (`iss`) every token must name, when one is configured.
    pub fn issuer(&self) -> Option<&str> {
        self.config.issuer.as_deref()
    }

    /// The caller a token names, if the token is valid.
    pub fn verify(&self, token: &str) -> Result<UserId, TokenError> {
        self.verify_until(token).map(|(user, _)| user)
    }

    /// The caller a token names and when the token expires (its `exp`, in seconds since the
    /// epoch), if the token is valid.
    pub fn verify_until(&self, token: &str) -> Result<(UserId, Option<i64>), TokenError> {
        // Only `sub` and `exp` are read here; jsonwebtoken has already checked `exp`, `iss`
        // and `aud` (which may be a string or a list).
        #[derive(Deserialize)]
        struct Subject {
            sub: String,
            exp: Option<i64>,
        }
        let data = jsonwebtoken::decode::<Subject>(token, &self.key, &self.validation)?;
        if let Some(critical) = data.header.crit {
            return Err(TokenError::UnknownCritical(critical));
        }
        Ok((UserId::parse(&data.claims.sub)?, data.claims.exp))
    }

    /// A token for `user` valid until `expires`, signed with the HS256 secret.
    pub fn mint(&self, user: &UserId, expires: DateTime<Utc>) -> Result<String, KeyError> {
        let secret = self.secret.as_ref().ok_or(KeyError::CannotMint)?;
        let claims = Claims {
            sub: user.as_str().to_owned(),
            exp: expires.timestamp(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )?)
    }
}

fn public_key(pem: &[u8]) -> Option<(DecodingKey, Algorithm)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Some((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Some((key, Algorithm::ES256));
    }
    DecodingKey::from_ed_pem(pem)
        .ok()
        .map(|key| (key, Algorithm::EdDSA))
}

/// Reads the secret in `data_dir`, creating a random 256-bit one (mode 0600) the first time.
///
/// The new secret is written and synced under a temporary name, then hard-linked into place:
/// a link fails if the file exists, so two processes starting at once agree on one secret, and
/// nobody can ever read a half-written (empty or short) secret.
fn generated_secret(data_dir: &Path) -> Result<Vec<u8>, KeyError> {
    let path = data_dir.join(SECRET_FILE);
    match read_secret(&path) {
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        read => return read,
    }
    let io = |at: &Path| {
        let path = at.to_owned();
        move |source| KeyError::Io { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let draft = data_dir.join(format!("{SECRET_FILE}.{}", uuid::Uuid::now_v7().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&draft).and_then(|mut file| {
        file.write_all(secret.as_bytes())?;
        file.sync_all()
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&draft);
        return Err(io(&draft)(error));
    }
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        // The new name must survive a crash too: sync the folder that holds it.
        Ok(()) => {
            std::fs::File::open(data_dir)
                .and_then(|folder| folder.sync_all())
                .map_err(io(data_dir))?;
            Ok(secret.into_bytes())
        }
        // Another process put its secret in place first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_secret(&path),
        Err(error) => Err(io(&path)(error)),
    }
}

/// The secret stored at `path`, refused when shorter than an HS256 key should be.
fn read_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    let secret = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::ShortSecretFile(path.to_owned()));
    }
    Ok(secret.as_bytes().to_vec())
}
