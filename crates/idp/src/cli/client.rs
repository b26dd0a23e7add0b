//! `idp client …` — the original service's `seed_oauth_client`,
//! `update_redirect_uris` and `seed_or_update_oauth_client`, idempotent, plus
//! list, delete and reset-secret.

use std::path::{Path, PathBuf};

use idp_core::client::{Client, ClientType, GrantType};
use idp_core::client_registration;
use idp_core::jose::Algorithm;
use idp_server::AppState;
use idp_server::config::Settings;
use idp_server::service::admin::{Actor, ManageError};
use idp_server::service::clients::{self, ClientChange, ClientSpec};
use serde::{Deserialize, Serialize};

use super::{Failure, common};

/// Where the original service kept the client it seeded.
const DEFAULT_FILE: &str = "oauth_client.json";

#[derive(Debug, clap::Args)]
pub struct Registration {
    /// A display name.
    #[arg(long, default_value = "SPA client")]
    name: String,
    /// A public client (SPA, mobile, CLI: PKCE, no secret). The default.
    #[arg(long, conflicts_with = "confidential")]
    public: bool,
    /// A confidential client (a backend with a secret).
    #[arg(long)]
    confidential: bool,
    /// A redirect URI (exact match); repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where logout may return to; repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Default: authorization_code and refresh_token.
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// Default: openid profile email roles (+ offline_access).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Trusted: no consent page.
    #[arg(long)]
    first_party: bool,
    /// Choose the client id instead of generating one.
    #[arg(long)]
    client_id: Option<String>,
    /// Sign this client's ID tokens with this algorithm
    /// (`id_token_signed_response_alg`): ALGORITHM (the default) or RS256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// The file that records the client (the original's `oauth_client.json`).
    #[arg(long, default_value = DEFAULT_FILE)]
    file: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a client and write it to oauth_client.json.
    #[command(
        after_help = "Examples:\n  idp client create --name 'My SPA' --public --redirect-uri http://localhost:3000/callback\n  \
        idp client create --name 'Reports API' --confidential --grant-type client_credentials --scope reports:read\n  \
        idp client create --name 'Legacy RP' --confidential --redirect-uri https://rp.example.com/cb --id-token-alg RS256"
    )]
    Create(Registration),
    /// Replace the redirect URIs of the client named in oauth_client.json.
    #[command(
        after_help = "Example:\n  idp client update-redirect-uris --redirect-uri https://app.example.com/callback"
    )]
    UpdateRedirectUris {
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long, default_value = DEFAULT_FILE)]
        file: PathBuf,
    },
    /// Create the client if oauth_client.json names none (or a missing one),
    /// else bring its redirect URIs up to date. Safe to run on every deploy.
    #[command(
        after_help = "Example:\n  idp client seed-or-update --name 'My SPA' --public --redirect-uri http://localhost:3000/callback"
    )]
    SeedOrUpdate(Registration),
    /// List clients.
    #[command(after_help = "Example:\n  idp client list")]
    List,
    /// Delete a client (its sessions end).
    #[command(after_help = "Example:\n  idp client delete 6f1c…")]
    Delete { client_id: String },
    /// Give a confidential client a new secret (printed once).
    #[command(after_help = "Example:\n  idp client reset-secret 6f1c…")]
    ResetSecret {
        client_id: String,
        /// Also record the new secret in this file if it describes the client.
        #[arg(long, default_value = DEFAULT_FILE)]
        file: PathBuf,
    },
}

/// The contents of `oauth_client.json`.
#[derive(Debug, Serialize, Deserialize)]
struct ClientFile {
    client_id: String,
    #[serde(default)]
    client_name: String,
    #[serde(default)]
    client_type: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl ClientFile {
    fn of(client: &Client, secret: Option<String>) -> Self {
        Self {
            client_id: client.id.to_string(),
            client_name: client.name.clone(),
            client_type: client.client_type.as_str().to_owned(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            client_secret: secret,
        }
    }

    fn read(path: &Path) -> Result<Option<Self>, Failure> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Failure::failed(format!("{} is not a client file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::failed(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Written with mode 0600 when it holds a secret.
    fn write(&self, path: &Path) -> Result<(), Failure> {
        use std::io::Write as _;
        let text =
            serde_json::to_string_pretty(self).map_err(|e| Failure::failed(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if self.client_secret.is_some() {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
        file.write_all(format!("{text}\n").as_bytes())
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))
    }
}

fn spec(r: &Registration, configured: Algorithm) -> Result<ClientSpec, Failure> {
    let grant_types: Vec<GrantType> = if r.grant_types.is_empty() {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        r.grant_types
            .iter()
            .map(|g| {
                g.parse()
                    .map_err(|_| Failure::usage(format!("--grant-type: unknown grant type {g:?}")))
            })
            .collect::<Result<_, _>>()?
    };
    Ok(ClientSpec {
        id: r.client_id.clone(),
        name: r.name.clone(),
        client_type: if r.confidential { ClientType::Confidential } else { ClientType::Public },
        redirect_uris: r.redirect_uris.clone(),
        post_logout_redirect_uris: r.post_logout_redirect_uris.clone(),
        scopes: if r.scopes.is_empty() {
            clients::default_scopes(&grant_types)
        } else {
            r.scopes.clone()
        },
        grant_types,
        first_party: r.first_party,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: r
            .id_token_alg
            .as_deref()
            .map(|name| {
                client_registration::id_token_alg(name, configured)
                    .map_err(|m| Failure::usage(format!("--id-token-alg: {m}")))
            })
            .transpose()?,
    })
}

#[allow(clippy::print_stdout)] // command output
async fn create(state: &AppState, actor: &Actor, r: &Registration) -> Result<(), Failure> {
    let (client, secret) = clients::create(state, actor, spec(r, state.settings.algorithm)?)
        .await
        .map_err(common::failure)?;
    let secret = secret.map(|s| s.into_string());
    ClientFile::of(&client, secret.clone()).write(&r.file)?;
    println!(
        "Created {} client `{}` with client_id {}.",
        client.client_type.as_str(),
        client.name,
        client.id
    );
    if let Some(secret) = secret {
        println!("Its client_secret, shown only now (also in {}): {secret}", r.file.display());
    }
    println!("Wrote {}.", r.file.display());
    Ok(())
}

#[allow(clippy::print_stdout)] // command output
async fn update_redirect_uris(
    state: &AppState,
    actor: &Actor,
    file: &Path,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Option<Vec<String>>,
) -> Result<(), Failure> {
    let mut recorded = ClientFile::read(file)?.ok_or_else(|| {
        Failure::failed(format!("{} not found: create the client first", file.display()))
    })?;
    let client = clients::get(state, &recorded.client_id).await.map_err(common::failure)?;
    let unchanged = client.redirect_uris == redirect_uris
        && post_logout_redirect_uris
            .as_ref()
            .is_none_or(|p| &client.post_logout_redirect_uris == p);
    if unchanged {
        println!("Client {} already has these redirect URIs; nothing changed.", client.id);
        return Ok(());
    }
    let change = ClientChange {
        redirect_uris: Some(redirect_uris),
        post_logout_redirect_uris,
        ..ClientChange::default()
    };
    let client = clients::update(state, actor, &recorded.client_id, change)
        .await
        .map_err(common::failure)?;
    recorded.redirect_uris = client.redirect_uris.clone();
    recorded.post_logout_redirect_uris = client.post_logout_redirect_uris.clone();
    recorded.write(file)?;
    println!("Client {} now redirects to: {}.", client.id, client.redirect_uris.join(", "));
    Ok(())
}

#[allow(clippy::print_stdout)] // command output
pub async fn run(settings: Settings, command: Command) -> Result<(), Failure> {
    let state = common::state(settings).await?;
    let actor = Actor::cli();
    let result = async {
        match command {
            Command::Create(r) => create(&state, &actor, &r).await,
            Command::UpdateRedirectUris { redirect_uris, post_logout_redirect_uris, file } => {
                let post =
                    (!post_logout_redirect_uris.is_empty()).then_some(post_logout_redirect_uris);
                update_redirect_uris(&state, &actor, &file, redirect_uris, post).await
            }
            Command::SeedOrUpdate(r) => {
                let existing = match ClientFile::read(&r.file)? {
                    Some(recorded) => match clients::get(&state, &recorded.client_id).await {
                        Ok(_) => true,
                        Err(ManageError::NotFound(_)) => false,
                        Err(e) => return Err(common::failure(e)),
                    },
                    None => false,
                };
                if existing {
                    let post = (!r.post_logout_redirect_uris.is_empty())
                        .then(|| r.post_logout_redirect_uris.clone());
                    update_redirect_uris(&state, &actor, &r.file, r.redirect_uris.clone(), post)
                        .await
                } else {
                    create(&state, &actor, &r).await
                }
            }
            Command::List => {
                println!("{:<38} {:<13} {:<28} REDIRECT URIS", "CLIENT ID", "TYPE", "NAME");
                for c in clients::list(&state).await.map_err(common::failure)? {
                    println!(
                        "{:<38} {:<13} {:<28} {}",
                        c.id.as_str(),
                        c.client_type.as_str(),
                        c.name,
                        c.redirect_uris.join(" ")
                    );
                }
                Ok(())
            }
            Command::Delete { client_id } => {
                clients::delete(&state, &actor, &client_id).await.map_err(common::failure)?;
                println!("Client {client_id} deleted.");
                Ok(())
            }
            Command::ResetSecret { client_id, file } => {
                let secret = clients::reset_secret(&state, &actor, &client_id)
                    .await
                    .map_err(common::failure)?;
                if let Some(mut recorded) =
                    ClientFile::read(&file)?.filter(|f| f.client_id == client_id)
                {
                    recorded.client_secret = Some(secret.expose().to_owned());
                    recorded.write(&file)?;
                    println!("Recorded the new secret in {}.", file.display());
                }
                println!("New client_secret for {client_id}, shown only now: {}", secret.expose());
                Ok(())
            }
        }
    }
    .await;
    state.db.close().await;
    result
}
